//! Direct feedback alignment (Nøkland 2016): the output error `e = ∂L/∂output` reaches every
//! hidden block directly through a fixed random matrix, `δh_i = e·B_i`.

use burn::tensor::Tensor;

use crate::net::{Gradients, Net};
use crate::product::matmul;
use crate::rng::Rng;
use crate::rule::feedback::{FeedbackSettings, NamedMatrix, forward_path};
use crate::rule::registry::{self, NoSettings, Registration};
use crate::rule::{ChainedRule, Signal, SignalContext};
use crate::task::Task;

/// DFA for one hidden block.
pub struct Dfa {
    /// `B_i`, `[outputs, out_i]`.
    feedback: NamedMatrix,
}

impl Dfa {
    /// Draws `B_i` for hidden block `index`.
    pub fn new(
        net: &Net,
        index: usize,
        task: Task,
        settings: &FeedbackSettings,
        rng: &mut Rng,
    ) -> Self {
        let b = settings.draw_for_block(net, index, task, rng);
        Self {
            feedback: NamedMatrix::fixed(format!("dfa.{index}.weight"), b),
        }
    }
}

impl ChainedRule for Dfa {
    fn signal(&mut self, _: usize, ctx: &mut SignalContext<'_>, _: &mut Gradients) -> Signal {
        Signal {
            grad: matmul(ctx.error.clone(), self.feedback.tensor.clone()),
            local_loss: None,
        }
    }

    fn feedback_pair(&self, index: usize, net: &Net) -> Option<(Tensor<2>, Tensor<2>)> {
        Some((self.feedback.tensor.clone(), forward_path(net, index)?))
    }

    fn matrix(&self) -> Option<&NamedMatrix> {
        Some(&self.feedback)
    }

    fn matrix_mut(&mut self) -> Option<&mut NamedMatrix> {
        Some(&mut self.feedback)
    }
}

/// The registry entry.
pub(crate) fn registration() -> Registration {
    registry::chained(
        "dfa",
        "the output error projected to each block: e·B_i",
        |ctx, _: &NoSettings| {
            let settings = &ctx.settings.feedback;
            Ok(Box::new(Dfa::new(
                ctx.net, ctx.index, ctx.task, settings, ctx.rng,
            )))
        },
    )
}
