//! Epoch checkpoints: after every epoch a run writes `checkpoint.safetensors` atomically — the
//! net's and the rule's tensors, both optimizers' state (moments, step sizes) as tensors
//! `optimizer.{group}.{param}.{leaf}`, and in the header's `checkpoint` entry (JSON) the epoch,
//! the random streams' positions, the rule's own state and the metrics so far. A run started
//! again with the same config continues from it and ends bit-identical to one never stopped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::experiment::EpochMetrics;
use crate::experiment::alignment::AlignmentLine;
use crate::net::weights::{self, WeightsFile};
use crate::net::{Net, Parameters, Slot};
use crate::optim::{OptimizerState, ParamOptimizer, StateScalar};
use crate::rng::RngState;
use crate::rule::LearningRule;

/// The checkpoint's file name inside the run directory.
pub const FILE: &str = "checkpoint.safetensors";

/// The header entry holding [`Progress`].
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

/// Where a run stood at the end of an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The run's resolved config (TOML): a checkpoint of another config is not used.
    pub config: String,
    /// Epochs finished.
    pub epoch: usize,
    /// Iterations so far.
    pub iteration: usize,
    /// Seconds spent in training steps so far.
    pub train_seconds: f64,
    /// The training stream (dropout, samples, redrawn feedback).
    pub rng: RngState,
    /// The data-order stream.
    pub order_rng: RngState,
    /// `metrics.jsonl` so far.
    pub history: Vec<EpochMetrics>,
    /// `iterations.jsonl` so far.
    pub iterations: Vec<serde_json::Value>,
    /// `alignment.jsonl` so far.
    pub alignment: Vec<AlignmentLine>,
    /// The rule's own state.
    pub rule: serde_json::Value,
    /// The optimizer groups: the net's, then the rule's.
    pub optimizers: Vec<OptimizerProgress>,
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

/// Writes the checkpoint of `dir` atomically; `progress.optimizers` is filled in here.
pub fn save(
    dir: &Path,
    mut progress: Progress,
    net: &Net,
    rule: &dyn LearningRule,
    optimizers: &[&ParamOptimizer],
    device: &Device,
) -> Result<()> {
    let mut tensors = Vec::new();
    progress.optimizers.clear();
    for (group, optimizer) in optimizers.iter().enumerate() {
        let state = optimizer.state(device);
        for (name, tensor) in state.tensors {
            tensors.push((format!("optimizer.{group}.{name}"), tensor));
        }
        progress.optimizers.push(OptimizerProgress {
            steps: optimizer.steps(),
            params: state.params,
            scalars: state.scalars,
        });
    }
    let header = serde_json::to_string(&progress).expect("progress serialises");
    let metadata = BTreeMap::from([(KEY.to_string(), header)]);
    weights::save(&path(dir), &[net, rule, &StateTensors(tensors)], &metadata)
}

/// The checkpoint in `dir` if there is one for exactly `config` (TOML); a checkpoint of another
/// config, or one that does not parse, is ignored (with a warning) and will be overwritten.
pub fn load(dir: &Path, config: &str) -> Option<(Progress, WeightsFile)> {
    let path = path(dir);
    if !path.is_file() {
        return None;
    }
    let parsed = WeightsFile::read(&path).and_then(|file| {
        let header = file
            .metadata(KEY)
            .ok_or_else(|| Error::weights(&path, "no checkpoint entry in the header"))?;
        let progress: Progress =
            serde_json::from_str(header).map_err(|e| Error::weights(&path, e.to_string()))?;
        Ok((progress, file))
    });
    match parsed {
        Ok((progress, file)) if progress.config == config => Some((progress, file)),
        Ok(_) => None,
        Err(error) => {
            eprintln!("warning: {error}; starting the run from its beginning");
            None
        }
    }
}

/// Puts the checkpoint's tensors into `net`, `rule` and `optimizers` and the rule's state
/// into `rule`.
pub fn restore(
    progress: &Progress,
    file: &WeightsFile,
    net: &mut Net,
    rule: &mut dyn LearningRule,
    optimizers: &mut [&mut ParamOptimizer],
    device: &Device,
) -> Result<()> {
    file.load_into(net)?;
    file.load_into(rule)?;
    rule.restore(&progress.rule)?;
    let broken = |what: String| Error::weights(file.path(), what);
    if progress.optimizers.len() != optimizers.len() {
        return Err(broken("optimizer groups do not match".into()));
    }
    for (group, (optimizer, saved)) in optimizers.iter_mut().zip(&progress.optimizers).enumerate() {
        let prefix = format!("optimizer.{group}.");
        let tensors = file
            .names()
            .filter_map(|name| {
                let leaf = name.strip_prefix(&prefix)?;
                Some((leaf.to_string(), file.matrix(name, device)?))
            })
            .collect();
        let state = OptimizerState {
            params: saved.params.clone(),
            tensors,
            scalars: saved.scalars.clone(),
        };
        if !optimizer.restore(&state, saved.steps) {
            return Err(broken(format!(
                "optimizer group {group}'s state is incomplete"
            )));
        }
    }
    Ok(())
}
