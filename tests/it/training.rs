//! Training end to end on embedded data, and the files a run writes.

use plasticity::experiment::{ExperimentConfig, RunOptions, train};
use plasticity::net::weights::WeightsFile;

fn config(extra: &[&str]) -> ExperimentConfig {
    let mut overrides = vec![
        "name=t".to_string(),
        "data.dataset=iris".to_string(),
        "model.hidden=[16]".to_string(),
        "train.epochs=30".to_string(),
        "train.batch_size=16".to_string(),
        "train.lr=0.01".to_string(),
    ];
    overrides.extend(extra.iter().map(|s| s.to_string()));
    ExperimentConfig::load(None, &overrides).unwrap()
}

#[test]
fn backprop_learns_iris_and_writes_the_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions {
        out: dir.path().to_path_buf(),
        ..RunOptions::default()
    };
    let summary = train(&config(&[]), &options).unwrap();
    assert!(summary.test_accuracy.unwrap() >= 0.9, "{summary:?}");
    let run = dir.path().join("t");
    for file in [
        "config.toml",
        "metrics.jsonl",
        "summary.json",
        "weights.safetensors",
    ] {
        assert!(run.join(file).is_file(), "{file}");
    }
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 30);
    let first = lines[0]["train_loss"].as_f64().unwrap();
    let last = lines[29]["train_loss"].as_f64().unwrap();
    assert!(last < first * 0.5, "loss {first} → {last}");
    let summary_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    for key in [
        "test_accuracy",
        "test_loss",
        "train_seconds",
        "samples_per_second",
        "epochs",
    ] {
        assert!(summary_json.get(key).is_some(), "summary lacks {key}");
    }
    let weights = WeightsFile::read(&run.join("weights.safetensors")).unwrap();
    let names: Vec<&String> = weights.names().collect();
    assert_eq!(
        names,
        [
            "blocks.0.linear.bias",
            "blocks.0.linear.weight",
            "blocks.1.linear.bias",
            "blocks.1.linear.weight"
        ]
    );
}

#[test]
fn saved_initial_weights_reproduce_the_seeded_start() {
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init.safetensors");
    let seeded = RunOptions {
        out: dir.path().join("a"),
        save_init: Some(init.clone()),
        ..RunOptions::default()
    };
    let cfg = config(&["train.epochs=2", "model.batchnorm=true"]);
    train(&cfg, &seeded).unwrap();
    let other_seed = config(&["train.epochs=2", "model.batchnorm=true", "seed=9"]);
    let other_seed = ExperimentConfig {
        seed: cfg.seed,
        ..other_seed
    };
    let loaded = RunOptions {
        out: dir.path().join("b"),
        init_weights: Some(init),
        ..RunOptions::default()
    };
    train(&other_seed, &loaded).unwrap();
    let read =
        |d: &str| std::fs::read_to_string(dir.path().join(d).join("t/metrics.jsonl")).unwrap();
    assert_eq!(read("a"), read("b"));
}

#[test]
fn weights_that_do_not_fit_are_a_named_error() {
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init.safetensors");
    let options = RunOptions {
        out: dir.path().to_path_buf(),
        save_init: Some(init.clone()),
        ..RunOptions::default()
    };
    train(&config(&["train.epochs=1"]), &options).unwrap();
    let wider = RunOptions {
        out: dir.path().to_path_buf(),
        init_weights: Some(init),
        ..RunOptions::default()
    };
    let error = train(&config(&["model.hidden=[17]"]), &wider)
        .unwrap_err()
        .to_string();
    assert!(error.contains("init.safetensors"), "{error}");
    assert!(error.contains("blocks.0.linear.weight"), "{error}");
}

#[test]
fn rprop_and_sgd_with_schedules_also_learn() {
    for extra in [
        ["train.optimizer=rprop", "train.schedule=constant"],
        ["train.optimizer=sgd", "train.schedule=step"],
        ["train.optimizer=rmsprop", "train.schedule=cosine"],
        ["train.optimizer=adamw", "train.schedule=constant"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let options = RunOptions {
            out: dir.path().to_path_buf(),
            ..RunOptions::default()
        };
        let mut settings = extra.to_vec();
        settings.extend([
            "train.momentum=0.9",
            "train.step_every=50",
            "train.gamma=0.5",
        ]);
        let summary = train(&config(&settings), &options).unwrap();
        assert!(
            summary.test_accuracy.unwrap() >= 0.85,
            "{extra:?}: {summary:?}"
        );
    }
}

/// The gradient-magnitude log against a hand computation: one full-batch step of a
/// `4-3-3` tanh net on iris, softmax cross-entropy, in f64 on the host.
#[test]
fn gradient_magnitudes_match_a_hand_computation() {
    let dir = tempfile::tempdir().unwrap();
    let overrides: Vec<String> = [
        "name=g",
        "data.dataset=iris",
        "model.hidden=[3]",
        "model.activation=tanh",
        "model.dropout=0.0",
        "train.epochs=1",
        "train.batch_size=1000",
        "train.optimizer=sgd",
        "train.lr=0.5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let config = plasticity::experiment::ExperimentConfig::load(None, &overrides).unwrap();
    let data = plasticity::data::load(&config.data).unwrap();
    let trainer = plasticity::engine::Trainer::new(&config, &data).unwrap();
    let net = trainer.net();
    let f = |t: &burn::tensor::Tensor<2>| -> Vec<f64> {
        crate::host::values(t).into_iter().map(f64::from).collect()
    };
    let (w0, b0) = (f(net.blocks[0].weight()), f(net.blocks[0].bias()));
    let (w1, b1) = (f(net.blocks[1].weight()), f(net.blocks[1].bias()));
    let split = &data.train;
    let n = split.rows();
    let (mut g0, mut g1) = (vec![0.0f64; 3 * 4], vec![0.0f64; 3 * 3]);
    for r in 0..n {
        let x: Vec<f64> = split.row(r).iter().map(|&v| f64::from(v)).collect();
        let h: Vec<f64> = (0..3)
            .map(|j| (b0[j] + (0..4).map(|k| w0[j * 4 + k] * x[k]).sum::<f64>()).tanh())
            .collect();
        let z: Vec<f64> = (0..3)
            .map(|j| b1[j] + (0..3).map(|k| w1[j * 3 + k] * h[k]).sum::<f64>())
            .collect();
        let top = z.iter().cloned().fold(f64::MIN, f64::max);
        let total: f64 = z.iter().map(|v| (v - top).exp()).sum();
        let dz: Vec<f64> = (0..3)
            .map(|j| {
                let p = (z[j] - top).exp() / total;
                (p - f64::from(u8::from(split.y[r] as usize == j))) / n as f64
            })
            .collect();
        for j in 0..3 {
            for k in 0..3 {
                g1[j * 3 + k] += dz[j] * h[k];
            }
        }
        for k in 0..3 {
            let dh: f64 = (0..3).map(|j| dz[j] * w1[j * 3 + k]).sum();
            let da = dh * (1.0 - h[k] * h[k]);
            for i in 0..4 {
                g0[k * 4 + i] += da * x[i];
            }
        }
    }
    let mean_abs = |g: &[f64]| g.iter().map(|v| v.abs()).sum::<f64>() / g.len() as f64;
    let options = RunOptions {
        out: dir.path().to_path_buf(),
        quiet: true,
        ..RunOptions::default()
    };
    train(&config, &options).unwrap();
    let line = std::fs::read_to_string(dir.path().join("g/metrics.jsonl")).unwrap();
    let logged: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    for (block, expected) in [(0, mean_abs(&g0)), (1, mean_abs(&g1))] {
        let got = logged["mean_abs_grad"][block].as_f64().unwrap();
        assert!(
            (got - expected).abs() < 1e-5 * expected.max(1e-3),
            "block {block}: logged {got}, by hand {expected}"
        );
        // Plain SGD: the update is lr times the gradient.
        let update = logged["mean_abs_update"][block].as_f64().unwrap();
        assert!((update - 0.5 * expected).abs() < 1e-4 * expected.max(1e-3));
    }
}
