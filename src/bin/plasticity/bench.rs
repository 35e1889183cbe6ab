//! `plasticity bench`: one config's training step, or every rule side by side with PyTorch.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;
use plasticity::activation::Activation;
use plasticity::bench::{
    ConvPass, Op, StepBench, bench_training, matmul_gflops, median, products_gflops,
};
use plasticity::net::Parameters;

use crate::memory;
use plasticity::experiment::ExperimentConfig;
use plasticity::experiment::compare::Comparison;
use plasticity::experiment::config::PerBlock;
use serde::Serialize;

use crate::ConfigArgs;

#[derive(Args)]
#[command(group = clap::ArgGroup::new("mode").args(["vs_torch", "memory", "playground"]))]
pub struct BenchArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Timed training steps per repeat (per round with --vs-torch).
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// Untimed steps first (with --vs-torch: before every round, on both sides).
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Repeats (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Time every variant of a comparison file (default `experiments/bench_vs_torch.toml`)
    /// against the PyTorch reference, alternating sides for `--repeats` rounds; each variant's
    /// name is the reference's `--rule` code.
    #[arg(long)]
    vs_torch: bool,
    /// With --vs-torch: only these variants (comma-separated).
    #[arg(long, value_delimiter = ',', requires = "mode")]
    rules: Vec<String>,
    /// With --vs-torch: the Python interpreter that has torch and numpy.
    #[arg(long, default_value = "python3", requires = "vs_torch")]
    python: PathBuf,
    /// With --vs-torch: the reference script.
    #[arg(
        long,
        default_value = "bench/torch_reference.py",
        requires = "vs_torch"
    )]
    torch_script: PathBuf,
    /// With --vs-torch: threads the reference may use (2 = both cores here).
    #[arg(long, default_value_t = 2, requires = "vs_torch")]
    torch_threads: usize,
    /// Peak heap memory of a training step for every variant of a comparison file (default
    /// `experiments/bench_vs_torch.toml`) at each of `--depths`, by rule and depth.
    #[arg(long)]
    memory: bool,
    /// With --memory: hidden blocks of the nets measured (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "4,16,64",
        requires = "memory"
    )]
    depths: Vec<usize>,
    /// With --memory: units per hidden block.
    #[arg(long, default_value_t = 1000, requires = "memory")]
    width: usize,
    /// With --memory: convolutional hidden blocks of this many channels (3×3 kernels,
    /// padding 1, so every block keeps the image's size) instead of fully connected ones; the
    /// data must be images (`--set data.dataset=fashion_mnist`).
    #[arg(long, requires = "memory")]
    conv: Option<usize>,
    /// With --memory: samples per mini-batch.
    #[arg(long, default_value_t = 1024, requires = "memory")]
    batch: usize,
    /// The playground of `plasticity serve`: native steps per second of its default net
    /// (2-8-8-2 tanh on signed_xor, batch 16) under backprop, DFA, linear decoders and a
    /// compare pair, and frames per second of the page's loop (10 steps and the frame's
    /// heatmaps per request, over HTTP on loopback).
    #[arg(long)]
    playground: bool,
    /// With --memory: steps measured (after one warm-up step).
    #[arg(long, default_value_t = 2, requires = "memory")]
    memory_steps: usize,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.vs_torch {
        return vs_torch(&args);
    }
    if args.memory {
        return memory(&args);
    }
    if args.playground {
        return playground(&args);
    }
    let config = args.config.load()?;
    let report = bench_training(&config, args.steps, args.warmup, args.repeats)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "{} {} batch {} on {} ({}):",
        report.rule, report.sizes, report.batch_size, config.data.dataset, report.backend
    );
    println!(
        "  training   {:>10.0} samples/s (median of {}; range {:.0}–{:.0})",
        report.samples_per_second,
        report.repeats,
        report.samples_per_second_range.0,
        report.samples_per_second_range.1
    );
    println!(
        "  training   {:>10.1} GFLOP/s ({:.2} MFLOP per sample nominal, {:.2} measured)",
        report.train_gflops,
        report.flops_per_sample / 1e6,
        report.measured_flops_per_sample / 1e6
    );
    println!(
        "  matmul     {:>10.1} GFLOP/s (1024×1024)",
        report.matmul_gflops
    );
    println!(
        "  ratio      {:>10.1} % of the matmul ceiling",
        100.0 * report.fraction_of_matmul
    );
    Ok(())
}

/// One rule's side-by-side figures.
#[derive(Serialize)]
struct RuleRow {
    rule: String,
    ours: Vec<f64>,
    torch: Vec<f64>,
    ours_median: f64,
    torch_median: f64,
    ratio_median: f64,
    ratio_min: f64,
    ratio_max: f64,
    /// FLOPs per sample the step's products really did (counted while timing ours).
    measured_flops_per_sample: f64,
    /// The step's own products alone, back to back: GFLOP/s per repeat, ours and PyTorch's.
    ceiling_ours: Vec<f64>,
    ceiling_torch: Vec<f64>,
    /// The best of all those repeats: the rule's ceiling.
    ceiling_gflops: f64,
    /// Our median training rate in GFLOP/s (measured FLOPs) over the ceiling.
    ours_fraction_of_ceiling: f64,
    /// PyTorch's median rate at the same FLOPs per sample over the ceiling.
    torch_fraction_of_ceiling: f64,
}

/// A rule's ceiling: the products one of its steps runs (shapes recorded from a step), timed
/// alone back to back on our side and PyTorch's, `repeats` times each.
struct Ceiling {
    measured_flops: f64,
    ours: Vec<f64>,
    torch: Vec<f64>,
}

impl Ceiling {
    fn measure(
        bench: &mut StepBench,
        reference: &Reference<'_>,
        repeats: usize,
    ) -> anyhow::Result<Self> {
        let measured_flops = bench
            .measured_flops_per_sample()
            .context("the step was not timed")?;
        let shapes = bench.step_products();
        let repeats = repeats.max(3);
        let ours = products_gflops(&shapes, repeats, bench.device());
        let torch = reference.products_gflops(&shapes, repeats)?;
        Ok(Self {
            measured_flops,
            ours,
            torch,
        })
    }

    /// The best rate of any repeat on either side.
    fn best(&self) -> f64 {
        self.ours
            .iter()
            .chain(&self.torch)
            .copied()
            .fold(0.0, f64::max)
    }
}

impl RuleRow {
    fn new(rule: String, ours: Vec<f64>, torch: Vec<f64>, ceiling: Ceiling) -> Self {
        let mut ratios: Vec<f64> = ours.iter().zip(&torch).map(|(a, b)| a / b).collect();
        let ratio_min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let ratio_max = ratios.iter().copied().fold(0.0, f64::max);
        let ours_median = median(&mut ours.clone());
        let torch_median = median(&mut torch.clone());
        let best = ceiling.best();
        let fraction = |samples: f64| samples * ceiling.measured_flops / 1e9 / best;
        Self {
            rule,
            ours_fraction_of_ceiling: fraction(ours_median),
            torch_fraction_of_ceiling: fraction(torch_median),
            ours_median,
            torch_median,
            ratio_median: median(&mut ratios),
            ratio_min,
            ratio_max,
            measured_flops_per_sample: ceiling.measured_flops,
            ceiling_gflops: best,
            ceiling_ours: ceiling.ours,
            ceiling_torch: ceiling.torch,
            ours,
            torch,
        }
    }
}

/// `(min, max)` of `values`.
fn spread(values: &[f64]) -> (f64, f64) {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    (low, values.iter().copied().fold(0.0, f64::max))
}

/// The whole comparison.
#[derive(Serialize)]
struct VsTorchReport {
    backend: &'static str,
    sizes: String,
    batch_size: usize,
    rounds: usize,
    steps: usize,
    /// Nominal FLOPs per sample (6 per weight), the same for every rule.
    flops_per_sample: f64,
    ours_matmul_gflops: f64,
    torch_matmul_gflops: f64,
    rules: Vec<RuleRow>,
}

/// The last line a child process wrote (its error, for a Python traceback).
fn last_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines().last().unwrap_or("").to_string()
}

/// The PyTorch reference script, run once per measurement.
struct Reference<'a> {
    args: &'a BenchArgs,
}

impl Reference<'_> {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.args.python);
        command.env("OMP_NUM_THREADS", self.args.torch_threads.to_string());
        command
    }

    /// The reference's training samples per second for `rule` on `config`'s net.
    fn samples_per_second(&self, rule: &str, config: &ExperimentConfig) -> anyhow::Result<f64> {
        let arch = reference_arch(config)?;
        let activation = reference_activation(config)?;
        let output = self
            .command()
            .arg(&self.args.torch_script)
            .args(["--rule", rule, "--act", activation, "--epochs", "1"])
            .args(["--arch", &arch])
            .args(["--batch", &config.train.batch_size.to_string()])
            .args(["--lr", &config.train.lr.to_string()])
            .args(["--threads", &self.args.torch_threads.to_string()])
            .args(["--warmup", &self.args.warmup.to_string()])
            .args([
                "--limit-steps",
                &(self.args.warmup + self.args.steps).to_string(),
            ])
            .output()
            .with_context(|| format!("running {}", self.args.python.display()))?;
        if !output.status.success() {
            bail!(
                "{} --rule {rule} failed: {}",
                self.args.torch_script.display(),
                last_line(&output.stderr)
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line: serde_json::Value = serde_json::from_str(stdout.trim())
            .with_context(|| format!("{}: output `{stdout}`", self.args.torch_script.display()))?;
        line["train_samples_per_s"].as_f64().with_context(|| {
            format!(
                "{}: no train_samples_per_s",
                self.args.torch_script.display()
            )
        })
    }

    /// PyTorch's rate on `ops` run back to back (operands made beforehand; a convolution's
    /// pass as `F.conv2d` or `aten.convolution_backward`, what its autograd runs), one figure
    /// per repeat after a warm-up, GFLOP/s: the better of the list on every thread and (with
    /// `--torch-threads` above 1) as many copies at once on one thread each, as
    /// [`plasticity::bench::products_gflops`] does on our side.
    fn products_gflops(&self, ops: &[Op], repeats: usize) -> anyhow::Result<Vec<f64>> {
        let flops: u64 = ops.iter().map(Op::flops).sum();
        let ops = serde_json::to_string(&ops.iter().map(op_json).collect::<Vec<_>>())?;
        let program = format!(
            "import json, threading, time, torch\nimport torch.nn.functional as F\n\
             torch.set_num_threads({threads})\n\
             def make(op):\n    \
                 if isinstance(op, list):\n        \
                     m, k, n = op; a, b = torch.randn(m, k), torch.randn(k, n)\n        \
                     return lambda: a @ b\n    \
                 b, c, h, w, o, k, s, p = op['conv']\n    \
                 x, wt, bias = torch.randn(b, c, h, w), torch.randn(o, c, k, k), torch.randn(o)\n    \
                 g = torch.randn_like(F.conv2d(x, wt, bias, s, p))\n    \
                 if op['pass'] == 'forward':\n        \
                     return lambda: F.conv2d(x, wt, bias, s, p)\n    \
                 mask = [False, True, True] if op['pass'] == 'weight' else [True, False, False]\n    \
                 return lambda: torch.ops.aten.convolution_backward(g, x, wt, [o], [s, s], \
                 [p, p], [1, 1], False, [0, 0], 1, mask)\n\
             shapes = json.loads('{ops}')\nops = [make(op) for op in shapes]\n\
             def run():\n    for f in ops:\n        f()\n\
             def copies():\n    \
                 torch.set_num_threads(1)\n    \
                 threads = [threading.Thread(target=run) for _ in range({threads})]\n    \
                 [t.start() for t in threads]; [t.join() for t in threads]\n    \
                 torch.set_num_threads({threads})\n\
             def rate(go, n):\n    \
                 t = time.perf_counter(); go(); return n * {flops} / (time.perf_counter() - t) / 1e9\n\
             run(); copies()\n\
             rates = [max(rate(run, 1), rate(copies, {threads}) if {threads} > 1 else 0) \
             for _ in range({repeats})]\n\
             print(json.dumps(rates))",
            threads = self.args.torch_threads
        );
        let stdout = self.run_program(&program, "cannot time the products")?;
        Ok(serde_json::from_slice(&stdout)?)
    }

    /// The standard output of `python -c program`; a failure is an error saying `what` went
    /// wrong with the interpreter's last line of stderr.
    fn run_program(&self, program: &str, what: &str) -> anyhow::Result<Vec<u8>> {
        let output = self.command().args(["-c", program]).output()?;
        if !output.status.success() {
            bail!(
                "{} {what}: {}",
                self.args.python.display(),
                last_line(&output.stderr)
            );
        }
        Ok(output.stdout)
    }

    /// PyTorch's rate on `n×n` products (median of 5 after a warm-up), GFLOP/s.
    fn matmul_gflops(&self, n: usize) -> anyhow::Result<f64> {
        let program = format!(
            "import time, torch\ntorch.set_num_threads({threads})\n\
             a = torch.randn({n}, {n}); b = torch.randn({n}, {n}); a @ b\n\
             r = []\nfor _ in range(5):\n    t = time.perf_counter(); a @ b\n    \
             r.append(2 * {n}**3 / (time.perf_counter() - t) / 1e9)\n\
             print(sorted(r)[2])",
            threads = self.args.torch_threads
        );
        let stdout = self.run_program(&program, "cannot import torch (pip install torch numpy)")?;
        Ok(String::from_utf8_lossy(&stdout).trim().parse()?)
    }
}

/// The reference's `--arch`: `model.hidden` joined (`300-300-300`), or a conv net's
/// `model.arch` shorthand as written (`6c5p2-mp2-16c5-mp2-120-84`).
fn reference_arch(config: &ExperimentConfig) -> anyhow::Result<String> {
    if let Some(hidden) = &config.model.hidden {
        let sizes: Vec<String> = hidden.iter().map(usize::to_string).collect();
        return Ok(sizes.join("-"));
    }
    config
        .model
        .arch
        .clone()
        .context("--vs-torch: the config needs model.hidden or model.arch")
}

/// The reference's `--act` for the config's one hidden activation.
fn reference_activation(config: &ExperimentConfig) -> anyhow::Result<&'static str> {
    Ok(match &config.model.activation {
        PerBlock::One(Activation::LeakyRelu { .. }) => "leaky_relu",
        PerBlock::One(Activation::Relu) => "relu",
        PerBlock::One(Activation::Tanh) => "tanh",
        PerBlock::One(Activation::Sign) => "sign",
        PerBlock::One(Activation::StochasticBinary) => "stochastic",
        other => bail!(
            "--vs-torch: model.activation must be one of relu, leaky_relu, tanh, sign, \
             stochastic_binary for every block, not {other:?}"
        ),
    })
}

/// The comparison file of `--vs-torch` and `--memory` with `overrides`, keeping the variants
/// `--rules` names (all without it).
fn comparison(args: &BenchArgs, overrides: &[String]) -> anyhow::Result<Comparison> {
    let file = args
        .config
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("experiments/bench_vs_torch.toml"));
    let mut comparison = Comparison::load_variants(&file, overrides, &args.rules)?;
    if let Some(unknown) = args
        .rules
        .iter()
        .find(|r| !comparison.variants.iter().any(|v| &v.name == *r))
    {
        bail!("{}: --rules names no variant `{unknown}`", file.display());
    }
    comparison
        .variants
        .retain(|v| args.rules.is_empty() || args.rules.contains(&v.name));
    Ok(comparison)
}

fn vs_torch(args: &BenchArgs) -> anyhow::Result<()> {
    let comparison = comparison(args, &args.config.overrides)?;
    if !args.torch_script.is_file() {
        bail!("{}: no such reference script", args.torch_script.display());
    }
    let variants = comparison.variants;
    let reference = Reference { args };
    let torch_matmul = reference.matmul_gflops(2048)?;
    let mut rows = Vec::new();
    let mut shape = None;
    for variant in &variants {
        let mut bench = StepBench::new(&variant.config)?;
        let (mut ours, mut torch) = (Vec::new(), Vec::new());
        for round in 0..args.repeats.max(1) {
            if !args.json {
                eprint!("\r{:<6} round {}/{}", variant.name, round + 1, args.repeats);
            }
            // The same warm-up before each round as the reference script's run gets (its
            // own process, `--warmup` steps left out of its timing).
            bench.run(args.warmup)?;
            ours.push(bench.run(args.steps)?);
            torch.push(reference.samples_per_second(&variant.name, &variant.config)?);
        }
        let ceiling = Ceiling::measure(&mut bench, &reference, args.repeats)?;
        let flops = bench.flops_per_sample();
        shape.get_or_insert_with(|| (bench.sizes(), bench.batch_size(), flops));
        rows.push(RuleRow::new(variant.name.clone(), ours, torch, ceiling));
    }
    if !args.json {
        eprintln!();
    }
    let ours_matmul = matmul_gflops(2048, 5, &plasticity::backend::device());
    let (sizes, batch_size, flops_per_sample) = shape.context("no variant to time")?;
    let report = VsTorchReport {
        backend: plasticity::backend::name(),
        sizes,
        batch_size,
        rounds: args.repeats.max(1),
        steps: args.steps,
        flops_per_sample,
        ours_matmul_gflops: ours_matmul,
        torch_matmul_gflops: torch_matmul,
        rules: rows,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    print_table(&report);
    Ok(())
}

fn print_table(report: &VsTorchReport) {
    println!(
        "{} batch {} ({}), {} rounds of {} steps, sides alternating; {:.2} MFLOP per sample \
         nominal (6 per weight); 2048² matmul: ours {:.0}, PyTorch {:.0} GFLOP/s",
        report.sizes,
        report.batch_size,
        report.backend,
        report.rounds,
        report.steps,
        report.flops_per_sample / 1e6,
        report.ours_matmul_gflops,
        report.torch_matmul_gflops,
    );
    println!(
        "Ceiling: the step's own products (shapes recorded from one step) run alone back to \
         back on every core, or as one copy per core at once, best of every repeat on both \
         sides; % ceiling: the step's measured FLOPs at the \
         median rate over it."
    );
    println!(
        "| rule | ours samples/s | PyTorch samples/s | ratio median | min | max | MFLOP/sample | \
         ceiling GFLOP/s | ours products (min–max) | PyTorch products (min–max) | ours % ceiling | \
         PyTorch % ceiling |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &report.rules {
        let (ours_low, ours_high) = spread(&row.ceiling_ours);
        let (torch_low, torch_high) = spread(&row.ceiling_torch);
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0}–{:.0} | \
             {:.0}–{:.0} | {:.0} | {:.0} |",
            row.rule,
            row.ours_median,
            row.torch_median,
            row.ratio_median,
            row.ratio_min,
            row.ratio_max,
            row.measured_flops_per_sample / 1e6,
            row.ceiling_gflops,
            ours_low,
            ours_high,
            torch_low,
            torch_high,
            100.0 * row.ours_fraction_of_ceiling,
            100.0 * row.torch_fraction_of_ceiling
        );
    }
}

/// Peak heap of a training step by rule and depth.
fn memory(args: &BenchArgs) -> anyhow::Result<()> {
    if args.depths.is_empty() || args.depths.contains(&0) {
        bail!("--depths: give one or more numbers of hidden blocks, each at least 1");
    }
    let block = match args.conv {
        Some(channels) => format!("{channels} channels"),
        None => format!("{} units", args.width),
    };
    let mut reports: Vec<MemoryReport> = Vec::new();
    for &depth in &args.depths {
        let mut overrides = args.config.overrides.clone();
        match args.conv {
            Some(channels) => {
                let blocks = vec![format!("{channels}c3p1"); depth].join("-");
                overrides.push(format!("model.arch={blocks}"));
            }
            None => {
                let hidden = vec![args.width.to_string(); depth].join(",");
                overrides.push(format!("model.hidden=[{hidden}]"));
            }
        }
        overrides.push(format!("train.batch_size={}", args.batch));
        for variant in comparison(args, &overrides)?.variants {
            if !args.json {
                eprint!("\r{:<6} {depth} blocks of {block}   ", variant.name);
            }
            let mut report = measure_memory(&variant.config, args.memory_steps)?;
            report.rule = variant.name;
            reports.push(report);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string(&reports)?);
        return Ok(());
    }
    eprintln!();
    let mb = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "Heap a training step uses on top of what stays between steps (MiB): hidden blocks of \
         {block}{}, batch {}, {} ({} steps after one warm-up)",
        if args.conv.is_some() {
            " (3×3 convolutions, padding 1)"
        } else {
            ""
        },
        args.batch,
        plasticity::backend::name(),
        args.memory_steps
    );
    let depths: Vec<String> = args.depths.iter().map(|d| format!("{d} blocks")).collect();
    println!("| rule | {} |", depths.join(" | "));
    println!("|---|{}", "---:|".repeat(depths.len()));
    let mut rules: Vec<&str> = Vec::new();
    for report in &reports {
        if !rules.contains(&report.rule.as_str()) {
            rules.push(&report.rule);
        }
    }
    let row = |rule: &str, value: &dyn Fn(&MemoryReport) -> usize| {
        let cells: Vec<String> = reports
            .iter()
            .filter(|r| r.rule == rule)
            .map(|r| format!("{:.0}", mb(value(r))))
            .collect();
        cells.join(" | ")
    };
    for rule in &rules {
        println!("| {rule} | {} |", row(rule, &|r| r.step_peak_bytes));
    }
    if let Some(first) = rules.first() {
        println!(
            "| parameters ({first}) | {} |",
            row(first, &|r| r.parameter_bytes)
        );
        println!(
            "| between steps: data, parameters, optimizer state ({first}) | {} |",
            row(first, &|r| r.resident_bytes)
        );
    }
    Ok(())
}

/// Heap memory of a training step, as [`measure_memory`] gives it.
#[derive(Debug, Clone, Serialize)]
struct MemoryReport {
    /// The learning rule.
    rule: String,
    /// Layer sizes, `in-…-out`.
    sizes: String,
    /// Blocks of the net, output block included.
    blocks: usize,
    /// Samples per mini-batch.
    batch_size: usize,
    /// Bytes of the trainable parameters (net and rule).
    parameter_bytes: usize,
    /// Heap live between steps (data, parameters, fixed matrices, optimizer state), bytes.
    resident_bytes: usize,
    /// The most heap a step used on top of that (activations, gradients, temporaries), bytes.
    step_peak_bytes: usize,
}

/// Measures heap memory of `steps` training steps of `config` (after one warm-up step that
/// creates the optimizer state). Needs a binary that installed
/// [`crate::memory::CountingAllocator`].
fn measure_memory(config: &ExperimentConfig, steps: usize) -> anyhow::Result<MemoryReport> {
    let mut bench = StepBench::new(config)?;
    bench.run(1)?;
    let resident = memory::live_bytes();
    memory::reset_peak();
    bench.run(steps.max(1))?;
    let step_peak = memory::peak_bytes().saturating_sub(resident);
    let (net, rule) = (bench.trainer().net(), bench.trainer().rule());
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

/// `bench --playground`: steps/s and frames/s of the playground's default net.
fn playground(args: &BenchArgs) -> anyhow::Result<()> {
    let rules: Vec<String> = if args.rules.is_empty() {
        ["backprop", "dfa", "linear_decoder", "backprop vs dfa"]
            .map(String::from)
            .to_vec()
    } else {
        args.rules.clone()
    };
    let steps = args.steps.max(1) * 40;
    let results = crate::serve::bench(&rules, steps, 50, args.repeats.max(1))?;
    if args.json {
        println!("{}", serde_json::to_string(&results)?);
        return Ok(());
    }
    println!(
        "playground (signed_xor, batch 16; medians of {} repeats):",
        args.repeats.max(1)
    );
    println!(
        "{:<18} {:<10} {:>12} {:>22}",
        "rule", "net", "steps/s", "frames/s (10 steps)"
    );
    for r in &results {
        println!(
            "{:<18} {:<10} {:>12.0} {:>22.1}",
            r.rule, r.net, r.steps_per_second, r.frames_per_second
        );
    }
    Ok(())
}

/// A recorded operation as the reference's program reads it: `[m, k, n]` for a product,
/// `{"conv": [batch, in, h, w, out, kernel, stride, padding], "pass": …}` for a convolution's
/// pass.
fn op_json(op: &Op) -> serde_json::Value {
    match *op {
        Op::Matmul(shape) => serde_json::json!(shape),
        Op::Conv {
            geometry: g,
            batch,
            pass,
        } => {
            let [c, h, w] = g.input;
            let pass = match pass {
                ConvPass::Forward => "forward",
                ConvPass::Weight => "weight",
                ConvPass::Input => "input",
            };
            serde_json::json!({
                "conv": [batch, c, h, w, g.channels, g.kernel, g.stride, g.padding],
                "pass": pass,
            })
        }
    }
}
