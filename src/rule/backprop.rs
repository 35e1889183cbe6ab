//! Backpropagation: the gradient at the block above's linear output flows down through its
//! `W` (and its dropout mask and input activation).

use crate::net::{Feedback, Gradients};
use crate::rule::registry::{self, NoSettings, Registration};
use crate::rule::{ChainedRule, Signal, SignalContext};

/// The true gradient (of whatever signal the block above received).
#[derive(Debug, Clone, Copy, Default)]
pub struct Backprop;

impl ChainedRule for Backprop {
    fn signal(&mut self, index: usize, ctx: &mut SignalContext<'_>, _: &mut Gradients) -> Signal {
        let above = index + 1;
        let grad = ctx.net.blocks[above].input_grad(
            &ctx.trace.blocks[above],
            ctx.grad_z_above.clone(),
            Feedback::Weights,
        );
        Signal {
            grad,
            local_loss: None,
        }
    }
}

/// The registry entry.
pub(crate) fn registration() -> Registration {
    registry::chained(
        "backprop",
        "the true gradient through each W",
        |_, _: &NoSettings| Ok(Box::new(Backprop)),
    )
}
