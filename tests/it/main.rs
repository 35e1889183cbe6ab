//! The integration-test binary: one file per topic.

mod alignment;
mod batchnorm;
mod cli;
mod compare;
mod config;
mod determinism;
mod estimators;
mod formats;
mod gradients;
mod memory;
mod optim;
mod pipeline;
mod product;
mod report;
mod rules;
mod sweep;
mod target_prop;
mod training;

use std::path::{Path, PathBuf};

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}
