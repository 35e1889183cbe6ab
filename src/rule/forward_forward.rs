//! Forward-forward (Hinton 2022). Positive data carry the true label, negative data a wrong
//! one (never the true label); each block raises the goodness (mean of squared activities) of
//! positive data above a threshold θ and pushes that of negative data below it, with the
//! logistic loss `softplus(α(θ − g⁺)) + softplus(α(g⁻ − θ))` (α, the sharpness, is 1 by
//! default). A block's input is the previous
//! block's activity normalised to unit length, so only its direction passes up. A sample is
//! classified by the label whose embedding gives the most goodness summed over the blocks.
//!
//! The label is embedded by appending its one-hot code to the input, so the net's input
//! width is `features + classes`, and the net has no separate output block.

use burn::tensor::{Tensor, activation};

use crate::host;
use crate::net::{
    Block, BlockCache, BlockParams, Gradients, Mode, Net, Parameters, Slot, normalize,
};
use crate::rng::Rng;
use crate::rule::registry::{self, NoSettings, Registration, RuleKind};
use crate::rule::{Batch, LearningRule, StepContext, StepOutput};
use crate::task::Task;

/// The forward-forward rule.
pub struct ForwardForward {
    task: Task,
    threshold: f32,
    sharpness: f32,
}

impl ForwardForward {
    /// A rule for `task` with goodness threshold `threshold` and loss sharpness `sharpness`.
    pub fn new(task: Task, threshold: f32, sharpness: f32) -> Self {
        Self {
            task,
            threshold,
            sharpness,
        }
    }

    /// `x` with the one-hot code of `labels` appended.
    ///
    /// # Shapes
    /// `x`: `[batch, features]` → `[batch, features + classes]`.
    pub fn embed(&self, x: &Tensor<2>, labels: &[u32]) -> Tensor<2> {
        let classes = self.task.classes;
        let mut code = vec![0.0f32; labels.len() * classes];
        for (r, &label) in labels.iter().enumerate() {
            code[r * classes + label as usize] = 1.0;
        }
        let code = host::matrix(code, labels.len(), classes, &x.device());
        Tensor::cat(vec![x.clone(), code], 1)
    }

    /// A wrong label for every sample: uniformly among the other classes.
    pub fn negative_labels(&self, labels: &[u32], rng: &mut Rng) -> Vec<u32> {
        let classes = self.task.classes as u32;
        labels
            .iter()
            .map(|&y| (y + 1 + rng.index(classes as usize - 1) as u32) % classes)
            .collect()
    }

    /// Block `i`'s input from the previous block's activity (unit rows above the first).
    fn block_input(i: usize, h: Tensor<2>) -> Tensor<2> {
        if i == 0 { h } else { normalize::forward(h).0 }
    }

    /// Mean squared activity per sample, `[batch, 1]`.
    fn goodness(activity: &Tensor<2>) -> Tensor<2> {
        activity.clone().square().mean_dim(1)
    }

    /// Adds block `index`'s gradients of its loss term for one pass (`sign` +1 for positive,
    /// −1 for negative data) to `grads`; returns the loss term.
    fn pass_grads(
        &self,
        index: usize,
        block: &Block,
        cache: &BlockCache,
        sign: f32,
        grads: &mut Gradients,
    ) -> Tensor<1> {
        let [batch, units] = cache.activated().dims();
        let g = Self::goodness(cache.activated());
        let margin = (g.clone().sub_scalar(self.threshold)).mul_scalar(-sign * self.sharpness);
        let loss = activation::softplus(margin.clone(), 1.0).mean();
        let grad_g = activation::sigmoid(margin).mul_scalar(-sign * self.sharpness / batch as f32);
        let grad_activated = cache.activated().clone() * grad_g.mul_scalar(2.0 / units as f32);
        let grad_a = block.spec().activation.backward(
            cache.pre_activation(),
            cache.activated(),
            grad_activated,
        );
        let (block_grads, _) = block.param_grads(cache, grad_a);
        grads.add_block(index, block_grads);
        loss
    }
}

impl Parameters for ForwardForward {
    fn visit_mut(&mut self, _: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {}
    fn visit(&self, _: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {}
}

impl LearningRule for ForwardForward {
    fn name(&self) -> String {
        "forward_forward".into()
    }

    fn step(&mut self, net: &mut Net, batch: &Batch, ctx: &mut StepContext<'_>) -> StepOutput {
        let negatives = self.negative_labels(&batch.labels, ctx.rng);
        let mut positive = self.embed(&batch.x, &batch.labels);
        let mut negative = self.embed(&batch.x, &negatives);
        let mut grads = Gradients::new();
        let mut total: Option<Tensor<1>> = None;
        for (i, block) in net.blocks.iter_mut().enumerate() {
            let pos = block.forward(Self::block_input(i, positive), &mut Mode::Train(ctx.rng));
            let neg = block.forward(Self::block_input(i, negative), &mut Mode::Train(ctx.rng));
            block.observe(&pos);
            let mut block_grads = Gradients::new();
            for (cache, sign) in [(&pos, 1.0), (&neg, -1.0)] {
                let loss = self.pass_grads(i, block, cache, sign, &mut block_grads);
                total = Some(match total {
                    Some(t) => t + loss,
                    None => loss,
                });
            }
            positive = pos.activated().clone();
            negative = neg.activated().clone();
            // Every block learns from its own goodness: step it now, before the next runs.
            match ctx.updater.as_deref_mut() {
                Some(updater) => {
                    updater.update(&mut BlockParams { index: i, block }, None, &mut block_grads)
                }
                None => {
                    for (name, grad) in block_grads.iter() {
                        grads.add(name.clone(), grad.clone());
                    }
                }
            }
        }
        StepOutput {
            loss: total.expect("a net has blocks"),
            output: None,
            grads,
        }
    }

    /// Goodness summed over the blocks for every candidate label, `[batch, classes]`.
    fn predict(&self, net: &Net, x: Tensor<2>) -> Tensor<2> {
        let rows = x.dims()[0];
        let columns = (0..self.task.classes as u32)
            .map(|c| {
                let mut h = self.embed(&x, &vec![c; rows]);
                let mut total: Option<Tensor<2>> = None;
                for (i, block) in net.blocks.iter().enumerate() {
                    let cache = block.forward(Self::block_input(i, h), &mut Mode::Eval);
                    let g = Self::goodness(cache.activated());
                    total = Some(match total {
                        Some(t) => t + g,
                        None => g,
                    });
                    h = cache.activated().clone();
                }
                total.expect("a net has blocks")
            })
            .collect();
        Tensor::cat(columns, 1)
    }
}

/// The registry entry: class labels only; the label is embedded in the input.
pub(crate) fn registration() -> Registration {
    let kind = RuleKind::Net {
        embeds_label: true,
        target_prop_optimizer: false,
    };
    registry::net(
        "forward_forward",
        "goodness of positive vs negative (wrong-label) data, per block",
        kind,
        |ctx, _: &NoSettings| {
            let settings = ctx.settings;
            let rule = ForwardForward::new(ctx.task, settings.ff_threshold, settings.ff_sharpness);
            Ok(Box::new(rule))
        },
    )
    .checking(|view| {
        registry::needs_classes(view)?;
        registry::fully_connected_only(view)
    })
}
