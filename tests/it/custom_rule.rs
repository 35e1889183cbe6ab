//! A rule defined outside the crate (Kolen–Pollack, `examples/custom_rule/`): registered by
//! name, configured from its own section, checked against its formula and trained on digits.

#[path = "../../examples/custom_rule/kolen_pollack.rs"]
pub mod kolen_pollack;

use crate::host;
use plasticity::prelude::*;
use plasticity::rule::ModelView;

fn config(overrides: &[&str]) -> ExperimentConfig {
    kolen_pollack::register().unwrap();
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    ExperimentConfig::load(Some("experiments/kolen_pollack.toml".as_ref()), &overrides).unwrap()
}

/// The named tensor of the net or the rule, on the host.
fn tensor(trainer: &Trainer, name: &str) -> Vec<f32> {
    let mut found = None;
    let mut look = |n: &str, _: Slot, t: &burn::tensor::Tensor<2>| {
        if n == name {
            found = Some(host::values(t));
        }
    };
    trainer.net().visit(&mut look);
    trainer.rule().visit(&mut look);
    found.unwrap_or_else(|| panic!("no tensor {name}"))
}

#[test]
fn kolen_pollack_first_step_shrinks_b_minus_w_by_one_minus_lr_times_decay() {
    let config = config(&[]);
    let (lr, decay) = (0.1f32, 0.02f32);
    assert_eq!(config.train.lr as f32, lr);
    let data = plasticity::data::load(&config.data).unwrap();
    let mut trainer = Trainer::new(&config, &data).unwrap();
    assert_eq!(trainer.rule().name(), "kolen_pollack");
    let pairs = [
        ("kolen_pollack.1.weight", "blocks.1.linear.weight"),
        ("kolen_pollack.2.weight", "blocks.2.linear.weight"),
    ];
    let before: Vec<_> = pairs
        .iter()
        .map(|(b, w)| (tensor(&trainer, b), tensor(&trainer, w)))
        .collect();
    let rows: Vec<usize> = (0..32).collect();
    trainer.step(&trainer.batch(&data.train, &rows));
    for ((b, w), (b0, w0)) in pairs.iter().zip(&before) {
        let (b1, w1) = (tensor(&trainer, b), tensor(&trainer, w));
        assert_ne!(&b1, b0, "{b} learns");
        for k in 0..b1.len() {
            let expected = (1.0 - lr * decay) * (b0[k] - w0[k]);
            let got = b1[k] - w1[k];
            assert!(
                (got - expected).abs() < 1e-5,
                "{b}[{k}]: {got} vs {expected}"
            );
        }
    }
}

#[test]
fn kolen_pollack_feedback_comes_to_mirror_the_forward_weights() {
    let config = config(&[]);
    let data = plasticity::data::load(&config.data).unwrap();
    let mut trainer = Trainer::new(&config, &data).unwrap();
    let mut angles = Vec::new();
    for _ in 0..config.train.epochs {
        let metrics = trainer.epoch(&data, &|| {}).unwrap().metrics;
        let record = metrics.alignment.expect("align_every is set");
        angles.push(
            record
                .weight_angle
                .iter()
                .map(|a| a.unwrap())
                .collect::<Vec<f64>>(),
        );
    }
    let (first, last) = (&angles[0], angles.last().unwrap());
    assert!(first.iter().all(|a| *a > 30.0), "start {first:?}");
    assert!(last.iter().all(|a| *a < 10.0), "end {last:?}");
    let accuracy = trainer.evaluate(&data.test).accuracy.unwrap();
    assert!(accuracy > 0.9, "test accuracy {accuracy}");
}

#[test]
fn kolen_pollack_settings_are_checked_when_the_config_is_read() {
    kolen_pollack::register().unwrap();
    let load = |overrides: &[&str]| {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        ExperimentConfig::load(Some("experiments/kolen_pollack.toml".as_ref()), &overrides)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let unknown = load(&["kolen_pollack.decy=0.1"]);
    assert!(unknown.contains("kolen_pollack.decy"), "{unknown}");
    let unused = load(&["train.rule=backprop"]);
    assert!(
        unused.contains("`kolen_pollack`") && unused.contains("no block uses"),
        "{unused}"
    );
    let again = register_chained("kolen_pollack", "a second one", |_, _: &NoSettings| {
        Err(Error::config("x", "never built"))
    });
    assert!(
        again
            .unwrap_err()
            .to_string()
            .contains("already registered")
    );
}

#[test]
fn an_outside_rule_registers_a_model_check_like_the_built_ins() {
    use plasticity::rule::{Registration, register, registry};
    /// Refuses nets with more than one hidden block, naming `model.hidden`.
    fn one_hidden_block(view: &ModelView<'_>) -> Result<()> {
        match view.specs.len() {
            2 => Ok(()),
            n => Err(Error::config(
                "model.hidden",
                format!("{} takes one hidden block, not {}", view.name, n - 1),
            )),
        }
    }
    let registration: Registration = registry::chained(
        "shallow_backprop_for_tests",
        "backprop on one hidden block",
        |_, _: &NoSettings| Ok(Box::new(plasticity::rule::Backprop)),
    )
    .checking(one_hidden_block);
    register(registration).unwrap();
    let load = |hidden: &str| {
        let overrides = vec![
            "train.rule=shallow_backprop_for_tests".to_string(),
            format!("model.hidden={hidden}"),
        ];
        ExperimentConfig::load(None, &overrides)
    };
    assert!(load("[8]").is_ok());
    let error = load("[8, 8]").unwrap_err().to_string();
    assert!(
        error.contains("model.hidden") && error.contains("not 2"),
        "{error}"
    );
}
