//! Gradient estimators for hard units: what replaces the zero derivative of sign, step and
//! stochastic binary neurons in the backward pass.

use burn::tensor::{Tensor, activation as act};
use serde::{Deserialize, Serialize};

use crate::activation::{Activation, categorical, hard, smooth};
use crate::rng::Rng;

/// How a hard unit's gradient is estimated (`model.estimator`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EstimatorKind {
    /// The true gradient: zero.
    None,
    /// Straight-through: the identity.
    #[default]
    Ste,
    /// Straight-through where `|a| ≤ 1`, zero elsewhere.
    SteClipped,
    /// Straight-through scaled by `σ′(a)`.
    SteSigmoid,
    /// REINFORCE with a running-mean baseline: `(h − p(a))·(L − b)` (stochastic units).
    Reinforce,
    /// Concrete / Gumbel-softmax relaxation (stochastic_binary, softmax, categorical).
    Concrete,
}

/// A block's estimator with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Estimator {
    /// The true gradient: zero.
    None,
    /// Straight-through: the identity.
    Ste,
    /// Straight-through where `|a| ≤ 1`.
    SteClipped,
    /// Straight-through times `σ′(a)`.
    SteSigmoid,
    /// REINFORCE (the block's rule signal is replaced by the score-function term).
    Reinforce,
    /// Concrete relaxation at `temperature`; with `straight_through` the forward pass emits
    /// the hard sample and the backward pass goes through the relaxed one.
    Concrete {
        /// τ > 0: the lower, the closer the relaxed sample is to the hard one.
        temperature: f32,
        /// Emit the hard sample in the forward pass.
        straight_through: bool,
    },
}

/// How stochastic units behave in evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EvalMode {
    /// Output 1 iff the firing probability is at least 0.5.
    #[default]
    Threshold,
    /// Sample, as in training (from a fixed evaluation stream, so evaluations repeat).
    Sample,
    /// Output the firing probability itself, the unit's mean in training (mean-field
    /// evaluation: the next linear layer then sees the pre-activation it sees on average).
    Expectation,
}

impl Estimator {
    /// The estimator a config names, with the concrete relaxation's parameters.
    pub fn new(kind: EstimatorKind, temperature: f32, straight_through: bool) -> Self {
        match kind {
            EstimatorKind::None => Estimator::None,
            EstimatorKind::Ste => Estimator::Ste,
            EstimatorKind::SteClipped => Estimator::SteClipped,
            EstimatorKind::SteSigmoid => Estimator::SteSigmoid,
            EstimatorKind::Reinforce => Estimator::Reinforce,
            EstimatorKind::Concrete => Estimator::Concrete {
                temperature,
                straight_through,
            },
        }
    }

    /// Checks that the estimator fits the activation; the message says why not.
    pub fn check(&self, activation: &Activation) -> Result<(), String> {
        match self {
            Estimator::Reinforce if !activation.is_stochastic() => Err(format!(
                "reinforce needs a stochastic unit (stochastic_binary, stochastic_hard_sigmoid, \
                 bernoulli or categorical), not {activation}"
            )),
            Estimator::Concrete { temperature, .. } if *temperature <= 0.0 => Err(format!(
                "the concrete temperature must be positive, not {temperature}"
            )),
            Estimator::Concrete { .. } if !Self::relaxable(activation) => Err(format!(
                "concrete relaxes stochastic_binary (binary concrete), softmax or categorical \
                 (Gumbel-softmax) units, not {activation}"
            )),
            _ => Ok(()),
        }
    }

    /// Whether the concrete relaxation applies to `activation`.
    fn relaxable(activation: &Activation) -> bool {
        matches!(
            activation,
            Activation::StochasticBinary | Activation::Softmax | Activation::Categorical { .. }
        )
    }

    /// Whether the training forward pass draws a relaxed sample.
    pub fn relaxes(&self, activation: &Activation) -> bool {
        matches!(self, Estimator::Concrete { .. }) && Self::relaxable(activation)
    }

    /// The straight-through surrogate of `f′(a)` (zero for `none`, `reinforce` and `concrete`,
    /// which work otherwise).
    ///
    /// # Shapes
    /// `a`: `[batch, units]` → same.
    pub fn surrogate_derivative(&self, a: &Tensor<2>) -> Tensor<2> {
        match self {
            Estimator::Ste => a.ones_like(),
            Estimator::SteClipped => a.clone().abs().lower_equal_elem(1.0).float(),
            Estimator::SteSigmoid => {
                let s = act::sigmoid(a.clone());
                s.clone() * s.neg().add_scalar(1.0)
            }
            Estimator::None | Estimator::Reinforce | Estimator::Concrete { .. } => a.zeros_like(),
        }
    }
}

/// A relaxed training sample: `(output, relaxed)` where `relaxed` carries the gradient.
///
/// Binary concrete: `y = σ((a + ln u − ln(1 − u)) / τ)`, output `1[y > 0.5]` when straight
/// through, else `y`. Gumbel-softmax: `y = softmax((a + g) / τ)` with `g = −ln(−ln u)` (over
/// the row for softmax, over each group for categorical), output the one-hot of `argmax y`
/// when straight through, else `y`.
pub fn concrete_sample(
    activation: &Activation,
    a: Tensor<2>,
    temperature: f32,
    straight_through: bool,
    rng: &mut Rng,
) -> (Tensor<2>, Tensor<2>) {
    let u = hard::uniforms(&a, rng).clamp(1e-7, 1.0 - 1e-7);
    match activation {
        Activation::Softmax | Activation::Categorical { .. } => {
            let k = match activation {
                Activation::Categorical { k } => *k,
                _ => a.dims()[1],
            };
            let noisy = (a + categorical::gumbel(u)).div_scalar(temperature);
            let y = categorical::probabilities(noisy, k);
            let output = if straight_through {
                categorical::one_hot_argmax(y.clone(), k)
            } else {
                y.clone()
            };
            (output, y)
        }
        _ => {
            let logistic = u.clone().log() - u.neg().add_scalar(1.0).log();
            let y = act::sigmoid((a + logistic).div_scalar(temperature));
            let output = if straight_through {
                y.clone().greater_elem(0.5).float()
            } else {
                y.clone()
            };
            (output, y)
        }
    }
}

/// The gradient at `a` through a relaxed sample `relaxed` (see [`concrete_sample`]).
pub fn concrete_backward(
    activation: &Activation,
    relaxed: &Tensor<2>,
    temperature: f32,
    grad_out: Tensor<2>,
) -> Tensor<2> {
    let grad = match activation {
        Activation::Softmax => smooth::softmax_backward(relaxed, grad_out),
        Activation::Categorical { k } => categorical::softmax_backward(relaxed, grad_out, *k),
        _ => grad_out * relaxed.clone() * relaxed.clone().neg().add_scalar(1.0),
    };
    grad.div_scalar(temperature)
}

/// REINFORCE's gradient at `a`: the score `∂ ln p(h | a)/∂a` times `advantage`, `(L − b)` per
/// sample divided by the batch size. The score is `h − σ(a)` for `stochastic_binary` (and
/// `h − softmax(a)` per group for `categorical`) and
/// `(h − p)·p′(a) / (p(1 − p))` for `stochastic_hard_sigmoid` and `bernoulli` (zero where `p`
/// is 0 or 1, as then `h = p`).
///
/// # Shapes
/// `a`, `h`: `[batch, units]`, `advantage`: `[batch, 1]` → `[batch, units]`.
pub fn reinforce_grad(
    activation: &Activation,
    a: &Tensor<2>,
    h: &Tensor<2>,
    advantage: &Tensor<2>,
) -> Tensor<2> {
    let p = hard::probability(activation, a.clone());
    let score = match hard::probability_slope(activation, a) {
        Some(slope) => {
            let variance = p.clone() * p.clone().neg().add_scalar(1.0);
            (h.clone() - p) * slope / variance.clamp_min(1e-6)
        }
        None => h.clone() - p,
    };
    score * advantage.clone()
}
