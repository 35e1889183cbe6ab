//! Learning rules. Every rule gives each block its own signal and turns it into parameter
//! gradients; the training loop, the data and the optimizers are shared.
//!
//! Most rules are *per block*: they say which signal reaches one hidden block's output, and
//! implement either [`LocalRule`] (the signal needs only the block's own output) or
//! [`ChainedRule`] (it needs the output error or the block above); [`Layered`] runs the step
//! for a stack of them, so rules can be mixed per block (`train.rules = ["dfa", "dfa",
//! "backprop"]`). Whole-net rules (forward-forward, target propagation) implement
//! [`LearningRule`] directly. Every rule is looked up by name in the [`registry`]: a new
//! built-in rule is its own file plus one line in `builtin.rs`, and a rule from another crate
//! registers the same way ([`register_chained`], [`register_local`], [`register_net`]).

pub mod adaptive;
mod backprop;
mod block_rule;
mod builtin;
mod dfa;
mod drtp;
mod feedback;
mod feedback_alignment;
mod forward_forward;
mod layered;
mod linear_decoder;
mod local_loss;
pub mod registry;
mod target_prop;

pub use backprop::Backprop;
pub use block_rule::{BlockRule, ChainedRule, LocalRule, Signal, SignalContext};
pub use dfa::Dfa;
pub use drtp::Drtp;
pub use feedback::{FeedbackSettings, FeedbackVariant, NamedMatrix, forward_path};
pub use feedback_alignment::FeedbackAlignment;
pub use forward_forward::ForwardForward;
pub use layered::{Layered, Layerwise, learn_hidden_block, learn_output_block};
pub use linear_decoder::LinearDecoder;
pub use local_loss::LocalLoss;
pub use registry::{
    BuildContext, ModelCheck, ModelView, NoSettings, Registration, RuleKind, register,
    register_chained, register_local, register_net,
};
pub use target_prop::{FeedbackPass, Inverse, ReconstructionLoss, TargetProp, TargetPropSettings};

use std::collections::BTreeMap;

use burn::tensor::Tensor;

use crate::error::{Error, Result};
use crate::net::{BlockParams, Gradients, Net, Parameters};
use crate::rng::Rng;
pub use crate::task::Batch;
use crate::task::Task;
use registry::Built;

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

    /// The hidden block learning now when blocks learn one after another (the sequential
    /// layer-wise schedule; `None` otherwise).
    fn learning_block(&self) -> Option<usize> {
        None
    }

    /// The per-block rules, when every hidden block learns from its own output alone under
    /// the parallel schedule (what layer-parallel training runs); `None` otherwise.
    fn local_blocks(&mut self, _net: &Net) -> Option<Vec<&mut dyn LocalRule>> {
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

/// The rule-specific settings of `[train]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSettings {
    /// One registered rule name per block (output block included).
    pub rules: Vec<String>,
    /// Fixed feedback / projection matrices.
    pub feedback: FeedbackSettings,
    /// Parallel or sequential layer-wise schedule (local rules).
    pub layerwise: Layerwise,
    /// Epoch budget per block in the sequential schedule.
    pub layer_epochs: usize,
    /// κ of the adaptive schedule ([`adaptive`]).
    pub adaptive_strength: f32,
    /// Forward-forward's goodness threshold.
    pub ff_threshold: f32,
    /// Forward-forward's sharpness α: the loss is `softplus(α(θ − g⁺)) + softplus(α(g⁻ − θ))`.
    pub ff_sharpness: f32,
    /// Target propagation's settings.
    pub target_prop: TargetPropSettings,
    /// The sections of rules registered from outside the crate, by rule name (`[name]`).
    pub sections: BTreeMap<String, toml::Table>,
}

impl Default for RuleSettings {
    fn default() -> Self {
        Self {
            rules: vec!["backprop".into(); 2],
            feedback: FeedbackSettings::default(),
            layerwise: Layerwise::Parallel,
            layer_epochs: 1,
            adaptive_strength: 1.0,
            ff_threshold: 2.0,
            ff_sharpness: 1.0,
            target_prop: TargetPropSettings::default(),
            sections: BTreeMap::new(),
        }
    }
}

impl RuleSettings {
    /// The same rule for each of `blocks` blocks (output block included), other settings at
    /// their defaults.
    pub fn uniform(rule: &str, blocks: usize) -> Self {
        Self {
            rules: vec![rule.to_string(); blocks],
            ..Self::default()
        }
    }

    /// One rule per block (output block included), other settings at their defaults.
    pub fn per_block(rules: &[&str]) -> Self {
        Self {
            rules: rules.iter().map(|r| r.to_string()).collect(),
            ..Self::default()
        }
    }
}

impl RuleSettings {
    /// Whether the net's input carries the label (forward-forward).
    pub fn embeds_label(&self) -> bool {
        registry::any_net_rule(&self.rules, |embeds_label, _| embeds_label)
    }
}

/// Runs every named rule's model check (see [`registry::ModelView`]) on blocks `specs`.
pub fn check_model(
    settings: &RuleSettings,
    specs: &[crate::net::BlockSpec],
    problem: crate::task::Problem,
) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for name in &settings.rules {
        if seen.contains(&name.as_str()) {
            continue;
        }
        seen.push(name);
        registry::check_model(&registry::ModelView {
            name,
            specs,
            settings,
            problem,
        })?;
    }
    Ok(())
}

/// Builds the rule for `net` from the registry, drawing its fixed matrices from `rng`: one
/// whole-net rule, or a stack of per-block rules (the output block learns from the output
/// loss whatever its entry names).
pub fn build(
    settings: &RuleSettings,
    net: &Net,
    task: Task,
    rng: &mut Rng,
) -> Result<Box<dyn LearningRule>> {
    let rule = build_rule(settings, net, task, rng)?;
    match crate::net::weights::duplicate_name(&[net, rule.as_ref()]) {
        Some(name) => Err(Error::config(
            "train.rules",
            format!(
                "two tensors would be named `{name}` ({}): every tensor a rule owns needs a \
                 name of its own",
                settings.rules.join(", ")
            ),
        )),
        None => Ok(rule),
    }
}

/// [`build`] before the check that every tensor's name is unique.
fn build_rule(
    settings: &RuleSettings,
    net: &Net,
    task: Task,
    rng: &mut Rng,
) -> Result<Box<dyn LearningRule>> {
    let blocks = net.blocks.len();
    check_model(
        settings,
        &net.blocks
            .iter()
            .map(|b| b.spec().clone())
            .collect::<Vec<_>>(),
        task.problem,
    )?;
    let kinds = settings
        .rules
        .iter()
        .map(|r| registry::kind(r, "train.rule"))
        .collect::<Result<Vec<_>>>()?;
    if let Some(whole) = kinds.iter().position(|k| matches!(k, RuleKind::Net { .. })) {
        let name = &settings.rules[whole];
        if settings.rules.iter().any(|r| r != name) {
            return Err(Error::config(
                "train.rules",
                format!("{name} trains the whole net and cannot be mixed"),
            ));
        }
        let mut ctx = BuildContext {
            index: 0,
            net,
            task,
            settings,
            rng,
        };
        return match registry::build(name, &mut ctx, settings.sections.get(name))? {
            Built::Net(rule) => Ok(rule),
            Built::Local(_) | Built::Chained(_) => unreachable!("registered as a whole-net rule"),
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
    let mut per_block = Vec::with_capacity(blocks - 1);
    for (index, name) in settings.rules[..blocks - 1].iter().enumerate() {
        let mut ctx = BuildContext {
            index,
            net,
            task,
            settings,
            rng,
        };
        per_block.push(
            match registry::build(name, &mut ctx, settings.sections.get(name))? {
                Built::Local(rule) => BlockRule::Local(rule),
                Built::Chained(rule) => BlockRule::Chained(rule),
                Built::Net(_) => unreachable!("whole-net rules are handled above"),
            },
        );
    }
    Ok(Box::new(
        Layered::new(
            per_block,
            settings.rules[..blocks - 1].to_vec(),
            settings.layerwise,
            settings.layer_epochs,
            blocks,
        )
        .with_adaptive_strength(settings.adaptive_strength),
    ))
}
