//! Learning rules. Every rule gives each block its own signal and turns it into parameter
//! gradients; the training loop, the data and the optimizers are shared. Adding a rule means
//! one file implementing [`LearningRule`] and one line in [`RuleKind::build`].

mod backprop;

pub use backprop::Backprop;

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::loss::Loss;
use crate::net::{Gradients, Net};
use crate::rng::Rng;

/// One mini-batch.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Inputs, `[batch, inputs]`.
    pub x: Tensor<2>,
    /// Loss targets, `[batch, outputs]` (one-hot, 0/1 for BCE, or the input to reconstruct).
    pub targets: Tensor<2>,
}

/// What a rule may use besides the net and the batch.
pub struct StepContext<'a> {
    /// The run's stream (dropout masks, stochastic units).
    pub rng: &'a mut Rng,
    /// The output loss.
    pub loss: Loss,
}

/// What a training step produced.
pub struct StepOutput {
    /// The batch's mean output loss, `[1]` (left on the device; read it when needed).
    pub loss: Tensor<1>,
    /// The net's output on the batch, `[batch, outputs]`.
    pub output: Tensor<2>,
    /// A gradient (or update direction) for every parameter the rule trains.
    pub grads: Gradients,
}

/// A way of training a net: from a batch, a gradient for every block's parameters.
pub trait LearningRule: Send {
    /// The rule's config name, e.g. `backprop`.
    fn name(&self) -> &'static str;

    /// Runs the forward pass it needs and returns the gradients of one step.
    fn step(&mut self, net: &mut Net, batch: &Batch, ctx: &mut StepContext<'_>) -> StepOutput;
}

/// The rules by config name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Backpropagation: the true gradient.
    #[default]
    Backprop,
}

impl RuleKind {
    /// The config name.
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::Backprop => "backprop",
        }
    }

    /// A rule of this kind for `net`.
    pub fn build(&self, _net: &Net) -> Box<dyn LearningRule> {
        match self {
            RuleKind::Backprop => Box::new(Backprop),
        }
    }
}
