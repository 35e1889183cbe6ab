//! What a playground session trains: the page's whole state (data, net, rules, optimizer,
//! seeds), read from its URL or a JSON body, checked, and turned into an
//! [`ExperimentConfig`] — so a playground net is exactly the net a `plasticity train` of the
//! same settings builds.

use serde::{Deserialize, Serialize};

use crate::data::synthetic::Synthetic;
use crate::error::{Error, Result};
use crate::experiment::ExperimentConfig;
use crate::experiment::config::set_path;

/// At most this many hidden blocks on the playground.
pub const MAX_BLOCKS: usize = 8;
/// At most this many units in a playground block.
pub const MAX_UNITS: usize = 64;
/// At most this many samples drawn for a playground data set.
pub const MAX_SAMPLES: usize = 5_000;

/// The state of a playground page: everything a run depends on, seeds included, so the same
/// spec always trains the same weights on the same batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlaygroundSpec {
    /// A 2-D synthetic set: `signed_xor`, `xor`, `circles`, `moons`, `spirals`, `gaussians`.
    pub dataset: String,
    /// The set's noise (its own default when absent).
    pub noise: Option<f64>,
    /// Points drawn, train and test together.
    pub samples: usize,
    /// Fraction of the points used for training, in `[0.1, 0.9]`; the rest are the test set.
    pub train_ratio: f64,
    /// Seed of the points and the split ("regenerate" draws a new one).
    pub data_seed: u64,
    /// Units per hidden block (none: a linear classifier).
    pub hidden: Vec<usize>,
    /// Each hidden block's activation (one entry: every block's), e.g. `tanh`, `sign`,
    /// `stochastic_binary`.
    pub activation: Vec<String>,
    /// Each hidden block's gradient estimator for hard units (one entry: every block's):
    /// `ste`, `ste_clipped`, `ste_sigmoid`, `reinforce`, `concrete`.
    pub estimator: Vec<String>,
    /// The rule: one name (`dfa`) or one per block, output included (`backprop,dfa,dfa`).
    pub rule: String,
    /// Compare mode: the second rule (same syntax), trained from the same initial weights on
    /// the same batches.
    pub compare: Option<String>,
    /// `sgd`, `adam`, `adamw`, `rmsprop`, `rprop`.
    pub optimizer: String,
    /// Learning rate.
    pub lr: f64,
    /// Samples per step.
    pub batch_size: usize,
    /// Seed of the initial weights, feedback matrices, batches and stochastic units.
    pub seed: u64,
}

impl Default for PlaygroundSpec {
    fn default() -> Self {
        Self {
            dataset: "signed_xor".into(),
            noise: None,
            samples: 500,
            train_ratio: 0.5,
            data_seed: 0,
            hidden: vec![8, 8],
            activation: vec!["tanh".into()],
            estimator: vec!["ste".into()],
            rule: "backprop".into(),
            compare: None,
            optimizer: "adam".into(),
            lr: 0.01,
            batch_size: 16,
            seed: 0,
        }
    }
}

impl PlaygroundSpec {
    /// Checks the playground's own bounds (small nets, few points); the rest is checked by
    /// [`ExperimentConfig`]'s validation in [`PlaygroundSpec::config_with`].
    pub fn check(&self) -> Result<()> {
        if Synthetic::find(&self.dataset).is_none() {
            let names: Vec<&str> = crate::data::synthetic::SYNTHETIC
                .iter()
                .map(|s| s.name)
                .collect();
            return Err(Error::config(
                "dataset",
                format!(
                    "`{}` is not a 2-D set (expected one of: {})",
                    self.dataset,
                    names.join(", ")
                ),
            ));
        }
        if !(20..=MAX_SAMPLES).contains(&self.samples) {
            return Err(Error::config(
                "samples",
                format!("{} is not between 20 and {MAX_SAMPLES}", self.samples),
            ));
        }
        if !(0.1..=0.9).contains(&self.train_ratio) {
            return Err(Error::config(
                "train_ratio",
                format!("{} is not between 0.1 and 0.9", self.train_ratio),
            ));
        }
        if self.hidden.len() > MAX_BLOCKS {
            return Err(Error::config(
                "hidden",
                format!("{} blocks: at most {MAX_BLOCKS}", self.hidden.len()),
            ));
        }
        if let Some(&units) = self.hidden.iter().find(|&&u| !(1..=MAX_UNITS).contains(&u)) {
            return Err(Error::config(
                "hidden",
                format!("{units} units: a block has 1 to {MAX_UNITS}"),
            ));
        }
        for (key, list) in [
            ("activation", &self.activation),
            ("estimator", &self.estimator),
        ] {
            if list.is_empty() || (list.len() != 1 && list.len() != self.hidden.len()) {
                return Err(Error::config(
                    key,
                    format!(
                        "{} entries for {} hidden blocks (give one, or one per block)",
                        list.len(),
                        self.hidden.len()
                    ),
                ));
            }
        }
        if !(1..=512).contains(&self.batch_size) {
            return Err(Error::config(
                "batch_size",
                format!("{} is not between 1 and 512", self.batch_size),
            ));
        }
        Ok(())
    }

    /// The experiment this spec runs with `rule` (the spec's own or its comparison's),
    /// validated as any config file is.
    pub fn config_with(&self, rule: &str) -> Result<ExperimentConfig> {
        self.check()?;
        let mut table = toml::Table::new();
        let blocks = self.hidden.len();
        let per_block = |list: &[String]| -> toml::Value {
            let all = if list.len() == 1 {
                vec![list[0].clone(); blocks]
            } else {
                list.to_vec()
            };
            toml::Value::Array(all.into_iter().map(toml::Value::String).collect())
        };
        let int = |v: usize| toml::Value::Integer(v as i64);
        let mut set = |key: &str, value: toml::Value| set_path(&mut table, key, value);
        set("name", "playground".into())?;
        set("seed", toml::Value::Integer(self.seed as i64))?;
        set("data.dataset", self.dataset.clone().into())?;
        set("data.samples", int(self.samples))?;
        if let Some(noise) = self.noise {
            set("data.noise", noise.into())?;
        }
        set("data.test_fraction", (1.0 - self.train_ratio).into())?;
        set("data.validation_fraction", 0.0.into())?;
        set("data.seed", toml::Value::Integer(self.data_seed as i64))?;
        set(
            "model.hidden",
            toml::Value::Array(self.hidden.iter().map(|&u| int(u)).collect()),
        )?;
        if blocks > 0 {
            set("model.activation", per_block(&self.activation))?;
            set("model.estimator", per_block(&self.estimator))?;
        }
        let rules: Vec<&str> = rule.split(',').map(str::trim).collect();
        if rules.len() == 1 {
            set("train.rule", rules[0].into())?;
        } else {
            let list = rules.iter().map(|r| toml::Value::from(*r)).collect();
            set("train.rules", toml::Value::Array(list))?;
        }
        set("train.optimizer", self.optimizer.clone().into())?;
        set("train.lr", self.lr.into())?;
        set("train.batch_size", int(self.batch_size))?;
        set("train.epochs", int(1_000))?;
        ExperimentConfig::from_table(table)
    }

    /// The rules of the session's lanes: the spec's, then its comparison's.
    pub fn lane_rules(&self) -> Vec<String> {
        std::iter::once(self.rule.clone())
            .chain(self.compare.clone().filter(|c| !c.trim().is_empty()))
            .collect()
    }
}
