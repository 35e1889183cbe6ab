//! Throughput of training steps and of the backend's matrix product.

use std::time::Instant;

use burn::tensor::Device;
use serde::Serialize;

use crate::backend;
use crate::error::Result;
use crate::experiment::{ExperimentConfig, Setup};
use crate::host;
use crate::net::Net;
use crate::optim::ParamOptimizer;
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

/// GFLOP/s of `n×n · n×n` products on `device`, median of `repeats` after a warm-up.
pub fn matmul_gflops(n: usize, repeats: usize, device: &Device) -> f64 {
    let mut rng = Rng::new(0);
    let a = host::matrix(rng.normal_vec(n * n, 0.0, 1.0), n, n, device);
    let b = host::matrix(rng.normal_vec(n * n, 0.0, 1.0), n, n, device);
    let run = || host::scalar(&a.clone().matmul(b.clone()).slice([0..1, 0..1]));
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
    rng: Rng,
    batches: Vec<Batch>,
}

impl StepBench {
    /// Loads the data and builds the net, rule and optimizers of `config`.
    pub fn new(config: &ExperimentConfig) -> Result<Self> {
        let setup = Setup::new(config)?;
        let settings = config.optimizer_settings(1);
        let n = setup.data.train.rows();
        let batch_size = config.train.batch_size.min(n);
        let batches = (0..8)
            .map(|k| {
                let rows: Vec<usize> = (0..batch_size).map(|i| (k * batch_size + i) % n).collect();
                setup.task.batch(&setup.data.train, &rows, &setup.device)
            })
            .collect();
        Ok(Self {
            optimizer: ParamOptimizer::new(&settings, "train")?,
            rule_optimizer: ParamOptimizer::new(&settings, "train")?,
            rng: Rng::derived(config.seed, "bench"),
            batches,
            setup,
        })
    }

    /// Samples per mini-batch.
    pub fn batch_size(&self) -> usize {
        self.batches[0].x.dims()[0]
    }

    /// Runs `steps` training steps (forward, the rule's update signals, optimizer steps) and
    /// returns samples per second, timed until the last loss is on the host.
    pub fn run(&mut self, steps: usize) -> f64 {
        let start = Instant::now();
        let Setup {
            task, net, rule, ..
        } = &mut self.setup;
        let mut last = None;
        for i in 0..steps {
            let mut ctx = StepContext::new(&mut self.rng, *task);
            let mut step = rule.step(net, &self.batches[i % self.batches.len()], &mut ctx);
            self.optimizer.step(net, &mut step.grads);
            self.rule_optimizer.step(rule.as_mut(), &mut step.grads);
            last = Some(step.loss);
        }
        if let Some(loss) = last {
            host::scalar(&loss);
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
