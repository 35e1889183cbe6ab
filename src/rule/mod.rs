//! Learning rules. Every rule gives each block its own signal and turns it into parameter
//! gradients; the training loop, the data and the optimizers are shared.
//!
//! Most rules are *per block* ([`BlockRule`]): they say which gradient reaches one hidden
//! block's output, and [`Layered`] runs the step for a stack of them, so rules can be mixed
//! per block (`train.rules = ["dfa", "dfa", "backprop"]`). Whole-net rules (forward-forward)
//! implement [`LearningRule`] directly. Adding a rule means one file and one line in
//! [`build`].

mod backprop;
mod dfa;
mod drtp;
mod feedback;
mod feedback_alignment;
mod forward_forward;
mod layered;
mod linear_decoder;
mod local_loss;
mod target_prop;

pub use backprop::Backprop;
pub use dfa::Dfa;
pub use drtp::Drtp;
pub use feedback::{FeedbackSettings, FeedbackVariant};
pub use feedback_alignment::FeedbackAlignment;
pub use forward_forward::ForwardForward;
pub use layered::{
    BlockRule, Layered, Layerwise, SignalContext, learn_hidden_block, learn_output_block,
};
pub use linear_decoder::LinearDecoder;
pub use local_loss::LocalLoss;
pub use target_prop::{Inverse, ReconstructionLoss, TargetProp, TargetPropSettings};

use std::collections::BTreeMap;

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::net::{BlockParams, Gradients, Net, Parameters};
use crate::rng::Rng;
pub use crate::task::Batch;
use crate::task::{Problem, Task};

/// What a rule may use besides the net and the batch.
pub struct StepContext<'a> {
    /// The run's stream (dropout masks, stochastic units, redrawn feedback).
    pub rng: &'a mut Rng,
    /// The output task (loss, problem, widths).
    pub task: Task,
    /// A measurement step (alignment probe): the rule must leave its own state as it was
    /// (no diagnostics tallied, no running baselines or schedules moved).
    pub probe: bool,
    /// Where a rule without a backward chain may hand each block's gradients as soon as it
    /// has them (the block is stepped at once and its activations dropped); without one, every
    /// gradient comes back in [`StepOutput::grads`].
    pub updater: Option<&'a mut dyn BlockUpdater>,
}

impl<'a> StepContext<'a> {
    /// A training step's context.
    pub fn new(rng: &'a mut Rng, task: Task) -> Self {
        Self {
            rng,
            task,
            probe: false,
            updater: None,
        }
    }

    /// The same, handing block gradients to `updater` where the rule can.
    pub fn with_updater(mut self, updater: &'a mut dyn BlockUpdater) -> Self {
        self.updater = Some(updater);
        self
    }
}

/// Steps one block as soon as a rule without a backward chain knows its gradients, so the
/// step keeps no block's activations (nor gradients) past that block's update: peak memory
/// stays flat in depth.
pub trait BlockUpdater {
    /// Steps `block` and the rule's own tensors for it (`own`: a decoder, a projection) from
    /// the gradients in `grads`, taking them out. Called once per block and step, input
    /// block first, also for blocks that do not learn in this step (with no gradients).
    fn update(
        &mut self,
        block: &mut BlockParams<'_>,
        own: Option<&mut dyn Parameters>,
        grads: &mut Gradients,
    );
}

/// What a training step produced.
pub struct StepOutput {
    /// The batch's mean output loss, `[1]` (left on the device; read it when needed).
    pub loss: Tensor<1>,
    /// The prediction on the batch, `[batch, outputs]`, when the step produces one.
    pub output: Option<Tensor<2>>,
    /// A gradient (or update direction) for every parameter the rule trains: the net's and
    /// the rule's own (decoders).
    pub grads: Gradients,
}

/// A way of training a net. It owns whatever tensors it needs besides the net (feedback
/// matrices, projections, decoders) and exposes them through [`Parameters`], so they are
/// saved with the weights and the trainable ones get an optimizer.
pub trait LearningRule: Parameters + Send {
    /// The rule's name, e.g. `dfa`, or the per-block list `dfa,dfa,backprop`.
    fn name(&self) -> String;

    /// Runs the forward pass it needs and returns the gradients of one step.
    fn step(&mut self, net: &mut Net, batch: &Batch, ctx: &mut StepContext<'_>) -> StepOutput;

    /// The prediction for inputs `x` in evaluation mode.
    ///
    /// # Shapes
    /// `x`: `[batch, inputs]` → `[batch, outputs]`.
    fn predict(&self, net: &Net, x: Tensor<2>) -> Tensor<2> {
        net.forward_eval(x)
    }

    /// Called after every epoch with that epoch's mean training loss (a layer-wise schedule
    /// moves on here).
    fn end_epoch(&mut self, _epoch: usize) {}

    /// Per-block diagnostics averaged over the steps since the last call, by name (e.g.
    /// `target_distance`), one entry per block (`None` where it does not apply).
    fn take_diagnostics(&mut self) -> BTreeMap<String, Vec<Option<f64>>> {
        BTreeMap::new()
    }

    /// Per block, a fixed feedback matrix and the forward weights it stands in for, of the same
    /// shape `(B, W)`: feedback alignment's `B_{i+1}` against `W_{i+1}`, DFA's and DRTP's `B_i`
    /// against the product `W_L ⋯ W_{i+1}` (empty for rules without feedback matrices).
    fn feedback_pairs(&self, _net: &Net) -> Vec<Option<(Tensor<2>, Tensor<2>)>> {
        Vec::new()
    }

    /// Per block, the scores its own decoder or projection reads from its evaluation-mode
    /// activity (local losses, linear decoders; empty for other rules).
    ///
    /// # Shapes
    /// `x`: `[batch, inputs]` → each `[batch, outputs]`.
    fn block_predictions(&self, _net: &Net, _x: Tensor<2>) -> Vec<Option<Tensor<2>>> {
        Vec::new()
    }

    /// The per-block rules, when every hidden block learns from its own output alone under
    /// the parallel schedule (what layer-parallel training runs); `None` otherwise.
    fn local_blocks(&mut self, _net: &Net) -> Option<&mut [Box<dyn BlockRule>]> {
        None
    }

    /// The rule's own state besides its tensors (a layer-wise schedule's position, a running
    /// baseline), for checkpoints.
    fn state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Continues from what [`LearningRule::state`] gave; an error names what does not fit.
    fn restore(&mut self, _state: &serde_json::Value) -> Result<()> {
        Ok(())
    }
}

/// The rules by config name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Backpropagation: the true gradient.
    #[default]
    Backprop,
    /// Feedback alignment: the error flows down through fixed matrices `B` instead of `Wᵀ`.
    FeedbackAlignment,
    /// Direct feedback alignment: block i receives `e·B_i`.
    Dfa,
    /// Direct random target projection: block i receives `−y*·B_i`.
    Drtp,
    /// A loss on `h_i·P_iᵀ` through a fixed random projection.
    LocalLoss,
    /// A loss through a learned, bias-free linear decoder `D_i`.
    LinearDecoder,
    /// Forward-forward: goodness of positive against negative data, per block.
    ForwardForward,
    /// Target propagation: targets sent down through feedback maps, `t_{i−1} = g_i(t_i)`.
    TargetProp,
    /// Difference target propagation: `t_{i−1} = h_{i−1} + g_i(t_i) − g_i(h_i)`.
    DifferenceTargetProp,
}

impl RuleKind {
    /// The config name.
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::Backprop => "backprop",
            RuleKind::FeedbackAlignment => "feedback_alignment",
            RuleKind::Dfa => "dfa",
            RuleKind::Drtp => "drtp",
            RuleKind::LocalLoss => "local_loss",
            RuleKind::LinearDecoder => "linear_decoder",
            RuleKind::ForwardForward => "forward_forward",
            RuleKind::TargetProp => "target_prop",
            RuleKind::DifferenceTargetProp => "difference_target_prop",
        }
    }

    /// Whether the rule trains the whole net by itself (it cannot be mixed per block).
    pub fn whole_net(&self) -> bool {
        matches!(
            self,
            RuleKind::ForwardForward | RuleKind::TargetProp | RuleKind::DifferenceTargetProp
        )
    }

    /// Whether the net's input carries the label (forward-forward), so that the net has
    /// `features + classes` inputs and no output block.
    pub fn embeds_label(&self) -> bool {
        matches!(self, RuleKind::ForwardForward)
    }
}

/// The rule-specific settings of `[train]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    /// One rule per block (output block included).
    pub rules: Vec<RuleKind>,
    /// Fixed feedback / projection matrices.
    pub feedback: FeedbackSettings,
    /// Parallel or sequential layer-wise schedule (local rules).
    pub layerwise: Layerwise,
    /// Epoch budget per block in the sequential schedule.
    pub layer_epochs: usize,
    /// Forward-forward's goodness threshold.
    pub ff_threshold: f32,
    /// Forward-forward's sharpness α: the loss is `softplus(α(θ − g⁺)) + softplus(α(g⁻ − θ))`.
    pub ff_sharpness: f32,
    /// Target propagation's settings.
    pub target_prop: TargetPropSettings,
}

/// Builds the rule for `net`, drawing its fixed matrices from `rng`.
pub fn build(
    settings: &RuleSettings,
    net: &Net,
    task: Task,
    rng: &mut Rng,
) -> Result<Box<dyn LearningRule>> {
    let blocks = net.blocks.len();
    if let Some(whole) = settings.rules.iter().find(|r| r.whole_net()) {
        if settings.rules.iter().any(|r| r != whole) {
            return Err(Error::config(
                "train.rules",
                format!("{} trains the whole net and cannot be mixed", whole.name()),
            ));
        }
        return match whole {
            RuleKind::TargetProp | RuleKind::DifferenceTargetProp => Ok(Box::new(TargetProp::new(
                net,
                *whole == RuleKind::DifferenceTargetProp,
                settings.target_prop.clone(),
                settings.feedback.init,
                rng,
            )?)),
            _ if task.problem == Problem::Reconstruction => Err(Error::config(
                "train.problem",
                "forward_forward has no reconstruction variant (it needs class labels)",
            )),
            _ => Ok(Box::new(ForwardForward::new(
                task,
                settings.ff_threshold,
                settings.ff_sharpness,
            ))),
        };
    }
    if settings.rules.len() != blocks {
        return Err(Error::config(
            "train.rules",
            format!(
                "{} rules given, the network has {blocks} blocks (output block included)",
                settings.rules.len()
            ),
        ));
    }
    let mut per_block: Vec<Box<dyn BlockRule>> = Vec::with_capacity(blocks - 1);
    for (index, kind) in settings.rules[..blocks - 1].iter().enumerate() {
        let activation = net.blocks[index].spec.activation;
        let rule: Box<dyn BlockRule> = match kind {
            RuleKind::Backprop => Box::new(Backprop),
            RuleKind::FeedbackAlignment => {
                Box::new(FeedbackAlignment::new(net, index, &settings.feedback, rng))
            }
            RuleKind::Dfa => Box::new(Dfa::new(net, index, task, &settings.feedback, rng)),
            RuleKind::Drtp => {
                if task.problem == Problem::Reconstruction {
                    return Err(Error::config(
                        "train.problem",
                        "drtp projects the class target and has no reconstruction variant",
                    ));
                }
                if activation.is_unbounded() {
                    eprintln!(
                        "warning: drtp with the unbounded activation `{activation}` on block \
                         {index}: its fixed target projections can drive units without limit; \
                         tanh or sigmoid are the usual choices"
                    );
                }
                Box::new(Drtp::new(net, index, task, &settings.feedback, rng))
            }
            RuleKind::LocalLoss => {
                Box::new(LocalLoss::new(net, index, task, &settings.feedback, rng))
            }
            RuleKind::LinearDecoder => Box::new(LinearDecoder::new(
                net,
                index,
                task,
                &settings.feedback,
                rng,
            )),
            RuleKind::ForwardForward | RuleKind::TargetProp | RuleKind::DifferenceTargetProp => {
                unreachable!("whole-net rules are handled above")
            }
        };
        per_block.push(rule);
    }
    Ok(Box::new(Layered::new(
        per_block,
        settings.layerwise,
        settings.layer_epochs,
        blocks,
    )))
}
