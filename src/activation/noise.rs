//! Noisy units (Bengio, Léonard & Courville 2013, as the hard-nonlinearity notes summarise
//! them): stochastic units whose output is a *differentiable* function of the input and an
//! independent noise draw, so plain backprop through the drawn noise trains them.
//!
//! - `additive_noise_relu:σ` (the noisy rectifier): `h = max(0, a + σ·z)`, `z ~ N(0, 1)`;
//!   `∂h/∂a = 1[a + σz > 0]`.
//! - `multiplicative_noise_relu:σ`: `h = max(0, a)·(1 + σ·z)`; `∂h/∂a = 1[a > 0]·(1 + σz)`.
//! - `stochastic_times_smooth`: a binary stochastic neuron decomposed into a smooth part and a
//!   stochastic part, `h = b·s` with `s = √σ(a)` and `b ~ Bernoulli(s)`, so that `E[h] = σ(a)`
//!   like the binary neuron's; the gradient flows through the smooth part, `∂h/∂a = b·s′(a)`,
//!   `s′ = σ(1 − σ) / (2s)` (the stochastic part is held fixed).
//!
//! In evaluation they are deterministic (`eval_mode = "threshold"`: the noise-free rectifier;
//! `b = 1[s ≥ ½]` for the decomposition), sampled from a fixed stream (`"sample"`), or their
//! mean (`"expectation"`).

use burn::tensor::{Tensor, activation as act};

use crate::activation::{Activation, hard, smooth};
use crate::rng::Rng;

/// `√σ(a)`: the decomposition's smooth part.
fn smooth_part(a: Tensor<2>) -> Tensor<2> {
    act::sigmoid(a).sqrt()
}

/// A training sample of a noisy unit (see the module docs).
///
/// # Shapes
/// `a`: `[batch, units]` → same.
pub fn sample(activation: &Activation, a: Tensor<2>, rng: &mut Rng) -> Tensor<2> {
    match *activation {
        Activation::AdditiveNoiseRelu { sigma } => {
            let z = hard::normals(&a, rng);
            act::relu(a + z.mul_scalar(sigma))
        }
        Activation::MultiplicativeNoiseRelu { sigma } => {
            let z = hard::normals(&a, rng);
            act::relu(a) * z.mul_scalar(sigma).add_scalar(1.0)
        }
        Activation::StochasticTimesSmooth => {
            let s = smooth_part(a);
            let b = hard::uniforms(&s, rng).lower(s.clone()).float();
            b * s
        }
        _ => activation.forward(a),
    }
}

/// The deterministic output: the noise-free rectifier, or `1[s ≥ ½]·s`.
pub fn forward(activation: &Activation, a: Tensor<2>) -> Tensor<2> {
    match activation {
        Activation::StochasticTimesSmooth => {
            let s = smooth_part(a);
            s.clone().greater_equal_elem(0.5).float() * s
        }
        _ => act::relu(a),
    }
}

/// The unit's mean output over the noise: `a·Φ(a/σ) + σ·φ(a/σ)` for the noisy rectifier,
/// `max(0, a)` for multiplicative noise, `σ(a)` for the decomposition.
pub fn expectation(activation: &Activation, a: Tensor<2>) -> Tensor<2> {
    match *activation {
        Activation::AdditiveNoiseRelu { sigma } => {
            let t = a.clone().div_scalar(sigma);
            a * smooth::normal_cdf(t.clone()) + smooth::normal_pdf(t).mul_scalar(sigma)
        }
        Activation::StochasticTimesSmooth => act::sigmoid(a),
        _ => act::relu(a),
    }
}

/// `∂h/∂a` at the drawn noise, from the input `a` and the output `h` (which holds the draw):
/// `1[h > 0]`; `h / a` where `a > 0` (that is `1 + σz`); `1[h > 0]·s′(a)`.
pub fn derivative(activation: &Activation, a: &Tensor<2>, h: &Tensor<2>) -> Tensor<2> {
    match activation {
        Activation::AdditiveNoiseRelu { .. } => h.clone().greater_elem(0.0).float(),
        Activation::MultiplicativeNoiseRelu { .. } => {
            let positive = a.clone().greater_elem(0.0);
            let safe = a.clone().mask_fill(positive.clone().bool_not(), 1.0);
            (h.clone() / safe) * positive.float()
        }
        _ => {
            let sigma = act::sigmoid(a.clone());
            let s = sigma.clone().sqrt();
            let slope = sigma.clone() * sigma.neg().add_scalar(1.0) / s.mul_scalar(2.0);
            h.clone().greater_elem(0.0).float() * slope
        }
    }
}
