//! Local losses through fixed random projections (Mostafa et al. 2018): block i minimises the
//! output loss of `z_i = h_i·P_iᵀ` against the batch's targets — cross-entropy (or BCE) for
//! classification, MSE against the input for reconstruction.

use burn::tensor::Tensor;

use crate::net::{Gradients, Net};
use crate::product::matmul;
use crate::rng::Rng;
use crate::rule::feedback::{FeedbackSettings, NamedMatrix};
use crate::rule::registry::{self, NoSettings, Registration};
use crate::rule::{Batch, LocalRule, Signal};
use crate::task::Task;

/// A local loss for one hidden block.
pub struct LocalLoss {
    /// `P_i`, `[outputs, out_i]`.
    projection: NamedMatrix,
}

impl LocalLoss {
    /// Draws `P_i` for hidden block `index`.
    pub fn new(
        net: &Net,
        index: usize,
        task: Task,
        settings: &FeedbackSettings,
        rng: &mut Rng,
    ) -> Self {
        let p = settings.draw_for_block(net, index, task, rng);
        Self {
            projection: NamedMatrix::fixed(format!("projections.{index}.weight"), p),
        }
    }
}

impl LocalRule for LocalLoss {
    fn signal(
        &mut self,
        _: usize,
        h: &Tensor<2>,
        batch: &Batch,
        task: Task,
        _: &mut Gradients,
    ) -> Signal {
        let p = &self.projection.tensor;
        let z = matmul(h.clone(), p.clone().transpose());
        let (loss, grad_z) = task.loss.value_and_grad(&z, &batch.targets);
        Signal {
            grad: matmul(grad_z, p.clone()),
            local_loss: Some(loss),
        }
    }

    fn decode(&self, h: &Tensor<2>) -> Option<Tensor<2>> {
        Some(matmul(
            h.clone(),
            self.projection.tensor.clone().transpose(),
        ))
    }

    fn matrix(&self) -> Option<&NamedMatrix> {
        Some(&self.projection)
    }

    fn matrix_mut(&mut self) -> Option<&mut NamedMatrix> {
        Some(&mut self.projection)
    }
}

/// The registry entry.
pub(crate) fn registration() -> Registration {
    registry::local(
        "local_loss",
        "a loss on h_i·P_iᵀ through a fixed random P_i",
        |ctx, _: &NoSettings| {
            let settings = &ctx.settings.feedback;
            Ok(Box::new(LocalLoss::new(
                ctx.net, ctx.index, ctx.task, settings, ctx.rng,
            )))
        },
    )
}
