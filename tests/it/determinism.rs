//! The same config and seed give bit-identical metrics on the CPU backend.

use plasticity::experiment::{ExperimentConfig, RunOptions, train};

fn run(dir: &std::path::Path, seed: u64) -> String {
    run_with(dir, seed, &[])
}

fn run_with(dir: &std::path::Path, seed: u64, extra: &[&str]) -> String {
    let mut overrides: Vec<String> = vec![
        "name=det".into(),
        "data.dataset=wine".into(),
        "model.hidden=[16, 16]".into(),
        "model.dropout=0.1".into(),
        "model.batchnorm=true".into(),
        "train.epochs=3".into(),
        "train.batch_size=16".into(),
        format!("seed={seed}"),
    ];
    overrides.extend(extra.iter().map(|s| s.to_string()));
    let config = ExperimentConfig::load(None, &overrides).unwrap();
    let options = RunOptions {
        out: dir.to_path_buf(),
        ..RunOptions::default()
    };
    train(&config, &options).unwrap();
    std::fs::read_to_string(dir.join("det/metrics.jsonl")).unwrap()
}

/// Runs `extra` twice with `seed` in fresh directories, checks both give the same metrics and
/// returns them.
fn repeated(seed: u64, extra: &[&str]) -> String {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = run_with(a.path(), seed, extra);
    assert_eq!(first, run_with(b.path(), seed, extra));
    first
}

#[test]
fn same_seed_gives_bit_identical_metrics() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let first = run(a.path(), 5);
    assert_eq!(first.lines().count(), 3);
    assert_eq!(first, run(b.path(), 5));
    let c = tempfile::tempdir().unwrap();
    assert_ne!(first, run(c.path(), 6));
}

#[test]
fn stochastic_units_sample_reproducibly_and_report_frozen_units() {
    let extra = [
        "model.activation=stochastic_binary",
        "model.estimator=ste_sigmoid",
        "model.eval_mode=sample",
    ];
    let first = repeated(5, &extra);
    let c = tempfile::tempdir().unwrap();
    assert_ne!(first, run_with(c.path(), 6, &extra));
    let line: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    let frozen = line["frozen_units"].as_array().expect("frozen_units");
    assert_eq!(frozen.len(), 3);
    assert!(frozen[2].is_null(), "the output block is smooth");
    for fraction in &frozen[..2] {
        let f = fraction.as_f64().unwrap();
        assert!((0.0..=1.0).contains(&f), "{f}");
    }
}

#[test]
fn recalibrated_runs_repeat_exactly_and_evaluate_with_the_new_statistics() {
    let extra = [
        "model.input_activation=[\"none\", \"bernoulli\"]",
        "model.batchnorm_affine=false",
        "train.recalibrate_batchnorm=true",
    ];
    let first = repeated(5, &extra);
    let c = tempfile::tempdir().unwrap();
    let folded = run_with(c.path(), 5, &extra[..2]);
    let losses = |text: &str, key: &str| -> Vec<f64> {
        text.lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()[key]
                    .as_f64()
                    .unwrap()
            })
            .collect()
    };
    // Training is the same; only what evaluation normalises with differs.
    assert_eq!(losses(&first, "train_loss"), losses(&folded, "train_loss"));
    assert_ne!(losses(&first, "test_loss"), losses(&folded, "test_loss"));
}
