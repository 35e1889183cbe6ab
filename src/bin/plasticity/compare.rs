//! `plasticity compare`: train variants of one experiment from the same start, one table.

use std::path::PathBuf;

use clap::Args;
use plasticity::experiment::compare::{CompareOptions, Comparison, Report, compare};

/// Options of `plasticity compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Comparison file: an experiment plus `[[variant]]` tables of dotted-key overrides.
    pub file: PathBuf,
    /// Override a base config key for every variant (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Parent directory of the comparison's results.
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// No per-epoch lines.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let comparison = Comparison::load(&args.file, &args.overrides)?;
    let report = compare(
        &comparison,
        &CompareOptions {
            out: args.out,
            quiet: args.quiet,
        },
    )?;
    print_report(&report);
    Ok(())
}

/// Prints a comparison's table and where its results are.
pub fn print_report(report: &Report) {
    println!("{}", report.markdown);
    println!(
        "{} variants in {:.1} s; table, figures and runs in {}",
        report.rows.len(),
        report.wall_seconds,
        report.dir.display()
    );
    println!("report: {}", report.dir.join("report.html").display());
}
