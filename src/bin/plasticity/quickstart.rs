//! `plasticity` with no subcommand: the main job on embedded data, no download needed.

use std::path::PathBuf;

use clap::Args;
use plasticity::experiment::config::parse_table;
use plasticity::experiment::{ExperimentConfig, RunOptions, train};

/// The experiment the main job runs (also committed as `experiments/digits.toml`).
const DIGITS: &str = include_str!("../../../experiments/digits.toml");

#[derive(Args, Default)]
pub struct QuickstartArgs {
    /// Parent directory of the run directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress bar or per-epoch lines.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let table = parse_table(DIGITS, "experiments/digits.toml".as_ref())?;
    let config = ExperimentConfig::from_table(table)?;
    let options = RunOptions {
        out: args.out.unwrap_or_else(|| PathBuf::from("runs")),
        quiet: args.quiet,
        ..RunOptions::default()
    };
    println!(
        "plasticity: training {} on the embedded `{}` set…",
        config.train.rule.name(),
        config.data.dataset
    );
    let summary = train(&config, &options)?;
    println!();
    println!("| rule | net | test accuracy | test loss | best epoch | train s | samples/s |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {:.4} | {} | {:.1} | {:.0} |",
        summary.rule,
        summary.sizes,
        crate::accuracy(summary.test_accuracy),
        summary.test_loss,
        summary.best_epoch,
        summary.train_seconds,
        summary.samples_per_second
    );
    println!();
    println!("results in {}", options.out.join(&config.name).display());
    Ok(())
}
