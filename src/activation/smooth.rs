//! The smooth activations' forward and exact derivative.

use burn::tensor::{Tensor, activation as act};

use crate::activation::Activation;

/// `f(x)` for a smooth activation.
pub fn forward(activation: &Activation, x: Tensor<2>) -> Tensor<2> {
    match *activation {
        Activation::Sigmoid => act::sigmoid(x),
        Activation::Tanh => x.tanh(),
        Activation::Relu => act::relu(x),
        Activation::LeakyRelu { slope } => act::leaky_relu(x, f64::from(slope)),
        Activation::Elu { alpha } => act::elu(x, f64::from(alpha)),
        Activation::Mish => act::mish(x),
        Activation::Silu => act::silu(x),
        Activation::Gelu => act::gelu(x),
        Activation::Hardtanh => x.clamp(-1.0, 1.0),
        Activation::Hardsigmoid => x.div_scalar(6.0).add_scalar(0.5).clamp(0.0, 1.0),
        Activation::Softmax => act::softmax(x, 1),
        _ => x,
    }
}

/// Softmax's backward: `s ⊙ (g − ⟨g, s⟩)` per row.
pub fn softmax_backward(s: &Tensor<2>, grad_out: Tensor<2>) -> Tensor<2> {
    let dot = (grad_out.clone() * s.clone()).sum_dim(1);
    s.clone() * (grad_out - dot)
}

/// `f′(a)` element-wise, using the stored output `h = f(a)` where that is cheaper.
pub fn derivative(activation: &Activation, a: &Tensor<2>, h: &Tensor<2>) -> Tensor<2> {
    match *activation {
        Activation::Sigmoid => h.clone() * h.clone().neg().add_scalar(1.0),
        Activation::Tanh => h.clone().square().neg().add_scalar(1.0),
        Activation::Relu => a.clone().greater_elem(0.0).float(),
        Activation::LeakyRelu { slope } => {
            let positive = a.clone().greater_elem(0.0).float();
            positive.mul_scalar(1.0 - slope).add_scalar(slope)
        }
        Activation::Elu { alpha } => {
            let positive = a.clone().greater_elem(0.0);
            h.clone().add_scalar(alpha).mask_fill(positive, 1.0)
        }
        Activation::Mish => {
            let t = act::softplus(a.clone(), 1.0).tanh();
            let sech2 = t.clone().square().neg().add_scalar(1.0);
            t + a.clone() * sech2 * act::sigmoid(a.clone())
        }
        Activation::Silu => {
            let s = act::sigmoid(a.clone());
            s.clone() + a.clone() * s.clone() * s.neg().add_scalar(1.0)
        }
        Activation::Gelu => {
            let cdf = a
                .clone()
                .div_scalar(std::f32::consts::SQRT_2)
                .erf()
                .add_scalar(1.0)
                .mul_scalar(0.5);
            let pdf = a
                .clone()
                .square()
                .mul_scalar(-0.5)
                .exp()
                .mul_scalar(1.0 / (2.0 * std::f32::consts::PI).sqrt());
            cdf + a.clone() * pdf
        }
        Activation::Hardtanh => a.clone().abs().lower_equal_elem(1.0).float(),
        Activation::Hardsigmoid => a.clone().abs().lower_elem(3.0).float().div_scalar(6.0),
        _ => a.ones_like(),
    }
}
