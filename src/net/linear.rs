//! A fully connected layer with its explicit backward.

use burn::tensor::{Device, Tensor};

use crate::host;
use crate::net::init::Init;
use crate::product::matmul;
use crate::rng::Rng;

/// `z = x·Wᵀ + b`.
///
/// # Shapes
/// weight `[out, in]` (PyTorch layout), bias `[1, out]` (saved as `[out]`).
#[derive(Debug, Clone)]
pub struct Linear {
    /// The weight matrix `W`, `[out, in]`.
    pub weight: Tensor<2>,
    /// The bias `b`, `[1, out]`.
    pub bias: Tensor<2>,
}

/// The gradients of a [`Linear`] layer's parameters.
#[derive(Debug, Clone)]
pub struct LinearGrads {
    /// `∂L/∂W`, `[out, in]`.
    pub weight: Tensor<2>,
    /// `∂L/∂b`, `[1, out]`.
    pub bias: Tensor<2>,
}

impl Linear {
    /// A layer from `inputs` to `outputs` drawn with `init`.
    pub fn new(
        inputs: usize,
        outputs: usize,
        init: Init,
        scale: Option<f32>,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let weight = init.matrix(outputs, inputs, scale, rng);
        let bias = init.bias(outputs, inputs, scale, rng);
        Self {
            weight: host::matrix(weight, outputs, inputs, device),
            bias: host::matrix(bias, 1, outputs, device),
        }
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.weight.dims()[1]
    }

    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        self.weight.dims()[0]
    }

    /// # Shapes
    /// `x`: `[batch, in]` → `[batch, out]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        matmul(x, self.weight.clone().transpose()) + self.bias.clone()
    }

    /// Parameter gradients from the layer's input `x` and the gradient `grad_z` at its output.
    ///
    /// # Shapes
    /// `x`: `[batch, in]`, `grad_z`: `[batch, out]`.
    pub fn param_grads(&self, x: &Tensor<2>, grad_z: &Tensor<2>) -> LinearGrads {
        LinearGrads {
            weight: matmul(grad_z.clone().transpose(), x.clone()),
            bias: grad_z.clone().sum_dim(0),
        }
    }

    /// The gradient sent to the input, `grad_z·M`, where `M` is `W` for backprop or a feedback
    /// matrix of the same `[out, in]` shape for feedback alignment.
    pub fn input_grad(grad_z: Tensor<2>, feedback: &Tensor<2>) -> Tensor<2> {
        matmul(grad_z, feedback.clone())
    }
}
