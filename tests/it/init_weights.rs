//! `--init-weights`: the rule's tensors load too, nothing in the file goes unused, and a
//! checkpoint resumes only from the start it was made from.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plasticity::experiment::ExperimentConfig;
use plasticity::net::weights::WeightsFile;
use plasticity::prelude::{Parameters, Trainer};

/// The binary's exit status and stderr.
fn run_cli(args: &[&str]) -> (i32, String) {
    let (code, _, stderr) = crate::plasticity(args);
    (code, stderr)
}

/// The values of tensor `name` of `model`.
fn tensor(model: &dyn Parameters, name: &str) -> Vec<f32> {
    let mut found = None;
    model.visit(&mut |n, _, t| {
        if n == name {
            found = Some(crate::host::values(t));
        }
    });
    found.unwrap_or_else(|| panic!("no tensor {name}"))
}

#[test]
fn init_weights_load_the_rules_matrices_too() {
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init.safetensors");
    let out = dir.path().to_str().unwrap();
    let common = [
        "--set",
        "train.rule=dfa",
        "--set",
        "model.hidden=[12]",
        "--set",
        "train.epochs=1",
    ];
    let mut args = vec![
        "train",
        "-q",
        "--out",
        out,
        "--save-init",
        init.to_str().unwrap(),
    ];
    args.extend(common);
    assert_eq!(run_cli(&args).0, 0);
    let file = WeightsFile::read(&init).unwrap();
    assert!(
        file.names().any(|n| n == "dfa.0.weight"),
        "--save-init writes the rule's matrices"
    );
    // Another seed draws other weights and another B; starting from the file gives the file's.
    let settings: Vec<String> = ["train.rule=dfa", "model.hidden=[12]", "seed=9"]
        .map(String::from)
        .to_vec();
    let config = ExperimentConfig::load(None, &settings).unwrap();
    let data = plasticity::data::load(&config.data).unwrap();
    let mut trainer = Trainer::new(&config, &data).unwrap();
    let drawn = tensor(trainer.rule(), "dfa.0.weight");
    trainer.load_start(&file).unwrap();
    let loaded = tensor(trainer.rule(), "dfa.0.weight");
    assert_ne!(drawn, loaded);
    assert_eq!(
        loaded,
        file.matrix("dfa.0.weight", trainer.device())
            .map(|m| crate::host::values(&m))
            .unwrap()
    );
    assert_eq!(
        tensor(trainer.net(), "blocks.0.linear.weight").len(),
        12 * 64
    );
    // Starting a run from the file, with `extra` settings, fails with exit 2 and `expected`.
    let refused = |extra: [&str; 4], expected: &str| {
        let mut args = vec![
            "train",
            "-q",
            "--out",
            out,
            "--init-weights",
            init.to_str().unwrap(),
        ];
        args.extend(extra);
        let (code, stderr) = run_cli(&args);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    };
    // A backprop run has no place for B: an error naming it.
    refused(
        ["--set", "model.hidden=[12]", "--set", "name=bp"],
        "init.safetensors: tensor `dfa.0.weight` has no place in a backprop 64-12-10 run",
    );
    // Nor a wider net for the file's tensors.
    refused(
        ["--set", "model.hidden=[13]", "--set", "train.rule=dfa"],
        "has shape [12, 64], the network needs [13, 64]",
    );
}

#[test]
fn a_checkpoint_resumes_only_from_the_start_it_was_made_from() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (a, b) = (
        dir.path().join("a.safetensors"),
        dir.path().join("b.safetensors"),
    );
    for (file, seed) in [(&a, "seed=1"), (&b, "seed=2")] {
        let args = [
            "train",
            "-q",
            "--out",
            out,
            "--set",
            "name=draw",
            "--set",
            seed,
            "--set",
            "train.epochs=1",
            "--save-init",
            file.to_str().unwrap(),
        ];
        assert_eq!(run_cli(&args).0, 0);
    }
    let run = |init: &std::path::Path| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_plasticity"));
        command
            .args([
                "train",
                "-q",
                "--out",
                out,
                "--set",
                "name=long",
                "--set",
                "train.epochs=400",
            ])
            .arg("--init-weights")
            .arg(init)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    };
    let mut child = run(&a).spawn().unwrap();
    let checkpoint = dir.path().join("long/checkpoint.safetensors");
    let started = Instant::now();
    while !checkpoint.is_file() && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(checkpoint.is_file(), "the run left a checkpoint");
    let out_b = run(&b).output().unwrap();
    let stderr = String::from_utf8_lossy(&out_b.stderr);
    assert_eq!(out_b.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("this run started from --init-weights"),
        "{stderr}"
    );
    assert!(stderr.contains("a.safetensors"), "{stderr}");
    assert!(checkpoint.is_file(), "the checkpoint is kept");
}
