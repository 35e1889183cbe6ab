//! Throughput of training steps and of the backend's matrix product.

use std::time::Instant;

use burn::tensor::{Device, Tensor};
use serde::Serialize;

use crate::backend;
use crate::data::Dataset;
use crate::engine::{Trainer, TrainerOptions};
use crate::error::Result;
use crate::experiment::ExperimentConfig;
use crate::host;
use crate::net::{Conv2d, Init, Layer, LayerCache, Mode, Net, Weighted};
use crate::product::{self, matmul};
use crate::rng::Rng;
use crate::task::Batch;

pub use crate::product::tally::{ConvPass, Op};

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
    /// The FLOPs per sample the step's products really did (matrix products and convolutions
    /// counted as they ran).
    pub measured_flops_per_sample: f64,
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

/// GFLOP/s of `n×n · n×n` products on `device` (by the direct products training uses),
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

/// GFLOP/s of `ops` run back to back on `device` (random operands made beforehand, a
/// convolution's pass through a layer of its geometry as training runs it), once per repeat
/// after a warm-up: the rate the step's own operations reach alone, the ceiling its step can
/// approach. Each repeat gives the better of two ways of using the cores: the operations one
/// after another, each on every core, and (with two or more threads in the pool) two copies
/// of the list at once, each on one core, as layer-parallel stages and the one-core-each
/// halves of a backward step (`product::join`) run their products.
pub fn products_gflops(ops: &[Op], repeats: usize, device: &Device) -> Vec<f64> {
    let mut rng = Rng::new(0);
    let operands: Vec<Operands> = ops
        .iter()
        .map(|op| Operands::new(op, &mut rng, device))
        .collect();
    let flops: f64 = ops.iter().map(|op| op.flops() as f64).sum();
    let run = || {
        let mut last = None;
        for operands in &operands {
            last = Some(operands.run());
        }
        if let Some(last) = last {
            host::scalar(&last.slice([0..1, 0..1]));
        }
    };
    let rate = |copies: f64, go: &dyn Fn()| {
        let start = Instant::now();
        go();
        copies * flops / start.elapsed().as_secs_f64() / 1e9
    };
    let pair = || {
        product::join(run, run);
    };
    let concurrent = rayon::current_num_threads() >= 2;
    run();
    if concurrent {
        pair();
    }
    (0..repeats.max(1))
        .map(|_| {
            let alone = rate(1.0, &run);
            if concurrent {
                alone.max(rate(2.0, &pair))
            } else {
                alone
            }
        })
        .collect()
}

/// One recorded operation, ready to run again.
enum Operands {
    Matmul(Box<[Tensor<2>; 2]>),
    Conv(Box<ConvOperands>),
}

/// A convolution's pass, ready to run again.
struct ConvOperands {
    layer: Conv2d,
    /// The forward's cache on a random input (what the backward passes read).
    cache: LayerCache,
    /// A random output gradient, `[batch, out·oh·ow]`.
    grad: Tensor<2>,
    pass: ConvPass,
}

impl Operands {
    fn new(op: &Op, rng: &mut Rng, device: &Device) -> Self {
        match *op {
            Op::Matmul([m, k, n]) => Operands::Matmul(Box::new([
                host::matrix(rng.normal_vec(m * k, 0.0, 1.0), m, k, device),
                host::matrix(rng.normal_vec(k * n, 0.0, 1.0), k, n, device),
            ])),
            Op::Conv {
                geometry,
                batch,
                pass,
            } => {
                let layer = Conv2d::new(geometry, Init::Lecun, None, rng, device)
                    .expect("a recorded convolution's geometry fits");
                let features = |v: [usize; 3]| v.iter().product::<usize>();
                let x = rng.normal_vec(batch * features(geometry.input), 0.0, 1.0);
                let x = host::matrix(x, batch, features(geometry.input), device);
                let out = features(layer.output_volume());
                let grad = host::matrix(rng.normal_vec(batch * out, 0.0, 1.0), batch, out, device);
                let cache = Layer::forward(&layer, x, &mut Mode::Eval);
                Operands::Conv(Box::new(ConvOperands {
                    layer,
                    cache,
                    grad,
                    pass,
                }))
            }
        }
    }

    /// The operation's result (for a weight gradient, the kernels' gradient).
    fn run(&self) -> Tensor<2> {
        match self {
            Operands::Matmul(ab) => matmul(ab[0].clone(), ab[1].clone()),
            Operands::Conv(conv) => match conv.pass {
                ConvPass::Forward => conv.layer.forward(conv.cache.input.clone()),
                ConvPass::Weight => {
                    let grads = conv.layer.param_grads(&conv.cache, &conv.grad);
                    grads.into_iter().next().expect("a kernel gradient").1
                }
                ConvPass::Input => {
                    let ConvOperands {
                        layer, cache, grad, ..
                    } = &**conv;
                    layer.input_grad(cache, grad.clone(), &layer.weight)
                }
            },
        }
    }
}

/// Multiply–adds of one forward pass per sample.
fn weights_per_sample(net: &Net) -> f64 {
    net.blocks
        .iter()
        .map(|b| b.spec().multiply_adds() as f64)
        .sum()
}

/// A training step ready to be timed again and again: the config's [`Trainer`] (no
/// diagnostics tallied) and eight fixed mini-batches of its training data (so no data handling
/// is timed).
pub struct StepBench {
    trainer: Trainer,
    data: Dataset,
    batches: Vec<Batch>,
    /// The rows of every batch.
    rows: Vec<Vec<usize>>,
    /// Whether the steps run layer-parallel (`train.pipeline_stages`).
    pipelined: bool,
    /// Product FLOPs per sample of the last [`StepBench::run`].
    measured_flops: Option<f64>,
}

impl StepBench {
    /// Loads the data and builds the trainer of `config`.
    pub fn new(config: &ExperimentConfig) -> Result<Self> {
        let data = crate::data::load(&config.data)?;
        let options = TrainerOptions {
            diagnostics: false,
            streaming: true,
        };
        let trainer = Trainer::with_options(config, &data, options)?;
        let n = data.train.rows();
        let batch_size = config.train.batch_size.min(n);
        let rows: Vec<Vec<usize>> = (0..8)
            .map(|k| (0..batch_size).map(|i| (k * batch_size + i) % n).collect())
            .collect();
        let batches = rows
            .iter()
            .map(|rows| trainer.batch(&data.train, rows))
            .collect();
        Ok(Self {
            trainer,
            data,
            batches,
            rows,
            pipelined: config.train.pipeline_stages > 0,
            measured_flops: None,
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
    pub fn run(&mut self, steps: usize) -> Result<f64> {
        let flops = product::tally::flops();
        let start = Instant::now();
        let last = if self.pipelined {
            let batches: Vec<&[usize]> = (0..steps)
                .map(|i| self.rows[i % self.rows.len()].as_slice())
                .collect();
            let reports = self
                .trainer
                .train_pipelined(&self.data.train, &batches, 1, &|| {})?;
            reports.into_iter().last()
        } else {
            (0..steps)
                .map(|i| self.trainer.step(&self.batches[i % self.batches.len()]))
                .last()
        };
        if let Some(report) = last {
            report.loss();
        }
        let seconds = start.elapsed().as_secs_f64();
        let samples = (steps * self.batch_size()) as f64;
        self.measured_flops = Some((product::tally::flops() - flops) as f64 / samples.max(1.0));
        Ok(samples / seconds)
    }

    /// The FLOPs per sample the last [`StepBench::run`]'s products did (matrix products and
    /// convolutions, counted as they ran: what the rule really computes, unlike the nominal
    /// [`StepBench::flops_per_sample`]); `None` before a run.
    pub fn measured_flops_per_sample(&self) -> Option<f64> {
        self.measured_flops
    }

    /// The products and convolution passes one training step runs, in order (one step on the
    /// first mini-batch, not timed).
    pub fn step_products(&mut self) -> Vec<Op> {
        let batch = &self.batches[0];
        let trainer = &mut self.trainer;
        product::tally::record(|| trainer.step(batch).loss()).1
    }

    /// Nominal floating-point operations of one training step per sample: 6 per weight
    /// (forward, input gradient, weight gradient), whatever the rule skips or adds.
    pub fn flops_per_sample(&self) -> f64 {
        6.0 * weights_per_sample(self.trainer.net())
    }

    /// The rule's name.
    pub fn rule(&self) -> String {
        self.trainer.rule().name()
    }

    /// Layer sizes, `in-…-out`.
    pub fn sizes(&self) -> String {
        self.trainer.net().sizes()
    }

    /// The device the net lives on.
    pub fn device(&self) -> &Device {
        self.trainer.device()
    }

    /// The trainer being timed.
    pub fn trainer(&self) -> &Trainer {
        &self.trainer
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
    bench.run(warmup)?;
    let mut rates = (0..repeats.max(1))
        .map(|_| bench.run(steps))
        .collect::<Result<Vec<f64>>>()?;
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
        measured_flops_per_sample: bench.measured_flops_per_sample().unwrap_or(0.0),
        train_gflops,
        matmul_gflops: matmul,
        fraction_of_matmul: train_gflops / matmul,
        steps,
        repeats,
        backend: backend::name().to_string(),
    })
}
