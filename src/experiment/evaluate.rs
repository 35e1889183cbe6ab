//! Evaluation passes: mean loss and accuracy of a net on a split.

use std::path::Path;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::Table;
use crate::error::Result;
use crate::experiment::{ExperimentConfig, Setup};
use crate::host;
use crate::loss::Loss;
use crate::net::Net;
use crate::net::weights::WeightsFile;
use crate::rule::Batch;

/// Which split to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// The training split.
    Train,
    /// The validation split.
    Validation,
    /// The test split.
    Test,
}

/// Mean loss and accuracy on a split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean output loss.
    pub loss: f64,
    /// Fraction of samples classified correctly.
    pub accuracy: f64,
    /// Number of samples.
    pub samples: usize,
}

/// The inputs of `rows` of `table` as a `[rows, features]` tensor.
pub(crate) fn inputs(table: &Table, rows: &[usize], device: &Device) -> Tensor<2> {
    let mut x = Vec::with_capacity(rows.len() * table.features);
    for &i in rows {
        x.extend_from_slice(table.row(i));
    }
    host::matrix(x, rows.len(), table.features, device)
}

/// The loss targets of `rows`: one-hot `[rows, classes]`, or `[rows, 1]` labels for BCE.
pub(crate) fn targets(
    table: &Table,
    rows: &[usize],
    loss: Loss,
    outputs: usize,
    device: &Device,
) -> Tensor<2> {
    let mut t = vec![0.0f32; rows.len() * outputs];
    for (r, &i) in rows.iter().enumerate() {
        let label = table.y[i] as usize;
        match loss {
            Loss::BinaryCrossEntropy => t[r] = label as f32,
            Loss::CrossEntropy | Loss::MeanSquaredError => t[r * outputs + label] = 1.0,
        }
    }
    host::matrix(t, rows.len(), outputs, device)
}

/// The mini-batch of `rows`: inputs and loss targets.
pub fn batch(table: &Table, rows: &[usize], loss: Loss, outputs: usize, device: &Device) -> Batch {
    Batch {
        x: inputs(table, rows, device),
        targets: targets(table, rows, loss, outputs, device),
    }
}

/// Number of correct predictions in `logits` for `rows` (argmax, or `logit > 0` for BCE).
pub(crate) fn correct(logits: &Tensor<2>, table: &Table, rows: &[usize], loss: Loss) -> usize {
    let values = host::values(logits);
    let outputs = logits.dims()[1];
    rows.iter()
        .enumerate()
        .filter(|&(r, &i)| {
            let row = &values[r * outputs..(r + 1) * outputs];
            let predicted = match loss {
                Loss::BinaryCrossEntropy => usize::from(row[0] > 0.0),
                _ => argmax(row),
            };
            predicted == table.y[i] as usize
        })
        .count()
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

/// Evaluates `net` on `table` in chunks of `chunk` samples.
pub fn evaluate(net: &Net, table: &Table, loss: Loss, chunk: usize, device: &Device) -> Evaluation {
    let n = table.rows();
    let outputs = net.outputs();
    let mut loss_sum = 0.0f64;
    let mut hits = 0usize;
    let all: Vec<usize> = (0..n).collect();
    for rows in all.chunks(chunk.max(1)) {
        let logits = net.forward_eval(inputs(table, rows, device));
        let t = targets(table, rows, loss, outputs, device);
        loss_sum += f64::from(host::scalar(&loss.value(&logits, &t))) * rows.len() as f64;
        hits += correct(&logits, table, rows, loss);
    }
    let samples = n.max(1) as f64;
    Evaluation {
        loss: loss_sum / samples,
        accuracy: hits as f64 / samples,
        samples: n,
    }
}

/// Loads `weights` into the net `config` describes and evaluates it on `split`.
pub fn evaluate_weights(
    config: &ExperimentConfig,
    weights: &Path,
    split: Split,
) -> Result<Evaluation> {
    let mut setup = Setup::new(config)?;
    WeightsFile::read(weights)?.load_into(&mut setup.net)?;
    let table = match split {
        Split::Train => &setup.data.train,
        Split::Validation => &setup.data.validation,
        Split::Test => &setup.data.test,
    };
    Ok(evaluate(
        &setup.net,
        table,
        config.train.loss,
        config.train.eval_batch_size,
        &setup.device,
    ))
}
