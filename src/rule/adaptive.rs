//! The adaptive layer-wise schedule (`train.layerwise = "adaptive"`), between parallel and
//! sequential: every block learns at every step, but along each of its input directions only
//! as fast as that direction's input distribution has settled. It implements the hypothesis of
//! the linear-decoder notes (Mertens): a block whose input still moves along an axis should
//! not yet learn patterns on that axis, while axes that have stopped moving are learned at
//! full speed.
//!
//! Per block and input feature `j`, running (exponential, momentum [`MOMENTUM`]) estimates of
//! the input's batch mean `m_j` and variance `v_j` are kept; a step's displacement is
//! `d_j = |Δm_j| / √v_j + |Δv_j| / v_j`, and its running mean `D_j` (momentum
//! [`DRIFT_MOMENTUM`]) is the direction's drift. A stationary input still drifts by the
//! sampling noise of its batch statistics, about `F = (1 − β)·√(2/π)·(1/√B + √(2/(B − 1)))` for
//! a batch of `B` rows; the stability of the direction is
//!
//! `s_j = 1 / (1 + κ · max(0, D_j / F − 1))`,
//!
//! 1 for an input that moves no more than its noise, towards 0 for one that moves much more
//! (`κ` is `train.adaptive_strength`). The block's weight update is scaled per input column:
//! `W ← W + (W' − W)·diag(s)` where `W'` is what the optimizer made of `W`; biases and the rule's
//! own tensors update unscaled.

use burn::tensor::Tensor;

use crate::host;
use crate::net::{BlockParams, Gradients, Parameters};
use crate::rule::BlockUpdater;

/// Momentum of the running batch mean and variance of a block's input.
pub const MOMENTUM: f32 = 0.9;

/// Momentum of the running displacement.
pub const DRIFT_MOMENTUM: f32 = 0.9;

/// Added to variances before dividing by them.
const EPSILON: f32 = 1e-6;

/// One block's input statistics and their drift, `[1, in]` each.
#[derive(Debug, Clone)]
pub struct InputDrift {
    mean: Tensor<2>,
    var: Tensor<2>,
    drift: Option<Tensor<2>>,
    /// Sum of the step stabilities' means since the last [`InputDrift::take_mean_stability`],
    /// `[1]`, and their count.
    stability_sum: Option<Tensor<1>>,
    steps: usize,
}

impl InputDrift {
    /// Starts from the first batch's statistics (no drift yet).
    ///
    /// # Shapes
    /// `x`: `[batch, in]`.
    pub fn new(x: &Tensor<2>) -> Self {
        let (mean, var) = moments(x);
        Self {
            mean,
            var,
            drift: None,
            stability_sum: None,
            steps: 0,
        }
    }

    /// Folds in a batch of the block's input and returns each input direction's stability
    /// `s_j` (see the module docs) at strength `kappa`.
    ///
    /// # Shapes
    /// `x`: `[batch, in]` → `[1, in]`.
    pub fn observe(&mut self, x: &Tensor<2>, kappa: f32) -> Tensor<2> {
        let rows = x.dims()[0].max(2) as f32;
        let (batch_mean, batch_var) = moments(x);
        let mean = self.mean.clone().mul_scalar(MOMENTUM) + batch_mean.mul_scalar(1.0 - MOMENTUM);
        let var = self.var.clone().mul_scalar(MOMENTUM) + batch_var.mul_scalar(1.0 - MOMENTUM);
        let scale = var.clone().add_scalar(EPSILON);
        let step = (mean.clone() - self.mean.clone()).abs() / scale.clone().sqrt()
            + (var.clone() - self.var.clone()).abs() / scale;
        let drift = match self.drift.take() {
            Some(drift) => drift.mul_scalar(DRIFT_MOMENTUM) + step.mul_scalar(1.0 - DRIFT_MOMENTUM),
            None => step,
        };
        (self.mean, self.var) = (mean, var);
        let floor = (1.0 - MOMENTUM)
            * (2.0 / std::f32::consts::PI).sqrt()
            * (1.0 / rows.sqrt() + (2.0 / (rows - 1.0)).sqrt());
        let excess = drift
            .clone()
            .div_scalar(floor)
            .sub_scalar(1.0)
            .clamp_min(0.0);
        let stability = excess.mul_scalar(kappa).add_scalar(1.0).recip();
        self.drift = Some(drift);
        let mean_stability = stability.clone().mean();
        self.stability_sum = Some(match self.stability_sum.take() {
            Some(sum) => sum + mean_stability,
            None => mean_stability,
        });
        self.steps += 1;
        stability
    }

    /// The mean stability over the input directions and the steps since the last call, and a
    /// fresh tally (`None` before any step).
    pub fn take_mean_stability(&mut self) -> Option<f64> {
        let sum = self.stability_sum.take()?;
        let steps = std::mem::take(&mut self.steps).max(1) as f64;
        Some(f64::from(host::scalar(&sum)) / steps)
    }
}

/// Per-column mean and (biased) variance of `x`, `[1, in]` each.
fn moments(x: &Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let mean = x.clone().mean_dim(0);
    let var = (x.clone() - mean.clone()).square().mean_dim(0);
    (mean, var)
}

/// A [`BlockUpdater`] that scales the block's weight update per input column by `stability`
/// (`[1, in]`) around what `inner` does.
pub struct AdaptiveUpdater<'a> {
    /// The updater that steps the block.
    pub inner: &'a mut dyn BlockUpdater,
    /// Each input column's stability, `[1, in]`.
    pub stability: Tensor<2>,
}

impl BlockUpdater for AdaptiveUpdater<'_> {
    fn update(
        &mut self,
        block: &mut BlockParams<'_>,
        own: Option<&mut dyn Parameters>,
        grads: &mut Gradients,
    ) {
        let before = block.block.weight().clone();
        self.inner.update(block, own, grads);
        let after = block.block.weight().clone();
        *block.block.weight_mut() = before.clone() + (after - before) * self.stability.clone();
    }
}
