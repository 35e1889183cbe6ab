//! Optimizers: the fused CPU Adam against burn's.

use burn::optim::{AdamConfig, Optimizer, decay::WeightDecayConfig};
use plasticity::host;
use plasticity::optim::fused_adam::FusedAdam;
use plasticity::rng::Rng;

/// Runs `steps` steps of `optimizer` from the same start on the same gradients and returns the
/// final bits of two parameters: one of 70,000 elements (several parallel chunks) and a small one.
fn run<O: Optimizer>(optimizer: &O, steps: usize) -> Vec<u32> {
    let mut bits = run_one(optimizer, steps, 350, 200);
    bits.extend(run_one(optimizer, steps, 1, 30));
    bits
}

fn run_one<O: Optimizer>(optimizer: &O, steps: usize, rows: usize, cols: usize) -> Vec<u32> {
    let device = plasticity::backend::device();
    let mut rng = Rng::new(7);
    let mut w = host::matrix(rng.normal_vec(rows * cols, 0.0, 0.1), rows, cols, &device);
    let mut state = None;
    for step in 0..steps {
        let mut grad = rng.normal_vec(rows * cols, 0.0, 1e-3);
        grad[step] = 0.0;
        let grad = host::matrix(grad, rows, cols, &device);
        let lr = 1e-3 * 0.9f64.powi(step as i32);
        let (next, next_state) = optimizer.step(lr, w, grad, state);
        w = next;
        state = next_state;
    }
    let values: Vec<f32> = host::values::<2>(&w);
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn fused_adam_is_bit_identical_to_burns() {
    let plain = AdamConfig::new().with_epsilon(1e-8).build();
    let fused = FusedAdam::new(None);
    let reference = run(&plain, 12);
    assert_eq!(run(&fused, 12), reference);

    let decayed = AdamConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(Some(WeightDecayConfig::new(1e-2)))
        .build();
    let reference_decayed = run(&decayed, 12);
    assert_ne!(
        reference_decayed, reference,
        "the decay must change something"
    );
    assert_eq!(run(&FusedAdam::new(Some(1e-2)), 12), reference_decayed);
}
