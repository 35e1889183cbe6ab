//! `plasticity train`.

use std::path::PathBuf;

use clap::Args;
use plasticity::experiment::{RunOptions, train};

use crate::ConfigArgs;

#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Parent directory of the run directory.
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    /// No progress bar or per-epoch lines.
    #[arg(long, short)]
    quiet: bool,
    /// Start from these weights (safetensors) instead of the seeded initialisation.
    #[arg(long)]
    init_weights: Option<PathBuf>,
    /// Write the initial weights to this file before training.
    #[arg(long)]
    save_init: Option<PathBuf>,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let config = args.config.load()?;
    let options = RunOptions {
        out: args.out,
        quiet: args.quiet,
        init_weights: args.init_weights,
        save_init: args.save_init,
        shared_init: None,
        report: true,
        checkpoint: true,
        series: 0,
        on_epoch: None,
        hyperparameters: Vec::new(),
    };
    let summary = train(&config, &options)?;
    let dir = options.out.join(&config.name);
    if let Some(divergence) = &summary.diverged {
        println!(
            "{}: {} {} on {} — {divergence}; {} epoch(s) finished",
            summary.name, summary.rule, summary.sizes, summary.dataset, summary.epochs
        );
        println!("results in {}", dir.display());
        println!("report: {}", dir.join("report.html").display());
        return Err(crate::Diverged(divergence.to_string()).into());
    }
    // Reconstruction and regression have no accuracy: their loss is the MSE.
    let loss = summary.test_loss.unwrap_or(f64::NAN);
    let result = match summary.test_accuracy {
        Some(accuracy) => format!(
            "test accuracy {}, test loss {loss:.4}",
            crate::accuracy(Some(accuracy))
        ),
        None => format!("test MSE {loss:.4}"),
    };
    println!(
        "{}: {} {} on {} — {result}, {:.1} s training ({:.0} samples/s)",
        summary.name,
        summary.rule,
        summary.sizes,
        summary.dataset,
        summary.train_seconds,
        summary.samples_per_second
    );
    println!("results in {}", dir.display());
    println!("report: {}", dir.join("report.html").display());
    Ok(())
}
