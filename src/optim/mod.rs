//! Optimizers and learning-rate schedules. SGD (with momentum), Adam, AdamW and RMSprop are
//! burn's; Rprop is ours ([`rprop`]). An [`ParamOptimizer`] steps one group of parameters (a net,
//! or a rule's own feedback network), so every group can have its own optimizer and schedule.

pub mod fused_adam;
pub mod rprop;

use std::collections::BTreeMap;

use burn::lr_scheduler::constant::ConstantLr;
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::lr_scheduler::step::StepLrSchedulerConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{
    AdamConfig, AdamWConfig, Optimizer, RecordState, RmsPropConfig, SgdConfig, StateSink,
    StateSource,
};
use burn::tensor::{Device, Tensor};
use burn_pack::Scalar;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::net::{Gradients, Parameters};
use fused_adam::FusedAdam;
use rprop::Rprop;

/// Which optimizer updates a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Stochastic gradient descent, with momentum when `momentum > 0`.
    Sgd,
    /// Adam (β = 0.9, 0.999; ε = 1e-8 as in PyTorch).
    #[default]
    Adam,
    /// Adam with decoupled weight decay.
    Adamw,
    /// RMSprop (α = 0.99, ε = 1e-8), with momentum when `momentum > 0`.
    Rmsprop,
    /// Resilient backpropagation (sign-based, per-element step sizes).
    Rprop,
}

/// How the learning rate changes over iterations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// The learning rate never changes.
    #[default]
    Constant,
    /// Multiplied by `gamma` every `step_every` iterations.
    Step,
    /// Cosine annealing from `lr` to `min_lr` over the whole run.
    Cosine,
}

/// Everything needed to build a group's optimizer and schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerSettings {
    /// The optimizer.
    pub kind: OptimizerKind,
    /// Initial learning rate (Rprop: initial step size).
    pub lr: f64,
    /// Momentum for SGD and RMSprop (0 = none).
    pub momentum: f64,
    /// Weight decay (L2 for SGD/Adam/RMSprop; decoupled for AdamW).
    pub weight_decay: f64,
    /// The schedule.
    pub schedule: ScheduleKind,
    /// Step schedule: iterations between decays.
    pub step_every: usize,
    /// Step schedule: decay factor.
    pub gamma: f64,
    /// Cosine schedule: final learning rate.
    pub min_lr: f64,
    /// Cosine schedule: iterations of the whole run.
    pub total_iterations: usize,
}

/// A scalar of an optimizer's state (e.g. Adam's step count), as a checkpoint stores it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateScalar {
    /// A float.
    Float(f64),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A flag.
    Bool(bool),
}

/// An optimizer group's state, for checkpoints: the tensors it keeps per parameter (moments,
/// step sizes) by leaf name, and its scalars.
#[derive(Debug, Clone, Default)]
pub struct OptimizerState {
    /// Names of the parameters that have state.
    pub params: Vec<String>,
    /// State tensors, `{param}.{leaf}` → tensor.
    pub tensors: Vec<(String, Tensor<2>)>,
    /// State scalars, `{param}.{leaf}` → value.
    pub scalars: BTreeMap<String, StateScalar>,
}

/// Updates one tensor from its gradient, keeping per-tensor state by name.
trait ParamStepper: Send {
    fn step(&mut self, name: &str, lr: f64, value: Tensor<2>, grad: Tensor<2>) -> Tensor<2>;

    /// Every parameter's state.
    fn save(&self, device: &Device) -> OptimizerState;

    /// Replaces the state with `state`'s; false if a parameter's state is incomplete.
    fn load(&mut self, state: &OptimizerState) -> bool;
}

struct BurnStepper<O: Optimizer> {
    optimizer: O,
    states: BTreeMap<String, O::State<2>>,
}

impl<O: Optimizer> ParamStepper for BurnStepper<O> {
    fn step(&mut self, name: &str, lr: f64, value: Tensor<2>, grad: Tensor<2>) -> Tensor<2> {
        let state = self.states.remove(name);
        let (value, state) = self.optimizer.step(lr, value, grad, state);
        if let Some(state) = state {
            self.states.insert(name.to_string(), state);
        }
        value
    }

    fn save(&self, device: &Device) -> OptimizerState {
        let mut sink = StateSink::default();
        for (name, state) in &self.states {
            state.state_flatten(name, &mut sink);
        }
        let scalars = sink
            .scalars
            .into_iter()
            .map(|(name, value)| {
                let value = match value {
                    Scalar::Float(v) => StateScalar::Float(v),
                    Scalar::Int(v) => StateScalar::Int(v),
                    Scalar::UInt(v) => StateScalar::UInt(v),
                    Scalar::Bool(v) => StateScalar::Bool(v),
                };
                (name, value)
            })
            .collect();
        OptimizerState {
            params: self.states.keys().cloned().collect(),
            tensors: sink
                .tensors
                .into_iter()
                .map(|(name, data)| (name, Tensor::<2>::from_data(data, device)))
                .collect(),
            scalars,
        }
    }

    fn load(&mut self, state: &OptimizerState) -> bool {
        let scalars = state
            .scalars
            .iter()
            .map(|(name, value)| {
                let value = match *value {
                    StateScalar::Float(v) => Scalar::Float(v),
                    StateScalar::Int(v) => Scalar::Int(v),
                    StateScalar::UInt(v) => Scalar::UInt(v),
                    StateScalar::Bool(v) => Scalar::Bool(v),
                };
                (name.clone(), value)
            })
            .collect();
        let mut source = StateSource::new(scalars);
        for (name, tensor) in &state.tensors {
            source.insert_tensor(name.clone(), tensor.to_data());
        }
        self.states.clear();
        for name in &state.params {
            let device = state
                .tensors
                .first()
                .map_or_else(crate::backend::device, |(_, t)| t.device());
            match O::State::<2>::state_unflatten(name, &mut source, &device) {
                Some(param_state) => {
                    self.states.insert(name.clone(), param_state);
                }
                None => return false,
            }
        }
        true
    }
}

fn stepper<O: Optimizer>(optimizer: O) -> Box<dyn ParamStepper> {
    Box::new(BurnStepper {
        optimizer,
        states: BTreeMap::new(),
    })
}

/// An optimizer and a schedule for one group of parameters.
pub struct ParamOptimizer {
    stepper: Box<dyn ParamStepper>,
    schedule: ModuleLrScheduler,
    lr: f64,
    steps: usize,
}

impl ParamOptimizer {
    /// Builds the group's optimizer; `key` names the config section in errors.
    pub fn new(settings: &OptimizerSettings, key: &str) -> Result<Self> {
        let decay = (settings.weight_decay > 0.0)
            .then(|| WeightDecayConfig::new(settings.weight_decay as f32));
        let momentum = settings.momentum;
        let stepper = match settings.kind {
            OptimizerKind::Sgd => stepper(
                SgdConfig::new()
                    .with_weight_decay(decay)
                    .with_momentum((momentum > 0.0).then(|| {
                        MomentumConfig::new()
                            .with_momentum(momentum)
                            .with_dampening(0.0)
                    }))
                    .build(),
            ),
            OptimizerKind::Adam if crate::backend::is_cpu() => {
                let penalty = (settings.weight_decay > 0.0).then_some(settings.weight_decay as f32);
                stepper(FusedAdam::new(penalty))
            }
            OptimizerKind::Adam => stepper(
                AdamConfig::new()
                    .with_epsilon(1e-8)
                    .with_weight_decay(decay)
                    .build(),
            ),
            OptimizerKind::Adamw => stepper(
                AdamWConfig::new()
                    .with_epsilon(1e-8)
                    .with_weight_decay(settings.weight_decay as f32)
                    .build(),
            ),
            OptimizerKind::Rmsprop => stepper(
                RmsPropConfig::new()
                    .with_epsilon(1e-8)
                    .with_momentum(momentum as f32)
                    .with_weight_decay(decay)
                    .build(),
            ),
            OptimizerKind::Rprop => stepper(Rprop::default()),
        };
        let schedule = match settings.schedule {
            ScheduleKind::Constant => ModuleLrScheduler::new(ConstantLr::from(settings.lr)),
            ScheduleKind::Step => StepLrSchedulerConfig::new(settings.lr, settings.step_every)
                .with_gamma(settings.gamma)
                .init()
                .map_err(|e| Error::config(format!("{key}.step_every"), e))?,
            ScheduleKind::Cosine => {
                CosineAnnealingLrSchedulerConfig::new(settings.lr, settings.total_iterations.max(1))
                    .with_min_lr(settings.min_lr)
                    .init()
                    .map_err(|e| Error::config(format!("{key}.min_lr"), e))?
            }
        };
        Ok(Self {
            stepper,
            schedule,
            lr: settings.lr,
            steps: 0,
        })
    }

    /// Starts an iteration: the schedule moves on; returns the iteration's learning rate.
    /// [`ParamOptimizer::apply`] then steps the parameters, in one call or group by group.
    pub fn advance(&mut self) -> f64 {
        self.lr = self.schedule.step().base();
        self.steps += 1;
        self.lr
    }

    /// Steps every trainable tensor of `model` that has a gradient in `grads` (taking it out)
    /// at the current iteration's learning rate, without moving the schedule.
    pub fn apply(&mut self, model: &mut dyn Parameters, grads: &mut Gradients) {
        self.apply_at(self.lr, model, grads);
    }

    /// As [`ParamOptimizer::apply`], at learning rate `lr` (an earlier iteration's, when
    /// blocks of several iterations learn at once).
    pub fn apply_at(&mut self, lr: f64, model: &mut dyn Parameters, grads: &mut Gradients) {
        let stepper = &mut self.stepper;
        model.visit_mut(&mut |name, slot, value| {
            if !slot.trainable {
                return;
            }
            if let Some(grad) = grads.remove(name) {
                // Owned, not cloned: an unshared CPU tensor is updated in place.
                let owned = std::mem::replace(value, Tensor::empty([0, 0], &value.device()));
                *value = stepper.step(name, lr, owned, grad);
            }
        });
    }

    /// The learning rate of the last step.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The per-parameter state (for a checkpoint).
    pub fn state(&self, device: &Device) -> OptimizerState {
        self.stepper.save(device)
    }

    /// Continues from a checkpoint: `state` as [`ParamOptimizer::state`] gave it, after
    /// `steps` steps (the schedule moves on by as many). False if the state is incomplete.
    pub fn restore(&mut self, state: &OptimizerState, steps: usize) -> bool {
        for _ in self.steps..steps {
            self.lr = self.schedule.step().base();
        }
        self.steps = steps;
        self.stepper.load(state)
    }
}
