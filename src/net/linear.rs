//! A fully connected layer with its explicit backward.

use burn::tensor::{Device, Tensor};

use crate::host;
use crate::net::Slot;
use crate::net::init::Init;
use crate::net::layer::{Layer, LayerCache, LayerGrads, Mode, Weighted};
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

    /// The gradient sent to the input, `grad_z·M`, where `M` is `W` for backprop or a feedback
    /// matrix of the same `[out, in]` shape for feedback alignment.
    pub fn input_grad(grad_z: Tensor<2>, feedback: &Tensor<2>) -> Tensor<2> {
        matmul(grad_z, feedback.clone())
    }
}

impl Layer for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn draws_in_training(&self) -> bool {
        false
    }

    fn forward(&self, x: Tensor<2>, _mode: &mut Mode<'_>) -> LayerCache {
        let z = Linear::forward(self, x.clone());
        LayerCache::new(x, z)
    }

    fn backward(&self, cache: &LayerCache, grad_output: Tensor<2>) -> (LayerGrads, Tensor<2>) {
        let grads = self.param_grads(cache, &grad_output);
        (grads, Linear::input_grad(grad_output, &self.weight))
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {
        f("weight", Slot::MATRIX, &self.weight);
        f("bias", Slot::ROW, &self.bias);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {
        f("weight", Slot::MATRIX, &mut self.weight);
        f("bias", Slot::ROW, &mut self.bias);
    }

    fn weighted(&self) -> Option<&dyn Weighted> {
        Some(self)
    }

    fn weighted_mut(&mut self) -> Option<&mut dyn Weighted> {
        Some(self)
    }
}

impl Weighted for Linear {
    fn weight(&self) -> &Tensor<2> {
        &self.weight
    }

    fn weight_mut(&mut self) -> &mut Tensor<2> {
        &mut self.weight
    }

    fn bias(&self) -> &Tensor<2> {
        &self.bias
    }

    fn bias_mut(&mut self) -> &mut Tensor<2> {
        &mut self.bias
    }

    /// `∂L/∂W = δzᵀ·x`, `∂L/∂b = Σ δz`.
    fn param_grads(&self, cache: &LayerCache, grad_output: &Tensor<2>) -> LayerGrads {
        vec![
            (
                "weight",
                matmul(grad_output.clone().transpose(), cache.input.clone()),
            ),
            ("bias", grad_output.clone().sum_dim(0)),
        ]
    }

    fn input_grad(
        &self,
        _cache: &LayerCache,
        grad_output: Tensor<2>,
        feedback: &Tensor<2>,
    ) -> Tensor<2> {
        Linear::input_grad(grad_output, feedback)
    }
}
