//! The figures of a run or of several runs overlaid, built from their saved files.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::engine::alignment::AlignmentRecord;
use crate::experiment::EpochMetrics;
use crate::plot::Figure;
use crate::plot::boundary::{Boundaries, ClassGrid};
use crate::plot::curves::{Curves, Series};
use crate::plot::histogram::{Bars, Histograms};
use crate::plot::panels::Panels;
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

fn epoch_series(runs: &[RunRecord], value: &dyn Fn(&EpochMetrics) -> Option<f64>) -> Vec<Series> {
    runs.iter()
        .map(|run| Series {
            name: run.name.clone(),
            points: run
                .metrics
                .iter()
                .filter_map(|m| value(m).map(|v| (m.epoch as f64, v)))
                .collect(),
        })
        .collect()
}

/// The training-loss and test-accuracy (or test-loss, for reconstruction) curves.
fn learning_curves(title: &str, runs: &[RunRecord]) -> Vec<NamedPlot> {
    let mut figures = vec![NamedPlot {
        stem: "train_loss".into(),
        caption: "Mean training loss per epoch (log scale).".into(),
        plot: Plot::Curves(Curves {
            title: format!("{title}: training loss"),
            x_label: "epoch".into(),
            y_label: "mean training loss".into(),
            log_y: true,
            series: epoch_series(runs, &|m| Some(m.train_loss)),
        }),
    }];
    let accuracy = epoch_series(runs, &|m| m.test_accuracy);
    figures.push(if accuracy.iter().any(|s| !s.points.is_empty()) {
        NamedPlot {
            stem: "test_accuracy".into(),
            caption: "Test accuracy after each epoch.".into(),
            plot: Plot::Curves(Curves {
                title: format!("{title}: test accuracy"),
                x_label: "epoch".into(),
                y_label: "test accuracy".into(),
                log_y: false,
                series: accuracy,
            }),
        }
    } else {
        NamedPlot {
            stem: "test_loss".into(),
            caption: "Test loss after each epoch (log scale).".into(),
            plot: Plot::Curves(Curves {
                title: format!("{title}: test loss"),
                x_label: "epoch".into(),
                y_label: "test loss".into(),
                log_y: true,
                series: epoch_series(runs, &|m| Some(m.test_loss)),
            }),
        }
    });
    figures
}

/// One panel per block: each run's mean |gradient| of the block's weights against epoch
/// (log scale), the vanishing-gradient picture; `None` when no run logged magnitudes.
pub fn gradient_panels(title: &str, runs: &[RunRecord]) -> Option<Panels> {
    let blocks = runs
        .iter()
        .flat_map(|run| run.metrics.iter().map(|m| m.mean_abs_grad.len()))
        .max()
        .filter(|&b| b > 0)?;
    let panels = (0..blocks)
        .map(|block| Curves {
            title: format!("{title}: block {block}"),
            x_label: "epoch".into(),
            y_label: "mean |grad|".into(),
            log_y: true,
            series: epoch_series(runs, &|m| m.mean_abs_grad.get(block).copied().flatten()),
        })
        .collect();
    Some(Panels { panels, columns: 4 })
}

/// One panel per hidden block (the output block learns from the true gradient under every
/// rule): each run's angle against iterations, as `pick` reads it from a measurement; `None`
/// when no run has such a measurement.
fn angle_panels(
    title: &str,
    runs: &[RunRecord],
    pick: &dyn Fn(&AlignmentRecord, usize) -> Option<f64>,
) -> Option<Panels> {
    let blocks = runs
        .iter()
        .flat_map(|run| run.alignment.iter().map(|l| l.record.grad_angle.len()))
        .max()?;
    let panels: Vec<Curves> = (0..blocks.saturating_sub(1))
        .map(|block| Curves {
            title: format!("{title}: block {block}"),
            x_label: "iteration".into(),
            y_label: "angle (degrees)".into(),
            log_y: false,
            series: runs
                .iter()
                .map(|run| Series {
                    name: run.name.clone(),
                    points: run
                        .alignment
                        .iter()
                        .filter_map(|l| pick(&l.record, block).map(|v| (l.iteration as f64, v)))
                        .collect(),
                })
                .filter(|s| !s.points.is_empty())
                .collect(),
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
                    format!("{}: net", run.name)
                } else {
                    format!("{}'s decoder", m.source)
                },
                classes: m.classes.clone(),
            })
            .collect(),
        resolution: boundary.resolution,
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
            caption: "Mean |gradient| of each block's weights per epoch: the signal each rule \
                      hands the optimizer (log scale; vanishing gradients show as a gap between \
                      the first and last blocks)."
                .into(),
            plot: Plot::Panels(panels),
        });
    }
    let update = |r: &AlignmentRecord, b: usize| r.grad_angle.get(b).copied().flatten();
    if let Some(panels) = angle_panels(title, runs, &update) {
        figures.push(NamedPlot {
            stem: "alignment".into(),
            caption: "Angle between each hidden block's update and the backprop gradient on a \
                      fixed probe batch (0° = the true gradient, 90° = orthogonal)."
                .into(),
            plot: Plot::Panels(panels),
        });
    }
    let weights = |r: &AlignmentRecord, b: usize| r.weight_angle.get(b).copied().flatten();
    if let Some(panels) = angle_panels(title, runs, &weights) {
        figures.push(NamedPlot {
            stem: "weight_alignment".into(),
            caption: "Angle between each block's fixed feedback matrix and the forward weights \
                      it stands in for (feedback alignment: W_{i+1}; DFA, DRTP: W_L⋯W_{i+1})."
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
