//! `plasticity compare`: train variants of one experiment from the same start, one table.

use std::path::PathBuf;

use clap::Args;
use plasticity::experiment::compare::{CompareOptions, Comparison, Report, compare, compare_seeds};
use plasticity::experiment::splice;

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
    /// Runs trained at once, each on its share of the cores (with --seeds, the runs of every
    /// seed share one queue; the results are the same for any number; with more than one,
    /// each run's start is shown but not its epochs).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Run the comparison for this many seeds (the file's seed, +1, …) and print each
    /// variant's test accuracy as mean ± std over them (`seeds.md`).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Also write the table (with --seeds, the mean ± std one) into this file, between its
    /// `<!-- plasticity:table NAME -->` and `<!-- /plasticity:table -->` lines (after the same
    /// prefix, e.g. `# ` in a TOML file; repeatable).
    #[arg(long = "into", value_name = "FILE")]
    pub table_into: Vec<PathBuf>,
    /// Only these variants (comma-separated): the others are neither trained nor reused.
    /// With --into, their rows already in the table are kept, in the file's order, so one
    /// row of a long study can be re-run (or a new row added) without re-running the rest.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub variants: Vec<String>,
}

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let comparison = Comparison::load_variants(&args.file, &args.overrides, &args.variants)?;
    for path in &args.table_into {
        splice::check(path, &comparison.name)?;
    }
    let options = CompareOptions {
        out: args.out.clone(),
        quiet: args.quiet,
        jobs: args.jobs.max(1),
    };
    if let Some(count) = args.seeds {
        let report = compare_seeds(&comparison, &options, count)?;
        write_into(&args, &comparison.name, &report.markdown)?;
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
    write_into(&args, &comparison.name, &report.markdown)?;
    print_report(&report);
    Ok(())
}

/// Writes `table` into each of `--into`'s files (with --variants, merged into the rows there).
fn write_into(args: &CompareArgs, name: &str, table: &str) -> anyhow::Result<()> {
    let order = (!args.variants.is_empty())
        .then(|| Comparison::variant_names(&args.file))
        .transpose()?;
    for path in &args.table_into {
        match &order {
            None => splice::splice_into(path, name, table)?,
            Some(order) => splice::merge_into(path, name, table, order)?,
        }
        eprintln!("table written into {}", path.display());
    }
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
