//! Checkpoints: everything a [`Trainer`](crate::engine::Trainer) needs to continue exactly —
//! the net's and the rule's tensors, both optimizers' state (moments, step sizes) as tensors
//! `optimizer.{group}.{param}.{leaf}`, and in the safetensors header's `checkpoint` entry
//! (JSON) the counters, the random streams' positions, the rule's own state and whatever the
//! caller keeps beside it (a run keeps its config and the metrics so far). A run started
//! again continues from it and ends bit-identical to one never stopped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io;
use crate::net::weights::{self, WeightsFile};
use crate::net::{Net, Parameters, Slot};
use crate::optim::{OptimizerState, ParamOptimizer, StateScalar};
use crate::rng::RngState;
use crate::rule::LearningRule;

/// The checkpoint's file name inside a run directory.
pub const FILE: &str = "checkpoint.safetensors";

/// The header entry holding the JSON part.
const KEY: &str = "checkpoint";

/// One optimizer group's bookkeeping (its tensors live in the file's tensors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerProgress {
    /// Steps taken.
    pub steps: usize,
    /// Parameters that have state.
    pub params: Vec<String>,
    /// Scalar state leaves.
    pub scalars: BTreeMap<String, StateScalar>,
}

/// Where a trainer stood: its counters, streams and the rule's and optimizers' bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Epochs finished.
    pub epoch: usize,
    /// Iterations so far.
    pub iteration: usize,
    /// The training stream (dropout, samples, redrawn feedback).
    pub rng: RngState,
    /// The data-order stream.
    pub order_rng: RngState,
    /// The rule's own state.
    pub rule: serde_json::Value,
    /// The optimizer groups: the net's, then the rule's.
    pub optimizers: Vec<OptimizerProgress>,
}

/// The JSON part of a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    trainer: TrainerState,
    run: serde_json::Value,
}

/// A checkpoint in memory: the safetensors bytes and their parsed header.
pub struct Checkpoint {
    header: Header,
    bytes: Vec<u8>,
    /// Where it was read from (`<memory>` for a fresh one), for error messages.
    origin: PathBuf,
}

/// Named tensors (optimizer state) seen as parameters, to save them beside the weights.
struct StateTensors(Vec<(String, Tensor<2>)>);

impl Parameters for StateTensors {
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {
        for (name, tensor) in &mut self.0 {
            f(name, Slot::FIXED_MATRIX, tensor);
        }
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {
        for (name, tensor) in &self.0 {
            f(name, Slot::FIXED_MATRIX, tensor);
        }
    }
}

/// The checkpoint's path in run directory `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

impl Checkpoint {
    /// Captures `net`, `rule` and `optimizers` with `state` (its `optimizers` are filled in
    /// here) and the caller's `run` record.
    pub(crate) fn capture(
        mut state: TrainerState,
        run: serde_json::Value,
        net: &Net,
        rule: &dyn LearningRule,
        optimizers: &[&ParamOptimizer],
        device: &Device,
    ) -> Self {
        let mut tensors = Vec::new();
        state.optimizers.clear();
        for (group, optimizer) in optimizers.iter().enumerate() {
            let saved = optimizer.state(device);
            for (name, tensor) in saved.tensors {
                tensors.push((format!("optimizer.{group}.{name}"), tensor));
            }
            state.optimizers.push(OptimizerProgress {
                steps: optimizer.steps(),
                params: saved.params,
                scalars: saved.scalars,
            });
        }
        let header = Header {
            trainer: state,
            run,
        };
        let text = serde_json::to_string(&header).expect("checkpoints serialise");
        let metadata = BTreeMap::from([(KEY.to_string(), text)]);
        let bytes = weights::to_bytes(&[net, rule, &StateTensors(tensors)], &metadata);
        Self {
            header,
            bytes,
            origin: PathBuf::from("<memory>"),
        }
    }

    /// Writes the checkpoint to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        io::write_atomic(path, &self.bytes)
    }

    /// Reads a checkpoint file; an error names what does not parse.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = io::read(path)?;
        let file = WeightsFile::parse(&bytes, path)?;
        let text = file
            .metadata(KEY)
            .ok_or_else(|| Error::weights(path, "no checkpoint entry in the header"))?;
        let header: Header =
            serde_json::from_str(text).map_err(|e| Error::weights(path, e.to_string()))?;
        Ok(Self {
            header,
            bytes,
            origin: path.to_path_buf(),
        })
    }

    /// The trainer's counters and streams.
    pub fn state(&self) -> &TrainerState {
        &self.header.trainer
    }

    /// The caller's record stored with it.
    pub fn run(&self) -> &serde_json::Value {
        &self.header.run
    }

    /// Puts the tensors into `net`, `rule` and `optimizers` and the rule's state into `rule`.
    pub(crate) fn restore_into(
        &self,
        net: &mut Net,
        rule: &mut dyn LearningRule,
        optimizers: &mut [&mut ParamOptimizer],
        device: &Device,
    ) -> Result<()> {
        let file = WeightsFile::parse(&self.bytes, &self.origin)?;
        file.load_into(net)?;
        file.load_into(rule)?;
        let state = self.state();
        rule.restore(&state.rule)?;
        let broken = |what: String| Error::weights(&self.origin, what);
        if state.optimizers.len() != optimizers.len() {
            return Err(broken("optimizer groups do not match".into()));
        }
        for (group, (optimizer, saved)) in optimizers.iter_mut().zip(&state.optimizers).enumerate()
        {
            let prefix = format!("optimizer.{group}.");
            let tensors = file
                .names()
                .filter_map(|name| {
                    let leaf = name.strip_prefix(&prefix)?;
                    Some((leaf.to_string(), file.matrix(name, device)?))
                })
                .collect();
            let optimizer_state = OptimizerState {
                params: saved.params.clone(),
                tensors,
                scalars: saved.scalars.clone(),
            };
            if !optimizer.restore(&optimizer_state, saved.steps) {
                return Err(broken(format!(
                    "optimizer group {group}'s state is incomplete"
                )));
            }
        }
        Ok(())
    }
}
