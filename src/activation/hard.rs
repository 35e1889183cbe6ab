//! Hard units: sign, step and stochastic binary neurons. Their true gradient is zero almost
//! everywhere; blocks train them through an [`Estimator`](crate::activation::Estimator).

use burn::tensor::{Tensor, activation as act};

use crate::activation::{Activation, categorical};
use crate::host;
use crate::rng::Rng;

/// The deterministic output: `sign`, `step`, or a stochastic unit's threshold `p ≥ 0.5`.
///
/// # Shapes
/// any `[batch, units]` → same.
pub fn forward(activation: &Activation, a: Tensor<2>) -> Tensor<2> {
    match activation {
        Activation::Sign => a.sign(),
        Activation::Step => a.greater_elem(0.0).float(),
        Activation::Categorical { k } => categorical::one_hot_argmax(a, *k),
        _ => probability(activation, a).greater_equal_elem(0.5).float(),
    }
}

/// A stochastic unit's firing probability: `σ(a)`, `(hardtanh(a) + 1) / 2`, `clamp(a, 0, 1)`,
/// or a categorical unit's per-group softmax.
pub fn probability(activation: &Activation, a: Tensor<2>) -> Tensor<2> {
    match activation {
        Activation::Categorical { k } => categorical::probabilities(a, *k),
        Activation::StochasticHardSigmoid => a.clamp(-1.0, 1.0).add_scalar(1.0).mul_scalar(0.5),
        Activation::Bernoulli => a.clamp(0.0, 1.0),
        _ => act::sigmoid(a),
    }
}

/// The derivative `p′(a)` of a piecewise-linear firing probability (`stochastic_hard_sigmoid`:
/// ½ on `|a| < 1`; `bernoulli`: 1 on `0 < a < 1`; zero elsewhere), `None` for `σ`.
pub fn probability_slope(activation: &Activation, a: &Tensor<2>) -> Option<Tensor<2>> {
    match activation {
        Activation::StochasticHardSigmoid => {
            Some(a.clone().abs().lower_elem(1.0).float().mul_scalar(0.5))
        }
        Activation::Bernoulli => Some(
            a.clone()
                .greater_elem(0.0)
                .float()
                .mul(a.clone().lower_elem(1.0).float()),
        ),
        _ => None,
    }
}

/// Draws `[batch, units]` uniforms on the host from `rng` (reproducible on any backend).
pub fn uniforms(like: &Tensor<2>, rng: &mut Rng) -> Tensor<2> {
    draws(like, |n| rng.uniform_vec(n, 0.0, 1.0))
}

/// Draws `[batch, units]` standard normals on the host from `rng` (noisy units).
pub fn normals(like: &Tensor<2>, rng: &mut Rng) -> Tensor<2> {
    draws(like, |n| rng.normal_vec(n, 0.0, 1.0))
}

/// A tensor shaped like `like` from `draw(count)` values made on the host.
fn draws(like: &Tensor<2>, draw: impl FnOnce(usize) -> Vec<f32>) -> Tensor<2> {
    let [rows, cols] = like.dims();
    host::matrix(draw(rows * cols), rows, cols, &like.device())
}

/// Samples a stochastic unit: draw `r ~ U(0, 1)`, output 1 iff `r < p(a)`; a categorical
/// unit draws each group's choice by Gumbel-max (the one-hot of `argmax(a + g)`).
pub fn sample(activation: &Activation, a: Tensor<2>, rng: &mut Rng) -> Tensor<2> {
    let r = uniforms(&a, rng);
    match activation {
        Activation::Categorical { k } => {
            categorical::one_hot_argmax(a + categorical::gumbel(r), *k)
        }
        _ => r.lower(probability(activation, a)).float(),
    }
}
