//! The figures of a run or of several runs overlaid, built from their saved files.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::engine::alignment::AlignmentRecord;
use crate::experiment::EpochMetrics;
use crate::plot::Figure;
use crate::plot::boundary::{Boundaries, ClassGrid};
use crate::plot::curves::{self, Curves, Series};
use crate::plot::histogram::{Bars, Histograms};
use crate::plot::panels::Panels;
use crate::plot::style::SeriesStyle;
use crate::report::RunRecord;

/// Any figure a report shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Plot {
    /// Line charts.
    Curves(Curves),
    /// Line charts side by side.
    Panels(Panels),
    /// Histograms side by side.
    Histograms(Histograms),
    /// Decision boundaries side by side.
    Boundaries(Boundaries),
}

impl Figure for Plot {
    fn size(&self) -> (u32, u32) {
        match self {
            Plot::Curves(f) => f.size(),
            Plot::Panels(f) => f.size(),
            Plot::Histograms(f) => f.size(),
            Plot::Boundaries(f) => f.size(),
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        match self {
            Plot::Curves(f) => f.draw(area),
            Plot::Panels(f) => f.draw(area),
            Plot::Histograms(f) => f.draw(area),
            Plot::Boundaries(f) => f.draw(area),
        }
    }
}

/// A figure with its file stem and caption.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedPlot {
    /// File stem (`train_loss` → `train_loss.png`, `train_loss.svg`).
    pub stem: String,
    /// What it shows, one sentence.
    pub caption: String,
    /// The figure.
    pub plot: Plot,
}

/// The look of a run's series: its place in its comparison.
fn style(run: &RunRecord) -> SeriesStyle {
    SeriesStyle::of(run.series)
}

fn epoch_series(runs: &[RunRecord], value: &dyn Fn(&EpochMetrics) -> Option<f64>) -> Vec<Series> {
    runs.iter()
        .map(|run| Series {
            name: run.name.clone(),
            points: run
                .metrics
                .iter()
                .filter_map(|m| value(m).map(|v| (m.epoch as f64, v)))
                .collect(),
            style: style(run),
        })
        .collect()
}

/// The accuracy an epoch's curve shows: the test accuracy, or under the sequential schedule
/// (while a hidden block learns) that block's own decoder's test accuracy.
fn shown_accuracy(m: &EpochMetrics) -> Option<f64> {
    m.learning_block
        .and_then(|b| m.decoder_accuracy.get(b).copied().flatten())
        .or(m.test_accuracy)
}

/// A y range zoomed to where accuracy curves are once past their first fifth (the start's
/// transient), padded; `None` when that is most of the full range anyway.
pub fn zoom(series: &[Series]) -> Option<(f64, f64)> {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let from = if x1 - x0 >= 4.0 {
        x0 + 0.2 * (x1 - x0)
    } else {
        x0
    };
    let values = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.1.is_finite())
    };
    let low = values()
        .filter(|p| p.0 >= from)
        .map(|p| p.1)
        .fold(f64::MAX, f64::min);
    let high = values().map(|p| p.1).fold(f64::MIN, f64::max);
    let full = values().map(|p| p.1).fold(f64::MAX, f64::min);
    (low <= high && low - full > 0.25 * (high - full)).then(|| curves::pad(low, high))
}

/// The training-loss and test-accuracy (or test-loss, for reconstruction) curves.
fn learning_curves(title: &str, runs: &[RunRecord]) -> Vec<NamedPlot> {
    let mut loss = Curves::new(
        format!("{title}: training loss"),
        "epoch",
        "mean training loss",
        true,
    );
    loss.series = epoch_series(runs, &|m| Some(m.train_loss));
    let mut figures = vec![NamedPlot {
        stem: "train_loss".into(),
        caption: "Mean training loss per epoch (log scale).".into(),
        plot: Plot::Curves(loss),
    }];
    let accuracy = epoch_series(runs, &shown_accuracy);
    figures.push(if accuracy.iter().any(|s| !s.points.is_empty()) {
        let sequential = runs
            .iter()
            .any(|r| r.metrics.iter().any(|m| m.learning_block.is_some()));
        let mut curves = Curves::new(
            format!("{title}: test accuracy"),
            "epoch",
            "test accuracy",
            false,
        );
        curves.y_range = zoom(&accuracy);
        curves.series = accuracy;
        NamedPlot {
            stem: "test_accuracy".into(),
            caption: format!(
                "Test accuracy after each epoch{}{}.",
                if sequential {
                    "; under the sequential schedule, of the decoder of the block that is \
                     learning (the output head's once it learns)"
                } else {
                    ""
                },
                if curves.y_range.is_some() {
                    " (axis zoomed to where the curves are after the first epochs)"
                } else {
                    ""
                }
            ),
            plot: Plot::Curves(curves),
        }
    } else {
        let mut curves = Curves::new(format!("{title}: test loss"), "epoch", "test loss", true);
        curves.series = epoch_series(runs, &|m| Some(m.test_loss));
        NamedPlot {
            stem: "test_loss".into(),
            caption: "Test loss after each epoch (log scale).".into(),
            plot: Plot::Curves(curves),
        }
    });
    figures
}

/// Blocks with a logged gradient magnitude, over every run.
fn logged_blocks(runs: &[RunRecord]) -> Option<usize> {
    runs.iter()
        .flat_map(|run| run.metrics.iter().map(|m| m.mean_abs_grad.len()))
        .max()
        .filter(|&b| b > 0)
}

/// One panel per run with every block's mean |gradient| against epoch on one shared log axis
/// (the vanishing-gradient gap between the first and last blocks visible at a glance), blocks
/// coloured by depth; `None` when no run logged magnitudes.
pub fn gradient_panels(title: &str, runs: &[RunRecord]) -> Option<Panels> {
    let blocks = logged_blocks(runs)?;
    let panels = runs
        .iter()
        .map(|run| {
            let mut curves = Curves::new(
                if runs.len() == 1 {
                    format!("{title}: every block")
                } else {
                    run.name.clone()
                },
                "epoch",
                "mean |grad|",
                true,
            );
            curves.series = (0..blocks)
                .map(|block| Series {
                    name: block_name(block, blocks),
                    points: run
                        .metrics
                        .iter()
                        .filter_map(|m| {
                            let v = m.mean_abs_grad.get(block).copied().flatten()?;
                            Some((m.epoch as f64, v))
                        })
                        .collect(),
                    style: SeriesStyle::block(block, blocks),
                })
                .collect();
            curves
        })
        .collect();
    Some(Panels { panels, columns: 4 }.share_y())
}

/// `block i`, the last one marked as the output block.
fn block_name(block: usize, blocks: usize) -> String {
    if block + 1 == blocks {
        format!("block {block} (output)")
    } else {
        format!("block {block}")
    }
}

/// One panel per block, each run's mean |gradient| of the block's weights against epoch, every
/// panel on the same log scale; `None` when no run logged magnitudes.
pub fn gradient_block_panels(title: &str, runs: &[RunRecord]) -> Option<Panels> {
    let blocks = logged_blocks(runs)?;
    let panels = (0..blocks)
        .map(|block| {
            let mut curves = Curves::new(
                format!("{title}: {}", block_name(block, blocks)),
                "epoch",
                "mean |grad|",
                true,
            );
            curves.series = epoch_series(runs, &|m| m.mean_abs_grad.get(block).copied().flatten());
            curves
        })
        .collect();
    Some(Panels { panels, columns: 4 }.share_y())
}

/// One panel per hidden block (the output block learns from the true gradient under every
/// rule): each run's angle against iterations, as `pick` reads it from a measurement, titled
/// `block i: <what>`; `None` when no run has such a measurement.
fn angle_panels(
    what: &str,
    runs: &[RunRecord],
    pick: &dyn Fn(&AlignmentRecord, usize) -> Option<f64>,
) -> Option<Panels> {
    let blocks = runs
        .iter()
        .flat_map(|run| run.alignment.iter().map(|l| l.record.grad_angle.len()))
        .max()?;
    let panels: Vec<Curves> = (0..blocks.saturating_sub(1))
        .map(|block| {
            let mut curves = Curves::new(
                format!("block {block}: {what}"),
                "iteration",
                "angle (degrees)",
                false,
            );
            curves.series = runs
                .iter()
                .map(|run| Series {
                    name: run.name.clone(),
                    points: run
                        .alignment
                        .iter()
                        .filter_map(|l| pick(&l.record, block).map(|v| (l.iteration as f64, v)))
                        .collect(),
                    style: style(run),
                })
                .filter(|s| !s.points.is_empty())
                .collect();
            curves
        })
        .collect();
    panels
        .iter()
        .any(|p| !p.series.is_empty())
        .then_some(Panels { panels, columns: 4 })
}

/// One histogram per block of a run's final evaluation-mode activations.
fn activation_histograms(run: &RunRecord) -> Option<Histograms> {
    let activations = run.activations.as_ref()?;
    let last = activations.blocks.len().saturating_sub(1);
    let panels = activations
        .blocks
        .iter()
        .map(|h| Bars {
            title: if h.block == last {
                format!("block {} (output)", h.block)
            } else {
                format!("block {}", h.block)
            },
            low: h.low,
            high: h.high,
            counts: h.counts.clone(),
        })
        .collect();
    Some(Histograms {
        panels,
        columns: 4,
        x_label: "activation".into(),
    })
}

/// A run's decision boundaries: the net's and each block decoder's.
fn boundaries(run: &RunRecord) -> Option<Boundaries> {
    let boundary = run.boundary.as_ref()?;
    Some(Boundaries {
        panels: boundary
            .maps
            .iter()
            .map(|m| ClassGrid {
                title: if m.source == "net" {
                    format!("{}: net output", run.name)
                } else {
                    format!("{} decoder", m.source)
                },
                classes: m.classes.clone(),
                probabilities: m.probabilities.clone(),
            })
            .collect(),
        resolution: boundary.resolution,
        class_count: boundary.class_count,
        x_range: boundary.x_range,
        y_range: boundary.y_range,
        points: boundary.points.clone(),
        columns: 4,
    })
}

/// Every figure for `runs` (overlaid when several); per-run figures (histograms, decision
/// boundaries) only for a single run.
pub fn figures(title: &str, runs: &[RunRecord]) -> Vec<NamedPlot> {
    let mut figures = learning_curves(title, runs);
    if let Some(panels) = gradient_panels(title, runs) {
        figures.push(NamedPlot {
            stem: "grad_magnitudes".into(),
            caption: "Mean |gradient| of each block's weights per epoch, every block of a rule \
                      in one panel on one log scale shared by all panels: the signal each rule \
                      hands the optimizer (vanishing gradients show as a gap between the first \
                      and last blocks)."
                .into(),
            plot: Plot::Panels(panels),
        });
    }
    if let Some(panels) = gradient_block_panels(title, runs) {
        figures.push(NamedPlot {
            stem: "grad_magnitudes_by_block".into(),
            caption: "The same magnitudes one panel per block, the rules overlaid, every panel \
                      on the same log scale."
                .into(),
            plot: Plot::Panels(panels),
        });
    }
    let update = |r: &AlignmentRecord, b: usize| r.grad_angle.get(b).copied().flatten();
    if let Some(panels) = angle_panels("update vs backprop gradient", runs, &update) {
        figures.push(NamedPlot {
            stem: "alignment".into(),
            caption: "Angle between each hidden block's update and the backprop gradient on a \
                      fixed probe batch (0° = the true gradient, 90° = orthogonal)."
                .into(),
            plot: Plot::Panels(panels),
        });
    }
    let weights = |r: &AlignmentRecord, b: usize| r.weight_angle.get(b).copied().flatten();
    if let Some(panels) = angle_panels("feedback vs forward weights", runs, &weights) {
        figures.push(NamedPlot {
            stem: "weight_alignment".into(),
            caption: "Angle between each block's fixed feedback matrix and the forward weights \
                      it stands in for (feedback alignment: the next block's weights Wᵢ₊₁; DFA \
                      and DRTP: the product Wₒᵤₜ ⋯ Wᵢ₊₁ of every forward matrix above the \
                      block)."
                .into(),
            plot: Plot::Panels(panels),
        });
    }
    if let [run] = runs {
        if let Some(histograms) = activation_histograms(run) {
            figures.push(NamedPlot {
                stem: "activations".into(),
                caption: "Histograms of each block's outputs (evaluation mode) on the first \
                          test samples after training."
                    .into(),
                plot: Plot::Histograms(histograms),
            });
        }
        if let Some(boundaries) = boundaries(run) {
            figures.push(NamedPlot {
                stem: "boundary".into(),
                caption: "Decision boundary of the trained net with the training points, and \
                          of each block's own decoder where the rule has one: how the \
                          boundaries refine layer by layer."
                    .into(),
                plot: Plot::Boundaries(boundaries),
            });
        }
    }
    figures
}
