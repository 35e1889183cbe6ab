//! A hand-written training loop over the `Trainer`: feedback alignment on digits, the
//! alignment with the backprop gradient probed every 25 steps, early stopping on the
//! validation loss. `cargo run --release --example custom_loop`
use plasticity::prelude::*;
use plasticity::rng::Rng;

fn main() -> plasticity::Result<()> {
    let settings = [
        "data.dataset=digits",
        "model.hidden=[64, 64]",
        "train.rule=feedback_alignment",
    ];
    let settings: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
    let config = ExperimentConfig::load(None, &settings)?;
    let data = plasticity::data::load(&config.data)?;
    let mut trainer = Trainer::new(&config, &data)?;
    trainer.set_probe(&data.train, 256);
    let mut order: Vec<usize> = (0..data.train.rows()).collect();
    let mut shuffle = Rng::new(1);
    let (mut best, mut stalled, patience) = (f64::INFINITY, 0, 3);
    for epoch in 1..=200 {
        shuffle.shuffle(&mut order);
        for rows in order.chunks(64) {
            let report = trainer.step(&trainer.batch(&data.train, rows));
            if trainer.iteration() % 25 == 0 {
                let probe = trainer.measure_alignment().expect("a probe is set");
                let angles: Vec<String> = probe
                    .grad_angle
                    .iter()
                    .map(|a| a.map_or("–".into(), |a| format!("{a:.0}°")))
                    .collect();
                println!(
                    "step {:>4}  loss {:.4}  angle to backprop per block {}",
                    trainer.iteration(),
                    report.loss(),
                    angles.join(" ")
                );
            }
        }
        let val = trainer.evaluate(&data.validation);
        println!("epoch {epoch:>3}  validation loss {:.4}", val.loss);
        if val.loss < best - 1e-4 {
            (best, stalled) = (val.loss, 0);
        } else {
            stalled += 1;
            if stalled == patience {
                println!("no better validation loss for {patience} epochs: stopping");
                break;
            }
        }
    }
    let test = trainer.evaluate(&data.test);
    println!("test accuracy {:.4}", test.accuracy.unwrap_or(0.0));
    Ok(())
}
