//! Backpropagation: the output error flows down through every block's `Wᵀ` and `f′`.

use crate::net::{Feedback, Gradients, Net};
use crate::rule::{Batch, LearningRule, StepContext, StepOutput};

/// The true gradient of the output loss.
#[derive(Debug, Clone, Copy, Default)]
pub struct Backprop;

impl LearningRule for Backprop {
    fn name(&self) -> &'static str {
        "backprop"
    }

    fn step(&mut self, net: &mut Net, batch: &Batch, ctx: &mut StepContext<'_>) -> StepOutput {
        let trace = net.forward_train(batch.x.clone(), ctx.rng);
        let output = trace.output().clone();
        let (loss, mut delta) = ctx.loss.value_and_grad(&output, &batch.targets);
        let mut grads = Gradients::new();
        for (i, (block, cache)) in net.blocks.iter().zip(&trace.blocks).enumerate().rev() {
            let feedback = if i == 0 {
                Feedback::Stop
            } else {
                Feedback::Weights
            };
            let (block_grads, below) = block.backward(cache, delta.clone(), feedback);
            grads.add_block(i, block_grads);
            if let Some(below) = below {
                delta = below;
            }
        }
        StepOutput {
            loss,
            output,
            grads,
        }
    }
}
