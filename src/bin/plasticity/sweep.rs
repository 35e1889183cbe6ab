//! `plasticity sweep`: a grid over config keys, repeated seeds, crash-safe and shardable.

use std::path::PathBuf;

use clap::Args;
use plasticity::experiment::sweep::{Shard, Sweep, SweepOptions, run as run_sweep};

/// Options of `plasticity sweep`.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Sweep file: an experiment plus a `[sweep]` table of dotted keys with lists of values.
    pub file: PathBuf,
    /// Override a base config key (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Parent directory of the sweep's results.
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// Runs trained at once.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Run only share i of n (0 ≤ i < n), e.g. a job array's index: `--shard $INDEX/$COUNT`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Train nothing; build the table from the runs in the sweep directory (all shards').
    #[arg(long)]
    pub merge: bool,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: SweepArgs) -> anyhow::Result<()> {
    let sweep = Sweep::load(&args.file, &args.overrides)?;
    let runs = sweep.trials.len() * sweep.repeats;
    let report = run_sweep(
        &sweep,
        &SweepOptions {
            out: args.out,
            jobs: args.jobs.max(1),
            shard: args.shard,
            merge: args.merge,
            quiet: args.quiet,
        },
    )?;
    match &report.markdown {
        Some(markdown) => {
            println!("{markdown}");
            println!(
                "{} trials × {} seeds ({runs} runs: {} trained now, {} already finished); \
                 table.md, trials.csv, runs.csv and runs/ in {}",
                sweep.trials.len(),
                sweep.repeats,
                report.trained,
                report.reused,
                report.dir.display()
            );
        }
        None => println!(
            "shard done: {} runs trained now, {} already finished, in {}; \
             `plasticity sweep FILE --merge` builds the table once every shard is done",
            report.trained,
            report.reused,
            report.dir.display()
        ),
    }
    Ok(())
}
