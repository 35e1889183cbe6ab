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
    };
    let summary = train(&config, &options)?;
    // Reconstruction and regression have no accuracy: their loss is the MSE.
    let result = match summary.test_accuracy {
        Some(accuracy) => format!(
            "test accuracy {}, test loss {:.4}",
            crate::accuracy(Some(accuracy)),
            summary.test_loss
        ),
        None => format!("test MSE {:.4}", summary.test_loss),
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
    let dir = options.out.join(&config.name);
    println!("results in {}", dir.display());
    println!("report: {}", dir.join("report.html").display());
    Ok(())
}
