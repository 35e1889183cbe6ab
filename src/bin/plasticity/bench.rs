//! `plasticity bench`.

use clap::Args;
use plasticity::bench::bench_training;

use crate::ConfigArgs;

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Timed training steps per repeat.
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Repeats (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
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
        "  training   {:>10.1} GFLOP/s ({:.2} MFLOP per sample)",
        report.train_gflops,
        report.flops_per_sample / 1e6
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
