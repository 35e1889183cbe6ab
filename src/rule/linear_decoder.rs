//! Learned local linear decoders: block i minimises the output loss of `z_i = h_i·D_iᵀ`, where
//! `D_i` is a bias-free linear decoder learned alongside (BCE for one output unit,
//! cross-entropy otherwise). With `train.layerwise = "sequential"` the blocks learn one
//! after another.

use burn::tensor::Tensor;

use crate::net::{Gradients, Net};
use crate::product::matmul;
use crate::rng::Rng;
use crate::rule::feedback::{FeedbackSettings, NamedMatrix};
use crate::rule::registry::{self, NoSettings, Registration};
use crate::rule::{Batch, LocalRule, Signal};
use crate::task::Task;

/// A learned decoder for one hidden block.
pub struct LinearDecoder {
    /// `D_i`, `[outputs, out_i]` (PyTorch's `Linear(out_i, outputs, bias=False)` layout).
    decoder: NamedMatrix,
}

impl LinearDecoder {
    /// Draws the initial `D_i` for hidden block `index`.
    pub fn new(
        net: &Net,
        index: usize,
        task: Task,
        settings: &FeedbackSettings,
        rng: &mut Rng,
    ) -> Self {
        let d = settings.draw_for_block(net, index, task, rng);
        Self {
            decoder: NamedMatrix::trainable(format!("decoders.{index}.weight"), d),
        }
    }
}

impl LocalRule for LinearDecoder {
    fn signal(
        &mut self,
        _: usize,
        h: &Tensor<2>,
        batch: &Batch,
        task: Task,
        grads: &mut Gradients,
    ) -> Signal {
        let d = &self.decoder.tensor;
        let z = matmul(h.clone(), d.clone().transpose());
        let (loss, grad_z) = task.loss.value_and_grad(&z, &batch.targets);
        grads.add(
            self.decoder.name.clone(),
            matmul(grad_z.clone().transpose(), h.clone()),
        );
        Signal {
            grad: matmul(grad_z, d.clone()),
            local_loss: Some(loss),
        }
    }

    fn decode(&self, h: &Tensor<2>) -> Option<Tensor<2>> {
        Some(matmul(h.clone(), self.decoder.tensor.clone().transpose()))
    }

    fn matrix(&self) -> Option<&NamedMatrix> {
        Some(&self.decoder)
    }

    fn matrix_mut(&mut self) -> Option<&mut NamedMatrix> {
        Some(&mut self.decoder)
    }
}

/// The registry entry.
pub(crate) fn registration() -> Registration {
    registry::local(
        "linear_decoder",
        "a loss through a learned bias-free decoder D_i (train.layerwise)",
        |ctx, _: &NoSettings| {
            let settings = &ctx.settings.feedback;
            Ok(Box::new(LinearDecoder::new(
                ctx.net, ctx.index, ctx.task, settings, ctx.rng,
            )))
        },
    )
}
