//! The [`Trainer`]: a net, its rule, both optimizers and the random streams, stepped one
//! mini-batch or one epoch at a time. Every front end (the CLI's runs, comparisons and sweeps,
//! the benchmark, the tests, the examples) trains through it, so a training step is written
//! once, in [`Trainer::step`].

use std::sync::Mutex;
use std::time::Instant;

use burn::tensor::{Device, Tensor};

use crate::backend;
use crate::data::augment::Augment;
use crate::data::{Dataset, Table};
use crate::engine::alignment::{AlignmentLine, AlignmentProbe, AlignmentRecord};
use crate::engine::checkpoint::{Checkpoint, TrainerState};
use crate::engine::divergence::{self, Divergence, first_non_finite};
use crate::engine::evaluate::{Evaluation, Evaluator};
use crate::engine::magnitudes::Magnitudes;
use crate::engine::metrics::{EpochMetrics, EpochReport, IterationLine, StepReport};
use crate::engine::pipeline;
use crate::engine::updates::Updates;
use crate::error::{Error, Result};
use crate::experiment::ExperimentConfig;
use crate::net::Net;
use crate::net::weights::WeightsFile;
use crate::optim::ParamOptimizer;
use crate::rng::Rng;
use crate::rule::{self, LearningRule, StepContext};
use crate::task::{Batch, Problem, Task};

/// What a [`Trainer`] does besides stepping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainerOptions {
    /// Tally per-block gradient and update magnitudes (`mean_abs_grad`, `mean_abs_update`).
    pub diagnostics: bool,
    /// Let rules without a backward chain step each block as soon as its gradients are known
    /// (flat memory in depth; the same weights as stepping after the whole pass).
    pub streaming: bool,
}

impl Default for TrainerOptions {
    fn default() -> Self {
        Self {
            diagnostics: true,
            streaming: true,
        }
    }
}

/// The `[train]` settings the trainer reads while it runs.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    seed: u64,
    batch_size: usize,
    eval_batch_size: usize,
    log_every: usize,
    align_every: usize,
    pipeline_stages: usize,
    threads: usize,
    recalibrate_batchnorm: bool,
    streaming: bool,
    augment: Option<Augment>,
}

/// A network being trained by a rule: everything a run needs besides its files.
///
/// ```
/// use plasticity::prelude::*;
/// let config = ExperimentConfig::load(None, &["data.dataset=iris".into(), "train.epochs=2".into()])?;
/// let data = plasticity::data::load(&config.data)?;
/// let mut trainer = Trainer::new(&config, &data)?;
/// let report = trainer.epoch(&data, &|| {})?;
/// assert_eq!(report.metrics.epoch, 1);
/// # Ok::<(), plasticity::Error>(())
/// ```
pub struct Trainer {
    device: Device,
    task: Task,
    net: Net,
    rule: Box<dyn LearningRule>,
    optimizer: ParamOptimizer,
    rule_optimizer: ParamOptimizer,
    rule_trains_hidden: bool,
    rng: Rng,
    order_rng: Rng,
    magnitudes: Option<Magnitudes>,
    probe: Option<AlignmentProbe>,
    schedule: Schedule,
    iteration: usize,
    epoch: usize,
}

/// The task, the seeded net and its rule (fixed matrices seeded too) for `config` on `data`.
pub fn build_model(
    config: &ExperimentConfig,
    data: &Dataset,
    device: &Device,
) -> Result<(Task, Net, Box<dyn LearningRule>)> {
    let problem = config.train.problem;
    check_targets(problem, data)?;
    let width = match problem {
        Problem::Regression => data.target_width(),
        _ => data.features(),
    };
    let task = Task::new(problem, config.train.loss, data.classes, width)?;
    let settings = config.rule_settings()?;
    let embeds_label = settings.embeds_label();
    let inputs = data.features() + if embeds_label { data.classes } else { 0 };
    let volume = data.volume().filter(|_| !embeds_label);
    let mut specs = config.block_specs_on(inputs, volume, task.outputs)?;
    let samples = [&data.train, &data.validation, &data.test]
        .map(|t| t.rows())
        .into_iter()
        .max()
        .unwrap_or(0);
    crate::experiment::limits::check_model_fits(config, &specs, samples)?;
    if embeds_label {
        specs.pop();
    }
    let net = Net::new(
        specs,
        config.model.init,
        config.model.init_scale.map(|s| s as f32),
        &mut Rng::derived(config.seed, "init"),
        device,
    );
    let rule = rule::build(
        &settings,
        &net,
        task,
        &mut Rng::derived(config.seed, "feedback"),
    )?;
    Ok((task, net, rule))
}

/// Training batch `(epoch, index)` of `rows` of `table`, augmented by `augment` from the
/// stream the run's `seed` derives for that batch.
pub(crate) fn augmented_batch(
    task: Task,
    augment: Option<Augment>,
    seed: u64,
    (epoch, index): (usize, usize),
    table: &Table,
    rows: &[usize],
    device: &Device,
) -> Batch {
    match augment {
        None => task.batch(table, rows, device),
        Some(augment) => {
            let mut rng = Rng::derived(seed, &format!("augment epoch {epoch} batch {index}"));
            task.batch_with(table, rows, device, |x| augment.apply(x, &mut rng))
        }
    }
}

/// Regression needs float targets, and float targets need regression.
fn check_targets(problem: Problem, data: &Dataset) -> Result<()> {
    match (problem, data.target_width() > 0) {
        (Problem::Regression, false) => Err(Error::config(
            "train.problem",
            format!(
                "regression needs float targets; `{}` has class labels (CSV: \
                 data.target_columns)",
                data.name
            ),
        )),
        (Problem::Classification | Problem::Reconstruction, true) => Err(Error::config(
            "train.problem",
            format!(
                "`{}` has float targets: set train.problem = \"regression\"",
                data.name
            ),
        )),
        _ => Ok(()),
    }
}

impl Trainer {
    /// A trainer for `config` on `data`, with diagnostics and streaming on.
    pub fn new(config: &ExperimentConfig, data: &Dataset) -> Result<Self> {
        Self::with_options(config, data, TrainerOptions::default())
    }

    /// A trainer for `config` on `data`: the seeded net and rule, the optimizers with their
    /// schedules over the config's whole run, the random streams at their start.
    pub fn with_options(
        config: &ExperimentConfig,
        data: &Dataset,
        options: TrainerOptions,
    ) -> Result<Self> {
        let device = backend::device();
        let augment = config.data.augment(data.volume())?;
        let (task, net, rule) = build_model(config, data, &device)?;
        let t = &config.train;
        let total = data.train.rows().div_ceil(t.batch_size) * t.epochs;
        let optimizer = ParamOptimizer::new(&config.optimizer_settings(total), "train")?;
        let (rule_settings, rule_key) = config.rule_optimizer_settings(total);
        let rule_optimizer = ParamOptimizer::new(&rule_settings, rule_key)?;
        let blocks = net.blocks.len();
        let probe = (t.align_every > 0).then(|| {
            AlignmentProbe::new(
                &data.train,
                t.align_batch,
                task,
                blocks,
                config.seed,
                &device,
            )
        });
        Ok(Self {
            task,
            rule_trains_hidden: config.rule_optimizer_trains_hidden(),
            rng: Rng::derived(config.seed, "train"),
            order_rng: Rng::derived(config.seed, "order"),
            magnitudes: options.diagnostics.then(|| Magnitudes::new(&net)),
            probe,
            schedule: Schedule {
                seed: config.seed,
                batch_size: t.batch_size,
                eval_batch_size: t.eval_batch_size,
                log_every: t.log_every,
                align_every: t.align_every,
                pipeline_stages: t.pipeline_stages,
                threads: t.threads,
                recalibrate_batchnorm: t.recalibrate_batchnorm,
                // The adaptive schedule scales each block's update as it is made.
                streaming: options.streaming || t.layerwise == crate::rule::Layerwise::Adaptive,
                augment,
            },
            iteration: 0,
            epoch: 0,
            device,
            net,
            rule,
            optimizer,
            rule_optimizer,
        })
    }

    /// One training step on `batch`: the four moves (forward, the rule's signal per block, the
    /// local objectives, the optimizers' update), with both schedules moved on once.
    ///
    /// # Shapes
    /// `batch.x`: `[batch, inputs]`, `batch.targets`: `[batch, outputs]`.
    pub fn step(&mut self, batch: &Batch) -> StepReport {
        crate::product::on_worker(|| self.step_here(batch))
    }

    /// [`Trainer::step`] on the calling thread.
    fn step_here(&mut self, batch: &Batch) -> StepReport {
        let blocks = self.net.blocks.len();
        let mut updates = Updates::begin(
            &mut self.optimizer,
            &mut self.rule_optimizer,
            self.rule_trains_hidden,
            blocks,
            self.magnitudes.as_mut(),
        );
        let mut ctx = StepContext::new(&mut self.rng, self.task);
        if self.schedule.streaming {
            ctx = ctx.with_updater(&mut updates);
        }
        let mut output = self.rule.step(&mut self.net, batch, &mut ctx);
        let (block_grads, streamed) =
            updates.finish(&mut self.net, self.rule.as_mut(), &mut output.grads);
        self.iteration += 1;
        StepReport {
            loss: output.loss,
            output: output.output,
            block_grads,
            rows: batch.x.dims()[0],
            streamed,
        }
    }

    /// One pass over `data.train` in a fresh shuffled order (pipelined with
    /// `train.pipeline_stages`), then the epoch's evaluation on the validation and test splits.
    /// `progress` is called after every step (from the stages' threads when pipelined).
    pub fn epoch(&mut self, data: &Dataset, progress: &(dyn Fn() + Sync)) -> Result<EpochReport> {
        let epoch = self.epoch + 1;
        let n = data.train.rows();
        let mut order: Vec<usize> = (0..n).collect();
        self.order_rng.shuffle(&mut order);
        let batches: Vec<&[usize]> = order.chunks(self.schedule.batch_size).collect();
        let started = Instant::now();
        let mut tally = Tally::default();
        let (mut iterations, mut alignment) = (Vec::new(), Vec::new());
        if self.schedule.pipeline_stages > 0 {
            let first = self.iteration;
            let reports = self.train_pipelined(&data.train, &batches, epoch, progress)?;
            for (k, (report, rows)) in reports.iter().zip(&batches).enumerate() {
                self.check_step(epoch, first + k + 1, report)?;
                let labels: Vec<u32> = rows.iter().map(|&i| data.train.y[i]).collect();
                tally.add(self.task, report, &labels);
            }
        } else {
            for (index, rows) in batches.iter().enumerate() {
                let batch = self.training_batch(&data.train, rows, epoch, index);
                let report = self.step(&batch);
                self.check_step(epoch, self.iteration, &report)?;
                let weighted = tally.add(self.task, &report, &batch.labels);
                self.log_step(epoch, &report, weighted, &mut iterations, &mut alignment);
                progress();
            }
        }
        let train_seconds = started.elapsed().as_secs_f64();
        let record = self.end_of_epoch_alignment(epoch, &mut alignment);
        let metrics = self.finish_epoch(epoch, data, tally, record);
        self.check_epoch(&metrics)?;
        self.epoch = epoch;
        Ok(EpochReport {
            metrics,
            iterations,
            alignment,
            train_seconds,
        })
    }

    /// Stops the epoch when step `iteration` left a loss, a gradient or a tensor that is not
    /// finite: one host read per step (the loss plus the per-block gradient magnitudes), and a
    /// search for the culprit only when that is not finite — tensors first (the root cause
    /// after a bad update), then gradients, then the loss.
    fn check_step(&self, epoch: usize, iteration: usize, report: &StepReport) -> Result<()> {
        let grads = report.block_grads.iter().flatten();
        let sum = grads.fold(report.loss.clone().abs(), |sum, g| sum + g.clone());
        if crate::host::scalar(&sum).is_finite() {
            return Ok(());
        }
        let gradient = report.block_grads.iter().enumerate().find_map(|(i, g)| {
            let g = g.as_ref()?;
            (!divergence::is_finite(g))
                .then(|| format!("the gradient of {}", self.net.weight_name(i)))
        });
        let tensor = self
            .first_non_finite()
            .or(gradient)
            .unwrap_or_else(|| "the training loss".into());
        Err(Error::Diverged(Box::new(Divergence {
            epoch,
            iteration,
            tensor,
        })))
    }

    /// The first tensor of the net or the rule holding a value that is not finite.
    fn first_non_finite(&self) -> Option<String> {
        first_non_finite(&[&self.net, self.rule.as_ref()])
    }

    /// Stops after an epoch whose end left a tensor, or an evaluation, that is not finite.
    fn check_epoch(&self, m: &EpochMetrics) -> Result<()> {
        let losses = [
            ("the training loss", Some(m.train_loss)),
            ("the validation loss", m.val_loss),
            ("the test loss", Some(m.test_loss)),
        ];
        let tensor = self.first_non_finite().or_else(|| {
            losses
                .iter()
                .find(|(_, loss)| loss.is_some_and(|l| !l.is_finite()))
                .map(|(name, _)| name.to_string())
        });
        match tensor {
            None => Ok(()),
            Some(tensor) => Err(Error::Diverged(Box::new(Divergence {
                epoch: m.epoch,
                iteration: self.iteration,
                tensor,
            }))),
        }
    }

    /// Trains on the mini-batches `batches` (rows of `table`) through the pipelined stages
    /// of `train.pipeline_stages`; `epoch` seeds the blocks' own streams.
    pub fn train_pipelined(
        &mut self,
        table: &Table,
        batches: &[&[usize]],
        epoch: usize,
        progress: &(dyn Fn() + Sync),
    ) -> Result<Vec<StepReport>> {
        let mut rules = self.rule.local_blocks(&self.net).ok_or_else(|| {
            Error::config(
                "train.pipeline_stages",
                "layer-parallel training needs every hidden block to learn from its own output",
            )
        })?;
        let lrs = batches
            .iter()
            .map(|_| (self.optimizer.advance(), self.rule_optimizer.advance()))
            .collect();
        let plan = pipeline::Epoch {
            table,
            augment: self.schedule.augment,
            batches: batches.to_vec(),
            lrs,
            task: self.task,
            device: &self.device,
            seed: self.schedule.seed,
            epoch,
        };
        let shared = Mutex::new(pipeline::Shared {
            optimizer: &mut self.optimizer,
            rule_optimizer: &mut self.rule_optimizer,
            rule_trains_hidden: self.rule_trains_hidden,
            magnitudes: self.magnitudes.as_mut(),
        });
        let stages = self.schedule.pipeline_stages;
        let threads = pipeline::thread_count(self.schedule.threads);
        let results = pipeline::train_epoch(
            &mut self.net,
            &mut rules,
            &plan,
            &shared,
            (stages, threads),
            progress,
        )?;
        let blocks = self.net.blocks.len();
        let reports = results
            .into_iter()
            .zip(batches)
            .map(|((loss, output), rows)| {
                if let Some(magnitudes) = self.magnitudes.as_mut() {
                    magnitudes.count_step();
                }
                self.iteration += 1;
                StepReport {
                    loss,
                    output: Some(output),
                    block_grads: vec![None; blocks],
                    rows: rows.len(),
                    streamed: true,
                }
            })
            .collect();
        Ok(reports)
    }

    /// The per-iteration log line and alignment measurement due after a step.
    fn log_step(
        &mut self,
        epoch: usize,
        report: &StepReport,
        weighted: Tensor<1>,
        iterations: &mut Vec<IterationLine>,
        alignment: &mut Vec<AlignmentLine>,
    ) {
        let iteration = self.iteration;
        let log_every = self.schedule.log_every;
        if log_every > 0 && iteration.is_multiple_of(log_every) {
            iterations.push(IterationLine {
                iteration,
                epoch,
                loss: f64::from(crate::host::scalar(&weighted)) / report.rows as f64,
                mean_abs_grad: report.mean_abs_grad(),
            });
        }
        let align_every = self.schedule.align_every;
        if align_every > 0
            && iteration.is_multiple_of(align_every)
            && let Some(record) = self.measure_alignment()
        {
            alignment.push(AlignmentLine {
                iteration,
                epoch,
                record,
            });
        }
    }

    /// Measures alignment from now on on the first `rows` rows of `table` (what
    /// `train.align_every` sets up from the training split): see
    /// [`Trainer::measure_alignment`].
    pub fn set_probe(&mut self, table: &Table, rows: usize) {
        let blocks = self.net.blocks.len();
        self.probe = Some(AlignmentProbe::new(
            table,
            rows,
            self.task,
            blocks,
            self.schedule.seed,
            &self.device,
        ));
    }

    /// The alignment of the rule's update with the backprop gradient on the fixed probe batch,
    /// at the current weights (with `train.align_every` or after [`Trainer::set_probe`];
    /// `None` otherwise). Training is left as it was.
    pub fn measure_alignment(&mut self) -> Option<AlignmentRecord> {
        let probe = self.probe.as_mut()?;
        Some(probe.measure(self.rule.as_mut(), &self.net, self.task))
    }

    /// The end-of-epoch alignment record: the epoch's last measurement if it was taken at this
    /// iteration, else a new one (appended to `lines`).
    fn end_of_epoch_alignment(
        &mut self,
        epoch: usize,
        lines: &mut Vec<AlignmentLine>,
    ) -> Option<AlignmentRecord> {
        self.probe.as_ref()?;
        let iteration = self.iteration;
        if let Some(line) = lines.last()
            && line.iteration == iteration
        {
            return Some(line.record.clone());
        }
        let record = self.measure_alignment()?;
        lines.push(AlignmentLine {
            iteration,
            epoch,
            record: record.clone(),
        });
        Some(record)
    }

    /// The epoch's end: the rule's schedule moves on, batchnorm statistics are re-estimated
    /// (with `train.recalibrate_batchnorm`), the splits are evaluated and the epoch's
    /// diagnostics are read.
    fn finish_epoch(
        &mut self,
        epoch: usize,
        data: &Dataset,
        tally: Tally,
        alignment: Option<AlignmentRecord>,
    ) -> EpochMetrics {
        let n = data.train.rows();
        let train_loss = tally
            .loss_sum
            .map_or(f64::NAN, |s| f64::from(crate::host::scalar(&s)))
            / n as f64;
        let train_accuracy = tally.hits.map(|h| h as f64 / n as f64);
        let learning_block = self.rule.learning_block();
        self.rule.end_epoch(epoch);
        if self.schedule.recalibrate_batchnorm {
            self.recalibrate_batchnorm(&data.train);
        }
        let val = (data.validation.rows() > 0).then(|| self.evaluate(&data.validation));
        let test = self.evaluate(&data.test);
        let decoder_accuracy = self.evaluator().decoder_accuracies(&data.test);
        let diagnostics = self.rule.take_diagnostics();
        let (mean_abs_grad, mean_abs_update) = self.take_magnitudes();
        let units = self.net.take_unit_fractions();
        let frozen: Vec<Option<f64>> = units.iter().map(|u| u.and_then(|u| u.frozen)).collect();
        EpochMetrics {
            epoch,
            iterations: self.iteration,
            lr: self.optimizer.lr(),
            train_loss,
            train_accuracy,
            val_loss: val.map(|v| v.loss),
            val_accuracy: val.and_then(|v| v.accuracy),
            test_loss: test.loss,
            test_accuracy: test.accuracy,
            mean_abs_grad,
            mean_abs_update,
            frozen_units: frozen.iter().any(Option::is_some).then_some(frozen),
            dead_units: units.iter().map(|u| u.map(|u| u.dead)).collect(),
            diagnostics,
            decoder_accuracy,
            learning_block,
            alignment,
        }
    }

    /// Re-estimates every batchnorm's running statistics from one evaluation-mode pass over
    /// `table` in training-sized batches (see [`Net::recalibrate_batchnorm`]).
    pub fn recalibrate_batchnorm(&mut self, table: &Table) {
        let rows: Vec<usize> = (0..table.rows()).collect();
        let (task, device) = (self.task, &self.device);
        let batches = rows
            .chunks(self.schedule.batch_size)
            .map(|rows| task.batch(table, rows, device).x);
        self.net.recalibrate_batchnorm(batches);
    }

    /// Mean loss and accuracy of the net, as the rule predicts with it, on `table`.
    pub fn evaluate(&self, table: &Table) -> Evaluation {
        self.evaluator().evaluate(table)
    }

    /// The net as the rule predicts with it, evaluated in `train.eval_batch_size` chunks.
    pub fn evaluator(&self) -> Evaluator<'_> {
        Evaluator {
            rule: self.rule.as_ref(),
            net: &self.net,
            task: self.task,
            chunk: self.schedule.eval_batch_size,
            device: &self.device,
        }
    }

    /// The rule's prediction for inputs `x` in evaluation mode.
    ///
    /// # Shapes
    /// `x`: `[batch, features]` → `[batch, outputs]` (forward-forward: `[batch, classes]`).
    pub fn predict(&self, x: Tensor<2>) -> Tensor<2> {
        self.rule.predict(&self.net, x)
    }

    /// Training batch `index` of epoch `epoch`: `rows` of `table`, augmented when the run
    /// augments (from the batch's own stream).
    pub fn training_batch(
        &self,
        table: &Table,
        rows: &[usize],
        epoch: usize,
        index: usize,
    ) -> Batch {
        augmented_batch(
            self.task,
            self.schedule.augment,
            self.schedule.seed,
            (epoch, index),
            table,
            rows,
            &self.device,
        )
    }

    /// The mini-batch of `rows` of `table`, on the trainer's device.
    pub fn batch(&self, table: &Table, rows: &[usize]) -> Batch {
        self.task.batch(table, rows, &self.device)
    }

    /// Loads the net's and the rule's tensors from `file`; every one must be there.
    pub fn load_weights(&mut self, file: &WeightsFile) -> Result<()> {
        file.load_into(&mut self.net)?;
        file.load_into(self.rule.as_mut())
    }

    /// Starts from `file`: every tensor of the net, and those of the rule's own (feedback
    /// matrices, projections, decoders, inverses) it holds; a tensor of the file with no place
    /// in this net and rule, or of the wrong shape, is an error naming it.
    pub fn load_start(&mut self, file: &WeightsFile) -> Result<()> {
        let what = format!("a {} {} run", self.rule.name(), self.net.sizes());
        file.check_finite()?;
        file.check_all_placed(&[&self.net, self.rule.as_ref()], &what)?;
        file.load_into(&mut self.net)?;
        file.load_present(self.rule.as_mut())
    }

    /// Loads the net's tensors that `file` holds with the right shape; returns the names of
    /// the others (left as they were).
    pub fn load_matching(&mut self, file: &WeightsFile) -> Vec<String> {
        file.load_matching(&mut self.net)
    }

    /// Everything needed to continue exactly from here, with `run` (the caller's own record,
    /// e.g. the metrics so far) stored beside it.
    pub fn checkpoint(&self, run: serde_json::Value) -> Checkpoint {
        let state = TrainerState {
            epoch: self.epoch,
            iteration: self.iteration,
            rng: self.rng.state(),
            order_rng: self.order_rng.state(),
            rule: self.rule.state(),
            optimizers: Vec::new(),
        };
        Checkpoint::capture(
            state,
            run,
            &self.net,
            self.rule.as_ref(),
            &[&self.optimizer, &self.rule_optimizer],
            &self.device,
        )
    }

    /// Continues from `checkpoint`: tensors, optimizer state, random streams, counters.
    pub fn restore(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        checkpoint.restore_into(
            &mut self.net,
            self.rule.as_mut(),
            &mut [&mut self.optimizer, &mut self.rule_optimizer],
            &self.device,
        )?;
        let state = checkpoint.state();
        self.rng = Rng::from_state(state.rng);
        self.order_rng = Rng::from_state(state.order_rng);
        self.iteration = state.iteration;
        self.epoch = state.epoch;
        Ok(())
    }

    /// The network.
    pub fn net(&self) -> &Net {
        &self.net
    }

    /// The network, mutably (e.g. to set weights by hand).
    pub fn net_mut(&mut self) -> &mut Net {
        &mut self.net
    }

    /// The learning rule.
    pub fn rule(&self) -> &dyn LearningRule {
        self.rule.as_ref()
    }

    /// The learning rule, mutably.
    pub fn rule_mut(&mut self) -> &mut dyn LearningRule {
        self.rule.as_mut()
    }

    /// What the output learns.
    pub fn task(&self) -> Task {
        self.task
    }

    /// The device the tensors live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Training steps taken so far.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// Epochs finished so far.
    pub fn epochs_done(&self) -> usize {
        self.epoch
    }

    /// The per-block means of |gradient| and |update| of the weight matrices over the steps
    /// since the last call (what an epoch's `mean_abs_grad` and `mean_abs_update` hold), and
    /// a fresh tally; empty without diagnostics.
    pub fn take_magnitudes(&mut self) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
        self.magnitudes
            .as_mut()
            .map(Magnitudes::take)
            .unwrap_or_default()
    }

    /// Keeps each block's weight gradient of the last step, for [`Trainer::last_gradients`]
    /// (with diagnostics on; TensorBoard's gradient histograms).
    pub fn keep_last_gradients(&mut self) {
        if let Some(magnitudes) = self.magnitudes.as_mut() {
            magnitudes.keep_last();
        }
    }

    /// Per block, its weight's name and the last step's gradient of it, `[out, in]` (`None`
    /// before a step, for a block the rule did not train, or unless
    /// [`Trainer::keep_last_gradients`] was called); empty without diagnostics.
    pub fn last_gradients(&self) -> Vec<(&str, Option<&Tensor<2>>)> {
        self.magnitudes
            .as_ref()
            .map(Magnitudes::last_grads)
            .unwrap_or_default()
    }

    /// The net's learning rate at the last step.
    pub fn lr(&self) -> f64 {
        self.optimizer.lr()
    }
}

/// An epoch's running loss sum (on the device) and correct predictions.
struct Tally {
    loss_sum: Option<Tensor<1>>,
    hits: Option<usize>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            loss_sum: None,
            hits: Some(0),
        }
    }
}

impl Tally {
    /// Adds a step; returns its loss times its rows, `[1]`.
    fn add(&mut self, task: Task, report: &StepReport, labels: &[u32]) -> Tensor<1> {
        let hits = report.output.as_ref().and_then(|o| task.correct(o, labels));
        self.hits = self.hits.zip(hits).map(|(a, b)| a + b);
        let weighted = report.loss.clone().mul_scalar(report.rows as f32);
        self.loss_sum = Some(match self.loss_sum.take() {
            Some(sum) => sum + weighted.clone(),
            None => weighted.clone(),
        });
        weighted
    }
}
