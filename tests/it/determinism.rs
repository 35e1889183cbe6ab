//! The same config and seed give bit-identical metrics on the CPU backend.

use plasticity::experiment::{ExperimentConfig, RunOptions, train};

fn run(dir: &std::path::Path, seed: u64) -> String {
    let config = ExperimentConfig::load(
        None,
        &[
            "name=det".into(),
            "data.dataset=wine".into(),
            "model.hidden=[16, 16]".into(),
            "model.dropout=0.1".into(),
            "model.batchnorm=true".into(),
            "train.epochs=3".into(),
            "train.batch_size=16".into(),
            format!("seed={seed}"),
        ],
    )
    .unwrap();
    let options = RunOptions {
        out: dir.to_path_buf(),
        ..RunOptions::default()
    };
    train(&config, &options).unwrap();
    std::fs::read_to_string(dir.join("det/metrics.jsonl")).unwrap()
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
