//! `plasticity neuron`: draws one unit's response over an input range.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use plasticity::activation::Activation;
use plasticity::backend;
use plasticity::plot::{self, neuron::NeuronResponse};

/// Options of `plasticity neuron`.
#[derive(Args, Debug)]
pub struct NeuronArgs {
    /// The unit, e.g. `stochastic_binary`, `sign`, `tanh`.
    #[arg(long, default_value = "stochastic_binary")]
    pub activation: String,
    /// Lowest input.
    #[arg(long, default_value_t = -6.0, allow_negative_numbers = true)]
    pub from: f32,
    /// Highest input.
    #[arg(long, default_value_t = 6.0, allow_negative_numbers = true)]
    pub to: f32,
    /// Inputs evaluated (one sample each).
    #[arg(long, default_value_t = 1000)]
    pub points: usize,
    /// Seed of the samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output image: `.png` or `.svg`.
    #[arg(long, short, default_value = "neuron.png")]
    pub out: PathBuf,
}

pub fn run(args: NeuronArgs) -> anyhow::Result<()> {
    let activation: Activation = args
        .activation
        .parse()
        .map_err(|message| anyhow::anyhow!("--activation: {message}"))?;
    if !args.from.is_finite() || !args.to.is_finite() || args.from >= args.to {
        bail!(
            "--from ({}) must be a number below --to ({})",
            args.from,
            args.to
        );
    }
    if activation.group() > 1 {
        bail!(
            "--activation: {activation} is a choice among a group of units, not one unit's \
             response to its input"
        );
    }
    if args.points < 2 {
        bail!("--points must be at least 2, not {}", args.points);
    }
    let response = NeuronResponse::compute(
        activation,
        (args.from, args.to),
        args.points,
        args.seed,
        &backend::device(),
    );
    plot::save(&response, &args.out).context("plasticity neuron")?;
    println!("{}", args.out.display());
    Ok(())
}
