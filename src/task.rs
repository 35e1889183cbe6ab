//! What the network's output is trained to produce: class labels, a reconstruction of the
//! input or float targets, with which loss, on how many output units.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::Table;
use crate::error::{Error, Result};
use crate::host;
use crate::loss::Loss;

/// What is learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// Predict the class label; accuracy is reported.
    #[default]
    Classification,
    /// Reproduce the input (MSE); the reconstruction error is the metric.
    Reconstruction,
    /// Predict each sample's float targets (MSE; a data set of float targets:
    /// `data.target_columns` for CSV, `Dataset::from_arrays_with_targets`).
    Regression,
}

/// One mini-batch.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Inputs, `[batch, inputs]`.
    pub x: Tensor<2>,
    /// Loss targets, `[batch, outputs]`: one-hot labels, 0/1 labels for BCE, the input, or
    /// the float targets.
    pub targets: Tensor<2>,
    /// Class labels, one per sample.
    pub labels: Vec<u32>,
}

/// The problem, its loss, and the widths they imply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    /// Classification or reconstruction.
    pub problem: Problem,
    /// The output loss.
    pub loss: Loss,
    /// Classes of the data set.
    pub classes: usize,
    /// Output units: classes (1 for BCE), the input width for reconstruction, the target
    /// width for regression.
    pub outputs: usize,
}

impl Task {
    /// The task for a data set of `features` inputs and `classes` classes, or (regression)
    /// `features` float targets per sample.
    pub fn new(problem: Problem, loss: Loss, classes: usize, features: usize) -> Result<Self> {
        let outputs = match (problem, loss) {
            (Problem::Reconstruction | Problem::Regression, Loss::MeanSquaredError) => features,
            (Problem::Reconstruction | Problem::Regression, other) => {
                return Err(Error::config(
                    "train.loss",
                    format!("{problem:?} needs the mse loss, not {other}").to_lowercase(),
                ));
            }
            (Problem::Classification, Loss::BinaryCrossEntropy) if classes != 2 => {
                return Err(Error::config(
                    "train.loss",
                    format!("bce needs exactly 2 classes, the data set has {classes}"),
                ));
            }
            (Problem::Classification, Loss::BinaryCrossEntropy) => 1,
            (Problem::Classification, _) => classes,
        };
        Ok(Self {
            problem,
            loss,
            classes,
            outputs,
        })
    }

    /// The mini-batch of `rows` of `table`.
    pub fn batch(&self, table: &Table, rows: &[usize], device: &Device) -> Batch {
        self.batch_with(table, rows, device, |_| {})
    }

    /// The mini-batch of `rows` of `table`, its inputs (row-major, `[rows, features]`)
    /// changed by `edit` first (augmentation) — a reconstruction's targets with them.
    pub fn batch_with(
        &self,
        table: &Table,
        rows: &[usize],
        device: &Device,
        edit: impl FnOnce(&mut [f32]),
    ) -> Batch {
        let mut x = Vec::with_capacity(rows.len() * table.features);
        for &i in rows {
            x.extend_from_slice(table.row(i));
        }
        edit(&mut x);
        let labels: Vec<u32> = rows.iter().map(|&i| table.y[i]).collect();
        let x = host::matrix(x, rows.len(), table.features, device);
        let targets = match self.problem {
            Problem::Reconstruction => x.clone(),
            Problem::Regression => {
                let mut t = Vec::with_capacity(rows.len() * table.target_width);
                for &i in rows {
                    t.extend_from_slice(table.target_row(i));
                }
                host::matrix(t, rows.len(), table.target_width, device)
            }
            Problem::Classification => {
                let mut t = vec![0.0f32; rows.len() * self.outputs];
                for (r, &label) in labels.iter().enumerate() {
                    match self.loss {
                        Loss::BinaryCrossEntropy => t[r] = label as f32,
                        _ => t[r * self.outputs + label as usize] = 1.0,
                    }
                }
                host::matrix(t, rows.len(), self.outputs, device)
            }
        };
        Batch { x, targets, labels }
    }

    /// Correct predictions among `labels` (argmax, or `logit > 0` for BCE); `None` for
    /// reconstruction and regression.
    ///
    /// # Shapes
    /// `logits`: `[batch, outputs]`.
    pub fn correct(&self, logits: &Tensor<2>, labels: &[u32]) -> Option<usize> {
        if self.problem != Problem::Classification {
            return None;
        }
        let values = host::values(logits);
        let width = logits.dims()[1];
        let hits = labels
            .iter()
            .enumerate()
            .filter(|&(r, &label)| {
                let row = &values[r * width..(r + 1) * width];
                let predicted = match self.loss {
                    Loss::BinaryCrossEntropy => usize::from(row[0] > 0.0),
                    _ => argmax(row),
                };
                predicted == label as usize
            })
            .count();
        Some(hits)
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}
