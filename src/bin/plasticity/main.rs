//! The `plasticity` command line: a thin layer over the library. Every error prints one line
//! and exits with status 2; a run that diverged exits with status 3.

mod bench;
mod compare;
mod datasets;
mod eval;
mod memory;
mod neuron;
mod plot;
mod quickstart;
mod serve;
mod sweep;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Counts heap bytes for `plasticity bench --memory`.
#[global_allocator]
static ALLOCATOR: memory::CountingAllocator = memory::CountingAllocator;

/// Train neural networks beyond backpropagation.
#[derive(Parser)]
#[command(name = "plasticity", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Train one configuration and write runs/<name>/.
    Train(train::TrainArgs),
    /// Evaluate saved weights on a split.
    Eval(eval::EvalArgs),
    /// List the data sets with their shapes and origins.
    Datasets,
    /// List the registered learning rules (`train.rule` names).
    Rules,
    /// Time training steps and the backend's matrix product.
    Bench(bench::BenchArgs),
    /// Train the variants of a comparison file from the same start; one table.
    Compare(compare::CompareArgs),
    /// Draw one unit's response over an input range (PNG or SVG).
    Neuron(neuron::NeuronArgs),
    /// Redraw the figures and reports of runs or comparisons from their saved files.
    Plot(plot::PlotArgs),
    /// Run a grid of configs with repeated seeds; resumable and shardable.
    Sweep(sweep::SweepArgs),
    /// The live lab in the browser: the playground and every run under --runs.
    Serve(serve::ServeArgs),
    /// The main job on embedded data (what `plasticity` with no subcommand runs).
    Quickstart(quickstart::QuickstartArgs),
}

/// A config file plus `--set key=value` overrides (shared by several subcommands).
#[derive(Args, Debug, Clone)]
pub struct ConfigArgs {
    /// Experiment file (TOML); defaults fill whatever it leaves out.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Override a config key, e.g. `--set train.lr=3e-4` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

impl ConfigArgs {
    /// The resolved experiment.
    pub fn load(&self) -> plasticity::Result<plasticity::experiment::ExperimentConfig> {
        plasticity::experiment::ExperimentConfig::load(self.config.as_deref(), &self.overrides)
    }
}

/// A run (or weights) whose numbers stopped being finite: exit status 3, not 2 (bad input).
#[derive(Debug)]
pub struct Diverged(pub String);

impl std::fmt::Display for Diverged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Diverged {}

/// The error and its causes on one line, each cause once: a cause whose text the line
/// already holds (an I/O error inside a library error that quotes it) is not repeated.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string().replace('\n', " ");
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Exit status of a run that diverged.
const DIVERGED: u8 = 3;

/// An accuracy to four places, or `–` where there is none (reconstruction).
pub fn accuracy(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |a| format!("{a:.4}"))
}

/// A command-line error as one line (clap's own spreads over several); help and version
/// print as clap prints them.
fn parse_args() -> std::result::Result<Cli, ExitCode> {
    use clap::error::ErrorKind;
    Cli::try_parse().map_err(|error| {
        if matches!(
            error.kind(),
            ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
        }
        let text = error.render().to_string();
        let line: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
            .filter(|l| !l.starts_with("Usage:"))
            .collect();
        eprintln!("{} (see --help)", line.join(" "));
        ExitCode::from(2)
    })
}

/// Output piped into a program that stops reading (`plasticity rules | head`) ends the process
/// quietly, as for any Unix tool, instead of `println!` panicking on the broken pipe.
#[cfg(unix)]
fn quiet_broken_pipes() {
    // SAFETY: called first in `main`, before any thread starts; restoring the default action
    // of SIGPIPE touches no memory.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn quiet_broken_pipes() {}

fn main() -> ExitCode {
    quiet_broken_pipes();
    let cli = match parse_args() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match cli.command {
        Some(Command::Train(args)) => train::run(args),
        Some(Command::Eval(args)) => eval::run(args),
        Some(Command::Datasets) => datasets::run(),
        Some(Command::Rules) => {
            for (name, description) in plasticity::rule::registry::registered() {
                println!("{name:<24} {description}");
            }
            Ok(())
        }
        Some(Command::Bench(args)) => bench::run(args),
        Some(Command::Compare(args)) => compare::run(args),
        Some(Command::Neuron(args)) => neuron::run(args),
        Some(Command::Plot(args)) => plot::run(args),
        Some(Command::Sweep(args)) => sweep::run(args),
        Some(Command::Serve(args)) => serve::run(args),
        Some(Command::Quickstart(args)) => quickstart::run(args),
        None => quickstart::run(quickstart::QuickstartArgs::default()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            let diverged = error.downcast_ref::<Diverged>().is_some()
                || matches!(
                    error.downcast_ref::<plasticity::Error>(),
                    Some(plasticity::Error::Diverged(_))
                );
            ExitCode::from(if diverged { DIVERGED } else { 2 })
        }
    }
}
