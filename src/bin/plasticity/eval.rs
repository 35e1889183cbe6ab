//! `plasticity eval`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use plasticity::experiment::{ExperimentConfig, Split, evaluate_weights};

use crate::ConfigArgs;

#[derive(Args)]
pub struct EvalArgs {
    /// A run directory: its config.toml and weights.safetensors are used.
    #[arg(long)]
    run: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArgs,
    /// Weights to evaluate (default: the run directory's weights.safetensors).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Which split.
    #[arg(long, value_enum, default_value = "test")]
    split: Split,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let config_path = match (&args.run, &args.config.config) {
        (_, Some(path)) => Some(path.clone()),
        (Some(run), None) => Some(run.join("config.toml")),
        (None, None) => None,
    };
    let config = ExperimentConfig::load(config_path.as_deref(), &args.config.overrides)?;
    let weights = args
        .weights
        .or_else(|| args.run.as_ref().map(|r| r.join("weights.safetensors")))
        .context("give --weights FILE or --run DIR")?;
    let result = evaluate_weights(&config, &weights, args.split)?;
    if !result.loss.is_finite() {
        return Err(crate::Diverged(format!(
            "{}: the {} loss is not finite (the weights diverged)",
            weights.display(),
            format!("{:?}", args.split).to_lowercase()
        ))
        .into());
    }
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!(
            "{:?} split of {}: loss {:.4}, accuracy {} ({} samples)",
            args.split,
            config.data.dataset,
            result.loss,
            crate::accuracy(result.accuracy),
            result.samples
        );
    }
    Ok(())
}
