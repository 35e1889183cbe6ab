//! What training reports: one step ([`StepReport`]), one epoch ([`EpochMetrics`], a line of
//! `metrics.jsonl`) and the per-iteration log ([`IterationLine`], a line of `iterations.jsonl`).

use std::collections::BTreeMap;

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::engine::alignment::{AlignmentLine, AlignmentRecord};
use crate::host;

/// What one training step produced. Tensors stay on the device until read.
pub struct StepReport {
    /// The batch's mean output loss, `[1]`.
    pub loss: Tensor<1>,
    /// The prediction on the batch, `[batch, outputs]`, when the rule's step makes one
    /// (forward-forward's does not).
    pub output: Option<Tensor<2>>,
    /// Per block, the mean |gradient| of its weight matrix in this step, `[1]` each (`None`
    /// for a block the rule did not train, or when the trainer tallies no diagnostics).
    pub block_grads: Vec<Option<Tensor<1>>>,
    /// Rows in the batch.
    pub rows: usize,
    /// Whether the rule stepped each block as soon as its gradients were known (rules without
    /// a backward chain), rather than after the whole pass.
    pub streamed: bool,
}

impl StepReport {
    /// The batch's mean loss.
    pub fn loss(&self) -> f64 {
        f64::from(host::scalar(&self.loss))
    }

    /// Per block, the mean |gradient| of its weight matrix (see [`StepReport::block_grads`]).
    pub fn mean_abs_grad(&self) -> Vec<Option<f64>> {
        self.block_grads
            .iter()
            .map(|g| g.as_ref().map(|g| f64::from(host::scalar(g))))
            .collect()
    }
}

/// One line of `metrics.jsonl`. Wall-clock times stay out of it, so that the same config and
/// seed give a bit-identical file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Iterations so far.
    pub iterations: usize,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
    /// Mean training loss over the epoch's mini-batches (training mode).
    pub train_loss: f64,
    /// Accuracy on the epoch's mini-batches (training mode; absent for reconstruction and
    /// rules whose step makes no prediction).
    pub train_accuracy: Option<f64>,
    /// Validation loss (evaluation mode; absent without a validation split).
    pub val_loss: Option<f64>,
    /// Validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Test loss (the reconstruction MSE for reconstruction).
    pub test_loss: f64,
    /// Test accuracy (absent for reconstruction).
    pub test_accuracy: Option<f64>,
    /// Per block, the mean |gradient| of its weight matrix over the epoch's steps: the signal
    /// the rule hands the optimizer (the true gradient under backprop; `null` for a block the
    /// rule did not train).
    #[serde(default)]
    pub mean_abs_grad: Vec<Option<f64>>,
    /// Per block, the mean |change| of its weight matrix per step (what the optimizer applied).
    #[serde(default)]
    pub mean_abs_update: Vec<Option<f64>>,
    /// Per block, the fraction of hard units whose output never changed during the epoch's
    /// training (dead or saturated; `null` for smooth blocks); absent when no block is hard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_units: Option<Vec<Option<f64>>>,
    /// Per block, the fraction of units whose output was 0 for every training sample of the
    /// epoch (dead units: a ReLU's that never fire; `null` for a block the epoch did not run
    /// forward in training mode).
    #[serde(default)]
    pub dead_units: Vec<Option<f64>>,
    /// The rule's per-block diagnostics by name (target propagation: `target_distance`,
    /// `reconstruction_error`, `reconstruction_loss`, `difference_correction`), one entry per
    /// block, `null` where one does not apply.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub diagnostics: BTreeMap<String, Vec<Option<f64>>>,
    /// Per block, the test accuracy of its own decoder (local losses, linear decoders; `null`
    /// for a block without one); absent for rules without decoders.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decoder_accuracy: Vec<Option<f64>>,
    /// The hidden block that learned in this epoch under the sequential layer-wise schedule;
    /// absent otherwise (and once the output block learns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_block: Option<usize>,
    /// Alignment with the backprop gradient at the end of the epoch (with `train.align_every`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment: Option<AlignmentRecord>,
}

/// One line of `iterations.jsonl` (every `train.log_every` iterations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterationLine {
    /// Iterations so far.
    pub iteration: usize,
    /// The epoch the iteration falls in, from 1.
    pub epoch: usize,
    /// The step's mean training loss.
    pub loss: f64,
    /// Per block, this step's mean |gradient| of the weight matrix.
    pub mean_abs_grad: Vec<Option<f64>>,
}

/// Everything one epoch produced.
#[derive(Debug, Clone)]
pub struct EpochReport {
    /// The epoch's line of `metrics.jsonl`.
    pub metrics: EpochMetrics,
    /// The per-iteration log lines of the epoch (with `train.log_every`).
    pub iterations: Vec<IterationLine>,
    /// The alignment measurements of the epoch (with `train.align_every`), the end-of-epoch
    /// one last.
    pub alignment: Vec<AlignmentLine>,
    /// Seconds spent in training steps (evaluation excluded).
    pub train_seconds: f64,
}
