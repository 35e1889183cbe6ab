//! Layer-parallel training: the same training for any number of stages and threads, the same
//! as a plain run when the net draws no random numbers; impossible combinations rejected.

use plasticity::engine::stage_ranges;
use plasticity::experiment::{ExperimentConfig, RunOptions, train};

const BASE: [&str; 7] = [
    "name=p",
    "data.dataset=digits",
    "model.hidden=[24, 20, 16]",
    "model.batchnorm=true",
    "model.activation=tanh",
    "train.epochs=2",
    "train.batch_size=64",
];

fn config(extra: &[&str]) -> plasticity::Result<ExperimentConfig> {
    let overrides: Vec<String> = BASE.iter().chain(extra).map(|s| s.to_string()).collect();
    ExperimentConfig::load(None, &overrides)
}

/// The run's metrics.jsonl (losses, accuracies and per-block magnitudes, every epoch).
fn metrics(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions {
        out: dir.path().to_path_buf(),
        quiet: true,
        ..RunOptions::default()
    };
    train(&config(extra).unwrap(), &options).unwrap();
    std::fs::read_to_string(dir.path().join("p/metrics.jsonl")).unwrap()
}

#[test]
fn pipelined_training_matches_the_plain_run_for_any_stages_and_threads() {
    for rules in [
        "train.rule=linear_decoder",
        "train.rules=[\"local_loss\", \"drtp\", \"linear_decoder\", \"backprop\"]",
    ] {
        let plain = metrics(&[rules]);
        assert_eq!(plain.lines().count(), 2);
        for (stages, threads) in [("1", "1"), ("2", "2"), ("4", "3")] {
            let stages = format!("train.pipeline_stages={stages}");
            let threads = format!("train.threads={threads}");
            let pipelined = metrics(&[rules, &stages, &threads]);
            assert_eq!(plain, pipelined, "{rules} {stages} {threads}");
        }
    }
    // Dropout draws from each block's own stream: the same for any number of stages.
    let dropout = "model.dropout=0.1";
    let rule = "train.rule=local_loss";
    let one = metrics(&[rule, dropout, "train.pipeline_stages=1", "train.threads=1"]);
    let three = metrics(&[rule, dropout, "train.pipeline_stages=3", "train.threads=2"]);
    assert_eq!(one, three);
    assert_ne!(
        one,
        metrics(&[rule, dropout]),
        "a plain run draws from one stream"
    );
}

#[test]
fn impossible_pipelines_are_rejected_naming_the_key() {
    let cases: [&[&str]; 5] = [
        &["train.rule=backprop", "train.pipeline_stages=2"],
        &["train.rule=dfa", "train.pipeline_stages=2"],
        &[
            "train.rule=drtp",
            "train.layerwise=sequential",
            "train.pipeline_stages=2",
        ],
        &[
            "train.rule=drtp",
            "train.log_every=5",
            "train.pipeline_stages=2",
        ],
        &["train.rule=drtp", "train.pipeline_stages=5"],
    ];
    for case in cases {
        let error = config(case).unwrap_err().to_string();
        assert!(error.contains("train.pipeline_stages"), "{case:?}: {error}");
    }
    let reinforce = config(&[
        "train.rule=local_loss",
        "model.activation=stochastic_binary",
        "model.estimator=reinforce",
        "train.pipeline_stages=2",
    ]);
    let error = reinforce.unwrap_err().to_string();
    assert!(error.contains("train.pipeline_stages"), "{error}");
    assert!(error.contains("REINFORCE"), "{error}");
}

#[test]
fn stages_split_the_work_evenly() {
    let config = config(&["model.hidden=[300, 300, 300]"]).unwrap();
    let net = plasticity::net::Net::new(
        config.block_specs(784, 10).unwrap(),
        plasticity::net::Init::Xavier,
        None,
        &mut plasticity::rng::Rng::new(0),
        &plasticity::backend::device(),
    );
    assert_eq!(stage_ranges(&net, 1), vec![0..4]);
    // 235,200 multiply–adds in block 0 against 183,000 in the rest.
    assert_eq!(stage_ranges(&net, 2), vec![0..1, 1..4]);
    assert_eq!(stage_ranges(&net, 3), vec![0..1, 1..2, 2..4]);
    assert_eq!(stage_ranges(&net, 9), vec![0..1, 1..2, 2..3, 3..4]);
}
