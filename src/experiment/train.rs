//! A run: a [`Trainer`] with its files around it — the resolved config, `metrics.jsonl` after
//! every epoch, a checkpoint to resume from, and at the end the weights, the summary, the
//! snapshots and the report.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::backend;
use crate::data::{self, Dataset};
use crate::engine::checkpoint::{self, Checkpoint};
use crate::engine::{AlignmentLine, Divergence, EpochMetrics, EpochReport, IterationLine, Trainer};
use crate::error::{Error, Result};
use crate::experiment::lock::RunLock;
use crate::experiment::tensorboard::{EventWriter, Histogram};
use crate::experiment::{ExperimentConfig, snapshot};
use crate::host;
use crate::io::write_atomic;
use crate::net::weights::{self, WeightsFile};
use crate::net::{Net, Parameters};
use crate::report::{self, RunRecord};

/// Where and how a run writes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Parent of the run directory (`runs` by default): results go to `<out>/<name>/`.
    pub out: PathBuf,
    /// No progress bar and no per-epoch lines.
    pub quiet: bool,
    /// Start from these weights instead of the seeded initialisation.
    pub init_weights: Option<PathBuf>,
    /// Write the initial weights here before training.
    pub save_init: Option<PathBuf>,
    /// A comparison's shared start: every tensor of the net that this file holds with the
    /// right shape starts from it, the others (e.g. batchnorm of a variant that adds it) from
    /// the seeded initialisation.
    pub shared_init: Option<PathBuf>,
    /// Draw the run's figures and write `report.html` when it finishes.
    pub report: bool,
    /// Write a checkpoint after every epoch and continue from one left by an interrupted run
    /// of the same config.
    pub checkpoint: bool,
    /// The run's place in its comparison (0 on its own): its colour in its report's figures,
    /// the same as in the comparison's.
    pub series: usize,
    /// Called after every epoch's files are written (and its checkpoint, before the last
    /// epoch) with the epoch's metrics and the run's epoch count; `false` stops the run with
    /// [`Error::Stopped`] (Python's Ctrl-C, notebook progress).
    pub on_epoch: Option<EpochHook>,
    /// The run's hyperparameters (a sweep trial's swept keys and values), written to its
    /// TensorBoard events with `train.tensorboard`.
    pub hyperparameters: Vec<(String, toml::Value)>,
}

/// What an [`EpochHook`] calls: the epoch's metrics and the run's epoch count → go on?
pub type EpochFn = dyn Fn(&EpochMetrics, usize) -> bool + Send + Sync;

/// A run's per-epoch callback (see [`RunOptions::on_epoch`]).
#[derive(Clone)]
pub struct EpochHook(pub Arc<EpochFn>);

impl std::fmt::Debug for EpochHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochHook")
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            out: PathBuf::from("runs"),
            quiet: true,
            init_weights: None,
            save_init: None,
            shared_init: None,
            report: true,
            checkpoint: true,
            series: 0,
            on_epoch: None,
            hyperparameters: Vec::new(),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every epoch trained.
    #[default]
    Finished,
    /// Training stopped when a loss, gradient or tensor stopped being finite
    /// ([`Summary::diverged`] says where).
    Diverged,
}

/// `summary.json`: the run's final figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How the run ended.
    #[serde(default)]
    pub status: RunStatus,
    /// Where it diverged, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<Divergence>,
    /// The run's name.
    pub name: String,
    /// The data set.
    pub dataset: String,
    /// The learning rule.
    pub rule: String,
    /// Layer sizes, `in-…-out`.
    pub sizes: String,
    /// Trainable scalars.
    pub parameters: usize,
    /// Epochs trained to their end.
    pub epochs: usize,
    /// Final test accuracy (absent for reconstruction, regression and diverged runs).
    pub test_accuracy: Option<f64>,
    /// Final test loss (the MSE for reconstruction and regression; absent for a diverged run).
    pub test_loss: Option<f64>,
    /// Final validation accuracy (absent without a validation split).
    pub val_accuracy: Option<f64>,
    /// Final validation loss.
    pub val_loss: Option<f64>,
    /// Epoch with the lowest validation loss (the last epoch without a validation split).
    pub best_epoch: usize,
    /// Seconds spent in training steps (evaluation excluded).
    pub train_seconds: f64,
    /// Training samples per second of `train_seconds`.
    pub samples_per_second: f64,
    /// Wall time of the whole run, evaluation included.
    pub wall_seconds: f64,
    /// The compute backend.
    pub backend: String,
    /// Whether every linear tensor started from a comparison's shared initial weights.
    #[serde(default)]
    pub shared_init: bool,
    /// The run's place in its comparison (0 on its own): its colour in every figure.
    #[serde(default)]
    pub series: usize,
}

/// Where a run stands among others: what its summary records besides its figures.
#[derive(Debug, Clone, Copy)]
struct Standing {
    /// Every linear tensor came from a comparison's shared start.
    shared_init: bool,
    /// Its place in its comparison.
    series: usize,
}

/// `lines` as JSON lines.
fn jsonl<T: Serialize>(lines: &[T]) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(&serde_json::to_string(line).expect("metrics serialise"));
        text.push('\n');
    }
    text
}

/// Writes JSON lines atomically (the whole file each time, so it is never half-written).
fn write_jsonl<T: Serialize>(path: &Path, lines: &[T]) -> Result<()> {
    write_atomic(path, jsonl(lines).as_bytes())
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("summaries serialise");
    write_atomic(path, format!("{text}\n").as_bytes())
}

fn progress_bar(total: u64, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if quiet || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}

/// Weights-file metadata describing the run: the net's sizes, the resolved config, and the
/// input scaling fitted on the training split (`scaling`: JSON `{"shift": [..], "factor":
/// [..]}` per feature, a raw input `x` fed to the net as `(x − shift) · factor`).
fn metadata(config: &ExperimentConfig, net: &Net, data: &Dataset) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("sizes".to_string(), net.sizes()),
        ("config".to_string(), config.to_toml()),
        (
            "scaling".to_string(),
            serde_json::to_string(&data.scaler).expect("a scaler serialises"),
        ),
    ])
}

/// What a run keeps beside the trainer's state in its checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RunLog {
    /// The run's resolved config (TOML): a checkpoint of another config is not used.
    config: String,
    /// Seconds spent in training steps so far.
    train_seconds: f64,
    /// `metrics.jsonl` so far.
    history: Vec<EpochMetrics>,
    /// `iterations.jsonl` so far.
    iterations: Vec<IterationLine>,
    /// `alignment.jsonl` so far.
    alignment: Vec<AlignmentLine>,
    /// Where training diverged, when it did.
    #[serde(default)]
    diverged: Option<Divergence>,
    /// The `--init-weights` file the run started from and a fingerprint of its bytes: a
    /// checkpoint is resumed only from the same start.
    #[serde(default)]
    init_weights: Option<String>,
}

impl RunLog {
    /// Adds an epoch's report.
    fn push(&mut self, report: EpochReport) {
        self.train_seconds += report.train_seconds;
        self.history.push(report.metrics);
        self.iterations.extend(report.iterations);
        self.alignment.extend(report.alignment);
    }
}

/// Trains `config` and writes `<out>/<name>/`: `config.toml`, `metrics.jsonl`,
/// `summary.json`, `weights.safetensors` (and `iterations.jsonl` with `train.log_every`).
pub fn train(config: &ExperimentConfig, options: &RunOptions) -> Result<Summary> {
    on_pool(config, || train_here(config, None, options))
}

/// [`train`] on a data set already in memory (e.g. [`Dataset::from_arrays`]) instead of the
/// one `config.data` names; everything else, files included, as [`train`].
pub fn train_on(
    config: &ExperimentConfig,
    data: &Dataset,
    options: &RunOptions,
) -> Result<Summary> {
    on_pool(config, || train_here(config, Some(data), options))
}

/// `run` on a pool of `train.threads` threads (0: the calling thread's pool). The run itself
/// stays on the calling thread (its epoch hook may need to be the main thread: Python reads
/// Ctrl-C there); each step goes to a pool worker ([`Trainer::step`]).
fn on_pool<T: Send>(
    config: &ExperimentConfig,
    run: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    match config.train.threads {
        0 => run(),
        threads => rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::config("train.threads", e.to_string()))?
            .install(run),
    }
}

/// [`train`] on the calling thread's Rayon pool.
fn train_here(
    config: &ExperimentConfig,
    data: Option<&Dataset>,
    options: &RunOptions,
) -> Result<Summary> {
    let started = Instant::now();
    let dir = options.out.join(&config.name);
    // A directory that exists is locked before the data is read, so a second run into it
    // fails at once; a new one is made (and locked) once the run is known to start.
    let early_lock = dir.is_dir().then(|| RunLock::acquire(&dir)).transpose()?;
    let loaded;
    let data = match data {
        Some(data) => data,
        None => {
            loaded = data::load(&config.data)?;
            &loaded
        }
    };
    if config.train.batch_size >= data.train.rows() && !options.quiet {
        eprintln!(
            "warning: train.batch_size {} covers all {} training rows: one step per epoch \
             (a smaller batch learns faster)",
            config.train.batch_size,
            data.train.rows()
        );
    }
    let mut trainer = Trainer::new(config, data)?;
    let shared_init = start_weights(&mut trainer, config, data, options)?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let _lock = match early_lock {
        Some(lock) => lock,
        None => RunLock::acquire(&dir)?,
    };
    let config_text = config.to_toml();
    write_atomic(&dir.join("config.toml"), config_text.as_bytes())?;
    write_json(&dir.join("splits.json"), &data.splits())?;
    let mut log = RunLog {
        config: config_text,
        init_weights: options
            .init_weights
            .as_deref()
            .map(fingerprint)
            .transpose()?,
        ..RunLog::default()
    };
    if options.checkpoint {
        resume(&mut trainer, &dir, &mut log, (&config.name, options.quiet))?;
    }
    let mut events = open_events(&mut trainer, config, &dir, options)?;
    let t = &config.train;
    let per_epoch = data.train.rows().div_ceil(t.batch_size);
    let bar = progress_bar((per_epoch * t.epochs) as u64, options.quiet);
    bar.set_position(trainer.iteration() as u64);
    for epoch in trainer.epochs_done() + 1..=t.epochs {
        bar.set_prefix(format!("epoch {epoch}/{}", t.epochs));
        let report = match trainer.epoch(data, &|| bar.inc(1)) {
            Ok(report) => report,
            Err(Error::Diverged(divergence)) => {
                log.diverged = Some(*divergence);
                write_logs(&dir, config, &log)?;
                break;
            }
            Err(error) => return Err(error),
        };
        let line = epoch_line(&report.metrics);
        bar.set_message(format!("loss {:.4}", report.metrics.train_loss));
        if !options.quiet {
            bar.suspend(|| eprintln!("{line}"));
        }
        log.push(report);
        write_logs(&dir, config, &log)?;
        if let (Some(events), Some(last)) = (&mut events, log.history.last()) {
            write_events(events, &trainer, last)?;
        }
        if options.checkpoint && epoch < t.epochs {
            let run = serde_json::to_value(&log).expect("run logs serialise");
            trainer.checkpoint(run).save(&checkpoint::path(&dir))?;
        }
        if let Some(EpochHook(hook)) = &options.on_epoch
            && let Some(last) = log.history.last()
            && !hook(last, t.epochs)
            && epoch < t.epochs
        {
            bar.finish_and_clear();
            return Err(Error::Stopped { dir, epoch });
        }
    }
    bar.finish_and_clear();
    let standing = Standing {
        shared_init,
        series: options.series,
    };
    let summary = finish(&trainer, config, data, &dir, &log, started, standing)?;
    if options.report {
        report::write(&dir, &config.name, &[RunRecord::read(&dir)?])?;
    }
    Ok(summary)
}

/// The run's TensorBoard event file with its hyperparameters, with `train.tensorboard` (the
/// trainer then keeps each step's gradients for the histograms).
fn open_events(
    trainer: &mut Trainer,
    config: &ExperimentConfig,
    dir: &Path,
    options: &RunOptions,
) -> Result<Option<EventWriter>> {
    if !config.train.tensorboard {
        return Ok(None);
    }
    trainer.keep_last_gradients();
    let mut events = EventWriter::create(&dir.join("tensorboard"))?;
    if !options.hyperparameters.is_empty() {
        events.hyperparameters(&options.hyperparameters)?;
    }
    Ok(Some(events))
}

/// An epoch's TensorBoard record: its scalars, and per block the histograms of the weight
/// matrix and of its last gradient.
fn write_events(events: &mut EventWriter, trainer: &Trainer, metrics: &EpochMetrics) -> Result<()> {
    let mut tensors = Vec::new();
    for (block, (name, grad)) in trainer.net().blocks.iter().zip(trainer.last_gradients()) {
        tensors.push((format!("weights/{name}"), host::values(block.weight())));
        if let Some(grad) = grad {
            tensors.push((format!("gradients/{name}"), host::values(grad)));
        }
    }
    let histograms: Vec<Histogram<'_>> = (tensors.iter())
        .map(|(tag, values)| Histogram {
            tag: tag.clone(),
            values,
        })
        .collect();
    events.epoch(metrics, &histograms)
}

/// Loads the run's starting weights (`--init-weights`, a comparison's shared start) and
/// writes them out when asked (`--save-init`); returns whether every linear tensor came from
/// the shared start.
fn start_weights(
    trainer: &mut Trainer,
    config: &ExperimentConfig,
    data: &Dataset,
    options: &RunOptions,
) -> Result<bool> {
    if let Some(path) = &options.init_weights {
        trainer.load_start(&WeightsFile::read(path)?)?;
    }
    let mut shared_init = false;
    if let Some(path) = &options.shared_init {
        let missing = trainer.load_matching(&WeightsFile::read(path)?);
        shared_init = !missing.iter().any(|name| name.contains(".linear."));
    }
    if let Some(path) = &options.save_init {
        let (net, rule) = (trainer.net(), trainer.rule());
        weights::save(path, &[net, rule], &metadata(config, net, data))?;
    }
    Ok(shared_init)
}

/// `path` and a fingerprint of its bytes (FNV-1a, 64 bits), to tell two starts apart.
fn fingerprint(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    Ok(format!("{} ({hash:016x})", path.display()))
}

/// Continues from the checkpoint in `dir` when it was left by a run of the same config; one
/// of another config, or one that does not parse, is ignored (with a warning for the latter)
/// and will be overwritten.
fn resume(
    trainer: &mut Trainer,
    dir: &Path,
    log: &mut RunLog,
    (name, quiet): (&str, bool),
) -> Result<()> {
    let path = checkpoint::path(dir);
    if !path.is_file() {
        return Ok(());
    }
    let saved = Checkpoint::read(&path).and_then(|checkpoint| {
        let run: RunLog = serde_json::from_value(checkpoint.run().clone())
            .map_err(|e| Error::weights(&path, e.to_string()))?;
        Ok((checkpoint, run))
    });
    match saved {
        Ok((_, run)) if run.config == log.config && run.init_weights != log.init_weights => {
            let shown = |init: &Option<String>| init.clone().unwrap_or_else(|| "none".into());
            return Err(Error::weights(
                &path,
                format!(
                    "this run started from --init-weights {}, not {}: resuming would mix two \
                     starts (give the same file, or remove {})",
                    shown(&run.init_weights),
                    shown(&log.init_weights),
                    dir.display()
                ),
            ));
        }
        Ok((checkpoint, run)) if run.config == log.config => {
            trainer.restore(&checkpoint)?;
            *log = run;
            if !quiet {
                eprintln!("resuming {name} after epoch {}", trainer.epochs_done());
            }
        }
        Ok(_) => {}
        Err(error) => eprintln!("warning: {error}; starting the run from its beginning"),
    }
    Ok(())
}

/// The epoch's line on the terminal.
fn epoch_line(m: &EpochMetrics) -> String {
    let acc = |a: Option<f64>| a.map_or(String::new(), |a| format!(" acc {a:.4}"));
    let val = m.val_loss.map_or(String::new(), |loss| {
        format!("  val loss {loss:.4}{}", acc(m.val_accuracy))
    });
    format!(
        "epoch {:>3}  train loss {:.4}{}{val}  test loss {:.4}{}",
        m.epoch,
        m.train_loss,
        acc(m.train_accuracy),
        m.test_loss,
        acc(m.test_accuracy)
    )
}

/// Writes the per-epoch, per-iteration and alignment logs so far; a diverged run's
/// `metrics.jsonl` ends with a line `{"status": "diverged", "epoch", "iteration", "tensor"}`.
fn write_logs(dir: &Path, config: &ExperimentConfig, log: &RunLog) -> Result<()> {
    /// The last line of a diverged run's `metrics.jsonl`.
    #[derive(Serialize)]
    struct DivergedLine<'a> {
        status: RunStatus,
        #[serde(flatten)]
        divergence: &'a Divergence,
    }
    let mut text = jsonl(&log.history);
    if let Some(divergence) = &log.diverged {
        text.push_str(&jsonl(&[DivergedLine {
            status: RunStatus::Diverged,
            divergence,
        }]));
    }
    write_atomic(&dir.join("metrics.jsonl"), text.as_bytes())?;
    if config.train.log_every > 0 {
        write_jsonl(&dir.join("iterations.jsonl"), &log.iterations)?;
    }
    if config.train.align_every > 0 {
        write_jsonl(&dir.join("alignment.jsonl"), &log.alignment)?;
    }
    Ok(())
}

/// The run's end: weights, snapshots (of a finished run) and `summary.json` written, the
/// checkpoint removed.
fn finish(
    trainer: &Trainer,
    config: &ExperimentConfig,
    data: &Dataset,
    dir: &Path,
    log: &RunLog,
    started: Instant,
    standing: Standing,
) -> Result<Summary> {
    let (net, rule) = (trainer.net(), trainer.rule());
    weights::save(
        &dir.join("weights.safetensors"),
        &[net, rule],
        &metadata(config, net, data),
    )?;
    let device = trainer.device();
    if log.diverged.is_none() {
        write_json(
            &dir.join("activations.json"),
            &snapshot::activations(net, &data.test, device),
        )?;
        if let Some(boundary) = snapshot::boundary(rule, net, data, trainer.task(), device) {
            write_json(&dir.join("boundary.json"), &boundary)?;
        }
    }
    // The checkpoint goes before the summary comes: a run killed between the two retrains
    // (to the same result), where the other order could leave a finished run a checkpoint.
    let stale = checkpoint::path(dir);
    if stale.exists() {
        std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
    }
    let summary = summarise(trainer, config, data, log, started, standing);
    write_json(&dir.join("summary.json"), &summary)?;
    Ok(summary)
}

/// The run's summary: the last epoch's figures, or none for a diverged run.
fn summarise(
    trainer: &Trainer,
    config: &ExperimentConfig,
    data: &Dataset,
    log: &RunLog,
    started: Instant,
    standing: Standing,
) -> Summary {
    let net = trainer.net();
    let epochs = log.history.len();
    let last = log.history.last().filter(|_| log.diverged.is_none());
    let best_epoch = log
        .history
        .iter()
        .filter_map(|m| m.val_loss.map(|loss| (loss, m.epoch)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(epochs, |(_, epoch)| epoch);
    let samples = (data.train.rows() * epochs) as f64;
    Summary {
        status: match log.diverged {
            Some(_) => RunStatus::Diverged,
            None => RunStatus::Finished,
        },
        diverged: log.diverged.clone(),
        name: config.name.clone(),
        dataset: config.data.dataset.clone(),
        rule: trainer.rule().name(),
        sizes: net.sizes(),
        parameters: net.parameter_count(),
        epochs,
        test_accuracy: last.and_then(|m| m.test_accuracy),
        test_loss: last.map(|m| m.test_loss),
        val_accuracy: last.and_then(|m| m.val_accuracy),
        val_loss: last.and_then(|m| m.val_loss),
        best_epoch,
        train_seconds: log.train_seconds,
        samples_per_second: if samples > 0.0 {
            samples / log.train_seconds.max(1e-9)
        } else {
            0.0
        },
        wall_seconds: started.elapsed().as_secs_f64(),
        backend: backend::name().to_string(),
        shared_init: standing.shared_init,
        series: standing.series,
    }
}
