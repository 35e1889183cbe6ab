//! Activation functions, named in configs as snake_case strings (`"tanh"`, `"leaky_relu:0.2"`
//! for a slope, `"elu:1.0"` for alpha, `"sign"`, `"stochastic_binary"`): smooth ones with their
//! exact derivative ([`smooth`]), hard ones whose gradient comes from an [`Estimator`]
//! ([`hard`], [`estimator`]).

pub mod categorical;
pub mod estimator;
pub mod hard;
pub mod host_loops;
pub mod noise;
pub mod smooth;
pub mod tanh;

use std::fmt;
use std::str::FromStr;

use burn::tensor::Tensor;

pub use estimator::{Estimator, EvalMode};

/// An activation applied element-wise (row-wise for softmax).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `x`.
    Identity,
    /// `1 / (1 + e^{-x})`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `max(x, 0)`.
    Relu,
    /// `clamp(x, 0, ceiling)`: a rectifier that cannot overflow (`relu6` is `ceiling = 6`).
    ClippedRelu {
        /// The largest output (> 0).
        ceiling: f32,
    },
    /// `x` for `x > 0`, else `slope·x`.
    LeakyRelu {
        /// Slope for negative inputs (default 0.01).
        slope: f32,
    },
    /// `x` for `x > 0`, else `alpha·(e^x − 1)`.
    Elu {
        /// Scale for negative inputs (default 1).
        alpha: f32,
    },
    /// `x·tanh(softplus(x))`.
    Mish,
    /// `x·σ(x)` (also called swish).
    Silu,
    /// `x·Φ(x)` with the exact normal CDF.
    Gelu,
    /// `clamp(x, −1, 1)`.
    Hardtanh,
    /// `clamp(x/6 + 1/2, 0, 1)` (PyTorch's definition).
    Hardsigmoid,
    /// Softmax over each row (a categorical unit group; Gumbel-softmax with `concrete`).
    Softmax,
    /// `sign(x)`: −1, 0 or +1.
    Sign,
    /// Heaviside step: 1 for `x > 0`, else 0.
    Step,
    /// 1 with probability `σ(x)`, else 0.
    StochasticBinary,
    /// 1 with probability `(hardtanh(x) + 1) / 2`, else 0.
    StochasticHardSigmoid,
    /// 1 with probability `clamp(x, 0, 1)`, else 0: the input is the firing probability, so a
    /// unit fed `x ≤ 0` never fires (after relu-like blocks σ would make those coin flips).
    Bernoulli,
    /// Groups of `k` consecutive units, each a one-hot k-way choice ([`categorical`]).
    Categorical {
        /// Units per group (≥ 2).
        k: usize,
    },
    /// The noisy rectifier `max(0, x + σz)`, `z ~ N(0, 1)` in training ([`noise`]).
    AdditiveNoiseRelu {
        /// The noise's standard deviation.
        sigma: f32,
    },
    /// `max(0, x)·(1 + σz)`, `z ~ N(0, 1)` in training ([`noise`]).
    MultiplicativeNoiseRelu {
        /// The noise's standard deviation.
        sigma: f32,
    },
    /// A binary stochastic neuron decomposed: `b·√σ(x)`, `b ~ Bernoulli(√σ(x))` ([`noise`]).
    StochasticTimesSmooth,
}

/// Every accepted activation name, for error messages and listings.
pub const ACTIVATION_NAMES: &[&str] = &[
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "relu6",
    "clipped_relu",
    "leaky_relu",
    "elu",
    "mish",
    "silu",
    "swish",
    "gelu",
    "hardtanh",
    "hardsigmoid",
    "softmax",
    "sign",
    "step",
    "stochastic_binary",
    "stochastic_hard_sigmoid",
    "bernoulli",
    "categorical",
    "additive_noise_relu",
    "noisy_relu",
    "multiplicative_noise_relu",
    "stochastic_times_smooth",
];

impl Activation {
    /// Applies the activation (stochastic units: their deterministic threshold `p ≥ 0.5`;
    /// sampling is [`hard::sample`]).
    ///
    /// # Shapes
    /// any `[batch, units]` → same.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        if self.is_hard() {
            hard::forward(self, x)
        } else if self.is_noisy() {
            noise::forward(self, x)
        } else {
            smooth::forward(self, x)
        }
    }

    /// The gradient at the input `a` from the gradient at the output `h = f(a)`, with the true
    /// derivative (zero for hard units; their blocks use an [`Estimator`] instead).
    ///
    /// # Shapes
    /// `a`, `h`, `grad_out`: `[batch, units]` → `[batch, units]`.
    pub fn backward(&self, a: &Tensor<2>, h: &Tensor<2>, grad_out: Tensor<2>) -> Tensor<2> {
        match self {
            Activation::Identity => grad_out,
            Activation::Softmax => smooth::softmax_backward(h, grad_out),
            _ if self.is_hard() => grad_out.zeros_like(),
            _ if self.is_noisy() => grad_out * noise::derivative(self, a, h),
            _ => host_loops::grad_times_derivative(self, a, h, &grad_out)
                .unwrap_or_else(|| grad_out * smooth::derivative(self, a, h)),
        }
    }

    /// Whether the unit's output is discrete (its true gradient is zero almost everywhere).
    pub fn is_hard(&self) -> bool {
        matches!(
            self,
            Activation::Sign
                | Activation::Step
                | Activation::StochasticBinary
                | Activation::StochasticHardSigmoid
                | Activation::Bernoulli
                | Activation::Categorical { .. }
        )
    }

    /// Whether the unit is a noisy one ([`noise`]): stochastic in training, differentiable at
    /// its noise draw.
    pub fn is_noisy(&self) -> bool {
        matches!(
            self,
            Activation::AdditiveNoiseRelu { .. }
                | Activation::MultiplicativeNoiseRelu { .. }
                | Activation::StochasticTimesSmooth
        )
    }

    /// Units per group of a categorical unit (1 for every other activation).
    pub fn group(&self) -> usize {
        match self {
            Activation::Categorical { k } => *k,
            _ => 1,
        }
    }

    /// Whether `f` has an inverse on its range ([`smooth::inverse`]).
    pub fn is_invertible(&self) -> bool {
        match *self {
            Activation::Identity | Activation::Sigmoid | Activation::Tanh => true,
            Activation::LeakyRelu { slope } => slope > 0.0,
            Activation::Elu { alpha } => alpha > 0.0,
            _ => false,
        }
    }

    /// Whether the hard unit samples its output (noisy units are [`Activation::is_noisy`]).
    pub fn is_stochastic(&self) -> bool {
        matches!(
            self,
            Activation::StochasticBinary
                | Activation::StochasticHardSigmoid
                | Activation::Bernoulli
                | Activation::Categorical { .. }
        )
    }

    /// Whether the output is unbounded above (relu-like), which matters to some rules.
    pub fn is_unbounded(&self) -> bool {
        matches!(
            self,
            Activation::Identity
                | Activation::Relu
                | Activation::LeakyRelu { .. }
                | Activation::Elu { .. }
                | Activation::Mish
                | Activation::Silu
                | Activation::Gelu
                | Activation::AdditiveNoiseRelu { .. }
                | Activation::MultiplicativeNoiseRelu { .. }
        )
    }
}

impl FromStr for Activation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, parameter) = match text.split_once(':') {
            Some((name, value)) => {
                let value: f32 = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|v: &f32| v.is_finite())
                    .ok_or_else(|| format!("bad parameter `{value}` in activation `{text}`"))?;
                (name.trim(), Some(value))
            }
            None => (text.trim(), None),
        };
        let plain = |activation: Activation| match parameter {
            None => Ok(activation),
            Some(_) => Err(format!("activation `{name}` takes no parameter")),
        };
        match name {
            "identity" | "linear" => plain(Activation::Identity),
            "sigmoid" => plain(Activation::Sigmoid),
            "tanh" => plain(Activation::Tanh),
            "relu" => plain(Activation::Relu),
            "relu6" => plain(Activation::ClippedRelu { ceiling: 6.0 }),
            "clipped_relu" => match parameter {
                Some(ceiling) if ceiling > 0.0 => Ok(Activation::ClippedRelu { ceiling }),
                Some(ceiling) => Err(format!(
                    "clipped_relu:{ceiling}: the ceiling must be positive"
                )),
                None => Err("clipped_relu needs its ceiling, e.g. `clipped_relu:4`".into()),
            },
            "leaky_relu" => Ok(Activation::LeakyRelu {
                slope: parameter.unwrap_or(0.01),
            }),
            "elu" => Ok(Activation::Elu {
                alpha: parameter.unwrap_or(1.0),
            }),
            "mish" => plain(Activation::Mish),
            "silu" | "swish" => plain(Activation::Silu),
            "gelu" => plain(Activation::Gelu),
            "hardtanh" => plain(Activation::Hardtanh),
            "hardsigmoid" => plain(Activation::Hardsigmoid),
            "softmax" => plain(Activation::Softmax),
            "sign" => plain(Activation::Sign),
            "step" => plain(Activation::Step),
            "stochastic_binary" => plain(Activation::StochasticBinary),
            "stochastic_hard_sigmoid" => plain(Activation::StochasticHardSigmoid),
            "bernoulli" => plain(Activation::Bernoulli),
            "categorical" => match parameter {
                Some(k) if k >= 2.0 && k.fract() == 0.0 && k <= 65_536.0 => {
                    Ok(Activation::Categorical { k: k as usize })
                }
                Some(k) => Err(format!(
                    "categorical:{k}: a group needs a whole number of at least 2 units"
                )),
                None => Err("categorical needs its group size, e.g. `categorical:4`".into()),
            },
            "additive_noise_relu" | "noisy_relu" => {
                noise_level(parameter, name).map(|sigma| Activation::AdditiveNoiseRelu { sigma })
            }
            "multiplicative_noise_relu" => noise_level(parameter, name)
                .map(|sigma| Activation::MultiplicativeNoiseRelu { sigma }),
            "stochastic_times_smooth" => plain(Activation::StochasticTimesSmooth),
            _ => Err(format!(
                "unknown activation `{name}`{} (expected one of: {})",
                crate::suggest::did_you_mean(name, ACTIVATION_NAMES.iter().copied()),
                ACTIVATION_NAMES.join(", ")
            )),
        }
    }
}

/// A noisy unit's standard deviation: the parameter (positive), 0.5 by default.
fn noise_level(parameter: Option<f32>, name: &str) -> Result<f32, String> {
    match parameter {
        None => Ok(0.5),
        Some(sigma) if sigma > 0.0 => Ok(sigma),
        Some(sigma) => Err(format!("{name}:{sigma}: the noise level must be positive")),
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::Identity => write!(f, "identity"),
            Activation::Sigmoid => write!(f, "sigmoid"),
            Activation::Tanh => write!(f, "tanh"),
            Activation::Relu => write!(f, "relu"),
            Activation::ClippedRelu { ceiling } if *ceiling == 6.0 => write!(f, "relu6"),
            Activation::ClippedRelu { ceiling } => write!(f, "clipped_relu:{ceiling}"),
            Activation::LeakyRelu { slope } => write!(f, "leaky_relu:{slope}"),
            Activation::Elu { alpha } => write!(f, "elu:{alpha}"),
            Activation::Mish => write!(f, "mish"),
            Activation::Silu => write!(f, "silu"),
            Activation::Gelu => write!(f, "gelu"),
            Activation::Hardtanh => write!(f, "hardtanh"),
            Activation::Hardsigmoid => write!(f, "hardsigmoid"),
            Activation::Softmax => write!(f, "softmax"),
            Activation::Sign => write!(f, "sign"),
            Activation::Step => write!(f, "step"),
            Activation::StochasticBinary => write!(f, "stochastic_binary"),
            Activation::StochasticHardSigmoid => write!(f, "stochastic_hard_sigmoid"),
            Activation::Bernoulli => write!(f, "bernoulli"),
            Activation::Categorical { k } => write!(f, "categorical:{k}"),
            Activation::AdditiveNoiseRelu { sigma } => write!(f, "additive_noise_relu:{sigma}"),
            Activation::MultiplicativeNoiseRelu { sigma } => {
                write!(f, "multiplicative_noise_relu:{sigma}")
            }
            Activation::StochasticTimesSmooth => write!(f, "stochastic_times_smooth"),
        }
    }
}

crate::serde_via_str!(Activation);
