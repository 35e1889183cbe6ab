//! Divergence: a loss, gradient or tensor that is no longer a finite number stops training
//! at the iteration it is found, naming what went non-finite first.

use std::fmt;

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::host;
use crate::net::Parameters;

/// Where and how a run diverged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// The epoch it happened in, from 1.
    pub epoch: usize,
    /// The iteration (steps so far, this one included) it was found at.
    pub iteration: usize,
    /// What was found non-finite first: `loss`, `gradient of blocks.1.linear.weight`,
    /// `blocks.0.linear.weight`, `test loss` …
    pub tensor: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "diverged in epoch {} at iteration {}: {} is not finite",
            self.epoch, self.iteration, self.tensor
        )
    }
}

/// Whether every value of `tensor` is finite (one host read of its sum of absolute values,
/// which is finite exactly when they all are, short of an overflow that is itself a
/// divergence).
pub fn is_finite<const D: usize>(tensor: &Tensor<D>) -> bool {
    host::scalar(&tensor.clone().abs().sum()).is_finite()
}

/// The name of the first tensor of `models` (in their visiting order) holding a value that is
/// not finite.
pub fn first_non_finite(models: &[&dyn Parameters]) -> Option<String> {
    let mut found = None;
    for model in models {
        model.visit(&mut |name, _, tensor| {
            if found.is_none() && !is_finite(tensor) {
                found = Some(name.to_string());
            }
        });
    }
    found
}
