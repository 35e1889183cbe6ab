//! One unit's response over an input range: its deterministic curve and, for stochastic
//! units, sampled outputs with their empirical firing rate (`plasticity neuron`).

use burn::tensor::Device;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::activation::{Activation, hard, noise};
use crate::host;
use crate::plot::{FONT, Figure};
use crate::rng::Rng;

/// What a unit outputs at evenly spaced inputs.
#[derive(Debug, Clone)]
pub struct NeuronResponse {
    /// The unit.
    pub activation: Activation,
    /// The inputs, evenly spaced over the range.
    pub inputs: Vec<f32>,
    /// The deterministic output (a stochastic unit's threshold mode) at each input.
    pub deterministic: Vec<f32>,
    /// A stochastic unit's firing probability at each input.
    pub probability: Option<Vec<f32>>,
    /// One sampled output per input (stochastic units; equal to `deterministic` otherwise).
    pub samples: Vec<f32>,
    /// The fraction of samples that fired, per bin of `bin_width` consecutive inputs:
    /// `(bin centre, rate)`.
    pub firing_rate: Vec<(f32, f32)>,
}

/// Inputs per bin of the empirical firing rate.
const BIN: usize = 25;

impl NeuronResponse {
    /// Evaluates `activation` at `points` inputs from `low` to `high`, sampling from `seed`.
    pub fn compute(
        activation: Activation,
        (low, high): (f32, f32),
        points: usize,
        seed: u64,
        device: &Device,
    ) -> Self {
        let points = points.max(2);
        let step = (high - low) / (points - 1) as f32;
        let inputs: Vec<f32> = (0..points).map(|i| low + step * i as f32).collect();
        let a = host::matrix(inputs.clone(), 1, points, device);
        let deterministic = host::values(&activation.forward(a.clone()));
        let (probability, samples) = if activation.is_stochastic() {
            let p = host::values(&hard::probability(&activation, a.clone()));
            let s = host::values(&hard::sample(&activation, a, &mut Rng::new(seed)));
            (Some(p), s)
        } else if activation.is_noisy() {
            let s = host::values(&noise::sample(&activation, a, &mut Rng::new(seed)));
            (None, s)
        } else {
            (None, deterministic.clone())
        };
        let firing_rate = inputs
            .chunks(BIN)
            .zip(samples.chunks(BIN))
            .map(|(x, s)| {
                let centre = (x[0] + x[x.len() - 1]) / 2.0;
                (centre, s.iter().sum::<f32>() / s.len() as f32)
            })
            .collect();
        Self {
            activation,
            inputs,
            deterministic,
            probability,
            samples,
            firing_rate,
        }
    }
}

impl Figure for NeuronResponse {
    fn size(&self) -> (u32, u32) {
        (800, 500)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let text = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let (low, high) = (self.inputs[0], self.inputs[self.inputs.len() - 1]);
        let values = self.deterministic.iter().chain(&self.samples);
        let (y_min, y_max) = values.fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
        let pad = ((y_max - y_min) * 0.08).max(0.05);
        let title = if self.activation.is_stochastic() {
            format!("{} unit: firing probability and samples", self.activation)
        } else {
            format!("{} unit", self.activation)
        };
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(low..high, (y_min - pad)..(y_max + pad))
            .map_err(text)?;
        chart
            .configure_mesh()
            .x_desc("pre-activation a")
            .y_desc("output h")
            .label_style((FONT, 14))
            .draw()
            .map_err(text)?;
        let points = |ys: &[f32]| -> Vec<(f32, f32)> {
            self.inputs
                .iter()
                .copied()
                .zip(ys.iter().copied())
                .collect()
        };
        if self.activation.is_stochastic() {
            chart
                .draw_series(
                    points(&self.samples)
                        .into_iter()
                        .map(|p| Circle::new(p, 2, RED.mix(0.35).filled())),
                )
                .map_err(text)?
                .label("one sample per input")
                .legend(|(x, y)| Circle::new((x + 10, y), 3, RED.filled()));
            chart
                .draw_series(LineSeries::new(
                    self.firing_rate.iter().copied(),
                    GREEN.stroke_width(2),
                ))
                .map_err(text)?
                .label(format!("empirical firing rate ({BIN} samples a bin)"))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], GREEN.stroke_width(2))
                });
        }
        if let Some(probability) = &self.probability {
            chart
                .draw_series(LineSeries::new(points(probability), BLUE.stroke_width(3)))
                .map_err(text)?
                .label("firing probability p(a)")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(3)));
        }
        let label = if self.activation.is_stochastic() {
            "threshold mode: 1 iff p(a) ≥ 0.5"
        } else {
            "output f(a)"
        };
        chart
            .draw_series(LineSeries::new(
                points(&self.deterministic),
                BLACK.stroke_width(2),
            ))
            .map_err(text)?
            .label(label)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::MiddleRight)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(text)
    }
}
