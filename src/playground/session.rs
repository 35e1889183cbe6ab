//! A playground session: one or two [`Trainer`]s (compare mode) on one 2-D data set, stepped
//! on the same batches in the same order, and the [`Frame`] a page draws after each chunk of
//! steps.

use base64::Engine as _;
use serde::Serialize;

use crate::data::{self, Dataset, Table};
use crate::engine::Trainer;
use crate::error::Result;
use crate::experiment::snapshot;
use crate::playground::spec::PlaygroundSpec;
use crate::rng::Rng;

/// Cells per side of the heatmaps a frame carries.
pub const RESOLUTION: usize = 48;
/// At most this many steps in one [`Session::step`] call.
pub const MAX_STEPS: usize = 10_000;
/// Rows of the training split the alignment probe measures on.
const PROBE_ROWS: usize = 256;

/// One trainer of a session and what its last steps reported.
struct Lane {
    rule: String,
    trainer: Trainer,
    diverged: Option<String>,
}

/// A playground run: the data, one lane per rule, and the shared batch order.
pub struct Session {
    spec: PlaygroundSpec,
    data: Dataset,
    lanes: Vec<Lane>,
    order: Vec<usize>,
    cursor: usize,
    epoch: usize,
    batch_index: usize,
    order_rng: Rng,
    steps: usize,
}

/// What a page needs once: the settled spec, the plot's ranges and the data's points.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    /// The spec as run (defaults filled in).
    pub spec: PlaygroundSpec,
    /// Each lane's rule.
    pub rules: Vec<String>,
    /// Each lane's net, e.g. `2-8-8-2`.
    pub nets: Vec<String>,
    /// Range of the first (scaled) input over the heatmaps.
    pub x_range: (f64, f64),
    /// Range of the second (scaled) input.
    pub y_range: (f64, f64),
    /// Cells per side of the heatmaps.
    pub resolution: usize,
    /// Training points `(x, y, class)` (scaled as the net sees them).
    pub train: Vec<(f32, f32, u32)>,
    /// Test points.
    pub test: Vec<(f32, f32, u32)>,
}

/// One heatmap: a source's class probabilities over the grid.
#[derive(Debug, Clone, Serialize)]
pub struct MapFrame {
    /// `net` or `block <i>` (that block's own decoder).
    pub source: String,
    /// Classes per cell.
    pub classes: usize,
    /// Base64 of `resolution² × classes` bytes, cell-major rows from the bottom (probability
    /// × 255).
    pub probabilities: String,
}

/// One lane's state after a chunk of steps.
#[derive(Debug, Clone, Serialize)]
pub struct LaneFrame {
    /// The lane's rule.
    pub rule: String,
    /// Loss on the training points (evaluation mode).
    pub train_loss: f64,
    /// Loss on the test points.
    pub test_loss: f64,
    /// Accuracy on the training points.
    pub train_accuracy: Option<f64>,
    /// Accuracy on the test points.
    pub test_accuracy: Option<f64>,
    /// Per block, the mean |gradient| of its weights over the chunk's steps.
    pub grad: Vec<Option<f64>>,
    /// Per block, the angle in degrees between the rule's update and the backprop gradient on
    /// a fixed probe batch.
    pub angle: Vec<Option<f64>>,
    /// The output's heatmap, then each block decoder's.
    pub maps: Vec<MapFrame>,
    /// Why the lane stopped, if its numbers stopped being finite.
    pub diverged: Option<String>,
}

/// What a page draws after a chunk of steps.
#[derive(Debug, Clone, Serialize)]
pub struct Frame {
    /// Steps taken since the start.
    pub step: usize,
    /// Passes over the training points begun.
    pub epoch: usize,
    /// One per lane.
    pub lanes: Vec<LaneFrame>,
}

impl Session {
    /// A session at step 0: the data drawn, every lane's net initialised from the spec's seed
    /// (the same weights wherever the nets agree in shape).
    pub fn new(spec: PlaygroundSpec) -> Result<Self> {
        let rules = spec.lane_rules();
        let configs = rules
            .iter()
            .map(|rule| spec.config_with(rule))
            .collect::<Result<Vec<_>>>()?;
        let data = data::load(&configs[0].data)?;
        let mut lanes = Vec::with_capacity(rules.len());
        for (rule, config) in rules.into_iter().zip(&configs) {
            let mut trainer = Trainer::new(config, &data)?;
            // Forward-forward has no output loss to compare its updates' direction with.
            if !config.rule_settings()?.embeds_label() {
                trainer.set_probe(&data.train, PROBE_ROWS.min(data.train.rows()));
            }
            lanes.push(Lane {
                rule,
                trainer,
                diverged: None,
            });
        }
        let order_rng = Rng::derived(spec.seed, "playground batches");
        let mut session = Self {
            order: (0..data.train.rows()).collect(),
            spec,
            data,
            lanes,
            cursor: 0,
            epoch: 0,
            batch_index: 0,
            order_rng,
            steps: 0,
        };
        session.new_epoch();
        Ok(session)
    }

    /// The spec, ranges and points a page draws the session with.
    pub fn info(&self) -> SessionInfo {
        let points = |t: &Table| -> Vec<(f32, f32, u32)> {
            (0..t.rows())
                .map(|i| (t.row(i)[0], t.row(i)[1], t.y[i]))
                .collect()
        };
        let (x_range, y_range) = snapshot::plot_ranges(&self.data.train);
        SessionInfo {
            spec: self.spec.clone(),
            rules: self.lanes.iter().map(|l| l.rule.clone()).collect(),
            nets: self.lanes.iter().map(|l| l.trainer.net().sizes()).collect(),
            x_range,
            y_range,
            resolution: RESOLUTION,
            train: points(&self.data.train),
            test: points(&self.data.test),
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// `n` training steps (at most [`MAX_STEPS`]) of every lane that has not diverged, each
    /// on the same next mini-batch of the shared shuffled order.
    pub fn step(&mut self, n: usize) {
        for _ in 0..n.min(MAX_STEPS) {
            if self.cursor >= self.order.len() {
                self.new_epoch();
            }
            let end = (self.cursor + self.spec.batch_size).min(self.order.len());
            let rows = &self.order[self.cursor..end];
            for lane in self.lanes.iter_mut().filter(|l| l.diverged.is_none()) {
                let batch = lane.trainer.training_batch(
                    &self.data.train,
                    rows,
                    self.epoch,
                    self.batch_index,
                );
                let loss = lane.trainer.step(&batch).loss();
                if !loss.is_finite() {
                    lane.diverged = Some(format!(
                        "diverged at step {}: the batch loss is {loss}",
                        self.steps + 1
                    ));
                }
            }
            self.cursor = end;
            self.batch_index += 1;
            self.steps += 1;
        }
    }

    /// Every lane's losses, accuracies, per-block gradient magnitudes (means over the steps
    /// since the last frame) and alignment angles, and its heatmaps.
    pub fn frame(&mut self) -> Frame {
        let data = &self.data;
        let lanes = self
            .lanes
            .iter_mut()
            .map(|lane| lane_frame(lane, data))
            .collect();
        Frame {
            step: self.steps,
            epoch: self.epoch,
            lanes,
        }
    }

    fn new_epoch(&mut self) {
        self.order_rng.shuffle(&mut self.order);
        self.cursor = 0;
        self.batch_index = 0;
        self.epoch += 1;
    }
}

fn lane_frame(lane: &mut Lane, data: &Dataset) -> LaneFrame {
    let trainer = &mut lane.trainer;
    let (grad, _) = trainer.take_magnitudes();
    let angle = trainer
        .measure_alignment()
        .map(|a| a.grad_angle)
        .unwrap_or_default();
    let evaluator = trainer.evaluator();
    let (train, test) = (
        evaluator.evaluate(&data.train),
        evaluator.evaluate(&data.test),
    );
    let t = &*trainer;
    let boundary = snapshot::boundary_at(t.rule(), t.net(), data, t.task(), t.device(), RESOLUTION);
    let base64 = base64::engine::general_purpose::STANDARD;
    let maps = boundary
        .map(|b| {
            b.maps
                .into_iter()
                .map(|m| MapFrame {
                    source: m.source,
                    classes: b.class_count,
                    probabilities: base64.encode(&m.probabilities),
                })
                .collect()
        })
        .unwrap_or_default();
    let diverged = lane.diverged.clone().or_else(|| {
        (!test.loss.is_finite()).then(|| format!("diverged: the test loss is {}", test.loss))
    });
    LaneFrame {
        rule: lane.rule.clone(),
        train_loss: train.loss,
        test_loss: test.loss,
        train_accuracy: train.accuracy,
        test_accuracy: test.accuracy,
        grad,
        angle,
        maps,
        diverged,
    }
}
