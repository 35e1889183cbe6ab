//! Evaluation passes: mean loss and accuracy of a net (through its rule's prediction) on a split.

use std::path::Path;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::data::Table;
use crate::engine::Trainer;
use crate::error::{Error, Result};
use crate::experiment::ExperimentConfig;
use crate::host;
use crate::net::Net;
use crate::net::weights::WeightsFile;
use crate::rule::LearningRule;
use crate::task::Task;

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
    /// Mean output loss (the reconstruction MSE for reconstruction).
    pub loss: f64,
    /// Fraction of samples classified correctly (absent for reconstruction).
    pub accuracy: Option<f64>,
    /// Number of samples.
    pub samples: usize,
}

/// Evaluates `net` as `rule` predicts with it on `table`, in chunks of `chunk` samples.
pub fn evaluate(
    rule: &dyn LearningRule,
    net: &Net,
    table: &Table,
    task: Task,
    chunk: usize,
    device: &Device,
) -> Evaluation {
    Evaluator {
        rule,
        net,
        task,
        chunk,
        device,
    }
    .evaluate(table)
}

/// A net as its rule predicts with it, evaluated on tables in chunks of `chunk` samples.
#[derive(Clone, Copy)]
pub struct Evaluator<'a> {
    /// The rule whose prediction is evaluated.
    pub rule: &'a dyn LearningRule,
    /// The net.
    pub net: &'a Net,
    /// What the output learns (the loss, how a prediction is scored).
    pub task: Task,
    /// Samples per evaluation batch.
    pub chunk: usize,
    /// Where the batches are made.
    pub device: &'a Device,
}

impl Evaluator<'_> {
    /// Mean loss and accuracy on `table`.
    pub fn evaluate(&self, table: &Table) -> Evaluation {
        let n = table.rows();
        let mut loss_sum = 0.0f64;
        let mut hits: Option<usize> = Some(0);
        let all: Vec<usize> = (0..n).collect();
        for rows in all.chunks(self.chunk.max(1)) {
            let batch = self.task.batch(table, rows, self.device);
            let prediction = self.rule.predict(self.net, batch.x);
            let loss = self.task.loss.value(&prediction, &batch.targets);
            loss_sum += f64::from(host::scalar(&loss)) * rows.len() as f64;
            hits = hits
                .zip(self.task.correct(&prediction, &batch.labels))
                .map(|(a, b)| a + b);
        }
        let samples = n.max(1) as f64;
        Evaluation {
            loss: loss_sum / samples,
            accuracy: hits.map(|h| h as f64 / samples),
            samples: n,
        }
    }

    /// Per block, the accuracy of the block's own decoder (local losses, linear decoders:
    /// [`LearningRule::block_predictions`]) on `table`, `None` for blocks without one; empty
    /// when the rule has no decoders or the task is not classification.
    pub fn decoder_accuracies(&self, table: &Table) -> Vec<Option<f64>> {
        let all: Vec<usize> = (0..table.rows()).collect();
        let mut hits: Vec<Option<usize>> = Vec::new();
        for rows in all.chunks(self.chunk.max(1)) {
            let batch = self.task.batch(table, rows, self.device);
            let predictions = self.rule.block_predictions(self.net, batch.x);
            if hits.is_empty() {
                if predictions.iter().all(Option::is_none) {
                    return Vec::new();
                }
                hits = predictions.iter().map(|p| p.as_ref().map(|_| 0)).collect();
            }
            for (hit, prediction) in hits.iter_mut().zip(&predictions) {
                *hit = hit
                    .zip(prediction.as_ref())
                    .and_then(|(h, p)| self.task.correct(p, &batch.labels).map(|c| h + c));
            }
        }
        let samples = table.rows().max(1) as f64;
        hits.into_iter()
            .map(|h| h.map(|h| h as f64 / samples))
            .collect()
    }
}

/// Loads `weights` into the net `config` describes and evaluates it on `split`.
pub fn evaluate_weights(
    config: &ExperimentConfig,
    weights: &Path,
    split: Split,
) -> Result<Evaluation> {
    let data = crate::data::load(&config.data)?;
    let mut trainer = Trainer::new(config, &data)?;
    trainer.load_weights(&WeightsFile::read(weights)?)?;
    let (table, key) = match split {
        Split::Train => (&data.train, "data.train_limit"),
        Split::Validation => (&data.validation, "data.validation_fraction"),
        Split::Test => (&data.test, "data.test_fraction"),
    };
    if table.rows() == 0 {
        return Err(Error::config(
            key,
            format!(
                "the {} split of `{}` is empty: nothing to evaluate",
                format!("{split:?}").to_lowercase(),
                config.data.dataset
            ),
        ));
    }
    Ok(trainer.evaluate(table))
}
