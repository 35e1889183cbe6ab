//! Per-block rules and the step that runs a stack of them.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::activation::Estimator;
use crate::activation::estimator::reinforce_grad;
use crate::host;
use crate::net::{BlockCache, BlockGrads, BlockParams, Gradients, Mode, Net, Parameters, Slot};
use crate::product;
use crate::rng::Rng;
use crate::rule::adaptive::{AdaptiveUpdater, InputDrift};
use crate::rule::{
    Batch, BlockRule, BlockUpdater, LearningRule, LocalRule, SignalContext, StepContext, StepOutput,
};
use crate::task::Task;

/// Whether the blocks of a local rule learn at once or one after another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Layerwise {
    /// All blocks learn at once.
    #[default]
    Parallel,
    /// Block 0 learns (up to `layer_epochs`, or until its loss stops improving), is frozen,
    /// then block 1 starts, …, the output block last.
    Sequential,
    /// All blocks learn at once, each along its input directions only as fast as their input
    /// statistics have settled ([`crate::rule::adaptive`]).
    Adaptive,
}

/// A stack of per-block rules; the output block always learns from the output loss.
pub struct Layered {
    blocks: Vec<BlockRule>,
    /// Each hidden block's rule name.
    names: Vec<String>,
    layerwise: Layerwise,
    layer_epochs: usize,
    /// The block learning now (sequential schedule).
    active: usize,
    epochs_on_active: usize,
    stalled_epochs: usize,
    best_loss: f64,
    epoch_loss: Option<Tensor<1>>,
    total_blocks: usize,
    /// REINFORCE's baseline: a running mean of the per-sample loss, `[1, 1]`.
    baseline: Option<Tensor<2>>,
    /// Adaptive schedule: each block's input drift (output block included).
    drifts: Vec<Option<InputDrift>>,
    /// Adaptive schedule: κ, how strongly drift slows a direction's learning.
    adaptive_strength: f32,
}

/// Sequential schedule: epochs without a 0.1 % improvement of the active block's loss after
/// which it counts as converged.
const PATIENCE: usize = 2;

/// Weight of the past in REINFORCE's running-mean baseline.
const BASELINE_MOMENTUM: f32 = 0.9;

impl Layered {
    /// One rule per hidden block, with its registered name; `total_blocks` counts the output
    /// block too.
    pub fn new(
        blocks: Vec<BlockRule>,
        names: Vec<String>,
        layerwise: Layerwise,
        layer_epochs: usize,
        total_blocks: usize,
    ) -> Self {
        Self {
            blocks,
            names,
            layerwise,
            layer_epochs: layer_epochs.max(1),
            active: 0,
            epochs_on_active: 0,
            stalled_epochs: 0,
            best_loss: f64::INFINITY,
            epoch_loss: None,
            total_blocks,
            baseline: None,
            drifts: vec![None; total_blocks],
            adaptive_strength: 1.0,
        }
    }

    /// The same stack with the adaptive schedule's strength κ (1 by default).
    pub fn with_adaptive_strength(mut self, kappa: f32) -> Self {
        self.adaptive_strength = kappa;
        self
    }

    /// Under the adaptive schedule, block `index`'s input stability from this batch of its
    /// input `h`, `[1, in]` (see [`InputDrift::observe`]); `None` otherwise (and in a probe
    /// step, which must not move the statistics).
    fn stability(&mut self, index: usize, h: &Tensor<2>, probe: bool) -> Option<Tensor<2>> {
        if self.layerwise != Layerwise::Adaptive || probe {
            return None;
        }
        let kappa = self.adaptive_strength;
        let drift = self.drifts[index].get_or_insert_with(|| InputDrift::new(h));
        Some(drift.observe(h, kappa))
    }

    /// Whether block `i` learns in this step.
    fn trains(&self, i: usize) -> bool {
        self.layerwise != Layerwise::Sequential || self.active == i
    }

    /// REINFORCE's per-sample advantage `(L − b) / batch`, `[batch, 1]`, against the baseline
    /// from earlier steps (the first step centres on its own mean); then the baseline moves
    /// towards this batch's mean loss (unless `probe`).
    fn advantage(&mut self, per_sample: Tensor<2>, probe: bool) -> Tensor<2> {
        let batch = per_sample.dims()[0];
        let mean = per_sample.clone().mean().reshape([1, 1]);
        let baseline = self.baseline.clone().unwrap_or_else(|| mean.clone());
        let advantage = (per_sample - baseline.clone()).div_scalar(batch as f32);
        if !probe {
            self.baseline = Some(
                baseline.mul_scalar(BASELINE_MOMENTUM) + mean.mul_scalar(1.0 - BASELINE_MOMENTUM),
            );
        }
        advantage
    }

    /// Every hidden block's local rule, when each learns from its own output alone (local
    /// rules, no REINFORCE estimator), so each block can be stepped before the next one runs.
    fn local_rules(&mut self, net: &Net) -> Option<Vec<&mut dyn LocalRule>> {
        if net
            .blocks
            .iter()
            .any(|b| b.spec().estimator == Estimator::Reinforce)
        {
            return None;
        }
        self.blocks.iter_mut().map(BlockRule::local).collect()
    }

    /// The step of a stack of local rules, block by block from the input: each block runs,
    /// takes its signal, is stepped by `ctx.updater` and drops its activations before the next
    /// block runs, so memory stays flat in depth. The same arithmetic and random draws as the
    /// step over a whole forward pass, hence the same weights.
    fn step_block_by_block(
        &mut self,
        net: &mut Net,
        batch: &Batch,
        ctx: &mut StepContext<'_>,
    ) -> Option<StepOutput> {
        let last = net.blocks.len() - 1;
        let StepContext {
            rng,
            task,
            probe,
            updater,
        } = ctx;
        let updater = updater.as_deref_mut()?;
        self.local_rules(net)?;
        let probe = *probe;
        let mut losses = Vec::with_capacity(last);
        let mut h = batch.x.clone();
        for i in 0..last {
            let (trains, stability) = (self.trains(i), self.stability(i, &h, probe));
            let rule = self.blocks[i]
                .local()
                .expect("every hidden block's rule is local");
            let block = &mut BlockParams {
                index: i,
                block: &mut net.blocks[i],
            };
            let (output, local_loss) = with_stability(&mut *updater, stability, |updater| {
                learn_hidden_block(block, rule, h, batch, *task, rng, trains, updater)
            });
            losses.push(local_loss);
            h = output;
        }
        let (trains, stability) = (self.trains(last), self.stability(last, &h, probe));
        let block = &mut BlockParams {
            index: last,
            block: &mut net.blocks[last],
        };
        let (loss, output) = with_stability(updater, stability, |updater| {
            learn_output_block(block, h, batch, *task, rng, trains, updater)
        });
        for (i, local_loss) in losses.iter().enumerate() {
            self.track(i, local_loss.as_ref(), probe);
        }
        self.track(last, Some(&loss), probe);
        Some(StepOutput {
            loss,
            output: Some(output),
            grads: Gradients::new(),
        })
    }

    /// Records block `index`'s gradients in `grads`: its weighted layer's and those of the
    /// layers above it (`rest`); `weighted` is `None` when the block does not learn in this
    /// step.
    fn add_block_grads(
        grads: &mut Gradients,
        index: usize,
        weighted: Option<BlockGrads>,
        rest: BlockGrads,
    ) {
        if let Some(mut weighted) = weighted {
            weighted.extend(rest);
            grads.add_block(index, weighted);
        }
    }

    fn track(&mut self, i: usize, loss: Option<&Tensor<1>>, probe: bool) {
        if !probe
            && self.layerwise == Layerwise::Sequential
            && self.active == i
            && let Some(loss) = loss
        {
            self.epoch_loss = Some(match self.epoch_loss.take() {
                Some(sum) => sum + loss.clone(),
                None => loss.clone(),
            });
        }
    }
}

/// Runs `learn` with `updater`, wrapped to scale the block's weight update per input column by
/// `stability` (`[1, in]`) when there is one (the adaptive schedule).
fn with_stability<R>(
    updater: &mut dyn BlockUpdater,
    stability: Option<Tensor<2>>,
    learn: impl FnOnce(&mut dyn BlockUpdater) -> R,
) -> R {
    match stability {
        Some(stability) => learn(&mut AdaptiveUpdater {
            inner: updater,
            stability,
        }),
        None => learn(updater),
    }
}

/// One hidden block's step under a local rule: forward in training mode (random draws from
/// `rng`), the rule's signal from the block's own output, the block's and the rule's gradients
/// handed to `updater` (none when `!trains`). Returns the block's output, for the block above,
/// and its local loss.
///
/// # Shapes
/// `h`: `[batch, in_i]` → (`[batch, out_i]`, `[1]`).
#[allow(clippy::too_many_arguments)]
pub fn learn_hidden_block(
    block: &mut BlockParams<'_>,
    rule: &mut dyn LocalRule,
    h: Tensor<2>,
    batch: &Batch,
    task: Task,
    rng: &mut Rng,
    trains: bool,
    updater: &mut dyn BlockUpdater,
) -> (Tensor<2>, Option<Tensor<1>>) {
    let cache = block.block.forward(h, &mut Mode::Train(rng));
    block.block.observe(&cache);
    let mut rule_grads = Gradients::new();
    let signal = rule.signal(block.index, &cache.output, batch, task, &mut rule_grads);
    let own = rule.matrix_mut().map(|m| m as &mut dyn Parameters);
    let grads = trains.then_some((signal.grad, rule_grads));
    update_block(block, &cache, grads, own, updater);
    (cache.output, signal.local_loss)
}

/// The output block's step: forward in training mode, gradients of the output loss handed to
/// `updater` (none when `!trains`). Returns the batch's mean loss and the prediction.
///
/// # Shapes
/// `h`: `[batch, in]` → (`[1]`, `[batch, outputs]`).
pub fn learn_output_block(
    block: &mut BlockParams<'_>,
    h: Tensor<2>,
    batch: &Batch,
    task: Task,
    rng: &mut Rng,
    trains: bool,
    updater: &mut dyn BlockUpdater,
) -> (Tensor<1>, Tensor<2>) {
    let cache = block.block.forward(h, &mut Mode::Train(rng));
    block.block.observe(&cache);
    let (loss, error) = task.loss.value_and_grad(&cache.output, &batch.targets);
    let grads = trains.then_some((error, Gradients::new()));
    update_block(block, &cache, grads, None, updater);
    (loss, cache.output)
}

/// Hands `updater` the block's gradients from `grad_h` (the gradient at its output,
/// `[batch, out]`) together with `extra` (e.g. the rule's own matrix), or no gradients when
/// `grads` is `None` (a frozen block still counts its step).
fn update_block(
    block: &mut BlockParams<'_>,
    cache: &BlockCache,
    grads: Option<(Tensor<2>, Gradients)>,
    own: Option<&mut dyn Parameters>,
    updater: &mut dyn BlockUpdater,
) {
    let mut all = match grads {
        Some((grad_h, mut extra)) => {
            let grad_a = block.block.pre_activation_grad(cache, grad_h);
            let (block_grads, _) = block.block.param_grads(cache, grad_a);
            extra.add_block(block.index, block_grads);
            extra
        }
        None => Gradients::new(),
    };
    updater.update(block, own, &mut all);
}

/// [`Layered`]'s state in a checkpoint (at an epoch's end).
#[derive(Serialize, Deserialize)]
struct LayeredState {
    active: usize,
    epochs_on_active: usize,
    stalled_epochs: usize,
    /// `None` for +∞ (JSON has no infinity).
    best_loss: Option<f64>,
    baseline: Option<f32>,
}

impl Parameters for Layered {
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {
        for rule in &mut self.blocks {
            if let Some(m) = rule.matrix_mut() {
                f(&m.name, m.slot, &mut m.tensor);
            }
        }
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {
        for rule in &self.blocks {
            if let Some(m) = rule.matrix() {
                f(&m.name, m.slot, &m.tensor);
            }
        }
    }
}

impl LearningRule for Layered {
    fn name(&self) -> String {
        match self.names.first() {
            None => "backprop".to_string(),
            Some(first) if self.names.iter().all(|n| n == first) => first.clone(),
            Some(_) => {
                let mut names: Vec<&str> = self.names.iter().map(String::as_str).collect();
                names.push("backprop");
                names.join(",")
            }
        }
    }

    fn step(&mut self, net: &mut Net, batch: &Batch, ctx: &mut StepContext<'_>) -> StepOutput {
        if let Some(output) = self.step_block_by_block(net, batch, ctx) {
            return output;
        }
        let trace = net.forward_train(batch.x.clone(), ctx.rng);
        let output = trace.output().clone();
        let (loss, error) = ctx.task.loss.value_and_grad(&output, &batch.targets);
        let mut grads = Gradients::new();
        let last = net.blocks.len() - 1;
        let top = &net.blocks[last];
        let grad_a = top.pre_activation_grad(&trace.blocks[last], error.clone());
        // Walking down, block `above`'s weight gradient `δ_zᵀ·x` does not feed the blocks
        // below: it is computed on one core while the next block's signal (through `W` or a
        // stand-in) is taken on the other. Each product is the same as computed alone.
        let (mut batchnorm_above, mut grad_z) = top.linear_output_grad(&trace.blocks[last], grad_a);
        self.track(last, Some(&loss), ctx.probe);
        let mut advantage = None;
        for above in (1..=last).rev() {
            let i = above - 1;
            if net.blocks[i].spec().estimator == Estimator::Reinforce && advantage.is_none() {
                advantage = Some(
                    self.advantage(ctx.task.loss.per_sample(&output, &batch.targets), ctx.probe),
                );
            }
            let trains_above = self.trains(above);
            let rule = &mut self.blocks[i];
            let (linear_above, (grad_a, rule_grads, local_loss)) = product::join(
                || {
                    let cache = &trace.blocks[above];
                    trains_above.then(|| net.blocks[above].weighted_grads(cache, &grad_z))
                },
                || {
                    let block = &net.blocks[i];
                    let cache = &trace.blocks[i];
                    let mut rule_grads = Gradients::new();
                    if let (Estimator::Reinforce, Some(advantage)) =
                        (block.spec().estimator, &advantage)
                    {
                        let grad_a = reinforce_grad(
                            &block.spec().activation,
                            cache.pre_activation(),
                            cache.activated(),
                            advantage,
                        );
                        return (grad_a, rule_grads, None);
                    }
                    let mut signal_ctx = SignalContext {
                        net,
                        trace: &trace,
                        batch,
                        error: &error,
                        grad_z_above: &grad_z,
                        task: ctx.task,
                        rng: ctx.rng,
                    };
                    let signal = rule.signal(i, &mut signal_ctx, &mut rule_grads);
                    let grad_a = block.pre_activation_grad(cache, signal.grad);
                    (grad_a, rule_grads, signal.local_loss)
                },
            );
            Self::add_block_grads(&mut grads, above, linear_above, batchnorm_above);
            self.track(i, local_loss.as_ref(), ctx.probe);
            if self.trains(i) {
                for (name, grad) in rule_grads.iter() {
                    grads.add(name.clone(), grad.clone());
                }
            }
            (batchnorm_above, grad_z) = net.blocks[i].linear_output_grad(&trace.blocks[i], grad_a);
        }
        let linear = self
            .trains(0)
            .then(|| net.blocks[0].weighted_grads(&trace.blocks[0], &grad_z));
        Self::add_block_grads(&mut grads, 0, linear, batchnorm_above);
        StepOutput {
            loss,
            output: Some(output),
            grads,
        }
    }

    fn local_blocks(&mut self, net: &Net) -> Option<Vec<&mut dyn LocalRule>> {
        if self.layerwise != Layerwise::Parallel {
            return None;
        }
        self.local_rules(net)
    }

    fn feedback_pairs(&self, net: &Net) -> Vec<Option<(Tensor<2>, Tensor<2>)>> {
        self.blocks
            .iter()
            .enumerate()
            .map(|(i, rule)| rule.feedback_pair(i, net))
            .collect()
    }

    fn block_predictions(&self, net: &Net, x: Tensor<2>) -> Vec<Option<Tensor<2>>> {
        let mut h = x;
        let mut out = Vec::with_capacity(self.blocks.len());
        for (block, rule) in net.blocks.iter().zip(&self.blocks) {
            h = block.forward(h, &mut Mode::Eval).output;
            out.push(rule.decode(&h));
        }
        out
    }

    fn take_diagnostics(&mut self) -> std::collections::BTreeMap<String, Vec<Option<f64>>> {
        let mut out = std::collections::BTreeMap::new();
        if self.layerwise == Layerwise::Adaptive {
            let stability = (self.drifts.iter_mut())
                .map(|d| d.as_mut().and_then(InputDrift::take_mean_stability))
                .collect();
            out.insert("input_stability".to_string(), stability);
        }
        out
    }

    fn learning_block(&self) -> Option<usize> {
        (self.layerwise == Layerwise::Sequential && self.active < self.blocks.len())
            .then_some(self.active)
    }

    fn state(&self) -> serde_json::Value {
        let state = LayeredState {
            active: self.active,
            epochs_on_active: self.epochs_on_active,
            stalled_epochs: self.stalled_epochs,
            best_loss: self.best_loss.is_finite().then_some(self.best_loss),
            baseline: self.baseline.as_ref().map(|b| host::values(b)[0]),
        };
        serde_json::to_value(state).expect("plain fields serialise")
    }

    fn restore(&mut self, state: &serde_json::Value) -> crate::error::Result<()> {
        let state: LayeredState = serde_json::from_value(state.clone())
            .map_err(|e| crate::error::Error::config("checkpoint.rule", e.to_string()))?;
        self.active = state.active;
        self.epochs_on_active = state.epochs_on_active;
        self.stalled_epochs = state.stalled_epochs;
        self.best_loss = state.best_loss.unwrap_or(f64::INFINITY);
        self.baseline = state.baseline.map(|b| {
            let device = crate::backend::device();
            host::matrix(vec![b], 1, 1, &device)
        });
        self.epoch_loss = None;
        Ok(())
    }

    fn end_epoch(&mut self, _epoch: usize) {
        if self.layerwise != Layerwise::Sequential || self.active >= self.total_blocks {
            return;
        }
        let loss = self
            .epoch_loss
            .take()
            .map_or(f64::INFINITY, |l| f64::from(host::scalar(&l)));
        if loss < self.best_loss * (1.0 - 1e-3) {
            self.best_loss = loss;
            self.stalled_epochs = 0;
        } else {
            self.stalled_epochs += 1;
        }
        self.epochs_on_active += 1;
        if self.epochs_on_active >= self.layer_epochs || self.stalled_epochs >= PATIENCE {
            self.active += 1;
            self.epochs_on_active = 0;
            self.stalled_epochs = 0;
            self.best_loss = f64::INFINITY;
        }
    }
}
