//! Layer-parallel training for rules without a backward chain (DRTP, local losses, linear
//! decoders). The blocks are cut into contiguous stages of about equal work, one thread each,
//! and mini-batches flow through them as through a pipeline: while stage k learns on batch t,
//! stage k+1 learns on batch t−1.
//!
//! Every block still sees the same inputs in the same order as in a plain run (a block's input
//! is what the block below produced *before* its own update on that batch), so the weights do
//! not depend on the number of stages. The one difference from a plain run is the random
//! draws: each block draws its dropout masks and stochastic units from its own stream (derived
//! from the seed, the epoch and the block), so nets without random draws train exactly as in a
//! plain run. Each stage computes in its own Rayon pool with its share of the threads, so stages
//! never compete for threads, and a machine with more cores gives each stage more.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use burn::tensor::{Device, Tensor};

use crate::data::Table;
use crate::data::augment::Augment;
use crate::engine::magnitudes::Magnitudes;
use crate::engine::trainer::augmented_batch;
use crate::engine::updates::BlockStep;
use crate::error::{Error, Result};
use crate::net::{Block, BlockParams, Gradients, Net, Parameters};
use crate::optim::ParamOptimizer;
use crate::rng::Rng;
use crate::rule::{BlockUpdater, LocalRule, learn_hidden_block, learn_output_block};
use crate::task::{Batch, Task};

/// What the stages share: the optimizers and the magnitude tally (each stage steps only its
/// own blocks' tensors, under the lock).
pub struct Shared<'a> {
    /// The net's optimizer.
    pub optimizer: &'a mut ParamOptimizer,
    /// The rule's optimizer (decoders).
    pub rule_optimizer: &'a mut ParamOptimizer,
    /// Whether the rule's optimizer also trains the hidden blocks.
    pub rule_trains_hidden: bool,
    /// Per-block gradient and update magnitudes, when tallied.
    pub magnitudes: Option<&'a mut Magnitudes>,
}

/// One epoch of pipelined training.
pub struct Epoch<'a> {
    /// The training split.
    pub table: &'a Table,
    /// Rows of every mini-batch, in order.
    pub batches: Vec<&'a [usize]>,
    /// Learning rates (net, rule) of every mini-batch's iteration.
    pub lrs: Vec<(f64, f64)>,
    /// The output task.
    pub task: Task,
    /// Where batches are put.
    pub device: &'a Device,
    /// The run's seed and the epoch, for the blocks' random streams.
    pub seed: u64,
    /// The epoch's number (1-based).
    pub epoch: usize,
    /// How training batches are augmented, if they are.
    pub augment: Option<Augment>,
}

/// Contiguous ranges of blocks with about equal multiply–adds, `stages` of them (fewer for a
/// shallower net).
pub fn stage_ranges(net: &Net, stages: usize) -> Vec<Range<usize>> {
    let work: Vec<f64> = net
        .blocks
        .iter()
        .map(|b| b.spec().multiply_adds() as f64)
        .collect();
    let stages = stages.clamp(1, work.len());
    let total: f64 = work.iter().sum();
    let mut ranges = Vec::with_capacity(stages);
    let mut start = 0;
    let mut done = 0.0;
    for k in 1..stages {
        let goal = total * k as f64 / stages as f64;
        let mut end = start + 1;
        done += work[start];
        // Take the next block while that brings the stage closer to its share, leaving one
        // block at least for each later stage.
        while end < work.len() - (stages - k)
            && (done + work[end] - goal).abs() < (done - goal).abs()
        {
            done += work[end];
            end += 1;
        }
        ranges.push(start..end);
        start = end;
    }
    ranges.push(start..work.len());
    ranges
}

/// The stage's block updates, through the shared optimizers at one iteration's learning rates.
struct StageUpdater<'s, 'a> {
    shared: &'s Mutex<Shared<'a>>,
    lrs: (f64, f64),
    output_block: usize,
}

impl BlockUpdater for StageUpdater<'_, '_> {
    fn update(
        &mut self,
        block: &mut BlockParams<'_>,
        own: Option<&mut dyn Parameters>,
        grads: &mut Gradients,
    ) {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        let Shared {
            optimizer,
            rule_optimizer,
            rule_trains_hidden,
            magnitudes,
        } = &mut *shared;
        let step = BlockStep {
            optimizer,
            rule_optimizer,
            rule_trains_hidden: *rule_trains_hidden,
            output_block: self.output_block,
            lrs: self.lrs,
        };
        step.run(block, own, grads, magnitudes.as_deref_mut());
    }
}

/// One stage's part of the net and the channels around it.
struct Stage<'n, 'r> {
    first: usize,
    blocks: &'n mut [Block],
    rules: &'n mut [&'r mut dyn LocalRule],
    input: Option<Receiver<(Batch, Tensor<2>)>>,
    output: Option<SyncSender<(Batch, Tensor<2>)>>,
}

impl Stage<'_, '_> {
    /// Runs every batch through the stage's blocks; the last stage returns each batch's loss
    /// and prediction.
    fn run(
        self,
        epoch: &Epoch<'_>,
        shared: &Mutex<Shared<'_>>,
        output_block: usize,
        progress: &(dyn Fn() + Sync),
    ) -> Vec<(Tensor<1>, Tensor<2>)> {
        let mut rngs: Vec<Rng> = (0..self.blocks.len())
            .map(|offset| {
                let purpose = format!(
                    "pipeline epoch {} block {}",
                    epoch.epoch,
                    self.first + offset
                );
                Rng::derived(epoch.seed, &purpose)
            })
            .collect();
        let mut results = Vec::new();
        for (t, rows) in epoch.batches.iter().enumerate() {
            let (batch, mut h) = match &self.input {
                None => {
                    let batch = augmented_batch(
                        epoch.task,
                        epoch.augment,
                        epoch.seed,
                        (epoch.epoch, t),
                        epoch.table,
                        rows,
                        epoch.device,
                    );
                    let x = batch.x.clone();
                    (batch, x)
                }
                Some(input) => match input.recv() {
                    Ok(message) => message,
                    // The stage below stopped (it panicked): stop too.
                    Err(_) => return results,
                },
            };
            let mut updater = StageUpdater {
                shared,
                lrs: epoch.lrs[t],
                output_block,
            };
            for (offset, (block, rng)) in self.blocks.iter_mut().zip(&mut rngs).enumerate() {
                let mut params = BlockParams {
                    index: self.first + offset,
                    block,
                };
                if params.index == output_block {
                    let (loss, output) = learn_output_block(
                        &mut params,
                        h.clone(),
                        &batch,
                        epoch.task,
                        rng,
                        true,
                        &mut updater,
                    );
                    results.push((loss, output));
                    progress();
                } else {
                    let rule = &mut *self.rules[offset];
                    let (output, _) = learn_hidden_block(
                        &mut params,
                        rule,
                        h,
                        &batch,
                        epoch.task,
                        rng,
                        true,
                        &mut updater,
                    );
                    h = output;
                }
            }
            if let Some(next) = &self.output
                && next.send((batch, h)).is_err()
            {
                return results;
            }
        }
        results
    }
}

/// Trains one epoch with the net's blocks in `stages` concurrent stages sharing `threads` CPU
/// threads; `rules` are the hidden blocks' local rules. Returns every batch's mean loss `[1]`
/// and prediction `[batch, outputs]`, in batch order.
pub fn train_epoch(
    net: &mut Net,
    rules: &mut [&mut dyn LocalRule],
    epoch: &Epoch<'_>,
    shared: &Mutex<Shared<'_>>,
    (stages, threads): (usize, usize),
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<(Tensor<1>, Tensor<2>)>> {
    let ranges = stage_ranges(net, stages);
    let output_block = net.blocks.len() - 1;
    let per_stage = (threads / ranges.len()).max(1);
    let pools = ranges
        .iter()
        .map(|_| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(per_stage)
                .build()
                .map_err(|e| Error::config("train.threads", e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut parts = Vec::with_capacity(ranges.len());
    let (mut blocks, mut rules) = (&mut net.blocks[..], rules);
    let mut input = None;
    for (k, range) in ranges.iter().enumerate() {
        let (mine, rest) = blocks.split_at_mut(range.len());
        let hidden = range.end.min(output_block) - range.start;
        let (my_rules, other_rules) = rules.split_at_mut(hidden);
        let (output, next_input) = if k + 1 < ranges.len() {
            let (send, receive) = sync_channel(1);
            (Some(send), Some(receive))
        } else {
            (None, None)
        };
        parts.push(Stage {
            first: range.start,
            blocks: mine,
            rules: my_rules,
            input: input.take(),
            output,
        });
        input = next_input;
        blocks = rest;
        rules = other_rules;
    }
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .zip(&pools)
            .map(|(stage, pool)| {
                scope.spawn(move || {
                    pool.install(|| stage.run(epoch, shared, output_block, progress))
                })
            })
            .collect();
        let mut last = Vec::new();
        for handle in handles {
            last = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
        last
    });
    Ok(results)
}

/// The CPU threads a run may use: `threads`, or every core for 0.
pub fn thread_count(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        threads => threads,
    }
}
