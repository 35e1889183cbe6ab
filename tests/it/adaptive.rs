//! The adaptive layer-wise schedule: its stability formula, its update scaling, and the
//! parallel schedule it reduces to.

use crate::host;
use burn::tensor::Tensor;
use plasticity::backend;
use plasticity::data;
use plasticity::engine::Trainer;
use plasticity::experiment::ExperimentConfig;
use plasticity::net::{BlockParams, BlockSpec, Gradients, Init, Net, Parameters};
use plasticity::rng::Rng;
use plasticity::rule::BlockUpdater;
use plasticity::rule::adaptive::{AdaptiveUpdater, InputDrift};

fn config(extra: &[&str]) -> plasticity::Result<ExperimentConfig> {
    let base = [
        "name=a",
        "data.dataset=digits",
        "model.hidden=[24, 16]",
        "model.activation=tanh",
        "train.rule=linear_decoder",
        "train.epochs=2",
        "train.batch_size=64",
    ];
    let overrides: Vec<String> = base.iter().chain(extra).map(|s| s.to_string()).collect();
    ExperimentConfig::load(None, &overrides)
}

/// Every block's weights after training `config` for its epochs.
fn trained_weights(config: &ExperimentConfig) -> Vec<Vec<f32>> {
    let data = data::load(&config.data).unwrap();
    let mut trainer = Trainer::new(config, &data).unwrap();
    for _ in 0..config.train.epochs {
        trainer.epoch(&data, &|| {}).unwrap();
    }
    (trainer.net().blocks.iter())
        .map(|b| host::values(b.weight()))
        .collect()
}

fn batch(rows: usize, shift: f32, rng: &mut Rng) -> Tensor<2> {
    let values = rng.normal_vec(rows * 3, 0.0, 1.0);
    let values = values.iter().enumerate().map(|(i, v)| {
        // Column 0 drifts by `shift` a step, columns 1 and 2 stay put.
        if i % 3 == 0 { v + shift } else { *v }
    });
    host::matrix(values.collect(), rows, 3, &backend::device())
}

#[test]
fn a_direction_that_moves_more_than_its_noise_is_slowed_and_a_still_one_is_not() {
    let mut rng = Rng::new(1);
    let first = batch(64, 0.0, &mut rng);
    let mut drift = InputDrift::new(&first);
    // The same batch again: nothing moves, every direction is fully stable.
    let still = host::values(&drift.observe(&first, 1.0));
    assert_eq!(still, vec![1.0; 3]);
    // Fresh batches whose column 0 moves 0.5 a step: it slows, the others stay near 1.
    let mut last = Vec::new();
    for step in 1..=40 {
        last = host::values(&drift.observe(&batch(64, 0.5 * step as f32, &mut rng), 1.0));
    }
    assert!(last[0] < 0.2, "{last:?}");
    assert!(last[1] > 0.6 && last[2] > 0.6, "{last:?}");
    // The mean over directions and steps is tallied, then starts afresh.
    let mean = drift.take_mean_stability().unwrap();
    assert!(mean > 0.0 && mean < 1.0, "{mean}");
    assert_eq!(drift.take_mean_stability(), None);
    // κ = 0 never slows anything.
    let mut calm = InputDrift::new(&first);
    let none = host::values(&calm.observe(&batch(64, 5.0, &mut rng), 0.0));
    assert_eq!(none, vec![1.0; 3]);
}

/// An updater that moves every weight by −1.
struct MinusOne;

impl BlockUpdater for MinusOne {
    fn update(
        &mut self,
        block: &mut BlockParams<'_>,
        _own: Option<&mut dyn Parameters>,
        _grads: &mut Gradients,
    ) {
        let w = block.block.weight().clone();
        *block.block.weight_mut() = w.sub_scalar(1.0);
    }
}

#[test]
fn the_weight_update_is_scaled_per_input_column() {
    let device = backend::device();
    let spec = BlockSpec::dense(3, 2, plasticity::activation::Activation::Tanh);
    let mut net = Net::new(vec![spec], Init::Xavier, None, &mut Rng::new(0), &device);
    let before = host::values(net.blocks[0].weight());
    let stability = [1.0f32, 0.5, 0.0];
    let mut inner = MinusOne;
    let mut adaptive = AdaptiveUpdater {
        inner: &mut inner,
        stability: host::matrix(stability.to_vec(), 1, 3, &device),
    };
    let block = &mut BlockParams {
        index: 0,
        block: &mut net.blocks[0],
    };
    adaptive.update(block, None, &mut Gradients::new());
    let after = host::values(net.blocks[0].weight());
    for (k, (a, b)) in after.iter().zip(&before).enumerate() {
        let expected = b - stability[k % 3];
        assert!((a - expected).abs() < 1e-6, "weight {k}: {a} vs {expected}");
    }
}

#[test]
fn at_zero_strength_the_adaptive_schedule_is_the_parallel_one_and_otherwise_it_is_not() {
    let parallel = trained_weights(&config(&[]).unwrap());
    let zero = config(&["train.layerwise=adaptive", "train.adaptive_strength=0"]).unwrap();
    assert_eq!(trained_weights(&zero), parallel);
    let adaptive = config(&["train.layerwise=adaptive", "train.adaptive_strength=4"]).unwrap();
    let slowed = trained_weights(&adaptive);
    assert_eq!(slowed[0].len(), parallel[0].len());
    assert_ne!(slowed[1], parallel[1], "a deeper block's update is scaled");
}

#[test]
fn impossible_adaptive_schedules_are_rejected_naming_the_key() {
    for (extra, key) in [
        (
            &["train.rule=backprop", "train.layerwise=adaptive"][..],
            "train.layerwise",
        ),
        (
            &["train.rule=dfa", "train.layerwise=adaptive"][..],
            "train.layerwise",
        ),
        (
            &["train.layerwise=adaptive", "train.adaptive_strength=-1"][..],
            "train.adaptive_strength",
        ),
        (
            &["train.adaptive_strength=2"][..],
            "train.adaptive_strength",
        ),
    ] {
        let error = config(extra).unwrap_err().to_string();
        assert!(error.contains(key), "{extra:?}: {error}");
    }
    let conv: Vec<String> = [
        "train.rule=linear_decoder",
        "train.layerwise=adaptive",
        "model.arch=4c3-mp2-16",
    ]
    .map(String::from)
    .to_vec();
    let error = ExperimentConfig::load(None, &conv).unwrap_err().to_string();
    assert!(error.contains("convolutions"), "{error}");
}
