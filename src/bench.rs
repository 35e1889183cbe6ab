//! Throughput of training steps and of the backend's matrix product.

use std::sync::Mutex;
use std::time::Instant;

use burn::tensor::Device;
use serde::Serialize;

use crate::backend;
use crate::error::{Error, Result};
use crate::experiment::pipeline;
use crate::experiment::updates::Updates;
use crate::experiment::{ExperimentConfig, Setup};
use crate::host;
use crate::memory;
use crate::net::{Net, Parameters};
use crate::optim::ParamOptimizer;
use crate::product::matmul;
use crate::rng::Rng;
use crate::rule::{Batch, StepContext};

/// What `plasticity bench` measures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The learning rule timed.
    pub rule: String,
    /// Layer sizes, `in-…-out`.
    pub sizes: String,
    /// Samples per mini-batch.
    pub batch_size: usize,
    /// Training samples per second (median over repeats).
    pub samples_per_second: f64,
    /// Slowest and fastest repeat, samples per second.
    pub samples_per_second_range: (f64, f64),
    /// Floating-point operations of one training step per sample (6 per weight: forward,
    /// input gradient, weight gradient).
    pub flops_per_sample: f64,
    /// The training step's rate, GFLOP/s.
    pub train_gflops: f64,
    /// The backend's own rate on a 1024×1024 product, GFLOP/s (median).
    pub matmul_gflops: f64,
    /// `train_gflops / matmul_gflops`.
    pub fraction_of_matmul: f64,
    /// Timed steps per repeat.
    pub steps: usize,
    /// Repeats.
    pub repeats: usize,
    /// The compute backend.
    pub backend: String,
}

/// The middle value (the upper one of an even count); sorts `values`.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// GFLOP/s of `n×n · n×n` products on `device` (by [`matmul`], as training multiplies),
/// median of `repeats` after a warm-up.
pub fn matmul_gflops(n: usize, repeats: usize, device: &Device) -> f64 {
    let mut rng = Rng::new(0);
    let a = host::matrix(rng.normal_vec(n * n, 0.0, 1.0), n, n, device);
    let b = host::matrix(rng.normal_vec(n * n, 0.0, 1.0), n, n, device);
    let run = || host::scalar(&matmul(a.clone(), b.clone()).slice([0..1, 0..1]));
    run();
    let mut rates: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let start = Instant::now();
            run();
            2.0 * (n as f64).powi(3) / start.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    median(&mut rates)
}

/// Multiply–adds of one forward pass per sample.
fn weights_per_sample(net: &Net) -> f64 {
    net.blocks
        .iter()
        .map(|b| (b.spec.inputs * b.spec.outputs) as f64)
        .sum()
}

/// A training step ready to be timed again and again: the config's net, rule and optimizers,
/// and eight fixed mini-batches of its training data (so no data handling is timed).
pub struct StepBench {
    setup: Setup,
    optimizer: ParamOptimizer,
    rule_optimizer: ParamOptimizer,
    rule_trains_hidden: bool,
    rng: Rng,
    batches: Vec<Batch>,
    /// The rows of every batch.
    rows: Vec<Vec<usize>>,
    /// Pipelined stages (0 = off) and threads.
    pipeline: (usize, usize),
}

impl StepBench {
    /// Loads the data and builds the net, rule and optimizers of `config`.
    pub fn new(config: &ExperimentConfig) -> Result<Self> {
        let mut setup = Setup::new(config)?;
        let settings = config.optimizer_settings(1);
        let n = setup.data.train.rows();
        let batch_size = config.train.batch_size.min(n);
        let rows: Vec<Vec<usize>> = (0..8)
            .map(|k| (0..batch_size).map(|i| (k * batch_size + i) % n).collect())
            .collect();
        let batches = rows
            .iter()
            .map(|rows| setup.task.batch(&setup.data.train, rows, &setup.device))
            .collect();
        let t = &config.train;
        if t.pipeline_stages > 0 && setup.rule.local_blocks(&setup.net).is_none() {
            return Err(Error::config(
                "train.pipeline_stages",
                "layer-parallel training needs every hidden block to learn from its own output",
            ));
        }
        Ok(Self {
            optimizer: ParamOptimizer::new(&settings, "train")?,
            rule_optimizer: ParamOptimizer::new(&settings, "train")?,
            rule_trains_hidden: config.rule_optimizer_trains_hidden(),
            rng: Rng::derived(config.seed, "bench"),
            batches,
            rows,
            pipeline: (t.pipeline_stages, pipeline::thread_count(t.threads)),
            setup,
        })
    }

    /// Samples per mini-batch.
    pub fn batch_size(&self) -> usize {
        self.batches[0].x.dims()[0]
    }

    /// Runs `steps` training steps (forward, the rule's update signals, optimizer steps) and
    /// returns samples per second, timed until the last loss is on the host. With
    /// `train.pipeline_stages`, the steps run layer-parallel on the same mini-batches (made
    /// from their rows inside the timed loop).
    pub fn run(&mut self, steps: usize) -> f64 {
        if self.pipeline.0 > 0 {
            return self.run_pipelined(steps);
        }
        let start = Instant::now();
        let Setup {
            task, net, rule, ..
        } = &mut self.setup;
        let mut last = None;
        for i in 0..steps {
            let mut updates = Updates::begin(
                &mut self.optimizer,
                &mut self.rule_optimizer,
                self.rule_trains_hidden,
                net.blocks.len(),
                None,
            );
            let mut ctx = StepContext::new(&mut self.rng, *task).with_updater(&mut updates);
            let mut step = rule.step(net, &self.batches[i % self.batches.len()], &mut ctx);
            updates.finish(net, rule.as_mut(), &mut step.grads);
            last = Some(step.loss);
        }
        if let Some(loss) = last {
            host::scalar(&loss);
        }
        (steps * self.batch_size()) as f64 / start.elapsed().as_secs_f64()
    }

    fn run_pipelined(&mut self, steps: usize) -> f64 {
        let start = Instant::now();
        let Setup {
            task,
            net,
            rule,
            data,
            device,
        } = &mut self.setup;
        let batches: Vec<&[usize]> = (0..steps)
            .map(|i| self.rows[i % self.rows.len()].as_slice())
            .collect();
        let lrs = batches
            .iter()
            .map(|_| (self.optimizer.advance(), self.rule_optimizer.advance()))
            .collect();
        let epoch = pipeline::Epoch {
            table: &data.train,
            batches,
            lrs,
            task: *task,
            device,
            seed: 0,
            epoch: 1,
        };
        let shared = Mutex::new(pipeline::Shared {
            optimizer: &mut self.optimizer,
            rule_optimizer: &mut self.rule_optimizer,
            rule_trains_hidden: self.rule_trains_hidden,
            magnitudes: None,
        });
        let rules = rule
            .local_blocks(net)
            .expect("checked when the bench was built");
        let results = pipeline::train_epoch(net, rules, &epoch, &shared, self.pipeline, &|| {})
            .expect("thread pools were built before");
        if let Some((loss, _)) = results.last() {
            host::scalar(loss);
        }
        (steps * self.batch_size()) as f64 / start.elapsed().as_secs_f64()
    }

    /// Nominal floating-point operations of one training step per sample: 6 per weight
    /// (forward, input gradient, weight gradient), whatever the rule skips or adds.
    pub fn flops_per_sample(&self) -> f64 {
        6.0 * weights_per_sample(&self.setup.net)
    }

    /// The rule's name.
    pub fn rule(&self) -> String {
        self.setup.rule.name()
    }

    /// Layer sizes, `in-…-out`.
    pub fn sizes(&self) -> String {
        self.setup.net.sizes()
    }

    /// The device the net lives on.
    pub fn device(&self) -> &Device {
        &self.setup.device
    }
}

/// Times `steps` training steps (after `warmup` more), `repeats` times, on the config's data.
pub fn bench_training(
    config: &ExperimentConfig,
    steps: usize,
    warmup: usize,
    repeats: usize,
) -> Result<BenchReport> {
    let mut bench = StepBench::new(config)?;
    bench.run(warmup);
    let mut rates: Vec<f64> = (0..repeats.max(1)).map(|_| bench.run(steps)).collect();
    let range = (
        rates.iter().copied().fold(f64::INFINITY, f64::min),
        rates.iter().copied().fold(0.0, f64::max),
    );
    let samples_per_second = median(&mut rates);
    let flops_per_sample = bench.flops_per_sample();
    let train_gflops = samples_per_second * flops_per_sample / 1e9;
    let matmul = matmul_gflops(1024, 5, bench.device());
    Ok(BenchReport {
        rule: bench.rule(),
        sizes: bench.sizes(),
        batch_size: bench.batch_size(),
        samples_per_second,
        samples_per_second_range: range,
        flops_per_sample,
        train_gflops,
        matmul_gflops: matmul,
        fraction_of_matmul: train_gflops / matmul,
        steps,
        repeats,
        backend: backend::name().to_string(),
    })
}

/// Heap memory of a training step, as [`measure_memory`] gives it.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    /// The learning rule.
    pub rule: String,
    /// Layer sizes, `in-…-out`.
    pub sizes: String,
    /// Blocks of the net, output block included.
    pub blocks: usize,
    /// Samples per mini-batch.
    pub batch_size: usize,
    /// Bytes of the trainable parameters (net and rule).
    pub parameter_bytes: usize,
    /// Heap live between steps (data, parameters, fixed matrices, optimizer state), bytes.
    pub resident_bytes: usize,
    /// The most heap a step used on top of that (activations, gradients, temporaries), bytes.
    pub step_peak_bytes: usize,
}

/// Measures heap memory of `steps` training steps of `config` (after one warm-up step that
/// creates the optimizer state). Needs a binary that installed
/// [`crate::memory::CountingAllocator`].
pub fn measure_memory(config: &ExperimentConfig, steps: usize) -> Result<MemoryReport> {
    if !memory::counting() {
        return Err(Error::config(
            "bench",
            "memory is measured only by a binary that installs plasticity::memory::CountingAllocator",
        ));
    }
    let mut bench = StepBench::new(config)?;
    bench.run(1);
    let resident = memory::live_bytes();
    memory::reset_peak();
    bench.run(steps.max(1));
    let step_peak = memory::peak_bytes().saturating_sub(resident);
    let Setup { net, rule, .. } = &bench.setup;
    Ok(MemoryReport {
        rule: bench.rule(),
        sizes: bench.sizes(),
        blocks: net.blocks.len(),
        batch_size: bench.batch_size(),
        parameter_bytes: 4 * (net.parameter_count() + rule.parameter_count()),
        resident_bytes: resident,
        step_peak_bytes: step_peak,
    })
}
