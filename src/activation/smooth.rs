//! Smooth (differentiable) activations, named in configs as snake_case strings
//! (`"tanh"`, `"leaky_relu"`, `"leaky_relu:0.2"` for a slope, `"elu:1.0"` for alpha).

use std::fmt;
use std::str::FromStr;

use burn::tensor::{Tensor, activation as act};

/// A smooth activation applied element-wise.
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
}

/// Every accepted activation name, for error messages and listings.
pub const ACTIVATION_NAMES: &[&str] = &[
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "mish",
    "silu",
    "swish",
    "gelu",
    "hardtanh",
    "hardsigmoid",
];

impl Activation {
    /// Applies the activation.
    ///
    /// # Shapes
    /// any `[batch, units]` → same.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match *self {
            Activation::Identity => x,
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
        }
    }

    /// The gradient at the input `a` given the gradient `grad_out` at the output `h = f(a)`.
    ///
    /// # Shapes
    /// `a`, `h`, `grad_out`: `[batch, units]` → `[batch, units]`.
    pub fn backward(&self, a: &Tensor<2>, h: &Tensor<2>, grad_out: Tensor<2>) -> Tensor<2> {
        match *self {
            Activation::Identity => grad_out,
            _ => grad_out * self.derivative(a, h),
        }
    }

    /// `f′(a)` element-wise, using the stored output `h = f(a)` where that is cheaper.
    pub fn derivative(&self, a: &Tensor<2>, h: &Tensor<2>) -> Tensor<2> {
        match *self {
            Activation::Identity => a.ones_like(),
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
                let softplus = act::softplus(a.clone(), 1.0);
                let t = softplus.tanh();
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
        }
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
                    .map_err(|_| format!("bad parameter `{value}` in activation `{text}`"))?;
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
            _ => Err(format!(
                "unknown activation `{name}` (expected one of: {})",
                ACTIVATION_NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::Identity => write!(f, "identity"),
            Activation::Sigmoid => write!(f, "sigmoid"),
            Activation::Tanh => write!(f, "tanh"),
            Activation::Relu => write!(f, "relu"),
            Activation::LeakyRelu { slope } => write!(f, "leaky_relu:{slope}"),
            Activation::Elu { alpha } => write!(f, "elu:{alpha}"),
            Activation::Mish => write!(f, "mish"),
            Activation::Silu => write!(f, "silu"),
            Activation::Gelu => write!(f, "gelu"),
            Activation::Hardtanh => write!(f, "hardtanh"),
            Activation::Hardsigmoid => write!(f, "hardsigmoid"),
        }
    }
}

crate::serde_via_str!(Activation);
