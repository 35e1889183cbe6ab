//! The integration-test binary: one file per topic.

mod adaptive;
mod alignment;
mod bad_input;
mod batchnorm;
mod cli;
mod compare;
mod config;
mod conv;
mod custom_rule;
mod determinism;
mod divergence;
mod estimators;
mod first_step;
mod flops;
mod formats;
mod fuzz;
mod gradients;
mod host;
mod init_weights;
mod layers;
mod locking;
mod memory;
mod pipeline;
mod playground;
mod regression;
mod report;
mod rules;
mod serve;
mod sweep;
mod target_prop;
mod training;

/// The built-in rules, in `plasticity rules`' registry (other tests register more in this
/// binary's registry).
pub const BUILT_IN_RULES: [&str; 9] = [
    "backprop",
    "feedback_alignment",
    "dfa",
    "drtp",
    "local_loss",
    "linear_decoder",
    "forward_forward",
    "target_prop",
    "difference_target_prop",
];

use std::path::{Path, PathBuf};

use plasticity::experiment::{ExperimentConfig, RunOptions, Summary, train};

/// Runs the `plasticity` binary with `args`: (exit status, stdout, stderr).
pub fn plasticity(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_plasticity"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Trains the default experiment with `overrides` into `dir`.
pub fn train_in(dir: &Path, overrides: &[String]) -> Summary {
    let config = ExperimentConfig::load(None, overrides).unwrap();
    let options = RunOptions {
        out: dir.to_path_buf(),
        ..RunOptions::default()
    };
    train(&config, &options).unwrap()
}
