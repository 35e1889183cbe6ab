//! One block: `[input activation] → dropout → linear → [batchnorm] → activation [→ L2-normalize]`.

use burn::tensor::{Device, Tensor};

use crate::activation::estimator::{concrete_backward, concrete_sample};
use crate::activation::{Activation, Estimator, EvalMode, hard};
use crate::host;
use crate::net::batchnorm::{BatchNorm, BatchNormCache, BatchNormGrads};
use crate::net::init::Init;
use crate::net::linear::{Linear, LinearGrads};
use crate::net::{dropout, normalize};
use crate::rng::Rng;

/// The resolved description of one block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSpec {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// An activation applied to the block's input before dropout, if any.
    pub input_activation: Option<Activation>,
    /// Dropout rate on the block's input (0 = none).
    pub dropout: f32,
    /// Whether a batchnorm follows the linear layer.
    pub batchnorm: bool,
    /// Whether that batchnorm learns its scale `γ` and shift `β` (PyTorch's `affine`); without
    /// them it only standardises, so a rule cannot shrink the layer's spread through `γ`.
    pub batchnorm_affine: bool,
    /// The activation after the linear layer (and batchnorm).
    pub activation: Activation,
    /// How a hard (or Gumbel-relaxed) activation's gradient is estimated.
    pub estimator: Estimator,
    /// How stochastic units behave in evaluation.
    pub eval_mode: EvalMode,
    /// Whether the output is L2-normalised per sample.
    pub normalize: bool,
}

/// Whether a forward pass trains (dropout on, batch statistics) or evaluates.
pub enum Mode<'a> {
    /// Training: dropout masks come from this stream; batchnorm uses batch statistics.
    Train(&'a mut Rng),
    /// Evaluation: no dropout; batchnorm uses running statistics.
    Eval,
    /// As evaluation, except that batchnorm normalises with (and caches) the batch's own
    /// statistics: what [`crate::net::Net::recalibrate_batchnorm`] measures.
    Calibrate,
}

/// What carries a gradient below a block in place of `W` (`δ_in = δ_z·M`).
pub enum Feedback<'a> {
    /// The block's own weights (backprop).
    Weights,
    /// A matrix of the weight's `[out, in]` shape (feedback alignment and its variants).
    Matrix(&'a Tensor<2>),
}

/// Everything a block's backward needs from its forward pass.
///
/// # Shapes
/// `input`: `[batch, in]`; every other tensor `[batch, out]` except `linear_input` (`[batch, in]`).
#[derive(Debug, Clone)]
pub struct BlockCache {
    /// The block's input `h_{i-1}` as received.
    pub input: Tensor<2>,
    /// The input after the input activation, when there is one.
    pub activated_input: Option<Tensor<2>>,
    /// The dropout mask applied to the (activated) input, when dropout is on.
    pub dropout_mask: Option<Tensor<2>>,
    /// What the linear layer saw.
    pub linear_input: Tensor<2>,
    /// Batchnorm's cache, when the block has one and ran in training mode.
    pub batchnorm: Option<BatchNormCache>,
    /// The pre-activation `a_i` (after batchnorm).
    pub pre_activation: Tensor<2>,
    /// `f(a_i)`, before normalisation.
    pub activated: Tensor<2>,
    /// The relaxed sample behind `activated`, when a concrete estimator drew one.
    pub relaxed: Option<Tensor<2>>,
    /// Row norms of `f(a_i)` when the block normalises.
    pub norms: Option<Tensor<2>>,
    /// The block's output `h_i`.
    pub output: Tensor<2>,
}

/// Gradients of one block's parameters.
#[derive(Debug, Clone)]
pub struct BlockGrads {
    /// The linear layer's.
    pub linear: LinearGrads,
    /// The batchnorm's, when present.
    pub batchnorm: Option<BatchNormGrads>,
}

/// A block with its parameters.
#[derive(Debug, Clone)]
pub struct Block {
    /// Its description.
    pub spec: BlockSpec,
    /// Its linear layer.
    pub linear: Linear,
    /// Its batchnorm, if any.
    pub batchnorm: Option<BatchNorm>,
    /// Per unit, the smallest and largest output seen in training since the last
    /// [`Block::take_frozen_fraction`] (hard activations only), `[1, out]` each.
    activity: Option<(Tensor<2>, Tensor<2>)>,
}

/// Seed of the stream stochastic units sample from in evaluation (`eval_mode = "sample"`),
/// so that evaluations repeat exactly.
const EVAL_SEED: u64 = 0x5eed;

impl Block {
    /// A freshly initialised block.
    pub fn new(
        spec: BlockSpec,
        init: Init,
        scale: Option<f32>,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let linear = Linear::new(spec.inputs, spec.outputs, init, scale, rng, device);
        let batchnorm = spec
            .batchnorm
            .then(|| BatchNorm::new(spec.outputs, spec.batchnorm_affine, device));
        Self {
            spec,
            linear,
            batchnorm,
            activity: None,
        }
    }

    /// Runs the block, keeping what its backward needs.
    ///
    /// # Shapes
    /// `x`: `[batch, in]` → output `[batch, out]` (in the cache).
    pub fn forward(&self, x: Tensor<2>, mode: &mut Mode<'_>) -> BlockCache {
        let activated_input = self
            .spec
            .input_activation
            .map(|activation| self.apply(&activation, x.clone(), mode));
        let after_activation = activated_input.clone().unwrap_or_else(|| x.clone());
        let dropout_mask = match mode {
            Mode::Train(rng) if self.spec.dropout > 0.0 => {
                let [batch, units] = after_activation.dims();
                Some(dropout::mask(
                    self.spec.dropout,
                    batch,
                    units,
                    rng,
                    &after_activation.device(),
                ))
            }
            _ => None,
        };
        let linear_input = match &dropout_mask {
            Some(mask) => after_activation * mask.clone(),
            None => after_activation,
        };
        let z = self.linear.forward(linear_input.clone());
        let (pre_activation, batchnorm) = match (&self.batchnorm, &mode) {
            (Some(bn), Mode::Train(_) | Mode::Calibrate) => {
                let (y, cache) = bn.forward_train(z);
                (y, Some(cache))
            }
            (Some(bn), Mode::Eval) => (bn.forward_eval(z), None),
            (None, _) => (z, None),
        };
        let (activated, relaxed) = self.activate(pre_activation.clone(), mode);
        let (output, norms) = if self.spec.normalize {
            let (y, norms) = normalize::forward(activated.clone());
            (y, Some(norms))
        } else {
            (activated.clone(), None)
        };
        BlockCache {
            input: x,
            activated_input,
            dropout_mask,
            linear_input,
            batchnorm,
            pre_activation,
            activated,
            relaxed,
            norms,
            output,
        }
    }

    /// A plain (not relaxed) activation: stochastic units sample in training, and in evaluation
    /// under `eval_mode = "sample"`.
    fn apply(&self, activation: &Activation, a: Tensor<2>, mode: &mut Mode<'_>) -> Tensor<2> {
        match mode {
            Mode::Train(rng) if activation.is_stochastic() => hard::sample(activation, a, rng),
            Mode::Eval | Mode::Calibrate
                if activation.is_stochastic() && self.spec.eval_mode == EvalMode::Sample =>
            {
                hard::sample(activation, a, &mut Rng::new(EVAL_SEED))
            }
            _ => activation.forward(a),
        }
    }

    /// The activation's output (sampled for stochastic units, relaxed under `concrete`) and,
    /// when relaxed, the relaxed sample.
    fn activate(&self, a: Tensor<2>, mode: &mut Mode<'_>) -> (Tensor<2>, Option<Tensor<2>>) {
        let activation = &self.spec.activation;
        match (mode, self.spec.estimator) {
            (
                Mode::Train(rng),
                Estimator::Concrete {
                    temperature,
                    straight_through,
                },
            ) if self.spec.estimator.relaxes(activation) => {
                let (output, relaxed) =
                    concrete_sample(activation, a, temperature, straight_through, rng);
                (output, Some(relaxed))
            }
            (mode, _) => (self.apply(activation, a, mode), None),
        }
    }

    /// The gradient at the pre-activation `a_i` from the gradient at the output `h_i`.
    pub fn pre_activation_grad(&self, cache: &BlockCache, grad_output: Tensor<2>) -> Tensor<2> {
        let grad_activated = match &cache.norms {
            Some(norms) => normalize::backward(&cache.output, norms, grad_output),
            None => grad_output,
        };
        let activation = &self.spec.activation;
        match (&cache.relaxed, self.spec.estimator) {
            (Some(relaxed), Estimator::Concrete { temperature, .. }) => {
                concrete_backward(activation, relaxed, temperature, grad_activated)
            }
            _ if activation.is_hard() => {
                grad_activated
                    * self
                        .spec
                        .estimator
                        .surrogate_derivative(&cache.pre_activation)
            }
            _ => activation.backward(&cache.pre_activation, &cache.activated, grad_activated),
        }
    }

    /// Parameter gradients from the gradient at the pre-activation, and the gradient at the
    /// linear layer's output `z_i` (what goes below the block, through `W` or a stand-in).
    ///
    /// # Shapes
    /// `grad_pre_activation`: `[batch, out]` → (grads, `[batch, out]`).
    pub fn param_grads(
        &self,
        cache: &BlockCache,
        grad_pre_activation: Tensor<2>,
    ) -> (BlockGrads, Tensor<2>) {
        let (batchnorm, grad_z) = self.linear_output_grad(cache, grad_pre_activation);
        let linear = self.linear.param_grads(&cache.linear_input, &grad_z);
        (BlockGrads { linear, batchnorm }, grad_z)
    }

    /// The gradient at the linear output `z_i` from the gradient at the pre-activation: through
    /// batchnorm, with its parameter gradients, when the block has an affine one. The first half
    /// of [`Block::param_grads`], for callers that take the linear gradients later.
    ///
    /// # Shapes
    /// `grad_pre_activation`: `[batch, out]` → `[batch, out]`.
    pub fn linear_output_grad(
        &self,
        cache: &BlockCache,
        grad_pre_activation: Tensor<2>,
    ) -> (Option<BatchNormGrads>, Tensor<2>) {
        match (&self.batchnorm, &cache.batchnorm) {
            (Some(bn), Some(bn_cache)) => bn.backward(bn_cache, grad_pre_activation),
            _ => (None, grad_pre_activation),
        }
    }

    /// The gradient at the block's input from the gradient `grad_z` at its linear output, sent
    /// through `feedback` in place of `W` (then through dropout and the input activation).
    ///
    /// # Shapes
    /// `grad_z`: `[batch, out]` → `[batch, in]`.
    pub fn input_grad(
        &self,
        cache: &BlockCache,
        grad_z: Tensor<2>,
        feedback: Feedback<'_>,
    ) -> Tensor<2> {
        let matrix = match feedback {
            Feedback::Weights => &self.linear.weight,
            Feedback::Matrix(matrix) => matrix,
        };
        let grad = Linear::input_grad(grad_z, matrix);
        let grad = match &cache.dropout_mask {
            Some(mask) => grad * mask.clone(),
            None => grad,
        };
        match (self.spec.input_activation, &cache.activated_input) {
            (Some(activation), Some(_)) if activation.is_hard() => {
                grad * self.spec.estimator.surrogate_derivative(&cache.input)
            }
            (Some(activation), Some(activated)) => {
                activation.backward(&cache.input, activated, grad)
            }
            _ => grad,
        }
    }

    /// Records what a training pass saw: batch statistics folded into the running ones, and
    /// the output range of hard units.
    pub fn observe(&mut self, cache: &BlockCache) {
        if let (Some(bn), Some(bn_cache)) = (&mut self.batchnorm, &cache.batchnorm) {
            bn.update_running_stats(bn_cache, cache.input.dims()[0]);
        }
        if self.spec.activation.is_hard() {
            let low = cache.activated.clone().min_dim(0);
            let high = cache.activated.clone().max_dim(0);
            self.activity = Some(match self.activity.take() {
                Some((l, h)) => (l.min_pair(low), h.max_pair(high)),
                None => (low, high),
            });
        }
    }

    /// The fraction of hard units whose output never changed since the last call (dead or
    /// saturated units), and a fresh start; `None` for smooth blocks or before any training.
    pub fn take_frozen_fraction(&mut self) -> Option<f64> {
        let (low, high) = self.activity.take()?;
        let frozen = host::values(&(high - low).equal_elem(0.0).float().mean());
        Some(f64::from(frozen[0]))
    }
}
