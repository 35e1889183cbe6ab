//! Per-block rules: what signal reaches one hidden block's output. A rule implements exactly
//! one of two traits, and the compiler keeps it to what it declared:
//! - [`LocalRule`]: the signal needs only the block's own output and the batch (DRTP, local
//!   losses, linear decoders), so the block can learn before the blocks above it run (flat
//!   memory, layer-parallel training);
//! - [`ChainedRule`]: the signal needs the output error or the gradient from the block above
//!   (backprop, feedback alignment, DFA), so it is taken walking down a whole forward pass.

use burn::tensor::Tensor;

use crate::net::{Gradients, Net, Trace};
use crate::rng::Rng;
use crate::rule::feedback::NamedMatrix;
use crate::task::{Batch, Task};

/// What reaches a hidden block.
pub struct Signal {
    /// The gradient at the block's output `h_i`, `[batch, out_i]`.
    pub grad: Tensor<2>,
    /// The block's own local loss, when the rule has one, `[1]`.
    pub local_loss: Option<Tensor<1>>,
}

impl Signal {
    /// A gradient-like signal without a loss of its own.
    ///
    /// # Shapes
    /// `grad`: `[batch, out_i]`.
    pub fn gradient(grad: Tensor<2>) -> Self {
        Self {
            grad,
            local_loss: None,
        }
    }
}

/// What a chained rule may look at to produce hidden block `index`'s signal.
pub struct SignalContext<'a> {
    /// The net.
    pub net: &'a Net,
    /// The forward pass of this step.
    pub trace: &'a Trace,
    /// The batch (inputs, targets).
    pub batch: &'a Batch,
    /// `∂L/∂output`, `[batch, outputs]`.
    pub error: &'a Tensor<2>,
    /// The gradient at the linear output `z` of the block above, `[batch, out_{i+1}]`.
    pub grad_z_above: &'a Tensor<2>,
    /// The output task.
    pub task: Task,
    /// The run's stream.
    pub rng: &'a mut Rng,
}

/// A rule whose signal needs only the block's own output and the batch.
pub trait LocalRule: Send {
    /// The signal at hidden block `index`'s output `h`, `[batch, out_i]`; gradients of the
    /// rule's own trainable tensors (a decoder) go into `grads`.
    fn signal(
        &mut self,
        index: usize,
        h: &Tensor<2>,
        batch: &Batch,
        task: Task,
        grads: &mut Gradients,
    ) -> Signal;

    /// The matrix the rule owns for this block (projection or decoder), if any.
    fn matrix(&self) -> Option<&NamedMatrix> {
        None
    }

    /// The same, mutably.
    fn matrix_mut(&mut self) -> Option<&mut NamedMatrix> {
        None
    }

    /// The fixed feedback matrix of hidden block `index` and the forward weights it stands in
    /// for, of the same shape (see [`crate::rule::LearningRule::feedback_pairs`]).
    fn feedback_pair(&self, _index: usize, _net: &Net) -> Option<(Tensor<2>, Tensor<2>)> {
        None
    }

    /// The scores the rule's own decoder or projection reads from the block's activity.
    ///
    /// # Shapes
    /// `h`: `[batch, out_i]` → `[batch, outputs]`.
    fn decode(&self, _h: &Tensor<2>) -> Option<Tensor<2>> {
        None
    }
}

/// A rule whose signal needs the output error or the gradient from the block above.
pub trait ChainedRule: Send {
    /// The signal at hidden block `index`'s output; gradients of the rule's own trainable
    /// tensors go into `grads` (they are stepped by the rule's optimizer, and a rule may add
    /// to the net's own gradients there too).
    fn signal(
        &mut self,
        index: usize,
        ctx: &mut SignalContext<'_>,
        grads: &mut Gradients,
    ) -> Signal;

    /// The matrix the rule owns for this block (feedback), if any.
    fn matrix(&self) -> Option<&NamedMatrix> {
        None
    }

    /// The same, mutably.
    fn matrix_mut(&mut self) -> Option<&mut NamedMatrix> {
        None
    }

    /// The feedback matrix of hidden block `index` and the forward weights it stands in for,
    /// of the same shape (see [`crate::rule::LearningRule::feedback_pairs`]).
    fn feedback_pair(&self, _index: usize, _net: &Net) -> Option<(Tensor<2>, Tensor<2>)> {
        None
    }
}

/// One hidden block's rule: local or chained.
pub enum BlockRule {
    /// The signal needs only the block's output and the batch.
    Local(Box<dyn LocalRule>),
    /// The signal needs the output error or the gradient from the block above.
    Chained(Box<dyn ChainedRule>),
}

impl BlockRule {
    /// The signal at hidden block `index`'s output during a walk down a whole forward pass.
    pub fn signal(
        &mut self,
        index: usize,
        ctx: &mut SignalContext<'_>,
        grads: &mut Gradients,
    ) -> Signal {
        match self {
            BlockRule::Local(rule) => {
                let h = &ctx.trace.blocks[index].output;
                rule.signal(index, h, ctx.batch, ctx.task, grads)
            }
            BlockRule::Chained(rule) => rule.signal(index, ctx, grads),
        }
    }

    /// The local rule, if this is one.
    pub fn local(&mut self) -> Option<&mut dyn LocalRule> {
        match self {
            BlockRule::Local(rule) => Some(rule.as_mut()),
            BlockRule::Chained(_) => None,
        }
    }

    /// The matrix the rule owns for this block, if any.
    pub fn matrix(&self) -> Option<&NamedMatrix> {
        match self {
            BlockRule::Local(rule) => rule.matrix(),
            BlockRule::Chained(rule) => rule.matrix(),
        }
    }

    /// The same, mutably.
    pub fn matrix_mut(&mut self) -> Option<&mut NamedMatrix> {
        match self {
            BlockRule::Local(rule) => rule.matrix_mut(),
            BlockRule::Chained(rule) => rule.matrix_mut(),
        }
    }

    /// See [`LocalRule::feedback_pair`].
    pub fn feedback_pair(&self, index: usize, net: &Net) -> Option<(Tensor<2>, Tensor<2>)> {
        match self {
            BlockRule::Local(rule) => rule.feedback_pair(index, net),
            BlockRule::Chained(rule) => rule.feedback_pair(index, net),
        }
    }

    /// See [`LocalRule::decode`] (chained rules have no decoder).
    pub fn decode(&self, h: &Tensor<2>) -> Option<Tensor<2>> {
        match self {
            BlockRule::Local(rule) => rule.decode(h),
            BlockRule::Chained(_) => None,
        }
    }
}
