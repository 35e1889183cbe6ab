//! The training loop: the same for every rule.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use burn::tensor::{Device, Tensor};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::backend;
use crate::data::{self, Dataset};
use crate::error::{Error, Result};
use crate::experiment::ExperimentConfig;
use crate::experiment::alignment::{AlignmentLine, AlignmentProbe, AlignmentRecord};
use crate::experiment::evaluate::evaluate;
use crate::experiment::magnitudes::Magnitudes;
use crate::experiment::updates::Updates;
use crate::experiment::{checkpoint, pipeline, snapshot};
use crate::host;
use crate::io::write_atomic;
use crate::net::weights::{self, WeightsFile};
use crate::net::{Net, Parameters};
use crate::optim::ParamOptimizer;
use crate::report::{self, RunRecord};
use crate::rng::Rng;
use crate::rule::{self, LearningRule, StepContext};
use crate::task::Task;

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
        }
    }
}

/// One line of `metrics.jsonl`. Wall-clock times stay out of it, so that the same config and
/// seed give a bit-identical file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Iterations so far.
    pub iterations: usize,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
    /// Mean training loss over the epoch's mini-batches (training mode).
    pub train_loss: f64,
    /// Accuracy on the epoch's mini-batches (training mode; absent for reconstruction and
    /// rules whose step makes no prediction).
    pub train_accuracy: Option<f64>,
    /// Validation loss (evaluation mode; absent without a validation split).
    pub val_loss: Option<f64>,
    /// Validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Test loss (the reconstruction MSE for reconstruction).
    pub test_loss: f64,
    /// Test accuracy (absent for reconstruction).
    pub test_accuracy: Option<f64>,
    /// Per block, the mean |gradient| of its weight matrix over the epoch's steps: the signal
    /// the rule hands the optimizer (the true gradient under backprop; `null` for a block the
    /// rule did not train).
    #[serde(default)]
    pub mean_abs_grad: Vec<Option<f64>>,
    /// Per block, the mean |change| of its weight matrix per step (what the optimizer applied).
    #[serde(default)]
    pub mean_abs_update: Vec<Option<f64>>,
    /// Per block, the fraction of hard units whose output never changed during the epoch's
    /// training (dead or saturated; `null` for smooth blocks); absent when no block is hard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_units: Option<Vec<Option<f64>>>,
    /// The rule's per-block diagnostics by name (target propagation: `target_distance`,
    /// `reconstruction_error`, `reconstruction_loss`, `difference_correction`), one entry per
    /// block, `null` where one does not apply.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub diagnostics: BTreeMap<String, Vec<Option<f64>>>,
    /// Alignment with the backprop gradient at the end of the epoch (with `train.align_every`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alignment: Option<AlignmentRecord>,
}

/// `summary.json`: the run's final figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
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
    /// Epochs trained.
    pub epochs: usize,
    /// Final test accuracy (absent for reconstruction).
    pub test_accuracy: Option<f64>,
    /// Final test loss (the reconstruction MSE for reconstruction).
    pub test_loss: f64,
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
}

/// Everything a run starts from: data, a seeded net, its rule and optimizer.
pub struct Setup {
    /// The device tensors live on.
    pub device: Device,
    /// The data set, split and scaled.
    pub data: Dataset,
    /// What the output learns.
    pub task: Task,
    /// The network, freshly initialised from the run's seed.
    pub net: Net,
    /// The learning rule, its fixed matrices drawn from the run's seed.
    pub rule: Box<dyn LearningRule>,
}

impl Setup {
    /// Loads the data and builds the net and rule for `config`.
    pub fn new(config: &ExperimentConfig) -> Result<Self> {
        let device = backend::device();
        let data = data::load(&config.data)?;
        let task = Task::new(
            config.train.problem,
            config.train.loss,
            data.classes,
            data.features(),
        )?;
        let settings = config.rule_settings()?;
        let embeds_label = settings.rules.iter().any(|r| r.embeds_label());
        let inputs = data.features() + if embeds_label { data.classes } else { 0 };
        let mut specs = config.block_specs(inputs, task.outputs)?;
        if embeds_label {
            specs.pop();
        }
        let mut init_rng = Rng::derived(config.seed, "init");
        let net = Net::new(
            specs,
            config.model.init,
            config.model.init_scale.map(|s| s as f32),
            &mut init_rng,
            &device,
        );
        let rule = rule::build(
            &settings,
            &net,
            task,
            &mut Rng::derived(config.seed, "feedback"),
        )?;
        Ok(Self {
            device,
            data,
            task,
            net,
            rule,
        })
    }
}

/// Writes JSON lines atomically (the whole file each time, so it is never half-written).
fn write_jsonl<T: Serialize>(path: &Path, lines: &[T]) -> Result<()> {
    let mut text = String::new();
    for line in lines {
        text.push_str(&serde_json::to_string(line).expect("metrics serialise"));
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
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

/// One per-iteration log line (`iterations.jsonl`).
#[derive(Serialize)]
struct IterationLoss {
    iteration: usize,
    epoch: usize,
    loss: f64,
    /// Per block, this step's mean |gradient| of the weight matrix.
    mean_abs_grad: Vec<Option<f64>>,
}

/// Weights-file metadata describing the run.
fn metadata(config: &ExperimentConfig, net: &Net) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("sizes".to_string(), net.sizes()),
        ("config".to_string(), config.to_toml()),
    ])
}

/// Trains `config` and writes `<out>/<name>/`: `config.toml`, `metrics.jsonl`,
/// `summary.json`, `weights.safetensors` (and `iterations.jsonl` with `train.log_every`).
pub fn train(config: &ExperimentConfig, options: &RunOptions) -> Result<Summary> {
    match config.train.threads {
        0 => train_here(config, options),
        threads => rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::config("train.threads", e.to_string()))?
            .install(|| train_here(config, options)),
    }
}

/// [`train`] on the calling thread's Rayon pool.
fn train_here(config: &ExperimentConfig, options: &RunOptions) -> Result<Summary> {
    let started = Instant::now();
    let Setup {
        device,
        data,
        task,
        mut net,
        mut rule,
    } = Setup::new(config)?;
    if let Some(path) = &options.init_weights {
        WeightsFile::read(path)?.load_into(&mut net)?;
    }
    let mut shared_init = false;
    if let Some(path) = &options.shared_init {
        let missing = WeightsFile::read(path)?.load_matching(&mut net);
        shared_init = !missing.iter().any(|name| name.contains(".linear."));
    }
    if let Some(path) = &options.save_init {
        weights::save(path, &[&net], &metadata(config, &net))?;
    }
    let dir = options.out.join(&config.name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    write_atomic(&dir.join("config.toml"), config.to_toml().as_bytes())?;

    let t = &config.train;
    let n = data.train.rows();
    let per_epoch = n.div_ceil(t.batch_size);
    let settings = config.optimizer_settings(per_epoch * t.epochs);
    let mut optimizer = ParamOptimizer::new(&settings, "train")?;
    let (rule_settings, rule_key) = config.rule_optimizer_settings(per_epoch * t.epochs);
    let mut rule_optimizer = ParamOptimizer::new(&rule_settings, rule_key)?;
    let rule_trains_hidden = config.rule_optimizer_trains_hidden();
    let mut rng = Rng::derived(config.seed, "train");
    let mut order_rng = Rng::derived(config.seed, "order");
    let bar = progress_bar((per_epoch * t.epochs) as u64, options.quiet);
    let mut history: Vec<EpochMetrics> = Vec::new();
    let mut iteration_log: Vec<serde_json::Value> = Vec::new();
    let mut alignment_log: Vec<AlignmentLine> = Vec::new();
    let mut train_seconds = 0.0;
    let mut iteration = 0;
    let config_text = config.to_toml();
    let resumed = if options.checkpoint {
        checkpoint::load(&dir, &config_text)
    } else {
        None
    };
    if let Some((progress, file)) = resumed {
        checkpoint::restore(
            &progress,
            &file,
            &mut net,
            rule.as_mut(),
            &mut [&mut optimizer, &mut rule_optimizer],
            &device,
        )?;
        rng = Rng::from_state(progress.rng);
        order_rng = Rng::from_state(progress.order_rng);
        history = progress.history;
        iteration_log = progress.iterations;
        alignment_log = progress.alignment;
        train_seconds = progress.train_seconds;
        iteration = progress.iteration;
        bar.set_position(iteration as u64);
        if !options.quiet {
            eprintln!("resuming {} after epoch {}", config.name, progress.epoch);
        }
    }
    let first_epoch = history.len() + 1;
    let mut magnitudes = Magnitudes::new(net.blocks.len());
    let mut probe = (t.align_every > 0).then(|| {
        AlignmentProbe::new(
            &data.train,
            t.align_batch,
            task,
            net.blocks.len(),
            config.seed,
            &device,
        )
    });
    for epoch in first_epoch..=t.epochs {
        bar.set_prefix(format!("epoch {epoch}/{}", t.epochs));
        let mut order: Vec<usize> = (0..n).collect();
        order_rng.shuffle(&mut order);
        let mut loss_sum: Option<Tensor<1>> = None;
        let mut hits: Option<usize> = Some(0);
        let epoch_started = Instant::now();
        if t.pipeline_stages > 0 {
            let rules = rule.local_blocks(&net).ok_or_else(|| {
                Error::config(
                    "train.pipeline_stages",
                    "layer-parallel training needs every hidden block to learn from its own \
                     output alone (no REINFORCE estimator)",
                )
            })?;
            let batches: Vec<&[usize]> = order.chunks(t.batch_size).collect();
            let lrs = batches
                .iter()
                .map(|_| (optimizer.advance(), rule_optimizer.advance()))
                .collect();
            let plan = pipeline::Epoch {
                table: &data.train,
                batches: batches.clone(),
                lrs,
                task,
                device: &device,
                seed: config.seed,
                epoch,
            };
            let shared = Mutex::new(pipeline::Shared {
                optimizer: &mut optimizer,
                rule_optimizer: &mut rule_optimizer,
                rule_trains_hidden,
                magnitudes: Some(&mut magnitudes),
            });
            let threads = pipeline::thread_count(t.threads);
            let results = pipeline::train_epoch(
                &mut net,
                rules,
                &plan,
                &shared,
                (t.pipeline_stages, threads),
                &|| bar.inc(1),
            )?;
            for ((loss, output), rows) in results.into_iter().zip(&batches) {
                magnitudes.count_step();
                iteration += 1;
                let labels: Vec<u32> = rows.iter().map(|&i| data.train.y[i]).collect();
                let batch_hits = task.correct(&output, &labels);
                hits = hits.zip(batch_hits).map(|(a, b)| a + b);
                let weighted = loss.mul_scalar(rows.len() as f32);
                loss_sum = Some(match loss_sum {
                    Some(sum) => sum + weighted,
                    None => weighted,
                });
            }
        } else {
            for rows in order.chunks(t.batch_size) {
                let batch = task.batch(&data.train, rows, &device);
                let mut updates = Updates::begin(
                    &mut optimizer,
                    &mut rule_optimizer,
                    rule_trains_hidden,
                    net.blocks.len(),
                    Some(&mut magnitudes),
                );
                let mut ctx = StepContext::new(&mut rng, task).with_updater(&mut updates);
                let mut step = rule.step(&mut net, &batch, &mut ctx);
                let step_grads = updates.finish(&mut net, rule.as_mut(), &mut step.grads);
                iteration += 1;
                let batch_hits = step.output.and_then(|o| task.correct(&o, &batch.labels));
                hits = hits.zip(batch_hits).map(|(a, b)| a + b);
                let weighted = step.loss.mul_scalar(rows.len() as f32);
                loss_sum = Some(match loss_sum {
                    Some(sum) => sum + weighted.clone(),
                    None => weighted.clone(),
                });
                if t.log_every > 0 && iteration % t.log_every == 0 {
                    let loss = f64::from(host::scalar(&weighted)) / rows.len() as f64;
                    let mean_abs_grad = step_grads
                        .iter()
                        .map(|g| g.as_ref().map(|g| f64::from(host::scalar(g))))
                        .collect();
                    let line = IterationLoss {
                        iteration,
                        epoch,
                        loss,
                        mean_abs_grad,
                    };
                    iteration_log.push(serde_json::to_value(line).expect("log lines serialise"));
                    bar.set_message(format!("loss {loss:.4}"));
                }
                if let Some(probe) = probe.as_mut()
                    && iteration % t.align_every == 0
                {
                    let record = probe.measure(rule.as_mut(), &net, task);
                    alignment_log.push(AlignmentLine {
                        iteration,
                        epoch,
                        record,
                    });
                }
                bar.inc(1);
            }
        }
        train_seconds += epoch_started.elapsed().as_secs_f64();
        let alignment = probe.as_mut().map(|probe| match alignment_log.last() {
            Some(line) if line.iteration == iteration => line.record.clone(),
            _ => {
                let record = probe.measure(rule.as_mut(), &net, task);
                alignment_log.push(AlignmentLine {
                    iteration,
                    epoch,
                    record: record.clone(),
                });
                record
            }
        });
        let train_loss = loss_sum.map_or(f64::NAN, |s| f64::from(host::scalar(&s))) / n as f64;
        let train_accuracy = hits.map(|h| h as f64 / n as f64);
        rule.end_epoch(epoch);
        let chunk = t.eval_batch_size;
        if t.recalibrate_batchnorm {
            let rows: Vec<usize> = (0..n).collect();
            let batches = rows
                .chunks(t.batch_size)
                .map(|rows| task.batch(&data.train, rows, &device).x);
            net.recalibrate_batchnorm(batches);
        }
        let eval = |table| evaluate(rule.as_ref(), &net, table, task, chunk, &device);
        let val = (data.validation.rows() > 0).then(|| eval(&data.validation));
        let test = eval(&data.test);
        let diagnostics = rule.take_diagnostics();
        let (mean_abs_grad, mean_abs_update) = magnitudes.take();
        let frozen = net.take_frozen_fractions();
        let frozen_units = frozen.iter().any(Option::is_some).then_some(frozen);
        let metrics = EpochMetrics {
            epoch,
            iterations: iteration,
            lr: optimizer.lr(),
            train_loss,
            train_accuracy,
            val_loss: val.map(|v| v.loss),
            val_accuracy: val.and_then(|v| v.accuracy),
            test_loss: test.loss,
            test_accuracy: test.accuracy,
            mean_abs_grad,
            mean_abs_update,
            frozen_units,
            diagnostics,
            alignment,
        };
        let acc = |a: Option<f64>| a.map_or(String::new(), |a| format!(" acc {a:.4}"));
        let val_text = val.map_or(String::new(), |v| {
            format!("  val loss {:.4}{}", v.loss, acc(v.accuracy))
        });
        let line = format!(
            "epoch {epoch:>3}  train loss {train_loss:.4}{}{val_text}  test loss {:.4}{}",
            acc(train_accuracy),
            test.loss,
            acc(test.accuracy)
        );
        bar.set_message(format!("loss {train_loss:.4}{}", acc(train_accuracy)));
        if !options.quiet {
            bar.suspend(|| eprintln!("{line}"));
        }
        history.push(metrics);
        write_jsonl(&dir.join("metrics.jsonl"), &history)?;
        if t.log_every > 0 {
            write_jsonl(&dir.join("iterations.jsonl"), &iteration_log)?;
        }
        if probe.is_some() {
            write_jsonl(&dir.join("alignment.jsonl"), &alignment_log)?;
        }
        if options.checkpoint && epoch < t.epochs {
            let progress = checkpoint::Progress {
                config: config_text.clone(),
                epoch,
                iteration,
                train_seconds,
                rng: rng.state(),
                order_rng: order_rng.state(),
                history: history.clone(),
                iterations: iteration_log.clone(),
                alignment: alignment_log.clone(),
                rule: rule.state(),
                optimizers: Vec::new(),
            };
            checkpoint::save(
                &dir,
                progress,
                &net,
                rule.as_ref(),
                &[&optimizer, &rule_optimizer],
                &device,
            )?;
        }
    }
    bar.finish_and_clear();
    weights::save(
        &dir.join("weights.safetensors"),
        &[&net, rule.as_ref()],
        &metadata(config, &net),
    )?;
    write_json(
        &dir.join("activations.json"),
        &snapshot::activations(&net, &data.test, &device),
    )?;
    if let Some(boundary) = snapshot::boundary(rule.as_ref(), &net, &data, task, &device) {
        write_json(&dir.join("boundary.json"), &boundary)?;
    }
    let last = history.last().expect("at least one epoch");
    let best_epoch = history
        .iter()
        .filter_map(|m| m.val_loss.map(|loss| (loss, m.epoch)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(last.epoch, |(_, epoch)| epoch);
    let summary = Summary {
        name: config.name.clone(),
        dataset: config.data.dataset.clone(),
        rule: rule.name(),
        sizes: net.sizes(),
        parameters: net.parameter_count(),
        epochs: t.epochs,
        test_accuracy: last.test_accuracy,
        test_loss: last.test_loss,
        val_accuracy: last.val_accuracy,
        val_loss: last.val_loss,
        best_epoch,
        train_seconds,
        samples_per_second: (n * t.epochs) as f64 / train_seconds.max(1e-9),
        wall_seconds: started.elapsed().as_secs_f64(),
        backend: backend::name().to_string(),
        shared_init,
    };
    write_json(&dir.join("summary.json"), &summary)?;
    let stale = checkpoint::path(&dir);
    if stale.exists() {
        std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
    }
    if options.report {
        report::write(&dir, &config.name, &[RunRecord::read(&dir)?])?;
    }
    Ok(summary)
}
