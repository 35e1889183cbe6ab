//! Batch normalisation over the batch dimension (and, for convolutional volumes, every position
//! of a channel), with its explicit backward.

use burn::tensor::{Device, Tensor};

use crate::host;
use crate::net::Slot;
use crate::net::layer::{Layer, LayerCache, LayerGrads, Mode};

/// `y = γ·(z − μ)/√(σ² + ε) + β`, with batch statistics in training and running ones in
/// evaluation (PyTorch's `BatchNorm1d`, or `BatchNorm2d` over flattened `[c, h, w]` volumes,
/// statistics per channel over the batch and the `h·w` positions: momentum 0.1, ε = 1e-5,
/// unbiased running variance).
///
/// # Shapes
/// input `[batch, units·positions]`; every parameter and buffer `[1, units]`.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    /// Scale `γ`.
    pub gamma: Tensor<2>,
    /// Shift `β`.
    pub beta: Tensor<2>,
    /// Running mean used in evaluation.
    pub running_mean: Tensor<2>,
    /// Running (unbiased) variance used in evaluation.
    pub running_var: Tensor<2>,
    /// Whether `γ` and `β` are parameters; if not they stay 1 and 0 and are not saved
    /// (PyTorch's `affine=False`).
    pub affine: bool,
    /// Positions per unit: 1 for features, `h·w` for a volume's channels.
    pub positions: usize,
}

/// What the backward pass needs from a training forward pass.
#[derive(Debug, Clone)]
pub struct BatchNormCache {
    /// The normalised input `x̂`, `[batch, units·positions]`.
    pub normalized: Tensor<2>,
    /// `1/√(σ² + ε)`, `[1, units]`.
    pub inv_std: Tensor<2>,
    /// Batch mean, `[1, units]`.
    pub mean: Tensor<2>,
    /// Batch (biased) variance, `[1, units]`.
    pub var: Tensor<2>,
}

/// Gradients of `γ` and `β`.
#[derive(Debug, Clone)]
pub struct BatchNormGrads {
    /// `∂L/∂γ`, `[1, units]`.
    pub gamma: Tensor<2>,
    /// `∂L/∂β`, `[1, units]`.
    pub beta: Tensor<2>,
}

const EPSILON: f32 = 1e-5;
const MOMENTUM: f32 = 0.1;

/// `n / (n − 1)`, which turns a batch's biased variance into the unbiased one the running
/// statistics keep (1 for a single row).
pub(crate) fn unbiased_factor(batch: usize) -> f32 {
    if batch > 1 {
        batch as f32 / (batch as f32 - 1.0)
    } else {
        1.0
    }
}

impl BatchNorm {
    /// An identity-initialised layer over `units` features, with or without learned `γ`, `β`.
    pub fn new(units: usize, affine: bool, device: &Device) -> Self {
        Self {
            gamma: host::matrix(vec![1.0; units], 1, units, device),
            beta: host::matrix(vec![0.0; units], 1, units, device),
            running_mean: host::matrix(vec![0.0; units], 1, units, device),
            running_var: host::matrix(vec![1.0; units], 1, units, device),
            affine,
            positions: 1,
        }
    }

    /// A layer over the `channels` of `[channels, h, w]` volumes of `positions = h·w` cells
    /// (PyTorch's `BatchNorm2d`).
    pub fn spatial(channels: usize, positions: usize, affine: bool, device: &Device) -> Self {
        Self {
            positions,
            ..Self::new(channels, affine, device)
        }
    }

    /// `x` (`[batch, units·positions]`) as `[batch, units, positions]`.
    fn cells(&self, x: Tensor<2>) -> Tensor<3> {
        let [batch, width] = x.dims();
        x.reshape([batch, width / self.positions, self.positions])
    }

    /// The mean over the batch and positions, `[batch, units, positions]` → `[1, units, 1]`.
    fn cell_mean(&self, x: Tensor<3>) -> Tensor<3> {
        let mean = x.mean_dim(0);
        if self.positions > 1 {
            mean.mean_dim(2)
        } else {
            mean
        }
    }

    /// A `[1, units]` row as `[1, units, 1]`, to broadcast over cells.
    fn column(row: &Tensor<2>) -> Tensor<3> {
        row.clone().unsqueeze_dim(2)
    }

    /// `[1, units, 1]` as the `[1, units]` row.
    fn row(column: Tensor<3>) -> Tensor<2> {
        column.squeeze_dim(2)
    }

    /// `[batch, units, positions]` back to `[batch, units·positions]`.
    fn flat(x: Tensor<3>) -> Tensor<2> {
        let [batch, units, positions] = x.dims();
        x.reshape([batch, units * positions])
    }

    /// Normalises with the batch's own statistics.
    ///
    /// # Shapes
    /// `z`: `[batch, units]` → `[batch, units]`.
    pub fn forward_train(&self, z: Tensor<2>) -> (Tensor<2>, BatchNormCache) {
        if self.positions > 1 {
            return self.forward_train_cells(z);
        }
        let mean = z.clone().mean_dim(0);
        let centered = z - mean.clone();
        let var = centered.clone().square().mean_dim(0);
        let inv_std = var.clone().add_scalar(EPSILON).sqrt().recip();
        let normalized = centered * inv_std.clone();
        let y = normalized.clone() * self.gamma.clone() + self.beta.clone();
        let cache = BatchNormCache {
            normalized,
            inv_std,
            mean,
            var,
        };
        (y, cache)
    }

    /// [`BatchNorm::forward_train`] with statistics over the batch and every position.
    fn forward_train_cells(&self, z: Tensor<2>) -> (Tensor<2>, BatchNormCache) {
        let z = self.cells(z);
        let mean = self.cell_mean(z.clone());
        let centered = z - mean.clone();
        let var = self.cell_mean(centered.clone().square());
        let inv_std = var.clone().add_scalar(EPSILON).sqrt().recip();
        let normalized = centered * inv_std.clone();
        let y = normalized.clone() * Self::column(&self.gamma) + Self::column(&self.beta);
        let cache = BatchNormCache {
            normalized: Self::flat(normalized),
            inv_std: Self::row(inv_std),
            mean: Self::row(mean),
            var: Self::row(var),
        };
        (Self::flat(y), cache)
    }

    /// Normalises with the running statistics.
    pub fn forward_eval(&self, z: Tensor<2>) -> Tensor<2> {
        let inv_std = self.running_var.clone().add_scalar(EPSILON).sqrt().recip();
        if self.positions > 1 {
            let y = (self.cells(z) - Self::column(&self.running_mean))
                * Self::column(&(inv_std * self.gamma.clone()))
                + Self::column(&self.beta);
            return Self::flat(y);
        }
        (z - self.running_mean.clone()) * inv_std * self.gamma.clone() + self.beta.clone()
    }

    /// Folds a training batch's statistics into the running ones (`batch` rows, each of
    /// [`BatchNorm::positions`] cells per unit).
    pub fn update_running_stats(&mut self, cache: &BatchNormCache, batch: usize) {
        let unbiased = unbiased_factor(batch * self.positions);
        self.running_mean = self.running_mean.clone().mul_scalar(1.0 - MOMENTUM)
            + cache.mean.clone().mul_scalar(MOMENTUM);
        self.running_var = self.running_var.clone().mul_scalar(1.0 - MOMENTUM)
            + cache.var.clone().mul_scalar(MOMENTUM * unbiased);
    }

    /// Parameter gradients (affine layers only) and the gradient at the input, from the
    /// gradient at the output.
    ///
    /// # Shapes
    /// `grad_y`: `[batch, units]` → (`[1, units]` ×2, `[batch, units]`).
    pub fn backward(
        &self,
        cache: &BatchNormCache,
        grad_y: Tensor<2>,
    ) -> (Option<BatchNormGrads>, Tensor<2>) {
        if self.positions > 1 {
            return self.backward_cells(cache, grad_y);
        }
        let grads = self.affine.then(|| BatchNormGrads {
            gamma: (grad_y.clone() * cache.normalized.clone()).sum_dim(0),
            beta: grad_y.clone().sum_dim(0),
        });
        let grad_normalized = grad_y * self.gamma.clone();
        let mean_grad = grad_normalized.clone().mean_dim(0);
        let mean_grad_x = (grad_normalized.clone() * cache.normalized.clone()).mean_dim(0);
        let grad_z = (grad_normalized - mean_grad - cache.normalized.clone() * mean_grad_x)
            * cache.inv_std.clone();
        (grads, grad_z)
    }

    /// [`BatchNorm::backward`] with statistics over the batch and every position.
    fn backward_cells(
        &self,
        cache: &BatchNormCache,
        grad_y: Tensor<2>,
    ) -> (Option<BatchNormGrads>, Tensor<2>) {
        let grad_y = self.cells(grad_y);
        let normalized = self.cells(cache.normalized.clone());
        let sum = |x: Tensor<3>| Self::row(x.sum_dim(0).sum_dim(2));
        let grads = self.affine.then(|| BatchNormGrads {
            gamma: sum(grad_y.clone() * normalized.clone()),
            beta: sum(grad_y.clone()),
        });
        let grad_normalized = grad_y * Self::column(&self.gamma);
        let mean_grad = self.cell_mean(grad_normalized.clone());
        let mean_grad_x = self.cell_mean(grad_normalized.clone() * normalized.clone());
        let grad_z =
            (grad_normalized - mean_grad - normalized * mean_grad_x) * Self::column(&cache.inv_std);
        (grads, Self::flat(grad_z))
    }
}

impl Layer for BatchNorm {
    fn name(&self) -> &'static str {
        "batchnorm"
    }

    fn draws_in_training(&self) -> bool {
        false
    }

    /// Batch statistics in training and calibration (kept in the cache), running ones in
    /// evaluation.
    fn forward(&self, x: Tensor<2>, mode: &mut Mode<'_>) -> LayerCache {
        match mode {
            Mode::Train(_) | Mode::Calibrate => {
                let (y, cache) = self.forward_train(x.clone());
                LayerCache::new(x, y).with_state(cache)
            }
            Mode::Eval => {
                let y = self.forward_eval(x.clone());
                LayerCache::new(x, y)
            }
        }
    }

    /// `γ`'s and `β`'s gradients (named `weight`, `bias` as in PyTorch) for affine layers;
    /// after an evaluation pass the gradient passes through unchanged.
    fn backward(&self, cache: &LayerCache, grad_output: Tensor<2>) -> (LayerGrads, Tensor<2>) {
        let Some(state) = cache.state::<BatchNormCache>() else {
            return (Vec::new(), grad_output);
        };
        let (grads, grad_z) = BatchNorm::backward(self, state, grad_output);
        let grads = grads
            .map(|g| vec![("weight", g.gamma), ("bias", g.beta)])
            .unwrap_or_default();
        (grads, grad_z)
    }

    fn observe(&mut self, cache: &LayerCache) {
        if let Some(state) = cache.state::<BatchNormCache>() {
            self.update_running_stats(state, cache.input.dims()[0]);
        }
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {
        if self.affine {
            f("weight", Slot::ROW, &self.gamma);
            f("bias", Slot::ROW, &self.beta);
        }
        f("running_mean", Slot::BUFFER_ROW, &self.running_mean);
        f("running_var", Slot::BUFFER_ROW, &self.running_var);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {
        if self.affine {
            f("weight", Slot::ROW, &mut self.gamma);
            f("bias", Slot::ROW, &mut self.beta);
        }
        f("running_mean", Slot::BUFFER_ROW, &mut self.running_mean);
        f("running_var", Slot::BUFFER_ROW, &mut self.running_var);
    }
}
