//! Target propagation (Lee et al. 2015) and difference target propagation: hidden blocks learn
//! toward *targets* sent down through feedback maps `g_i` instead of gradients, so blocks whose
//! input is a hard activation (sign, stochastic binary) learn with no estimator.
//!
//! The output block learns by backprop from the loss. The top hidden block's target is a
//! per-sample gradient step `t = h − x_lr·∂ℓ/∂h`; below it `t_{i−1} = g_i(t_i)` (TP) or
//! `t_{i−1} = h_{i−1} + g_i(t_i) − g_i(h_i)` (DTP). Block `f_i` minimises `‖h_i − t_i‖²` with
//! its input held fixed. `g_i` maps block i's output back to its input: learned (a
//! `linear → [batchnorm] → activation` block trained to reconstruct, with its own optimizer),
//! the exact inverse of an invertible square block, or its pseudoinverse.
//!
//! With `autoencoder` on (the default; or per block), `f_i` and `g_i` learn together as an
//! autoencoder: the reconstruction loss `‖g_i(f_i(h_{i−1})) − h_{i−1}‖²` trains `f_i` too.
//! Without it, vanilla TP collapses deep nets: each `f_{i−1}` is pulled toward
//! `g_i(f_i(h_{i−1}))`, a least-squares reconstruction that shrinks toward the mean, so the
//! activities lose their variance layer by layer (DTP's difference correction removes that
//! pull, and DTP learns best without autoencoders).

use std::collections::BTreeMap;

use burn::tensor::Tensor;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::activation::{Activation, Estimator, EvalMode, smooth};
use crate::error::{Error, Result};
use crate::host;
use crate::linalg::Matrix;
use crate::net::{
    Block, BlockCache, BlockSpec, Feedback, Gradients, Init, Mode, Net, Parameters, Slot, Trace,
};
use crate::product::{self, matmul};
use crate::rng::{self, Rng};
use crate::rule::registry::{self, NoSettings, Registration, RuleKind};
use crate::rule::{Batch, LearningRule, StepContext, StepOutput};

/// What stands in for the inverse of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Inverse {
    /// A learned feedback block trained to reconstruct the block's input.
    #[default]
    Learned,
    /// `g(h) = W⁻¹(f⁻¹(h) − b)` for a square block with an invertible activation.
    Exact,
    /// `g(h) = W⁺(f⁻¹(h) − b)` with the Moore–Penrose pseudoinverse `W⁺`.
    Pseudoinverse,
}

/// How learned feedback blocks are trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReconstructionLoss {
    /// `‖g(f(h + ε)) − (h + ε)‖²`.
    #[default]
    Plain,
    /// The difference reconstruction loss `‖g(f(h + ε)) − g(f(h)) − ε‖²` (Meulemans et al.
    /// 2020), which trains exactly what DTP's difference correction uses; needs noise.
    Difference,
}

/// Which forward pass of each hidden block the feedback maps invert and targets go down from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackPass {
    /// The training pass (dropout, sampled stochastic inputs): `g_i` learns
    /// `E[h_{i−1} | h_i]`, a reconstruction shrunk toward the mean wherever the noise lost
    /// information, and TP's targets inherit that shrinkage.
    #[default]
    Train,
    /// The block's noise-free pass `h̄_i` on the same input (no dropout, stochastic inputs as
    /// `model.eval_mode` evaluates them, batchnorm on the batch's statistics): `g_i` learns to
    /// invert a deterministic map and targets go down from it, `t_{i−1} = g_i(h̄_i + t_i − h_i)`
    /// (DTP: `h_{i−1} + g_i(h̄_i + t_i − h_i) − g_i(h̄_i)`); an autoencoder's reconstruction
    /// loss trains `f_i` through that pass. The noise `h_i − h̄_i` no longer biases the targets.
    Evaluation,
}

/// Target propagation's settings (`[target_prop]`, its optimizer aside).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetPropSettings {
    /// Step size of the top target, per sample.
    pub x_lr: f32,
    /// What the feedback maps are.
    pub inverse: Inverse,
    /// Weight of the reconstruction loss.
    pub rec_weight: f32,
    /// Standard deviation of the noise added to a block's input for reconstruction.
    pub rec_noise: f32,
    /// Plain or difference reconstruction loss.
    pub rec_loss: ReconstructionLoss,
    /// The output activation of each learned `g_i`, `i ≥ 1` (default: block i−1's).
    pub feedback_activation: Option<Vec<Activation>>,
    /// Per hidden block, whether the reconstruction loss also trains `f_i` (block 0 then gets a
    /// `g_0` reconstructing the data), so that `f_i` and `g_i` learn as an autoencoder and `f_i`
    /// stays invertible; elsewhere it trains the `g_i` only. `None`: every hidden block.
    pub autoencoder: Option<Vec<bool>>,
    /// The pass of each hidden block that the `g_i` invert and targets go down from.
    pub feedback_pass: FeedbackPass,
}

impl Default for TargetPropSettings {
    fn default() -> Self {
        Self {
            x_lr: 1e-3,
            inverse: Inverse::Learned,
            rec_weight: 1.0,
            rec_noise: 0.0,
            rec_loss: ReconstructionLoss::Plain,
            feedback_activation: None,
            autoencoder: None,
            feedback_pass: FeedbackPass::Train,
        }
    }
}

/// Sums of per-block diagnostics over an epoch's steps.
#[derive(Default)]
struct Tally {
    sums: BTreeMap<&'static str, Vec<Option<Tensor<1>>>>,
    steps: usize,
}

impl Tally {
    fn add(&mut self, key: &'static str, blocks: usize, index: usize, value: Tensor<1>) {
        let slots = self.sums.entry(key).or_insert_with(|| vec![None; blocks]);
        slots[index] = Some(match slots[index].take() {
            Some(sum) => sum + value,
            None => value,
        });
    }

    fn take(&mut self) -> BTreeMap<String, Vec<Option<f64>>> {
        let steps = self.steps.max(1) as f64;
        let out = std::mem::take(&mut self.sums)
            .into_iter()
            .map(|(key, sums)| {
                let means = sums
                    .iter()
                    .map(|s| s.as_ref().map(|s| f64::from(host::scalar(s)) / steps))
                    .collect();
                (key.to_string(), means)
            })
            .collect();
        self.steps = 0;
        out
    }
}

/// `g_i(h_i)`, and the forward cache of a learned `g_i`'s pass.
#[derive(Clone)]
struct Reconstruction {
    output: Tensor<2>,
    cache: Option<BlockCache>,
}

/// The TP / DTP rule.
pub struct TargetProp {
    difference: bool,
    settings: TargetPropSettings,
    /// `feedback[i]` is `g_i` (learned inverses only; `g_0` only for autoencoders).
    feedback: Vec<Option<Block>>,
    tally: Tally,
}

/// Whether hidden block `i` learns as an autoencoder with its `g_i`.
fn autoencodes(settings: &TargetPropSettings, i: usize) -> bool {
    settings.autoencoder.as_ref().is_none_or(|list| list[i])
}

/// Mean over the batch of each row's Euclidean norm, `[1]`.
fn mean_norm(x: Tensor<2>) -> Tensor<1> {
    x.square().sum_dim(1).sqrt().mean()
}

impl TargetProp {
    /// Checks that a net of blocks `specs` suits TP (`difference = false`) or DTP with
    /// `settings`: no hard activation or L2 normalisation on a hidden block's output, a learned
    /// `g_i`'s activation equal to that of the block it predicts, analytic inverses only of
    /// blocks that have one. The message names the key at fault.
    pub fn check(
        specs: &[BlockSpec],
        difference: bool,
        settings: &TargetPropSettings,
    ) -> Result<()> {
        let hidden = specs.len() - 1;
        let name = if difference {
            "difference_target_prop"
        } else {
            "target_prop"
        };
        for (i, spec) in specs[..hidden].iter().enumerate() {
            if spec.activation.is_hard() {
                return Err(Error::config(
                    "model.activation",
                    format!(
                        "{name} cannot send targets through the hard activation {} of block {i}; \
                         put it on the next block's input (model.input_activation) and give \
                         block {i} a smooth activation",
                        spec.activation
                    ),
                ));
            }
            if spec.normalize {
                return Err(Error::config(
                    "model.normalize",
                    format!("{name} has no feedback for L2-normalised blocks (block {i})"),
                ));
            }
        }
        if settings.rec_loss == ReconstructionLoss::Difference && settings.rec_noise <= 0.0 {
            return Err(Error::config(
                "target_prop.rec_loss",
                "the difference reconstruction loss needs target_prop.rec_noise > 0",
            ));
        }
        if let Some(list) = &settings.autoencoder
            && list.len() != hidden
        {
            return Err(Error::config(
                "target_prop.autoencoder",
                format!(
                    "{} values given, the network has {hidden} hidden blocks",
                    list.len()
                ),
            ));
        }
        for i in 1..hidden {
            Self::check_inverse(&specs[i], &specs[i - 1], i, settings)?;
        }
        Ok(())
    }

    /// Whether block `i` (above `below`) has the inverse `settings` asks for.
    fn check_inverse(
        block: &BlockSpec,
        below: &BlockSpec,
        i: usize,
        settings: &TargetPropSettings,
    ) -> Result<()> {
        if settings.inverse == Inverse::Learned {
            let activation = match &settings.feedback_activation {
                Some(list) => list[i - 1],
                None => below.activation,
            };
            if activation != below.activation {
                return Err(Error::config(
                    "target_prop.feedback_activation",
                    format!(
                        "g_{i} outputs {activation} but predicts block {} whose activation is \
                         {}; they must match",
                        i - 1,
                        below.activation
                    ),
                ));
            }
            return Ok(());
        }
        let reason = if block.batchnorm {
            Some("it has batchnorm")
        } else if block.input_activation.is_some() {
            Some("it has an input activation")
        } else if block.dropout > 0.0 {
            Some("it has dropout")
        } else if !block.activation.is_invertible() {
            Some("its activation is not invertible")
        } else if settings.inverse == Inverse::Exact && block.inputs != block.outputs {
            Some("its weight is not square")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::config(
                "target_prop.inverse",
                format!("block {i} has no analytic inverse: {reason}"),
            )),
            None => Ok(()),
        }
    }

    /// A TP (`difference = false`) or DTP rule for `net` (checked by [`TargetProp::check`]);
    /// learned feedback blocks are initialised with `init` from `rng`.
    pub fn new(
        net: &Net,
        difference: bool,
        settings: TargetPropSettings,
        init: Init,
        rng: &mut Rng,
    ) -> Result<Self> {
        let specs: Vec<BlockSpec> = net.blocks.iter().map(|b| b.spec().clone()).collect();
        Self::check(&specs, difference, &settings)?;
        let hidden = net.blocks.len() - 1;
        let device = net.blocks[0].weight().device();
        let mut feedback = vec![None];
        if settings.inverse == Inverse::Learned && autoencodes(&settings, 0) {
            let spec = BlockSpec {
                inputs: net.blocks[0].spec().outputs,
                outputs: net.blocks[0].spec().inputs,
                input_activation: None,
                dropout: 0.0,
                batchnorm: false,
                batchnorm_affine: true,
                activation: Activation::Identity,
                estimator: Estimator::Ste,
                eval_mode: EvalMode::Threshold,
                normalize: false,
                conv: None,
            };
            feedback[0] = Some(Block::new(spec, init, None, rng, &device));
        }
        for i in 1..hidden {
            if settings.inverse != Inverse::Learned {
                feedback.push(None);
                continue;
            }
            let (block, below) = (&net.blocks[i].spec(), &net.blocks[i - 1].spec());
            let activation = match &settings.feedback_activation {
                Some(list) => list[i - 1],
                None => below.activation,
            };
            let spec = BlockSpec {
                inputs: block.outputs,
                outputs: block.inputs,
                input_activation: None,
                dropout: 0.0,
                batchnorm: below.batchnorm,
                batchnorm_affine: below.batchnorm_affine,
                activation,
                estimator: Estimator::Ste,
                eval_mode: EvalMode::Threshold,
                normalize: false,
                conv: None,
            };
            feedback.push(Some(Block::new(spec, init, None, rng, &device)));
        }
        Ok(Self {
            difference,
            settings,
            feedback,
            tally: Tally::default(),
        })
    }

    /// `g_i(h)` for hidden block `i ≥ 1`, with the forward cache of a learned `g_i`.
    ///
    /// # Shapes
    /// `h`: `[batch, out_i]` → `[batch, in_i]`.
    fn feedback_map(
        &self,
        net: &Net,
        inverses: &[Option<Tensor<2>>],
        i: usize,
        h: Tensor<2>,
        rng: &mut Rng,
    ) -> (Tensor<2>, Option<BlockCache>) {
        match self.settings.inverse {
            Inverse::Learned => {
                let g = self.feedback[i]
                    .as_ref()
                    .expect("one g_i per block above 0");
                let cache = g.forward(h, &mut Mode::Train(rng));
                (cache.output.clone(), Some(cache))
            }
            Inverse::Exact | Inverse::Pseudoinverse => {
                let block = &net.blocks[i];
                let a = smooth::inverse(&block.spec().activation, h)
                    .expect("checked invertible when the rule was built");
                let inverse_t = inverses[i].as_ref().expect("one inverse per block above 0");
                (matmul(a - block.bias().clone(), inverse_t.clone()), None)
            }
        }
    }

    /// Whether `g_i`'s reconstruction loss ([`TargetProp::reconstruction`]) reads `g_i`'s
    /// pass on `h_i`: without noise it reconstructs from `h_i` itself, and the difference loss
    /// subtracts that pass; the plain loss on noisy inputs reads only the noisy pass.
    fn reuses_clean_pass(&self) -> bool {
        self.settings.rec_noise == 0.0 || self.settings.rec_loss == ReconstructionLoss::Difference
    }

    /// Whether `g_i` maps the target and the activity as one stacked batch (`[2·batch, out_i]`,
    /// one product instead of two, the same bits row by row): a learned `g_i` without
    /// batchnorm (whose statistics would mix the two), when its reconstruction loss will not
    /// reuse the pass on `h_i` ([`TargetProp::reuses_clean_pass`]).
    fn maps_stacked(&self, i: usize) -> bool {
        self.settings.inverse == Inverse::Learned
            && !self.reuses_clean_pass()
            && self.feedback[i]
                .as_ref()
                .is_some_and(|g| g.batchnorm().is_none())
    }

    /// `(W⁻¹)ᵀ` or `(W⁺)ᵀ` of every hidden block above the first (analytic inverses only).
    fn inverses(&self, net: &Net) -> Vec<Option<Tensor<2>>> {
        let hidden = net.blocks.len() - 1;
        (0..hidden)
            .map(|i| {
                if i == 0 || self.settings.inverse == Inverse::Learned {
                    return None;
                }
                let weight = net.blocks[i].weight();
                let w = Matrix::from_tensor(weight);
                let inverse = match self.settings.inverse {
                    Inverse::Exact => w.inverse().unwrap_or_else(|| w.pseudoinverse()),
                    _ => w.pseudoinverse(),
                };
                Some(inverse.transpose().to_tensor(weight))
            })
            .collect()
    }

    /// Per hidden block, its noise-free pass on the training pass's input when
    /// `feedback_pass = evaluation` (see [`FeedbackPass::Evaluation`]); block 0's only when it
    /// has a `g_0` to train (no target goes down from it).
    fn evaluation_passes(&self, net: &Net, trace: &Trace) -> Vec<Option<BlockCache>> {
        let hidden = net.blocks.len() - 1;
        let wanted = |i: usize| {
            self.settings.feedback_pass == FeedbackPass::Evaluation
                && (i > 0 || self.feedback[0].is_some())
        };
        (0..hidden)
            .map(|i| {
                wanted(i).then(|| {
                    net.blocks[i].forward(trace.blocks[i].input.clone(), &mut Mode::Calibrate)
                })
            })
            .collect()
    }

    /// Every hidden block's target from the top one, `t_{i−1} = g_i(t_i)` (TP) or
    /// `h_{i−1} + (g_i(t_i) − g_i(h_i))` (DTP); index `i` holds block i's target.
    pub fn targets(
        &self,
        net: &Net,
        trace: &Trace,
        top_target: Tensor<2>,
        rng: &mut Rng,
    ) -> Vec<Tensor<2>> {
        let passes = self.evaluation_passes(net, trace);
        self.propagate(net, trace, &passes, top_target, &self.inverses(net), rng)
            .0
    }

    /// The targets, and per block `i ≥ 1` the reconstruction `g_i(h_i)` with the forward
    /// cache of a learned `g_i` (its reconstruction loss reuses that pass); `passes[i]`, when
    /// given, is block i's evaluation pass `h̄_i`, which `g_i` reads instead of `h_i`.
    fn propagate(
        &self,
        net: &Net,
        trace: &Trace,
        passes: &[Option<BlockCache>],
        top_target: Tensor<2>,
        inverses: &[Option<Tensor<2>>],
        rng: &mut Rng,
    ) -> (Vec<Tensor<2>>, Vec<Option<Reconstruction>>) {
        let hidden = net.blocks.len() - 1;
        let mut targets = vec![top_target; hidden];
        let mut reconstructions = vec![None; hidden];
        for i in (1..hidden).rev() {
            let sampled = trace.blocks[i].output.clone();
            let (h, target) = match &passes[i] {
                Some(pass) => (
                    pass.output.clone(),
                    targets[i].clone() - sampled + pass.output.clone(),
                ),
                None => (sampled, targets[i].clone()),
            };
            let below = trace.blocks[i - 1].output.clone();
            let (from_target, from_activity, cache) = if self.maps_stacked(i) {
                let rows = h.dims()[0];
                let both = Tensor::cat(vec![target, h], 0);
                let (both, _) = self.feedback_map(net, inverses, i, both, rng);
                let from_target = both.clone().narrow(0, 0, rows);
                (from_target, both.narrow(0, rows, rows), None)
            } else {
                let (from_target, _) = self.feedback_map(net, inverses, i, target, rng);
                let (from_activity, cache) = self.feedback_map(net, inverses, i, h, rng);
                (from_target, from_activity, cache)
            };
            targets[i - 1] = if self.difference {
                below + (from_target - from_activity.clone())
            } else {
                from_target
            };
            reconstructions[i] = Some(Reconstruction {
                output: from_activity,
                cache,
            });
        }
        (targets, reconstructions)
    }

    /// The noise (`rec_noise`) block `i`'s reconstruction (of a learned `g_i`) adds to the
    /// block's input, `[batch, in_i]` as a flat vector, when the step drew `key` (one draw of
    /// the run's stream per step, none without noise): block `i`'s keyed streams
    /// ([`rng::keyed_normal_vec`]), so the values are the same wherever and whenever they are
    /// drawn.
    fn reconstruction_noise(&self, trace: &Trace, key: Option<u64>, i: usize) -> Option<Vec<f32>> {
        let key = key?;
        let [batch, units] = trace.blocks[i].input.dims();
        let sigma = self.settings.rec_noise;
        Some(rng::keyed_normal_vec(
            key,
            i as u32,
            batch * units,
            0.0,
            sigma,
        ))
    }

    /// `f_i` on its input plus `noise`: the noisy input and `f_i`'s training pass on it, or the
    /// clean input and no pass when there is no noise.
    fn noisy_input(
        block: &Block,
        clean: &BlockCache,
        evaluation: bool,
        noise: Option<Vec<f32>>,
        rng: &mut Rng,
    ) -> (Tensor<2>, Option<BlockCache>) {
        let input = clean.input.clone();
        let Some(noise) = noise else {
            return (input, None);
        };
        let [batch, units] = input.dims();
        let noisy = input.clone() + host::matrix(noise, batch, units, &input.device());
        let cache = if evaluation {
            block.forward(noisy.clone(), &mut Mode::Calibrate)
        } else {
            block.forward(noisy.clone(), &mut Mode::Train(rng))
        };
        (noisy, Some(cache))
    }

    /// Gradients of `g_i`'s reconstruction loss, and for autoencoders of `f_i`'s, with the loss,
    /// for autoencoders the gradient the loss sends to `f_i`'s output at the training pass
    /// `f_i` already made (the caller adds it to the target's: one backward through `f_i` for
    /// both; a noisy pass of `f_i` is stepped through here), and `g_i`'s pass to observe.
    /// `clean_pass` is `g_i`'s pass on `h_i` when [`TargetProp::propagate`] made one (a learned
    /// `g_i` draws nothing at random, so it is the pass this function would make); `noisy` is
    /// `f_i`'s input plus noise and its pass on it ([`TargetProp::noisy_input`]). With an
    /// evaluation pass of `f_i` (`evaluation`), `g_i` reconstructs from it and an
    /// autoencoder's loss trains `f_i` through it.
    #[allow(clippy::too_many_arguments)]
    fn reconstruction(
        &self,
        net: &Net,
        trace: &Trace,
        evaluation: Option<&BlockCache>,
        i: usize,
        clean_pass: Option<BlockCache>,
        (noisy, noisy_pass): (Tensor<2>, Option<BlockCache>),
        grads: &mut Gradients,
        rng: &mut Rng,
    ) -> Reconstructed {
        let block = &net.blocks[i];
        let clean = evaluation.unwrap_or(&trace.blocks[i]);
        let input = clean.input.clone();
        let batch = input.dims()[0];
        let scale = 2.0 * self.settings.rec_weight / batch as f32;
        let g = self.feedback[i].as_ref().expect("a learned g_i");
        let reads_clean =
            noisy_pass.is_none() || self.settings.rec_loss != ReconstructionLoss::Plain;
        debug_assert_eq!(reads_clean, self.reuses_clean_pass());
        let mut clean_pass = clean_pass;
        let mut on_output = |rng: &mut Rng| match clean_pass.take() {
            Some(cache) => cache,
            None => g.forward(clean.output.clone(), &mut Mode::Train(rng)),
        };
        let noisy_cache = match &noisy_pass {
            Some(pass) => g.forward(pass.output.clone(), &mut Mode::Train(rng)),
            None => on_output(rng),
        };
        // Each pass of g_i: its cache, the pass of f_i it ran on (None: the clean trace), the
        // factor on the residual.
        let mut passes = vec![(noisy_cache, noisy_pass.as_ref().or(evaluation), scale)];
        let residual = match self.settings.rec_loss {
            ReconstructionLoss::Plain => passes[0].0.output.clone() - noisy,
            ReconstructionLoss::Difference => {
                let clean_cache = match noisy_pass {
                    Some(_) => on_output(rng),
                    None => passes[0].0.clone(),
                };
                let residual =
                    (passes[0].0.output.clone() - clean_cache.output.clone()) - (noisy - input);
                passes.push((clean_cache, evaluation, -scale));
                residual
            }
        };
        let mut to_output: Option<Tensor<2>> = None;
        for (cache, forward, factor) in &passes {
            let grad_a = g.pre_activation_grad(cache, residual.clone().mul_scalar(*factor));
            let (block_grads, grad_z) = g.param_grads(cache, grad_a);
            grads.add_prefixed(&format!("feedback.{i}"), block_grads);
            if !autoencodes(&self.settings, i) {
                continue;
            }
            let grad_h = g.input_grad(cache, grad_z, Feedback::Weights);
            match forward {
                Some(forward) => {
                    let grad_a = block.pre_activation_grad(forward, grad_h);
                    grads.add_block(i, block.param_grads(forward, grad_a).0);
                }
                None => to_output = Some(to_output.map_or(grad_h.clone(), |sum| sum + grad_h)),
            }
        }
        let observed = passes.swap_remove(0).0;
        let loss = (residual.square().sum()).mul_scalar(self.settings.rec_weight / batch as f32);
        Reconstructed {
            loss,
            to_output,
            observed,
        }
    }

    /// Hidden block `i`'s part of a step: `g_i`'s reconstruction loss (when it has a learned
    /// `g_i`) and `f_i`'s update toward `target` (`[batch, out_i]`), with their gradients;
    /// reads no other block's part, so the blocks' parts run side by side.
    #[allow(clippy::too_many_arguments)]
    fn block_part(
        &self,
        net: &Net,
        trace: &Trace,
        evaluation: Option<&BlockCache>,
        i: usize,
        target: Tensor<2>,
        clean_pass: Option<BlockCache>,
        noisy: Option<(Tensor<2>, Option<BlockCache>)>,
        rng: &mut Rng,
    ) -> BlockPart {
        let mut grads = Gradients::new();
        let reconstruction = noisy.map(|noisy| {
            self.reconstruction(
                net, trace, evaluation, i, clean_pass, noisy, &mut grads, rng,
            )
        });
        let cache = &trace.blocks[i];
        let rows = cache.output.dims()[0];
        let residual = cache.output.clone() - target;
        let mut grad_h = residual.clone().mul_scalar(2.0 / rows as f32);
        if let Some(extra) = reconstruction.as_ref().and_then(|r| r.to_output.clone()) {
            grad_h = grad_h + extra;
        }
        let block = &net.blocks[i];
        let grad_a = block.pre_activation_grad(cache, grad_h);
        grads.add_block(i, block.param_grads(cache, grad_a).0);
        BlockPart {
            grads,
            reconstruction,
            distance: mean_norm(residual),
        }
    }

    /// Every hidden block's part of a step ([`TargetProp::block_part`]): its gradients into
    /// `grads`, its diagnostics into the tally. The noisy passes of the `f_i` that draw from the
    /// run's stream (dropout masks, stochastic units) run first, in block order; the others are
    /// left to their block's part. Then the parts run side by side on the pool (`g_i`'s
    /// reconstruction loss, and `f_i`'s update toward its target plus what an autoencoder's loss
    /// sends to its output, one backward through `f_i` for both): no part reads another's, so
    /// the products and results are those of one part after another, gathered in block order.
    /// `key` is the step's noise key ([`TargetProp::reconstruction_noise`]); a part left its
    /// noisy pass draws its block's noise itself, on its own core.
    ///
    /// When the blocks with a learned `g_i` are at least as many as the pool's threads, their
    /// parts run one per core, each product whole on its core, and the parts without one follow
    /// with their products on every core: split in halves while both cores were busy with
    /// parts, each product had its halves run one after the other on one core, and the last
    /// part left a core idle (784-300-300-300-10, batch 128, 2 cores, medians of five
    /// alternating rounds: TP 38.4 k → 41.6 k samples/s, DTP 37.4 k → 42.0 k).
    #[allow(clippy::too_many_arguments)]
    fn hidden_parts(
        &mut self,
        net: &Net,
        trace: &Trace,
        passes: &[Option<BlockCache>],
        (targets, clean_passes): (Vec<Tensor<2>>, Vec<Option<BlockCache>>),
        key: Option<u64>,
        ctx: &mut StepContext<'_>,
        grads: &mut Gradients,
    ) {
        let (blocks, top) = (net.blocks.len(), net.blocks.len() - 1);
        // Block i's noisy pass, its noise and its pass's draws (if any) from `rng`.
        let noisy_pass = |i: usize, rng: &mut Rng| {
            let noise = self.reconstruction_noise(trace, key, i);
            let clean = passes[i].as_ref().unwrap_or(&trace.blocks[i]);
            Self::noisy_input(&net.blocks[i], clean, passes[i].is_some(), noise, rng)
        };
        let noisy: Vec<_> = (0..top)
            .map(|i| {
                self.feedback[i].as_ref().map(|_| {
                    if passes[i].is_some() || !net.blocks[i].draws_in_training() {
                        return NoisyPass::Later;
                    }
                    NoisyPass::Made(Box::new(noisy_pass(i, ctx.rng)))
                })
            })
            .collect();
        // What the g_i and the passes left to the parts would draw (nothing): a copy of the
        // stream, unread after.
        let scratch = ctx.rng.clone();
        let part = |(i, ((target, clean_pass), noisy)): PartInput| {
            let evaluation = passes[i].as_ref();
            let rng = &mut scratch.clone();
            let noisy = noisy.map(|noisy| match noisy {
                NoisyPass::Made(made) => *made,
                NoisyPass::Later => noisy_pass(i, rng),
            });
            let part = self.block_part(net, trace, evaluation, i, target, clean_pass, noisy, rng);
            (i, part)
        };
        let inputs: Vec<PartInput> = (targets.into_iter().zip(clean_passes).zip(noisy))
            .enumerate()
            .collect();
        let learned = |input: &PartInput| self.feedback[input.0].is_some();
        let threads = rayon::current_num_threads();
        let parts: Vec<(usize, BlockPart)> =
            if threads >= 2 && inputs.iter().filter(|input| learned(input)).count() >= threads {
                let (first, rest): (Vec<_>, Vec<_>) = inputs.into_iter().partition(learned);
                let mut parts: Vec<_> = (first.into_par_iter())
                    .map(|input| product::serial(|| part(input)))
                    .collect();
                parts.par_extend(rest.into_par_iter().map(part));
                parts.sort_by_key(|(i, _)| *i);
                parts
            } else {
                inputs.into_par_iter().map(part).collect()
            };
        for (i, part) in parts {
            grads.merge(part.grads);
            if let Some(reconstruction) = part.reconstruction {
                self.tally
                    .add("reconstruction_loss", blocks, i, reconstruction.loss);
                if let Some(g) = self.feedback[i].as_mut()
                    && !ctx.probe
                {
                    g.observe(&reconstruction.observed);
                }
            }
            self.tally.add("target_distance", blocks, i, part.distance);
        }
    }
}

/// A hidden block's noisy pass ([`TargetProp::noisy_input`]): made before the parts, in block
/// order, when it draws from the run's stream; else left to the block's part.
enum NoisyPass {
    /// The noisy input and the pass on it.
    Made(Box<(Tensor<2>, Option<BlockCache>)>),
    /// Left to the block's part, which draws the noise (none: the clean input, no pass).
    Later,
}

/// What a hidden block's part starts from: its index, its target (`[batch, out_i]`), `g_i`'s
/// pass on `h_i` when the targets made one, and its noisy pass when it has a learned `g_i`.
type PartInput = (usize, ((Tensor<2>, Option<BlockCache>), Option<NoisyPass>));

/// What `g_i`'s reconstruction loss gave besides its gradients.
struct Reconstructed {
    /// The loss, `[1]`.
    loss: Tensor<1>,
    /// For autoencoders, what the loss sends to `f_i`'s output, `[batch, out_i]`.
    to_output: Option<Tensor<2>>,
    /// `g_i`'s pass whose statistics it observes.
    observed: BlockCache,
}

/// One hidden block's part of a step ([`TargetProp::block_part`]).
struct BlockPart {
    /// Gradients of `f_i` (`blocks.i`) and of a learned `g_i` (`feedback.i`).
    grads: Gradients,
    /// `g_i`'s reconstruction, when it has a learned one.
    reconstruction: Option<Reconstructed>,
    /// Mean distance of `f_i`'s output to its target, `[1]`.
    distance: Tensor<1>,
}

impl Parameters for TargetProp {
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {
        for (i, block) in self.feedback.iter_mut().enumerate() {
            if let Some(block) = block {
                block.visit_mut(&format!("feedback.{i}"), f);
            }
        }
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {
        for (i, block) in self.feedback.iter().enumerate() {
            if let Some(block) = block {
                block.visit(&format!("feedback.{i}"), f);
            }
        }
    }
}

impl LearningRule for TargetProp {
    fn name(&self) -> String {
        if self.difference {
            "difference_target_prop".into()
        } else {
            "target_prop".into()
        }
    }

    fn step(&mut self, net: &mut Net, batch: &Batch, ctx: &mut StepContext<'_>) -> StepOutput {
        // A probe step leaves the epoch's diagnostics as they were.
        let saved_tally = ctx.probe.then(|| std::mem::take(&mut self.tally));
        let output = self.target_step(net, batch, ctx);
        if let Some(tally) = saved_tally {
            self.tally = tally;
        }
        output
    }

    fn take_diagnostics(&mut self) -> BTreeMap<String, Vec<Option<f64>>> {
        self.tally.take()
    }
}

impl TargetProp {
    /// One TP / DTP step (see [`LearningRule::step`]).
    fn target_step(
        &mut self,
        net: &mut Net,
        batch: &Batch,
        ctx: &mut StepContext<'_>,
    ) -> StepOutput {
        let trace = net.forward_train(batch.x.clone(), ctx.rng);
        let output = trace.output().clone();
        let (loss, error) = ctx.task.loss.value_and_grad(&output, &batch.targets);
        let blocks = net.blocks.len();
        let top = blocks - 1;
        let mut grads = Gradients::new();
        let cache = &trace.blocks[top];
        let grad_a = net.blocks[top].pre_activation_grad(cache, error);
        let (top_grads, grad_z) = net.blocks[top].param_grads(cache, grad_a);
        grads.add_block(top, top_grads);
        if top == 0 {
            return StepOutput {
                loss,
                output: Some(output),
                grads,
            };
        }
        let rows = batch.x.dims()[0];
        let grad_h = net.blocks[top].input_grad(cache, grad_z, Feedback::Weights);
        let h_top = trace.blocks[top - 1].output.clone();
        let top_target = h_top - grad_h.mul_scalar(self.settings.x_lr * rows as f32);
        let inverses = self.inverses(net);
        let passes = self.evaluation_passes(net, &trace);
        // The key of the reconstructions' noise, drawn by the parts that use it (the g_i draw
        // nothing at random: their scratch stream is the run's, unread after).
        let key = (self.settings.rec_noise > 0.0).then(|| ctx.rng.key());
        let mut scratch = ctx.rng.clone();
        let (targets, reconstructions) =
            self.propagate(net, &trace, &passes, top_target, &inverses, &mut scratch);
        let mut clean_passes: Vec<Option<BlockCache>> = vec![None; top];
        for (i, reconstruction) in reconstructions.into_iter().enumerate() {
            let Some(Reconstruction { output, cache }) = reconstruction else {
                continue;
            };
            clean_passes[i] = cache;
            let below = trace.blocks[i - 1].output.clone();
            let gap = below - output;
            if self.difference {
                self.tally.add(
                    "difference_correction",
                    blocks,
                    i - 1,
                    mean_norm(gap.clone()),
                );
            }
            self.tally
                .add("reconstruction_error", blocks, i, gap.square().mean());
        }
        let split = (targets, clean_passes);
        self.hidden_parts(net, &trace, &passes, split, key, ctx, &mut grads);
        self.tally.steps += 1;
        StepOutput {
            loss,
            output: Some(output),
            grads,
        }
    }
}

/// The registry entry of TP, or of DTP with `difference`.
pub(crate) fn registration(difference: bool) -> Registration {
    let kind = RuleKind::Net {
        embeds_label: false,
        target_prop_optimizer: true,
    };
    let (name, description) = if difference {
        (
            "difference_target_prop",
            "t_{i−1} = h_{i−1} + g_i(t_i) − g_i(h_i)",
        )
    } else {
        (
            "target_prop",
            "targets sent down through inverses: t_{i−1} = g_i(t_i)",
        )
    };
    registry::net(name, description, kind, move |ctx, _: &NoSettings| {
        let settings = ctx.settings.target_prop.clone();
        let init = ctx.settings.feedback.init;
        Ok(Box::new(TargetProp::new(
            ctx.net, difference, settings, init, ctx.rng,
        )?))
    })
    .checking(|view| {
        registry::fully_connected_only(view)?;
        let difference = view.name == "difference_target_prop";
        TargetProp::check(view.specs, difference, &view.settings.target_prop)
    })
}
