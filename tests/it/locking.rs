//! One run per directory: a second run into a directory being written fails at once naming
//! the holder; a killed run leaves no stale lock.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plasticity::experiment::lock::{self, RunLock};

use crate::plasticity;

#[test]
fn a_second_run_into_a_busy_directory_fails_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let args = [
        "train",
        "-q",
        "--out",
        &out,
        "--set",
        "name=busy",
        "--set",
        "train.epochs=100000",
        "--set",
        "data.dataset=iris",
    ];
    let mut first = Command::new(env!("CARGO_BIN_EXE_plasticity"))
        .args(args)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let run_dir = dir.path().join("busy");
    let started = Instant::now();
    // The first run has its lock once its first epoch is written.
    while !run_dir.join("metrics.jsonl").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first run never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, _, stderr) = plasticity(&args);
    let holder = format!("process {}", first.id());
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.trim_end().lines().count() == 1, "{stderr}");
    assert!(
        stderr.contains(&format!("busy: in use by {holder}")),
        "{stderr}"
    );
    assert!(stderr.contains("give this run another name"), "{stderr}");
    // Killed, the first run held nothing any more.
    let lock = RunLock::acquire(&run_dir).unwrap();
    let line = std::fs::read_to_string(lock::path(&run_dir)).unwrap();
    assert!(
        line.starts_with(&format!(
            "process {} (started at unix time ",
            std::process::id()
        )),
        "{line}"
    );
    drop(lock);
}
