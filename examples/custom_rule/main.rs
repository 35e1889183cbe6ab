//! A learning rule defined outside the crate — Kolen–Pollack — registered under a name and
//! trained on digits from a config file like any built-in rule.
//! `cargo run --release --example custom_rule [-- experiments/kolen_pollack.toml]`

mod kolen_pollack;

use plasticity::prelude::*;

fn main() -> plasticity::Result<()> {
    kolen_pollack::register()?;
    let path = std::env::args()
        .nth(1)
        .unwrap_or("experiments/kolen_pollack.toml".into());
    let config = ExperimentConfig::load(Some(path.as_ref()), &[])?;
    let data = plasticity::data::load(&config.data)?;
    let mut trainer = Trainer::new(&config, &data)?;
    println!(
        "{} on {}: epoch, test accuracy, angle(B, W) per hidden block",
        trainer.rule().name(),
        data.name
    );
    for _ in 0..config.train.epochs {
        let m = trainer.epoch(&data, &|| {})?.metrics;
        let angles: Vec<String> = m
            .alignment
            .map(|a| a.weight_angle)
            .unwrap_or_default()
            .iter()
            .map(|a| a.map_or("–".into(), |a| format!("{a:5.1}°")))
            .collect();
        println!(
            "{:>3}  {:.4}  {}",
            m.epoch,
            m.test_accuracy.unwrap_or(0.0),
            angles.join("  ")
        );
    }
    Ok(())
}
