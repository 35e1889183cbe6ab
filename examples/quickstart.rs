//! Train a net on arrays in memory with DFA; print per-epoch accuracy and gradient magnitudes.
//! `cargo run --release --example quickstart`
use plasticity::prelude::*;

fn main() -> plasticity::Result<()> {
    // 1000 points of XOR in [-1, 1]², from a tiny linear congruential generator.
    let mut state = 7u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..1000 {
        let (a, b) = (uniform(), uniform());
        x.extend([a, b]);
        y.push(u32::from((a > 0.0) != (b > 0.0)));
    }
    let settings = "model.hidden=[32,32] model.activation=tanh train.rule=dfa train.batch_size=32";
    let settings: Vec<String> = settings.split(' ').map(String::from).collect();
    let config = ExperimentConfig::load(None, &settings)?;
    let data = Dataset::from_arrays(x, [1000, 2], y, None, &config.data)?;
    let mut trainer = Trainer::new(&config, &data)?;
    for _ in 0..config.train.epochs {
        let m = trainer.epoch(&data, &|| {})?.metrics;
        let grads = m.mean_abs_grad.iter().flatten().map(|g| format!("{g:.1e}"));
        let grads = grads.collect::<Vec<_>>().join(" ");
        let accuracy = m.test_accuracy.unwrap_or(0.0);
        println!(
            "epoch {:>2}  test accuracy {accuracy:.3}  mean |∂L/∂W| per block {grads}",
            m.epoch
        );
    }
    Ok(())
}
