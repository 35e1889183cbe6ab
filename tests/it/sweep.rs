//! Sweeps: grids, repeats, tables; SIGKILL at random points; shards and merge; bad files.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use plasticity::experiment::sweep::{Shard, Sweep, SweepOptions, run};
use plasticity::rng::Rng;

use crate::write;

/// 12 trials (3 rules × 2 learning rates × with and without batchnorm) on digits, long enough
/// per run for kills to land mid-run.
const TWELVE: &str = r#"
name = "sw"
[data]
dataset = "digits"
[model]
hidden = [48, 48]
dropout = [0.1, 0.0, 0.0]
[train]
epochs = 6
batch_size = 32
[sweep]
"train.rule" = ["backprop", "dfa", "feedback_alignment"]
"train.lr" = [1e-3, 3e-3]
"model.batchnorm" = [false, true]
objective = "val_error"
"#;

const TABLES: [&str; 3] = ["table.md", "trials.csv", "runs.csv"];

fn sweep_cli(file: &Path, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plasticity"));
    command
        .args(["sweep", "--quiet", "--out"])
        .arg(out)
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn finished_runs(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("runs"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.path().join("summary.json").is_file())
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_sweep_killed_three_times_ends_with_the_same_tables() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "sw.toml", TWELVE.as_bytes());
    let clean = dir.path().join("clean");
    assert!(sweep_cli(&file, &clean).status().unwrap().success());
    assert_eq!(finished_runs(&clean.join("sw")), 12);

    let killed = dir.path().join("killed");
    let mut rng = Rng::new(2026);
    let mut progress = Vec::new();
    for _ in 0..3 {
        let mut child = sweep_cli(&file, &killed).spawn().unwrap();
        // A random point: mid-epoch, between epochs, between runs or while writing.
        let delay = 300 + (rng.uniform() * 1500.0) as u64;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
        progress.push(finished_runs(&killed.join("sw")));
    }
    eprintln!("finished runs after each SIGKILL: {progress:?}");
    assert!(
        progress[0] < 12,
        "the first kill came after the whole sweep: {progress:?}"
    );
    assert!(sweep_cli(&file, &killed).status().unwrap().success());
    for table in TABLES {
        let a = std::fs::read(clean.join("sw").join(table)).unwrap();
        let b = std::fs::read(killed.join("sw").join(table)).unwrap();
        assert!(a == b, "{table} differs after SIGKILLs");
    }
    let leftover = std::fs::read_dir(killed.join("sw/runs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.path().join("checkpoint.safetensors").exists());
    assert!(!leftover, "finished runs keep no checkpoint");
}

/// 3 × 2 trials × 2 seeds on iris: quick.
const SMALL: &str = r#"
name = "small"
[data]
dataset = "iris"
[model]
hidden = [8]
activation = "tanh"
[train]
epochs = 5
batch_size = 16
[sweep]
"train.lr" = [1e-3, 1e-2, 3e-2]
"model.batchnorm" = [false, true]
repeats = 2
"#;

fn options(out: &Path, shard: Option<Shard>, merge: bool, jobs: usize) -> SweepOptions {
    SweepOptions {
        out: out.to_path_buf(),
        jobs,
        shard,
        merge,
        quiet: true,
    }
}

fn tables(dir: &Path) -> Vec<Vec<u8>> {
    TABLES
        .iter()
        .map(|t| std::fs::read(dir.join(t)).unwrap())
        .collect()
}

#[test]
fn two_shards_and_a_merge_give_the_unsharded_tables() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "small.toml", SMALL.as_bytes());
    let sweep = Sweep::load(&file, &[]).unwrap();
    assert_eq!(sweep.trials.len(), 6);
    assert_eq!(sweep.keys, ["train.lr", "model.batchnorm"]);
    assert_eq!(sweep.group_by, ["train.lr"]);

    let whole = run(&sweep, &options(&dir.path().join("whole"), None, false, 1)).unwrap();
    assert_eq!(whole.trained, 12);
    let markdown = whole.markdown.unwrap();
    assert_eq!(markdown.matches("| t0").count(), 6 + 3, "{markdown}");
    assert!(markdown.contains("Best trial per train.lr"));

    let shared = dir.path().join("shared");
    let first = run(
        &sweep,
        &options(&shared, Some(Shard { index: 0, count: 2 }), false, 1),
    );
    let first = first.unwrap();
    assert_eq!((first.trained, first.markdown), (6, None));
    let early = run(&sweep, &options(&shared, None, true, 1))
        .unwrap_err()
        .to_string();
    assert!(early.contains("6 of 12 runs unfinished"), "{early}");
    let second = run(
        &sweep,
        &options(&shared, Some(Shard { index: 1, count: 2 }), false, 2),
    );
    assert_eq!(second.unwrap().trained, 6);
    run(&sweep, &options(&shared, None, true, 1)).unwrap();
    assert_eq!(
        tables(&shared.join("small")),
        tables(&dir.path().join("whole/small"))
    );

    let parallel = dir.path().join("parallel");
    run(&sweep, &options(&parallel, None, false, 3)).unwrap();
    assert_eq!(
        tables(&parallel.join("small")),
        tables(&dir.path().join("whole/small"))
    );
}

#[test]
fn shards_parse_as_index_over_count() {
    assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
    for bad in ["4/4", "1/0", "x/2", "3"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
}

#[test]
fn bad_sweep_files_exit_2_and_leave_results_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let good = write(dir.path(), "small.toml", SMALL.as_bytes());
    assert!(sweep_cli(&good, &out).status().unwrap().success());
    let before = tables(&out.join("small"));
    let cases = [
        (SMALL.replace("\"train.lr\"", "\"train.lrr\""), "train.lrr"),
        (SMALL.replace("[1e-3, 1e-2, 3e-2]", "[]"), "sweep.train.lr"),
        (
            SMALL.replace(
                "\"train.lr\" = [1e-3, 1e-2, 3e-2]\n\"model.batchnorm\" = [false, true]\n",
                "",
            ),
            "grid is empty",
        ),
        (
            SMALL.replace("[data]\n", "[data]\nvalidation_fraction = 0.0\n"),
            "sweep.objective",
        ),
        (
            SMALL
                .replace("repeats = 2", "repeats = 2\nobjective = \"test_error\"")
                .replace(
                    "[train]\n",
                    "[train]\nproblem = \"reconstruction\"\nloss = \"mse\"\n",
                ),
            "sweep.objective",
        ),
        (
            SMALL.replace("repeats = 2", "repeats = 2\nobjective = \"accuracy\""),
            "unknown objective",
        ),
    ];
    for (text, expected) in cases {
        let file = write(dir.path(), "small.toml", text.as_bytes());
        let output = Command::new(env!("CARGO_BIN_EXE_plasticity"))
            .args(["sweep", "--quiet", "--out"])
            .arg(&out)
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{expected}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert_eq!(tables(&out.join("small")), before, "{expected}");
    }
}
