//! `plasticity compare`: train variants of one experiment from the same start, one table.

use std::path::PathBuf;

use clap::Args;
use plasticity::experiment::compare::{CompareOptions, Comparison, Report, compare, compare_seeds};

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
    /// Run the comparison for this many seeds (the file's seed, +1, …) and print each
    /// variant's test accuracy as mean ± std over them (`seeds.md`).
    #[arg(long)]
    pub seeds: Option<usize>,
}

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let comparison = Comparison::load(&args.file, &args.overrides)?;
    let options = CompareOptions {
        out: args.out,
        quiet: args.quiet,
    };
    if let Some(count) = args.seeds {
        let report = compare_seeds(&comparison, &options, count)?;
        println!("{}", report.markdown);
        println!(
            "{} variants × {} seeds in {:.1} s; tables in {}",
            comparison.variants.len(),
            report.seeds.len(),
            report.wall_seconds,
            report.dir.join("seeds.md").display()
        );
        return Ok(());
    }
    let report = compare(&comparison, &options)?;
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
