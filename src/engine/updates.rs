//! One training iteration's parameter updates: the net's optimizer, the rule's own optimizer
//! and the magnitude tally, applied block by block while the rule runs (rules without a
//! backward chain) or all at once after it.

use burn::tensor::Tensor;

use crate::engine::magnitudes::Magnitudes;
use crate::net::{BlockParams, Gradients, Net, Parameters, Slot};
use crate::optim::ParamOptimizer;
use crate::rule::{BlockUpdater, LearningRule};

/// The updates of one iteration. [`Updates::begin`] moves both schedules on; the rule may
/// step blocks through [`BlockUpdater`]; [`Updates::finish`] steps whatever gradients it
/// returned.
pub struct Updates<'a> {
    optimizer: &'a mut ParamOptimizer,
    rule_optimizer: &'a mut ParamOptimizer,
    rule_trains_hidden: bool,
    output_block: usize,
    magnitudes: Option<&'a mut Magnitudes>,
    /// Per block, the mean |gradient| of this iteration, `[1]`.
    step_grads: Vec<Option<Tensor<1>>>,
    /// Whether the rule stepped its blocks itself.
    streamed: bool,
}

impl<'a> Updates<'a> {
    /// Starts an iteration for a net of `blocks` blocks: `optimizer` steps the net,
    /// `rule_optimizer` the rule's own tensors (and the hidden blocks when
    /// `rule_trains_hidden`); `magnitudes`, when given, tallies gradients and updates.
    pub fn begin(
        optimizer: &'a mut ParamOptimizer,
        rule_optimizer: &'a mut ParamOptimizer,
        rule_trains_hidden: bool,
        blocks: usize,
        magnitudes: Option<&'a mut Magnitudes>,
    ) -> Self {
        optimizer.advance();
        rule_optimizer.advance();
        Self {
            optimizer,
            rule_optimizer,
            rule_trains_hidden,
            output_block: blocks - 1,
            magnitudes,
            step_grads: vec![None; blocks],
            streamed: false,
        }
    }

    /// Steps the gradients the rule returned (every one of them, unless it stepped its blocks
    /// itself) and returns the iteration's per-block mean |gradient| and whether the rule
    /// stepped its blocks itself.
    pub fn finish(
        mut self,
        net: &mut Net,
        rule: &mut dyn LearningRule,
        grads: &mut Gradients,
    ) -> (Vec<Option<Tensor<1>>>, bool) {
        if self.streamed {
            if let Some(magnitudes) = self.magnitudes {
                magnitudes.count_step();
            }
            return (self.step_grads, true);
        }
        let before = self.magnitudes.as_deref_mut().map(|magnitudes| {
            self.step_grads = magnitudes.record_grads(grads);
            Magnitudes::weights(net)
        });
        let mut group = RuleGroup {
            net,
            hidden: self.rule_trains_hidden,
            rule,
        };
        self.rule_optimizer.apply(&mut group, grads);
        self.optimizer.apply(net, grads);
        if let (Some(magnitudes), Some(before)) = (self.magnitudes, before) {
            magnitudes.record_updates(&before, net);
        }
        (self.step_grads, false)
    }
}

impl BlockUpdater for Updates<'_> {
    fn update(
        &mut self,
        block: &mut BlockParams<'_>,
        own: Option<&mut dyn Parameters>,
        grads: &mut Gradients,
    ) {
        self.streamed = true;
        let index = block.index;
        let lrs = (self.optimizer.lr(), self.rule_optimizer.lr());
        let step = BlockStep {
            optimizer: self.optimizer,
            rule_optimizer: self.rule_optimizer,
            rule_trains_hidden: self.rule_trains_hidden,
            output_block: self.output_block,
            lrs,
        };
        self.step_grads[index] = step.run(block, own, grads, self.magnitudes.as_deref_mut());
    }
}

/// One block's optimizer steps at an iteration's learning rates.
pub(crate) struct BlockStep<'a> {
    pub optimizer: &'a mut ParamOptimizer,
    pub rule_optimizer: &'a mut ParamOptimizer,
    pub rule_trains_hidden: bool,
    pub output_block: usize,
    /// Learning rates of the net's and the rule's optimizer.
    pub lrs: (f64, f64),
}

impl BlockStep<'_> {
    /// Steps `block` and the rule's tensors for it (`own`) from `grads`, tallying into
    /// `magnitudes`; returns the block's mean |gradient| when tallied.
    pub fn run(
        self,
        block: &mut BlockParams<'_>,
        own: Option<&mut dyn Parameters>,
        grads: &mut Gradients,
        mut magnitudes: Option<&mut Magnitudes>,
    ) -> Option<Tensor<1>> {
        let index = block.index;
        let mut mean_grad = None;
        let before = magnitudes.as_deref_mut().map(|magnitudes| {
            mean_grad = magnitudes.record_block_grad(index, grads);
            block.block.weight().clone()
        });
        let (lr, rule_lr) = self.lrs;
        if let Some(own) = own {
            self.rule_optimizer.apply_at(rule_lr, own, grads);
        }
        if self.rule_trains_hidden && index < self.output_block {
            self.rule_optimizer.apply_at(rule_lr, block, grads);
        }
        self.optimizer.apply_at(lr, block, grads);
        if let (Some(magnitudes), Some(before)) = (magnitudes, before) {
            magnitudes.record_block_update(index, &before, block.block.weight());
        }
        mean_grad
    }
}

/// The tensors the rule's optimizer trains: the rule's own (decoders, feedback blocks) and,
/// when `hidden`, every block of the net but the output block.
struct RuleGroup<'a> {
    net: &'a mut Net,
    hidden: bool,
    rule: &'a mut dyn LearningRule,
}

impl RuleGroup<'_> {
    fn output_prefix(&self) -> String {
        format!("blocks.{}.", self.net.blocks.len() - 1)
    }
}

impl Parameters for RuleGroup<'_> {
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {
        if self.hidden {
            let output = self.output_prefix();
            self.net.visit_mut(&mut |name, slot, t| {
                if !name.starts_with(&output) {
                    f(name, slot, t);
                }
            });
        }
        self.rule.visit_mut(f);
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {
        if self.hidden {
            let output = self.output_prefix();
            self.net.visit(&mut |name, slot, t| {
                if !name.starts_with(&output) {
                    f(name, slot, t);
                }
            });
        }
        self.rule.visit(f);
    }
}
