//! Experiment files: TOML with `[data]`, `[model]` and `[train]` sections, every field optional,
//! unknown keys rejected, any field overridable with `--set key=value`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::activation::estimator::EstimatorKind;
use crate::activation::{Activation, Estimator, EvalMode};
use crate::data::DataConfig;
use crate::error::{Error, Result};
use crate::experiment::layers::{self, ArchBlock, BlockLayout, ConvLayout};
use crate::experiment::{limits, located};
use crate::loss::Loss;
use crate::net::{BlockSpec, ConvGeometry, ConvSpec, Init, Volume, shape};
use crate::optim::{OptimizerKind, OptimizerSettings, ScheduleKind};
use crate::rule::{
    self, FeedbackPass, FeedbackSettings, FeedbackVariant, Inverse, Layerwise, ReconstructionLoss,
    RuleKind, RuleSettings, TargetPropSettings,
};
use crate::task::Problem;

/// A whole experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExperimentConfig {
    /// The run's name: results go to `runs/<name>/`.
    pub name: String,
    /// Seed of the initial weights, shuffles, dropout and stochastic units.
    pub seed: u64,
    /// The data.
    pub data: DataConfig,
    /// The network.
    pub model: ModelConfig,
    /// The training.
    pub train: TrainConfig,
    /// Target propagation (rules `target_prop`, `difference_target_prop`).
    pub target_prop: TargetPropConfig,
    /// The settings sections of registered rules from outside the crate (`[kolen_pollack]`),
    /// by rule name, as written (each is checked against its rule's settings type).
    #[serde(skip)]
    pub rule_sections: BTreeMap<String, toml::Table>,
}

/// The top-level keys of the built-in sections; any other top-level table must be named after
/// a registered rule.
const SECTIONS: [&str; 6] = ["name", "seed", "data", "model", "train", "target_prop"];

impl Default for ExperimentConfig {
    fn default() -> Self {
        Self {
            name: "run".into(),
            seed: 0,
            data: DataConfig::default(),
            model: ModelConfig::default(),
            train: TrainConfig::default(),
            target_prop: TargetPropConfig::default(),
            rule_sections: BTreeMap::new(),
        }
    }
}

/// One value for every block, or a list with one value per block.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PerBlock<T> {
    /// The same value everywhere.
    One(T),
    /// One value per block.
    Many(Vec<T>),
}

/// Deserialised by hand (not `untagged`) so that a bad value keeps its own error message.
impl<'de, T: DeserializeOwned> Deserialize<'de> for PerBlock<T> {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let value = toml::Value::deserialize(deserializer)?;
        let result = match value {
            toml::Value::Array(_) => Vec::<T>::deserialize(value).map(PerBlock::Many),
            other => T::deserialize(other).map(PerBlock::One),
        };
        result.map_err(|e| serde::de::Error::custom(e.message()))
    }
}

impl<T: Clone> PerBlock<T> {
    /// The value for each of `count` blocks; a list must have exactly `count` entries.
    pub fn resolve(&self, count: usize, key: &str) -> Result<Vec<T>> {
        match self {
            PerBlock::One(value) => Ok(vec![value.clone(); count]),
            PerBlock::Many(values) if values.len() == count => Ok(values.clone()),
            PerBlock::Many(values) => Err(Error::config(
                key,
                format!("{} values given, the network needs {count}", values.len()),
            )),
        }
    }
}

/// The `[model]` section: the net layer by layer (`layers`), or its shorthand, hidden sizes and
/// what each block is made of. Per-block lists of `activation`, `input_activation`,
/// `batchnorm` and `normalize` have one entry per hidden block; `dropout` has one per block
/// including the output block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// The net layer by layer, e.g. `["linear:300", "batchnorm", "tanh", "dropout:0.2",
    /// "linear"]` (see the `layers` entries in the README); give it or the shorthand below
    /// (`hidden` or `arch` with the per-block keys), not both.
    pub layers: Option<Vec<String>>,
    /// Hidden layer sizes, e.g. `[300, 300, 300]`.
    pub hidden: Option<Vec<usize>>,
    /// The same as a string, `"300-300-300"` (give one of `hidden` and `arch`).
    pub arch: Option<String>,
    /// Hidden activation(s).
    pub activation: PerBlock<Activation>,
    /// Activation applied to each hidden block's input before dropout (`"none"` for none).
    pub input_activation: PerBlock<String>,
    /// The output block's activation (the loss takes its output as logits).
    pub output_activation: Activation,
    /// Dropout rate on each block's input, output block included.
    pub dropout: PerBlock<f64>,
    /// Batchnorm after each hidden block's linear layer.
    pub batchnorm: PerBlock<bool>,
    /// Whether each batchnorm learns its scale and shift (`false`: standardise only, PyTorch's
    /// `affine=False`); learned feedback blocks follow the block they predict.
    pub batchnorm_affine: PerBlock<bool>,
    /// L2-normalise each hidden block's output.
    pub normalize: PerBlock<bool>,
    /// Gradient estimator(s) of hard hidden activations: `none`, `ste`, `ste_clipped`,
    /// `ste_sigmoid`, `reinforce`, `concrete`.
    pub estimator: PerBlock<EstimatorKind>,
    /// The concrete relaxation's temperature τ.
    pub temperature: f64,
    /// Concrete: emit the hard sample forward, differentiate the relaxed one.
    pub straight_through: bool,
    /// Stochastic units in evaluation: `threshold` (1 iff p ≥ 0.5), `sample`, or
    /// `expectation` (the firing probability p itself: mean-field evaluation).
    pub eval_mode: EvalMode,
    /// Weight initialisation.
    pub init: Init,
    /// Scale of the initialisation (see [`Init`]).
    pub init_scale: Option<f64>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            layers: None,
            hidden: None,
            arch: None,
            activation: PerBlock::One(Activation::LeakyRelu { slope: 0.01 }),
            input_activation: PerBlock::One("none".into()),
            output_activation: Activation::Identity,
            dropout: PerBlock::One(0.0),
            batchnorm: PerBlock::One(false),
            batchnorm_affine: PerBlock::One(true),
            normalize: PerBlock::One(false),
            estimator: PerBlock::One(EstimatorKind::Ste),
            temperature: 1.0,
            straight_through: true,
            eval_mode: EvalMode::Threshold,
            init: Init::default(),
            init_scale: None,
        }
    }
}

/// The `[train]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// The learning rule for every block: a registered rule's name (`backprop`, `dfa`, …;
    /// `plasticity rules` lists them).
    pub rule: String,
    /// One rule per block, output block included (overrides `rule`).
    pub rules: Option<Vec<String>>,
    /// What is learned: `classification` or `reconstruction` (of the input, with MSE).
    pub problem: Problem,
    /// Feedback alignment's feedback: `random`, `usf`, `brsf` or `frsf`.
    pub feedback: FeedbackVariant,
    /// Distribution of fixed feedback/projection matrices and initial decoders.
    pub feedback_init: Init,
    /// Its scale (the scheme's default when absent).
    pub feedback_scale: Option<f64>,
    /// Local rules: blocks learn in `parallel`, `sequential`ly, or `adaptive`ly (in parallel,
    /// each input direction of a block as fast as it has settled: [`crate::rule::adaptive`]).
    pub layerwise: Layerwise,
    /// Adaptive schedule: κ, how strongly an input direction's drift slows its learning
    /// (`s = 1 / (1 + κ·excess drift)`; 0 is the parallel schedule).
    pub adaptive_strength: f64,
    /// Sequential schedule: epoch budget per block (default: epochs / blocks).
    pub layer_epochs: Option<usize>,
    /// Forward-forward: goodness threshold θ.
    pub ff_threshold: f64,
    /// Forward-forward: sharpness α of the logistic loss around θ (goodness is a mean, so
    /// `α = units` gives the loss on summed squares).
    pub ff_sharpness: f64,
    /// The output loss; default cross-entropy (BCE needs `output = 1`).
    pub loss: Loss,
    /// Passes over the training split.
    pub epochs: usize,
    /// Samples per mini-batch.
    pub batch_size: usize,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Learning rate.
    pub lr: f64,
    /// Momentum (SGD, RMSprop).
    pub momentum: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// Learning-rate schedule.
    pub schedule: ScheduleKind,
    /// Step schedule: iterations between decays.
    pub step_every: usize,
    /// Step schedule: decay factor.
    pub gamma: f64,
    /// Cosine schedule: final learning rate.
    pub min_lr: f64,
    /// Also log the training loss every N iterations to `iterations.jsonl` (0 = off).
    pub log_every: usize,
    /// Batch size for evaluation passes.
    pub eval_batch_size: usize,
    /// Measure the alignment of the rule's update with the backprop gradient on a fixed probe
    /// batch every N iterations and at the end of every epoch (0 = off).
    pub align_every: usize,
    /// Rows of the probe batch (the first rows of the training split).
    pub align_batch: usize,
    /// Write TensorBoard event files to `<run>/tensorboard/`: the epoch's scalars and each
    /// block's histograms of weights and of the last step's gradients (a sweep's trials also
    /// their hyperparameters).
    pub tensorboard: bool,
    /// Layer-parallel training: the blocks run as this many pipelined stages, one thread
    /// each (0 = off). Rules without a backward chain only (drtp, local_loss,
    /// linear_decoder); each block draws from its own random stream.
    pub pipeline_stages: usize,
    /// CPU threads of the run (0 = every core); with `pipeline_stages`, shared out between the
    /// stages.
    pub threads: usize,
    /// Before every evaluation, re-estimate each batchnorm's running statistics from the
    /// training split as evaluation sees it (no dropout; stochastic units thresholded or
    /// sampled per `model.eval_mode`) instead of keeping those folded in from training
    /// batches, whose inputs were sampled.
    pub recalibrate_batchnorm: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            rule: "backprop".into(),
            rules: None,
            problem: Problem::Classification,
            feedback: FeedbackVariant::Random,
            feedback_init: Init::Lecun,
            feedback_scale: None,
            layerwise: Layerwise::Parallel,
            adaptive_strength: 1.0,
            layer_epochs: None,
            ff_threshold: 2.0,
            ff_sharpness: 1.0,
            loss: Loss::CrossEntropy,
            epochs: 20,
            batch_size: 128,
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            momentum: 0.0,
            weight_decay: 0.0,
            schedule: ScheduleKind::Constant,
            step_every: 1000,
            gamma: 0.1,
            min_lr: 0.0,
            log_every: 0,
            eval_batch_size: 1000,
            align_every: 0,
            tensorboard: false,
            align_batch: 256,
            pipeline_stages: 0,
            threads: 0,
            recalibrate_batchnorm: false,
        }
    }
}

/// What `[target_prop]`'s optimizer trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerScope {
    /// Hidden blocks and their feedback blocks.
    Autoencoders,
    /// Feedback blocks only.
    Feedback,
}

/// The `[target_prop]` section: targets, feedback maps, and the feedback blocks' own optimizer
/// and schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetPropConfig {
    /// Step size of the top hidden block's target, per sample: `t = h − x_lr·∂ℓ/∂h`.
    pub x_lr: f64,
    /// Feedback maps: `learned`, `exact` or `pseudoinverse`.
    pub inverse: Inverse,
    /// Weight of the feedback blocks' reconstruction loss.
    pub rec_weight: f64,
    /// Standard deviation of the noise added to a block's input when training its feedback.
    pub rec_noise: f64,
    /// `plain` or `difference` (DRL) reconstruction loss.
    pub rec_loss: ReconstructionLoss,
    /// Output activation of each learned feedback block `g_i` (i ≥ 1): one value, or one per
    /// hidden block above the first; default: that of the block it predicts.
    pub feedback_activation: Option<PerBlock<Activation>>,
    /// Whether the reconstruction loss also trains the hidden blocks (`f_i` and `g_i` learn as
    /// autoencoders, and block 0 gets a `g_0` reconstructing the data), keeping every `f_i`
    /// invertible; `false` trains only the `g_i` with it. One value, or one per hidden block.
    pub autoencoder: PerBlock<bool>,
    /// Which pass of each hidden block the learned feedback maps invert and targets go down
    /// from: `train` (the training pass, dropout and sampled stochastic inputs) or `evaluation`
    /// (the same input without the noise: no dropout, stochastic inputs as `model.eval_mode`
    /// evaluates them, batchnorm on the batch's statistics).
    pub feedback_pass: FeedbackPass,
    /// Which parameters this section's optimizer and schedule train: `autoencoders` (every
    /// hidden block `f_i` and its feedback `g_i`; the output block keeps `[train]`'s) or
    /// `feedback` (only the `g_i`; the hidden blocks keep `[train]`'s).
    pub scope: OptimizerScope,
    /// The autoencoder (or feedback) blocks' optimizer.
    pub optimizer: OptimizerKind,
    /// Their learning rate.
    pub lr: f64,
    /// Momentum (SGD, RMSprop).
    pub momentum: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// Their schedule.
    pub schedule: ScheduleKind,
    /// Step schedule: iterations between decays.
    pub step_every: usize,
    /// Step schedule: decay factor.
    pub gamma: f64,
    /// Cosine schedule: final learning rate.
    pub min_lr: f64,
}

impl Default for TargetPropConfig {
    fn default() -> Self {
        Self {
            x_lr: 1e-3,
            inverse: Inverse::Learned,
            rec_weight: 1.0,
            rec_noise: 0.0,
            rec_loss: ReconstructionLoss::Plain,
            feedback_activation: None,
            autoencoder: PerBlock::One(true),
            feedback_pass: FeedbackPass::Train,
            scope: OptimizerScope::Autoencoders,
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            momentum: 0.0,
            weight_decay: 0.0,
            schedule: ScheduleKind::Step,
            step_every: 40,
            gamma: 0.9,
            min_lr: 0.0,
        }
    }
}

/// Deserialises a TOML value, naming the dotted key of any error.
fn deserialize<T: DeserializeOwned>(value: toml::Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." {
            "(top level)".into()
        } else {
            path
        };
        let message = e.into_inner().message().replace('\n', " ");
        Error::config(key, crate::suggest::serde_message(&message))
    })
}

/// Parses a `--set key=value` value: a TOML value if it parses as one, else a string.
fn parse_value(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

/// Sets the dotted `key` in `table` to `value`, creating sections as needed.
pub(crate) fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<()> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let leaf = parts
        .pop()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| Error::config(key, "empty key in --set"))?;
    let mut current = table;
    for (depth, part) in parts.iter().enumerate() {
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| Error::config(parts[..=depth].join("."), "is a value, not a section"))?;
    }
    current.insert(leaf.to_string(), value);
    Ok(())
}

/// Reads a TOML file into a table, with a one-line error naming the file and line.
pub fn read_table(path: &Path) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_table(&text, path)
}

/// Parses TOML text into a table; `path` names it in errors.
pub fn parse_table(text: &str, path: &Path) -> Result<toml::Table> {
    toml::from_str::<toml::Table>(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
        let message = e.message().replace('\n', " ");
        Error::ConfigFile {
            path: path.to_path_buf(),
            message: match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            },
        }
    })
}

/// The keys that each describe the whole net's shape; one of them is given.
const NET_KEYS: [&str; 3] = ["hidden", "arch", "layers"];

/// Applies `key=value` overrides to a table. An override describing the net's shape
/// (`model.hidden`, `model.arch` or `model.layers`) replaces the table's own description in
/// another of those keys (`--set model.arch=6c5p2-mp2-120` on a file with `hidden`); two
/// overrides in different keys still clash.
pub fn apply_overrides(table: &mut toml::Table, overrides: &[String]) -> Result<()> {
    let mut parsed = Vec::with_capacity(overrides.len());
    for item in overrides {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| Error::config(item.clone(), "--set needs key=value"))?;
        parsed.push((key.trim(), value.trim()));
    }
    let net_keys: Vec<&str> = parsed
        .iter()
        .filter_map(|(key, _)| key.strip_prefix("model."))
        .filter(|leaf| NET_KEYS.contains(leaf))
        .collect();
    if !net_keys.is_empty()
        && let Some(model) = table.get_mut("model").and_then(toml::Value::as_table_mut)
    {
        model.retain(|key, _| !NET_KEYS.contains(&key) || net_keys.contains(&key));
    }
    for (key, value) in parsed {
        set_path(table, key, parse_value(value))?;
    }
    Ok(())
}

impl ExperimentConfig {
    /// Builds a config from a table (a file's contents plus overrides) and validates it.
    pub fn from_table(mut table: toml::Table) -> Result<Self> {
        let mut rule_sections = BTreeMap::new();
        let custom: Vec<String> = table
            .keys()
            .filter(|k| !SECTIONS.contains(&k.as_str()) && rule::registry::is_registered(k))
            .cloned()
            .collect();
        for key in custom {
            match table.remove(&key) {
                Some(toml::Value::Table(section)) => {
                    rule_sections.insert(key, section);
                }
                _ => {
                    return Err(Error::config(
                        key,
                        "a rule's settings are a section ([name] with keys)",
                    ));
                }
            }
        }
        let mut config: ExperimentConfig = deserialize(toml::Value::Table(table))?;
        config.rule_sections = rule_sections;
        config.validate()?;
        Ok(config)
    }

    /// Reads `path` (or starts from the defaults) and applies `overrides`.
    /// A key's error from the file names the file and the line setting the key.
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Self> {
        let Some(path) = path else {
            let mut table = toml::Table::new();
            apply_overrides(&mut table, overrides)?;
            return Self::from_table(table);
        };
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut table = parse_table(&text, path)?;
        apply_overrides(&mut table, overrides)?;
        Self::from_table(table).map_err(|e| located::in_file(e, path, &text, overrides, &[]))
    }

    /// The config with every default that depends on other keys written out: `model.hidden`
    /// (from `model.arch`), `train.layer_epochs`, a synthetic set's `data.noise`.
    pub fn resolved(&self) -> Self {
        let mut config = self.clone();
        if let Ok(hidden) = self.hidden_sizes() {
            config.train.layer_epochs = Some(
                self.train
                    .layer_epochs
                    .unwrap_or(self.train.epochs.div_ceil(hidden.len() + 1)),
            );
            if self.model.layers.is_none() && !self.has_conv_arch() {
                config.model.hidden = Some(hidden);
                config.model.arch = None;
            }
        }
        if let Some(set) = crate::data::synthetic::Synthetic::find(&self.data.dataset) {
            // Through its shortest decimal form: 0.1, not 0.10000000149011612.
            let default = set.default_noise.to_string().parse().unwrap_or_default();
            let noise = self.data.noise.unwrap_or(default);
            config.data.noise = Some(noise);
        }
        config
    }

    /// The resolved config as TOML text (what every run saves as `config.toml`): every key
    /// with its value, defaults included.
    pub fn to_toml(&self) -> String {
        let mut text = toml::to_string(&self.resolved()).expect("configs serialise to TOML");
        if !self.rule_sections.is_empty() {
            let sections: toml::Table = self
                .rule_sections
                .iter()
                .map(|(k, v)| (k.clone(), toml::Value::Table(v.clone())))
                .collect();
            text.push('\n');
            text.push_str(&toml::to_string(&sections).expect("rule sections serialise"));
        }
        text
    }

    /// Checks values that types alone do not constrain.
    pub fn validate(&self) -> Result<()> {
        if !valid_name(&self.name) {
            return Err(Error::config(
                "name",
                format!(
                    "`{}` is not a plain name (letters, digits, `-`, `_`, `.`): the run's \
                     directory must stay inside --out",
                    self.name
                ),
            ));
        }
        limits::check_numbers(self)?;
        let t = &self.train;
        if t.epochs == 0 {
            return Err(Error::config("train.epochs", "must be at least 1"));
        }
        if t.batch_size == 0 {
            return Err(Error::config("train.batch_size", "must be at least 1"));
        }
        if t.eval_batch_size == 0 {
            return Err(Error::config("train.eval_batch_size", "must be at least 1"));
        }
        if t.schedule == ScheduleKind::Step && t.step_every == 0 {
            return Err(Error::config("train.step_every", "must be at least 1"));
        }
        if t.layer_epochs == Some(0) {
            return Err(Error::config("train.layer_epochs", "must be at least 1"));
        }
        if t.align_every > 0 && t.align_batch == 0 {
            return Err(Error::config("train.align_batch", "must be at least 1"));
        }
        let settings = self.rule_settings()?;
        self.check_rules(&settings.rules)?;
        // Widths of the input and output come from the data; the rules' checks need the rest.
        let volume = self.data.volume_hint();
        self.data.augment(volume)?;
        let inputs = volume.map_or(1, shape::features);
        let specs = self.specs(inputs, volume, None)?;
        rule::check_model(&settings, &specs, t.problem)?;
        if t.recalibrate_batchnorm && !specs.iter().any(|s| s.batchnorm) {
            return Err(Error::config(
                "train.recalibrate_batchnorm",
                "the model has no batchnorm (model.batchnorm) whose statistics it could \
                 re-estimate",
            ));
        }
        if t.recalibrate_batchnorm && settings.embeds_label() {
            return Err(Error::config(
                "train.recalibrate_batchnorm",
                "forward_forward evaluates through its own per-block passes, not the net's",
            ));
        }
        if t.pipeline_stages > 0 {
            self.check_pipeline(&settings.rules)?;
        }
        if t.layerwise == Layerwise::Adaptive {
            self.check_adaptive(&settings.rules)?;
        } else if t.adaptive_strength != TrainConfig::default().adaptive_strength {
            return Err(Error::config(
                "train.adaptive_strength",
                "set without train.layerwise = \"adaptive\"",
            ));
        }
        if settings.embeds_label() && settings.rules.len() < 2 {
            return Err(Error::config(
                if self.model.layers.is_some() {
                    "model.layers"
                } else {
                    "model.hidden"
                },
                "forward_forward trains hidden blocks, and the model has none",
            ));
        }
        if t.align_every > 0 && settings.embeds_label() {
            return Err(Error::config(
                "train.align_every",
                "forward_forward has no output loss whose backprop gradient its updates could \
                 be compared with",
            ));
        }
        Ok(())
    }

    /// Every named rule is registered, its settings section fits it, every section names a
    /// rule the run uses, and no setting is given that the rules would silently ignore.
    fn check_rules(&self, rules: &[String]) -> Result<()> {
        let key = if self.train.rules.is_some() {
            "train.rules"
        } else {
            "train.rule"
        };
        for name in rules {
            if let RuleKind::Net { .. } = rule::registry::kind(name, key)?
                && rules.iter().any(|r| r != name)
            {
                return Err(Error::config(
                    "train.rules",
                    format!("{name} trains the whole net and cannot be mixed"),
                ));
            }
        }
        for (name, section) in &self.rule_sections {
            if !rules.contains(name) {
                return Err(Error::config(
                    name.clone(),
                    format!("settings for the rule `{name}`, which no block uses"),
                ));
            }
            rule::registry::check_section(name, Some(section))?;
        }
        for name in rules {
            if !self.rule_sections.contains_key(name) {
                rule::registry::check_section(name, None)?;
            }
        }
        let uses = |name: &str| rules.iter().any(|r| r == name);
        if self.train.feedback != FeedbackVariant::Random && !uses("feedback_alignment") {
            return Err(Error::config(
                "train.feedback",
                format!(
                    "`{}` is a variant of feedback_alignment, which no block uses",
                    serde_name(&self.train.feedback)
                ),
            ));
        }
        let ff = TrainConfig::default();
        if (self.train.ff_threshold != ff.ff_threshold
            || self.train.ff_sharpness != ff.ff_sharpness)
            && !uses("forward_forward")
        {
            return Err(Error::config(
                "train.ff_threshold",
                "forward-forward settings (ff_threshold, ff_sharpness) without forward_forward",
            ));
        }
        Ok(())
    }

    /// Whether every hidden block can learn from its own output alone, as `what` (keyed by
    /// `key`) needs: a local rule on each (no backward chain) and no REINFORCE estimator.
    fn check_local_blocks(&self, rules: &[String], key: &str, what: &str) -> Result<()> {
        let hidden = &rules[..rules.len() - 1];
        for name in hidden {
            if rule::registry::kind(name, "train.rule")? != RuleKind::Local {
                return Err(Error::config(
                    key,
                    format!(
                        "{what} needs local rules (no backward chain, e.g. drtp, local_loss, \
                         linear_decoder) on every hidden block, not {name}"
                    ),
                ));
            }
        }
        if self
            .model
            .estimator
            .resolve(hidden.len(), "model.estimator")?
            .contains(&EstimatorKind::Reinforce)
        {
            return Err(Error::config(
                key,
                "REINFORCE needs the loss of the whole net, so no block learns from its own \
                 output alone",
            ));
        }
        Ok(())
    }

    /// Whether the adaptive schedule fits: local rules on every hidden block (each block is
    /// stepped as soon as its input is known), no REINFORCE, dense blocks only (a stability per
    /// input column of the weights).
    fn check_adaptive(&self, rules: &[String]) -> Result<()> {
        let key = "train.layerwise";
        self.check_local_blocks(rules, key, "the adaptive schedule")?;
        if self.has_conv() {
            return Err(Error::config(
                key,
                "the adaptive schedule scales a dense block's weight columns; the net has \
                 convolutions",
            ));
        }
        if !(self.train.adaptive_strength.is_finite() && self.train.adaptive_strength >= 0.0) {
            return Err(Error::config(
                "train.adaptive_strength",
                format!(
                    "{} is not a non-negative number",
                    self.train.adaptive_strength
                ),
            ));
        }
        Ok(())
    }

    /// Whether layer-parallel training fits the rules (one per block) and the other settings.
    fn check_pipeline(&self, rules: &[String]) -> Result<()> {
        let t = &self.train;
        let key = "train.pipeline_stages";
        self.check_local_blocks(rules, key, "layer-parallel training")?;
        if t.layerwise != Layerwise::Parallel {
            return Err(Error::config(
                key,
                "layer-parallel training runs the parallel layer-wise schedule only",
            ));
        }
        if t.log_every > 0 || t.align_every > 0 {
            return Err(Error::config(
                key,
                "per-iteration logging (train.log_every, train.align_every) needs one \
                 iteration at a time",
            ));
        }
        if t.pipeline_stages > rules.len() {
            return Err(Error::config(
                key,
                format!(
                    "{} stages for {} blocks (output block included)",
                    t.pipeline_stages,
                    rules.len()
                ),
            ));
        }
        Ok(())
    }

    /// The hidden sizes from `model.layers`, `model.hidden` or `model.arch`.
    pub fn hidden_sizes(&self) -> Result<Vec<usize>> {
        let m = &self.model;
        if let Some(entries) = &m.layers {
            let blocks = layers::read(entries)?;
            let hidden = &blocks[..blocks.len() - 1];
            return Ok(hidden.iter().filter_map(|b| b.outputs).collect());
        }
        let sizes = match (&m.hidden, &m.arch) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "model.arch",
                    "give either model.hidden or model.arch, not both",
                ));
            }
            (Some(hidden), None) => hidden.clone(),
            (None, Some(arch)) => parse_arch(arch)?,
            (None, None) => vec![100],
        };
        if sizes.contains(&0) {
            return Err(Error::config("model.hidden", "a layer cannot have 0 units"));
        }
        Ok(sizes)
    }

    /// The rule of every block (output block included) and the rules' settings.
    pub fn rule_settings(&self) -> Result<RuleSettings> {
        let t = &self.train;
        let blocks = self.hidden_sizes()?.len() + 1;
        let rules = match &t.rules {
            Some(rules) if rules.len() != blocks => {
                return Err(Error::config(
                    "train.rules",
                    format!(
                        "{} rules given, the network has {blocks} blocks (output block included)",
                        rules.len()
                    ),
                ));
            }
            Some(rules) => rules.clone(),
            None => vec![t.rule.clone(); blocks],
        };
        Ok(RuleSettings {
            rules,
            feedback: FeedbackSettings {
                variant: t.feedback,
                init: t.feedback_init,
                scale: t.feedback_scale.map(|s| s as f32),
            },
            layerwise: t.layerwise,
            adaptive_strength: t.adaptive_strength as f32,
            layer_epochs: t.layer_epochs.unwrap_or(t.epochs.div_ceil(blocks)),
            ff_threshold: t.ff_threshold as f32,
            ff_sharpness: t.ff_sharpness as f32,
            target_prop: self.target_prop_settings(blocks - 1)?,
            sections: self.rule_sections.clone(),
        })
    }

    /// Target propagation's settings for a net of `hidden` hidden blocks.
    fn target_prop_settings(&self, hidden: usize) -> Result<TargetPropSettings> {
        let tp = &self.target_prop;
        let feedback_activation = match &tp.feedback_activation {
            Some(per_block) => Some(
                per_block.resolve(hidden.saturating_sub(1), "target_prop.feedback_activation")?,
            ),
            None => None,
        };
        Ok(TargetPropSettings {
            x_lr: tp.x_lr as f32,
            inverse: tp.inverse,
            rec_weight: tp.rec_weight as f32,
            rec_noise: tp.rec_noise as f32,
            rec_loss: tp.rec_loss,
            feedback_activation,
            autoencoder: Some(tp.autoencoder.resolve(hidden, "target_prop.autoencoder")?),
            feedback_pass: tp.feedback_pass,
        })
    }

    /// Every block's description, for a data set of `inputs` features and `outputs` outputs.
    pub fn block_specs(&self, inputs: usize, outputs: usize) -> Result<Vec<BlockSpec>> {
        self.specs(inputs, None, Some(outputs))
    }

    /// Every block's description for samples of `inputs` features that are `volume`s
    /// (`[channels, height, width]`, image data) when given: what convolutions need.
    pub fn block_specs_on(
        &self,
        inputs: usize,
        volume: Option<Volume>,
        outputs: usize,
    ) -> Result<Vec<BlockSpec>> {
        self.specs(inputs, volume, Some(outputs))
    }

    /// Every block's description; the output width is checked against `model.layers` when
    /// known (validation runs before the data is read).
    fn specs(
        &self,
        inputs: usize,
        volume: Option<Volume>,
        outputs: Option<usize>,
    ) -> Result<Vec<BlockSpec>> {
        let layouts = self.block_layouts()?;
        let n = layouts.len() - 1;
        let output_width = match (layouts[n].outputs, outputs) {
            (Some(listed), Some(data)) if listed != data => {
                return Err(Error::config(
                    "model.layers",
                    format!("the last linear layer has {listed} units, the data needs {data}"),
                ));
            }
            (_, Some(data)) => data,
            (listed, None) => listed.unwrap_or(1),
        };
        let estimators = self.estimators(&layouts)?;
        let mut width = inputs;
        let mut volume = volume;
        let mut specs = Vec::with_capacity(layouts.len());
        for (i, layout) in layouts.iter().enumerate() {
            let outputs = layout.outputs.filter(|_| i < n).unwrap_or(output_width);
            let flatten = layouts.get(i + 1).is_some_and(|next| next.conv.is_none());
            let conv = match layout.conv {
                Some(conv) => Some(self.conv_spec(i, conv, volume, flatten)?),
                None => None,
            };
            let spec = BlockSpec {
                inputs: conv.map_or(width, |c| shape::features(c.geometry().input)),
                outputs: conv.map_or(outputs, |c| shape::features(c.output())),
                input_activation: layout.input_activation,
                dropout: layout.dropout,
                batchnorm: layout.batchnorm.is_some(),
                batchnorm_affine: layout.batchnorm.unwrap_or(true),
                activation: layout.activation.unwrap_or(Activation::Identity),
                normalize: layout.normalize,
                estimator: estimators.get(i).copied().unwrap_or(Estimator::Ste),
                eval_mode: self.model.eval_mode,
                conv,
            };
            check_groups(i, &spec)?;
            width = spec.outputs;
            volume = conv.map(|c| c.output());
            specs.push(spec);
        }
        Ok(specs)
    }

    /// Block `index`'s convolution on samples of `volume`; fails when the samples are not
    /// images or the kernel or pool does not fit.
    fn conv_spec(
        &self,
        index: usize,
        conv: ConvLayout,
        volume: Option<Volume>,
        flatten: bool,
    ) -> Result<ConvSpec> {
        let key = self.model_key();
        let Some(input) = volume else {
            return Err(Error::config(
                key,
                format!(
                    "block {index} is a convolution, but data.dataset `{}` has flat samples: \
                     set data.image_shape = [channels, height, width]",
                    self.data.dataset
                ),
            ));
        };
        let geometry = ConvGeometry {
            input,
            channels: conv.channels,
            kernel: conv.kernel,
            stride: conv.stride,
            padding: conv.padding,
        };
        ConvSpec::new(geometry, conv.pool, conv.spatial_dropout, flatten)
            .map_err(|why| Error::config(key, format!("block {index}: {why}")))
    }

    /// The key that describes the net: `model.layers`, else `model.arch`.
    fn model_key(&self) -> &'static str {
        if self.model.layers.is_some() {
            "model.layers"
        } else {
            "model.arch"
        }
    }

    /// Each hidden block's estimator, checked against its activation.
    fn estimators(&self, layouts: &[BlockLayout]) -> Result<Vec<Estimator>> {
        let m = &self.model;
        m.estimator
            .resolve(layouts.len() - 1, "model.estimator")?
            .into_iter()
            .zip(layouts)
            .map(|(kind, layout)| {
                let estimator = Estimator::new(kind, m.temperature as f32, m.straight_through);
                let activation = layout.activation.unwrap_or(Activation::Identity);
                estimator
                    .check(&activation)
                    .map(|()| estimator)
                    .map_err(|message| Error::config("model.estimator", message))
            })
            .collect()
    }

    /// Every block's layout, output block last: `model.layers` read, or the shorthand
    /// (`model.hidden`/`model.arch` and the per-block keys) spelled out.
    fn block_layouts(&self) -> Result<Vec<BlockLayout>> {
        let m = &self.model;
        if let Some(entries) = &m.layers {
            self.check_layers_alone()?;
            return layers::read(entries);
        }
        let hidden = self.hidden_sizes()?;
        let n = hidden.len();
        let activations = m.activation.resolve(n, "model.activation")?;
        let input_activations = m
            .input_activation
            .resolve(n, "model.input_activation")?
            .iter()
            .map(|name| match name.as_str() {
                "none" => Ok(None),
                other => other
                    .parse::<Activation>()
                    .map(Some)
                    .map_err(|e| Error::config("model.input_activation", e)),
            })
            .collect::<Result<Vec<_>>>()?;
        let dropout = m.dropout.resolve(n + 1, "model.dropout")?;
        if let Some(bad) = dropout.iter().find(|d| !(0.0..1.0).contains(*d)) {
            return Err(Error::config(
                "model.dropout",
                format!("{bad} is not a rate in [0, 1)"),
            ));
        }
        let batchnorm = m.batchnorm.resolve(n, "model.batchnorm")?;
        let batchnorm_affine = m.batchnorm_affine.resolve(n, "model.batchnorm_affine")?;
        let normalize = m.normalize.resolve(n, "model.normalize")?;
        let convs = self.arch_convs()?;
        let mut layouts: Vec<BlockLayout> = (0..n)
            .map(|i| BlockLayout {
                outputs: Some(hidden[i]),
                input_activation: input_activations[i],
                dropout: dropout[i] as f32,
                batchnorm: batchnorm[i].then_some(batchnorm_affine[i]),
                activation: Some(activations[i]),
                normalize: normalize[i],
                conv: convs.get(i).copied().flatten(),
            })
            .collect();
        layouts.push(BlockLayout {
            outputs: None,
            input_activation: None,
            dropout: dropout[n] as f32,
            batchnorm: None,
            activation: Some(m.output_activation),
            normalize: false,
            conv: None,
        });
        Ok(layouts)
    }

    /// Per hidden block of `model.arch`, its convolution (none without an arch).
    fn arch_convs(&self) -> Result<Vec<Option<ConvLayout>>> {
        let Some(arch) = &self.model.arch else {
            return Ok(Vec::new());
        };
        Ok(layers::parse_arch(arch)?
            .into_iter()
            .map(|block| match block {
                ArchBlock::Conv(conv) => Some(conv),
                ArchBlock::Linear(_) => None,
            })
            .collect())
    }

    /// Whether `model.arch` has convolutions (it then stays as written in `config.toml`).
    fn has_conv_arch(&self) -> bool {
        self.arch_convs()
            .is_ok_and(|convs| convs.iter().any(Option::is_some))
    }

    /// Whether the net has a convolutional block.
    pub fn has_conv(&self) -> bool {
        self.block_layouts()
            .is_ok_and(|layouts| layouts.iter().any(|l| l.conv.is_some()))
    }

    /// With `model.layers`, the shorthand's keys must be left alone: the list says it all.
    fn check_layers_alone(&self) -> Result<()> {
        let (m, d) = (&self.model, ModelConfig::default());
        let shorthand = [
            ("model.hidden", m.hidden != d.hidden),
            ("model.arch", m.arch != d.arch),
            ("model.activation", m.activation != d.activation),
            (
                "model.input_activation",
                m.input_activation != d.input_activation,
            ),
            (
                "model.output_activation",
                m.output_activation != d.output_activation,
            ),
            ("model.dropout", m.dropout != d.dropout),
            ("model.batchnorm", m.batchnorm != d.batchnorm),
            (
                "model.batchnorm_affine",
                m.batchnorm_affine != d.batchnorm_affine,
            ),
            ("model.normalize", m.normalize != d.normalize),
        ];
        match shorthand.iter().find(|(_, set)| *set) {
            Some((key, _)) => Err(Error::config(
                *key,
                "model.layers describes the whole net; give this in the list instead",
            )),
            None => Ok(()),
        }
    }

    /// The optimizer settings of the rule's own trainable tensors (decoders, feedback
    /// blocks): target propagation's `[target_prop]` optimizer, else the net's.
    pub fn rule_optimizer_settings(&self, total_iterations: usize) -> (OptimizerSettings, &str) {
        if !self.uses_target_prop() {
            return (self.optimizer_settings(total_iterations), "train");
        }
        let tp = &self.target_prop;
        let settings = OptimizerSettings {
            kind: tp.optimizer,
            lr: tp.lr,
            momentum: tp.momentum,
            weight_decay: tp.weight_decay,
            schedule: tp.schedule,
            step_every: tp.step_every,
            gamma: tp.gamma,
            min_lr: tp.min_lr,
            total_iterations,
        };
        (settings, "target_prop")
    }

    /// Whether `[target_prop]`'s optimizer also trains the hidden blocks.
    pub fn rule_optimizer_trains_hidden(&self) -> bool {
        self.uses_target_prop() && self.target_prop.scope == OptimizerScope::Autoencoders
    }

    fn uses_target_prop(&self) -> bool {
        rule::registry::any_net_rule(&self.rule_names(), |_, target_prop| target_prop)
    }

    /// The rules named, per block or for all.
    pub fn rule_names(&self) -> Vec<String> {
        self.train
            .rules
            .clone()
            .unwrap_or_else(|| vec![self.train.rule.clone()])
    }

    /// Whether the net's input carries the label (forward-forward).
    pub fn embeds_label(&self) -> bool {
        rule::registry::any_net_rule(&self.rule_names(), |embeds_label, _| embeds_label)
    }

    /// The forward net's optimizer settings, for a run of `total_iterations`.
    pub fn optimizer_settings(&self, total_iterations: usize) -> OptimizerSettings {
        let t = &self.train;
        OptimizerSettings {
            kind: t.optimizer,
            lr: t.lr,
            momentum: t.momentum,
            weight_decay: t.weight_decay,
            schedule: t.schedule,
            step_every: t.step_every,
            gamma: t.gamma,
            min_lr: t.min_lr,
            total_iterations,
        }
    }
}

/// Whether `name` can name a directory inside another: letters, digits, `-`, `_` and `.`,
/// not empty, not `.` or `..`.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Parses `"300-300-300"` into hidden sizes (a convolution's channel count for each of its
/// blocks: `"6c5p2-mp2-16c5-mp2-120-84"` gives 6, 16, 120, 84).
pub fn parse_arch(arch: &str) -> Result<Vec<usize>> {
    Ok(layers::parse_arch(arch)?
        .iter()
        .map(ArchBlock::width)
        .collect())
}

/// A serde enum's config name (`usf`).
fn serde_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Fails when a categorical unit's groups do not tile block `index`'s units (its own
/// activation) or its inputs (its input activation).
fn check_groups(index: usize, spec: &BlockSpec) -> Result<()> {
    let pairs = [
        (
            "model.activation",
            Some(spec.activation),
            spec.outputs,
            "units",
        ),
        (
            "model.input_activation",
            spec.input_activation,
            spec.inputs,
            "inputs",
        ),
    ];
    for (key, activation, width, what) in pairs {
        if let Some(activation) = activation
            && !width.is_multiple_of(activation.group())
        {
            return Err(Error::config(
                key,
                format!(
                    "{activation} groups units in {}s, but block {index} has {width} {what}",
                    activation.group()
                ),
            ));
        }
    }
    Ok(())
}
