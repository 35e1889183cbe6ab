//! Divergence: a run whose numbers stop being finite stops there, says where, exits 3, and
//! leaves a report; comparisons and sweeps finish with it shown as diverged.

use plasticity::engine::EpochMetrics;
use plasticity::experiment::compare::{CompareOptions, Comparison, compare};
use plasticity::experiment::sweep::{Sweep, SweepOptions, run};
use plasticity::experiment::{RunStatus, Summary};

use crate::{plasticity, write};

/// SGD at a learning rate of a million: the weights overflow within a few steps.
const EXPLODE: [&str; 4] = ["--set", "train.optimizer=sgd", "--set", "train.lr=1e6"];

fn summary(dir: &std::path::Path) -> Summary {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn a_diverging_run_stops_names_the_tensor_exits_3_and_still_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let mut args = vec!["train", "--quiet", "--out", out, "--set", "name=boom"];
    args.extend(EXPLODE);
    let (code, stdout, stderr) = plasticity(&args);
    println!("{stdout}{stderr}");
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("diverged in epoch 1 at iteration"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let run = dir.path().join("boom");
    let s = summary(&run);
    assert_eq!(s.status, RunStatus::Diverged);
    let d = s.diverged.clone().unwrap();
    assert_eq!(d.epoch, 1);
    assert!(d.iteration >= 1 && d.iteration <= 12, "{d:?}");
    assert!(
        d.tensor.starts_with("blocks."),
        "the first tensor found: {d:?}"
    );
    assert_eq!((s.test_loss, s.test_accuracy, s.epochs), (None, None, 0));
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["status"], "diverged");
    assert_eq!(last["tensor"], d.tensor.as_str());
    assert!(!text.contains("null"), "no NaN written as null: {text}");
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(report.contains("diverged (epoch 1"), "the report says so");
    // The saved files still serve `plot` and `eval`.
    let (code, _, stderr) = plasticity(&["plot", run.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = plasticity(&["eval", "--run", run.to_str().unwrap()]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("the test loss is not finite"), "{stderr}");
}

#[test]
fn a_run_that_diverges_after_some_epochs_keeps_them_finite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    // SGD at 30 on iris: the weights stay finite two epochs, then the logits overflow.
    let args = [
        "train",
        "--quiet",
        "--out",
        out,
        "--set",
        "name=slow",
        "--set",
        "data.dataset=iris",
        "--set",
        "train.optimizer=sgd",
        "--set",
        "train.lr=30",
        "--set",
        "train.epochs=40",
        "--set",
        "model.activation=relu",
        "--set",
        "train.batch_size=8",
    ];
    let (code, _, stderr) = plasticity(&args);
    assert_eq!(code, 3, "{stderr}");
    let run = dir.path().join("slow");
    let s = summary(&run);
    assert_eq!(s.status, RunStatus::Diverged);
    assert!(s.epochs >= 1, "some epochs finished: {s:?}");
    assert_eq!(s.diverged.as_ref().unwrap().epoch, s.epochs + 1);
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let epochs: Vec<EpochMetrics> = text
        .lines()
        .filter(|l| !l.contains("\"status\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(epochs.len(), s.epochs);
    assert!(
        epochs
            .iter()
            .all(|m| m.train_loss.is_finite() && m.test_loss.is_finite())
    );
    assert!(!text.contains("null"), "{text}");
    assert_eq!(text.lines().count(), s.epochs + 1);
}

const COMPARISON: &str = r#"
name = "cmp"
[data]
dataset = "iris"
[model]
hidden = [8]
[train]
epochs = 2
batch_size = 16
optimizer = "sgd"
lr = 0.05

[[variant]]
name = "explodes"
"train.lr" = 1e6

[[variant]]
name = "fine"
"#;

#[test]
fn a_comparison_finishes_with_its_diverged_variant_last_and_does_not_retrain_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "cmp.toml", COMPARISON.as_bytes());
    let comparison = Comparison::load(&path, &[]).unwrap();
    let options = CompareOptions {
        out: dir.path().join("runs"),
        quiet: true,
        jobs: 1,
    };
    let report = compare(&comparison, &options).unwrap();
    let names: Vec<&str> = report.rows.iter().map(|r| r.variant.as_str()).collect();
    assert_eq!(names, ["fine", "explodes"], "diverged ranked last");
    assert!(
        report
            .markdown
            .lines()
            .last()
            .unwrap()
            .contains("| explodes | backprop | diverged (epoch 1")
    );
    let again = compare(&comparison, &options).unwrap();
    assert!(
        again.rows.iter().all(|r| !r.trained),
        "a diverged run is finished, not retried"
    );
    let csv = std::fs::read_to_string(dir.path().join("runs/cmp/table.csv")).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.starts_with("explodes,") && l.ends_with(",diverged")),
        "{csv}"
    );
}

const SWEEP: &str = r#"
name = "sw"
[data]
dataset = "iris"
[model]
hidden = [8]
[train]
epochs = 2
batch_size = 16
optimizer = "sgd"
[sweep]
"train.lr" = [0.05, 1e6]
repeats = 2
objective = "val_loss"
"#;

#[test]
fn a_sweep_finishes_with_diverged_runs_shown_and_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "sw.toml", SWEEP.as_bytes());
    let sweep = Sweep::load(&path, &[]).unwrap();
    let options = SweepOptions {
        out: dir.path().join("out"),
        jobs: 1,
        shard: None,
        merge: false,
        quiet: true,
    };
    let report = run(&sweep, &options).unwrap();
    assert_eq!(report.trained, 4);
    let table = report.markdown.unwrap();
    let diverged = table.lines().find(|l| l.contains("| 1000000")).unwrap();
    assert!(
        diverged.contains("| diverged |") && diverged.contains("2 (2 diverged)"),
        "{table}"
    );
    let best = table.lines().last().unwrap();
    assert!(
        best.contains("| 0.05 |"),
        "a diverged trial is never best: {table}"
    );
    let again = run(&sweep, &options).unwrap();
    assert_eq!((again.trained, again.reused), (0, 4));
}
