//! Resilient backpropagation (Rprop, the iRprop⁻ variant PyTorch implements). burn 0.22 has no
//! Rprop, so it is written here, as a burn [`Optimizer`] so it steps like the others.
//!
//! Per element: if the gradient kept its sign, the step grows by `eta_plus`; if it flipped, the
//! step shrinks by `eta_minus` and this update is skipped (the stored gradient becomes 0); the
//! step stays within `[step_min, step_max]`; the parameter moves by `−sign(grad)·step`. The
//! first step size is the learning rate; later learning rates are ignored, as in PyTorch.

use burn::optim::{Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// Rprop's hyper-parameters (PyTorch's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rprop {
    /// Factor for a step whose gradient flipped sign (0.5).
    pub eta_minus: f32,
    /// Factor for a step whose gradient kept its sign (1.2).
    pub eta_plus: f32,
    /// Smallest step (1e-6).
    pub step_min: f32,
    /// Largest step (50).
    pub step_max: f32,
}

impl Default for Rprop {
    fn default() -> Self {
        Self {
            eta_minus: 0.5,
            eta_plus: 1.2,
            step_min: 1e-6,
            step_max: 50.0,
        }
    }
}

/// Per-parameter state: the previous (possibly zeroed) gradient and the step sizes.
#[derive(Debug, Clone)]
pub struct RpropState<const D: usize> {
    /// The gradient of the previous step, zero where it flipped sign.
    pub previous_grad: Tensor<D>,
    /// Each element's current step size.
    pub step_size: Tensor<D>,
}

impl<const D: usize> RecordState for RpropState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "previous_grad", self.previous_grad.to_data());
        out.push_tensor(prefix, "step_size", self.step_size.to_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let previous_grad = Tensor::from_data(src.take_tensor(prefix, "previous_grad")?, device);
        let step_size = Tensor::from_data(src.take_tensor(prefix, "step_size")?, device);
        Some(Self {
            previous_grad,
            step_size,
        })
    }
}

impl Optimizer for Rprop {
    type State<const D: usize> = RpropState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (previous_grad, step_size) = match state {
            Some(state) => (state.previous_grad, state.step_size),
            None => (grad.zeros_like(), grad.ones_like().mul_scalar(lr as f32)),
        };
        let agreement = (grad.clone() * previous_grad).sign();
        let grew = agreement.clone().greater_elem(0.0);
        let flipped = agreement.lower_elem(0.0);
        let factor = grad
            .ones_like()
            .mask_fill(grew, self.eta_plus)
            .mask_fill(flipped.clone(), self.eta_minus);
        let step_size = (step_size * factor).clamp(self.step_min, self.step_max);
        let grad = grad.mask_fill(flipped, 0.0);
        let tensor = tensor - grad.clone().sign() * step_size.clone();
        let state = RpropState {
            previous_grad: grad,
            step_size,
        };
        (tensor, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        RpropState {
            previous_grad: state.previous_grad.to_device(device),
            step_size: state.step_size.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host;
    use burn::tensor::TensorData;

    fn vector(values: &[f32]) -> Tensor<1> {
        Tensor::from_data(TensorData::from(values), &Device::default())
    }

    /// Two steps worked by hand with lr = 0.1, eta = (0.5, 1.2):
    /// step 1: every step size is 0.1; θ = [1, 1, 1] − sign([0.5, −2, 0])·0.1 = [0.9, 1.1, 1.0].
    /// step 2 with grads [0.3, 4, −1]: element 0 kept its sign → step 0.12, θ₀ = 0.78;
    /// element 1 flipped → step 0.05, update skipped, θ₁ = 1.1; element 2 had no previous
    /// gradient → step stays 0.1, θ₂ = 1.0 + 0.1 = 1.1.
    #[test]
    fn two_steps_match_the_hand_computation() {
        let rprop = Rprop::default();
        let theta = vector(&[1.0, 1.0, 1.0]);
        let (theta, state) = rprop.step(0.1, theta, vector(&[0.5, -2.0, 0.0]), None);
        let close = |a: Vec<f32>, b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        assert!(close(host::values(&theta), &[0.9, 1.1, 1.0]));
        let (theta, state) = rprop.step(0.1, theta, vector(&[0.3, 4.0, -1.0]), state);
        assert!(
            close(host::values(&theta), &[0.78, 1.1, 1.1]),
            "{:?}",
            host::values(&theta)
        );
        let state = state.unwrap();
        assert!(close(host::values(&state.step_size), &[0.12, 0.05, 0.1]));
        assert!(close(host::values(&state.previous_grad), &[0.3, 0.0, -1.0]));
    }
}
