//! Direct random target projection (Frenkel et al. 2021): every hidden block receives the
//! one-hot target through a fixed random matrix, `δh_i = −y*·B_i / n` over a batch of `n`
//! (a batch mean, as every other rule's signal and the output loss's gradient are, so the
//! rule's effective learning rate does not grow with the batch). No output error is needed and
//! no block depends on another's backward pass.

use burn::tensor::Tensor;

use crate::net::{Gradients, Net};
use crate::product::matmul;
use crate::rng::Rng;
use crate::rule::feedback::{FeedbackSettings, NamedMatrix, forward_path};
use crate::rule::registry::{self, NoSettings, Registration};
use crate::rule::{Batch, BuildContext, LocalRule, Signal};
use crate::task::Task;

/// DRTP for one hidden block.
pub struct Drtp {
    /// `B_i`, `[outputs, out_i]`.
    projection: NamedMatrix,
}

impl Drtp {
    /// The rule for the block a registry build is for, warning once per net (at its first such
    /// block) about DRTP blocks with an unbounded activation.
    pub fn build(ctx: &mut BuildContext<'_>) -> Self {
        let hidden = ctx.net.blocks.len() - 1;
        let unbounded: Vec<usize> = (0..hidden)
            .filter(|&i| {
                ctx.settings.rules.get(i).is_some_and(|rule| rule == "drtp")
                    && ctx.net.blocks[i].spec().activation.is_unbounded()
            })
            .collect();
        if unbounded.first() == Some(&ctx.index) {
            let activation = ctx.net.blocks[ctx.index].spec().activation;
            let blocks: Vec<String> = unbounded.iter().map(usize::to_string).collect();
            eprintln!(
                "warning: drtp with the unbounded activation `{activation}` on block(s) {}: its \
                 fixed target projections can drive units without limit; tanh or sigmoid are \
                 the usual choices",
                blocks.join(", ")
            );
        }
        Self::new(
            ctx.net,
            ctx.index,
            ctx.task,
            &ctx.settings.feedback,
            ctx.rng,
        )
    }

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
            projection: NamedMatrix::fixed(format!("drtp.{index}.weight"), b),
        }
    }
}

impl LocalRule for Drtp {
    fn signal(
        &mut self,
        _: usize,
        _: &Tensor<2>,
        batch: &Batch,
        _: Task,
        _: &mut Gradients,
    ) -> Signal {
        let [rows, _] = batch.targets.dims();
        let grad = matmul(batch.targets.clone(), self.projection.tensor.clone());
        Signal {
            grad: grad.div_scalar(-(rows as f32)),
            local_loss: None,
        }
    }

    fn feedback_pair(&self, index: usize, net: &Net) -> Option<(Tensor<2>, Tensor<2>)> {
        Some((self.projection.tensor.clone(), forward_path(net, index)?))
    }

    fn matrix(&self) -> Option<&NamedMatrix> {
        Some(&self.projection)
    }

    fn matrix_mut(&mut self) -> Option<&mut NamedMatrix> {
        Some(&mut self.projection)
    }
}

/// The registry entry: class targets only.
pub(crate) fn registration() -> Registration {
    registry::local(
        "drtp",
        "the one-hot target projected to each block: −y*·B_i (batch mean)",
        |ctx, _: &NoSettings| Ok(Box::new(Drtp::build(ctx))),
    )
    .checking(registry::needs_classes)
}
