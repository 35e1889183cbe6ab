//! `plasticity` with no subcommand: the main job on embedded data, no download needed — every
//! learning rule on the digits set from the same start, one table.

use std::path::PathBuf;

use clap::Args;
use plasticity::experiment::compare::{CompareOptions, Comparison, compare};

/// The comparison the main job runs (also committed as `experiments/rules_on_digits.toml`).
const RULES_ON_DIGITS: &str = include_str!("../../../experiments/rules_on_digits.toml");

#[derive(Args, Default)]
pub struct QuickstartArgs {
    /// Parent directory of the comparison's directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// No per-variant lines.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let comparison = Comparison::parse(
        RULES_ON_DIGITS,
        "experiments/rules_on_digits.toml".as_ref(),
        &[],
    )?;
    println!(
        "plasticity: {} learning rules on the embedded `{}` set, from the same initial weights…",
        comparison.variants.len(),
        comparison.base.data.dataset
    );
    let options = CompareOptions {
        out: args.out.unwrap_or_else(|| PathBuf::from("runs")),
        quiet: args.quiet,
        jobs: 1,
    };
    let report = compare(&comparison, &options)?;
    println!();
    crate::compare::print_report(&report);
    Ok(())
}
