//! The smooth activations' forward and exact derivative.

use burn::tensor::{Tensor, activation as act};

use crate::activation::Activation;

/// `f(x)` for a smooth activation.
pub fn forward(activation: &Activation, x: Tensor<2>) -> Tensor<2> {
    match *activation {
        Activation::Sigmoid => act::sigmoid(x),
        Activation::Tanh => super::tanh::forward(x),
        Activation::Relu => act::relu(x),
        Activation::ClippedRelu { ceiling } => x.clamp(0.0, ceiling),
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

/// The standard normal CDF `Φ(t)` element-wise.
pub fn normal_cdf(t: Tensor<2>) -> Tensor<2> {
    t.div_scalar(std::f32::consts::SQRT_2)
        .erf()
        .add_scalar(1.0)
        .mul_scalar(0.5)
}

/// The standard normal density `φ(t)` element-wise.
pub fn normal_pdf(t: Tensor<2>) -> Tensor<2> {
    t.square()
        .mul_scalar(-0.5)
        .exp()
        .mul_scalar(1.0 / (2.0 * std::f32::consts::PI).sqrt())
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
        Activation::ClippedRelu { ceiling } => {
            a.clone().greater_elem(0.0).float() * a.clone().lower_elem(ceiling).float()
        }
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
        Activation::Gelu => normal_cdf(a.clone()) + a.clone() * normal_pdf(a.clone()),
        Activation::Hardtanh => a.clone().abs().lower_equal_elem(1.0).float(),
        Activation::Hardsigmoid => a.clone().abs().lower_elem(3.0).float().div_scalar(6.0),
        _ => a.ones_like(),
    }
}

/// `f⁻¹(h)` for an invertible activation (identity, sigmoid, tanh, leaky_relu with a positive
/// slope, elu), clamping `h` into the range where the inverse is finite; `None` otherwise.
pub fn inverse(activation: &Activation, h: Tensor<2>) -> Option<Tensor<2>> {
    const EDGE: f32 = 1e-6;
    Some(match *activation {
        Activation::Identity => h,
        Activation::Sigmoid => {
            let p = h.clamp(EDGE, 1.0 - EDGE);
            p.clone().log() - p.neg().add_scalar(1.0).log()
        }
        Activation::Tanh => {
            let y = h.clamp(-1.0 + EDGE, 1.0 - EDGE);
            (y.clone().add_scalar(1.0).log() - y.neg().add_scalar(1.0).log()).mul_scalar(0.5)
        }
        Activation::LeakyRelu { slope } if slope > 0.0 => {
            let negative = h.clone().lower_elem(0.0).float();
            let scale = negative.mul_scalar(1.0 / slope - 1.0).add_scalar(1.0);
            h * scale
        }
        Activation::Elu { alpha } if alpha > 0.0 => {
            let negative = h.clone().lower_elem(0.0).float();
            let inside = h
                .clone()
                .div_scalar(alpha)
                .add_scalar(1.0)
                .clamp_min(EDGE)
                .log();
            h.clone() + negative * (inside - h)
        }
        _ => return None,
    })
}
