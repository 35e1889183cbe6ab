//! Output losses: each returns its mean value over the batch and its gradient at the logits.

use std::fmt;
use std::str::FromStr;

use burn::tensor::{Tensor, activation};

/// A loss on the network's output (the last block's output, taken as logits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Softmax cross-entropy against one-hot targets.
    CrossEntropy,
    /// Binary cross-entropy on one output unit through a sigmoid, targets 0/1.
    BinaryCrossEntropy,
    /// Mean squared error over every element (one-hot targets, or the input for reconstruction).
    MeanSquaredError,
}

impl Loss {
    /// Every accepted name.
    pub const NAMES: &'static [&'static str] = &["cross_entropy", "bce", "mse"];

    /// The mean loss over the batch (a one-element tensor) and `∂loss/∂logits`.
    ///
    /// # Shapes
    /// `logits`, `targets`: `[batch, outputs]` → (`[1]`, `[batch, outputs]`).
    pub fn value_and_grad(
        &self,
        logits: &Tensor<2>,
        targets: &Tensor<2>,
    ) -> (Tensor<1>, Tensor<2>) {
        let [batch, outputs] = logits.dims();
        match self {
            Loss::CrossEntropy => {
                let log_probs = activation::log_softmax(logits.clone(), 1);
                let value = (targets.clone() * log_probs.clone())
                    .sum()
                    .neg()
                    .div_scalar(batch as f32);
                let grad = (log_probs.exp() - targets.clone()).div_scalar(batch as f32);
                (value, grad)
            }
            Loss::BinaryCrossEntropy => {
                let per_sample =
                    activation::softplus(logits.clone(), 1.0) - targets.clone() * logits.clone();
                let value = per_sample.mean();
                let grad = (activation::sigmoid(logits.clone()) - targets.clone())
                    .div_scalar((batch * outputs) as f32);
                (value, grad)
            }
            Loss::MeanSquaredError => {
                let diff = logits.clone() - targets.clone();
                let value = diff.clone().square().mean();
                let grad = diff.mul_scalar(2.0 / (batch * outputs) as f32);
                (value, grad)
            }
        }
    }

    /// Each sample's loss (the batch loss is their mean).
    ///
    /// # Shapes
    /// `logits`, `targets`: `[batch, outputs]` → `[batch, 1]`.
    pub fn per_sample(&self, logits: &Tensor<2>, targets: &Tensor<2>) -> Tensor<2> {
        match self {
            Loss::CrossEntropy => (targets.clone() * activation::log_softmax(logits.clone(), 1))
                .sum_dim(1)
                .neg(),
            Loss::BinaryCrossEntropy => (activation::softplus(logits.clone(), 1.0)
                - targets.clone() * logits.clone())
            .mean_dim(1),
            Loss::MeanSquaredError => (logits.clone() - targets.clone()).square().mean_dim(1),
        }
    }

    /// The mean loss only.
    pub fn value(&self, logits: &Tensor<2>, targets: &Tensor<2>) -> Tensor<1> {
        self.value_and_grad(logits, targets).0
    }
}

impl FromStr for Loss {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "cross_entropy" => Ok(Loss::CrossEntropy),
            "bce" | "binary_cross_entropy" => Ok(Loss::BinaryCrossEntropy),
            "mse" | "mean_squared_error" => Ok(Loss::MeanSquaredError),
            _ => Err(format!(
                "unknown loss `{text}`{} (expected one of: {})",
                crate::suggest::did_you_mean(text, Loss::NAMES.iter().copied()),
                Loss::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Loss::CrossEntropy => "cross_entropy",
            Loss::BinaryCrossEntropy => "bce",
            Loss::MeanSquaredError => "mse",
        })
    }
}

crate::serde_via_str!(Loss);
