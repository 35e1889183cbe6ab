//! The binary: exit codes and one-line errors.

use std::process::Command;

fn plasticity(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_plasticity"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--set", "model.activation=nope"], "model.activation"),
        (&["--set", "train.rule=nope"], "train.rule"),
        (
            &["--set", "data.dataset=mnist_idx:/missing/dir"],
            "/missing/dir",
        ),
        (&["--set", "data.dataset=csv:/missing.csv"], "/missing.csv"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["train", "--quiet", "--out", out];
        args.extend_from_slice(extra);
        let (code, _, stderr) = plasticity(&args);
        assert_eq!(code, 2, "{extra:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn train_by_flags_then_eval_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = plasticity(&[
        "train",
        "--quiet",
        "--out",
        out,
        "--set",
        "name=w",
        "--set",
        "data.dataset=wine",
        "--set",
        "train.epochs=5",
        "--set",
        "train.batch_size=16",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("test accuracy"), "{stdout}");
    let run = dir.path().join("w");
    let (code, stdout, stderr) = plasticity(&["eval", "--run", run.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let eval: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert!(
        (eval["accuracy"].as_f64().unwrap() - summary["test_accuracy"].as_f64().unwrap()).abs()
            < 1e-9
    );
}

#[test]
fn datasets_lists_every_builtin_set() {
    let (code, stdout, _) = plasticity(&["datasets"]);
    assert_eq!(code, 0);
    for name in [
        "iris",
        "digits",
        "wine",
        "breast_cancer",
        "signed_xor",
        "spirals",
        "fashion_mnist",
    ] {
        assert!(stdout.contains(name), "{name} missing from\n{stdout}");
    }
    assert!(stdout.contains("1797"), "digits' sample count");
}

#[test]
fn bench_json_reports_rates() {
    let (code, stdout, stderr) = plasticity(&[
        "bench",
        "--json",
        "--steps",
        "3",
        "--warmup",
        "1",
        "--repeats",
        "2",
        "--set",
        "data.dataset=iris",
        "--set",
        "train.batch_size=16",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(report["samples_per_second"].as_f64().unwrap() > 0.0);
    assert!(report["matmul_gflops"].as_f64().unwrap() > 0.0);
}

#[test]
fn neuron_draws_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("unit.png");
    let svg = dir.path().join("unit.svg");
    let (code, _, err) = plasticity(&[
        "neuron",
        "--activation",
        "stochastic_binary",
        "--points",
        "200",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let (code, _, err) = plasticity(&[
        "neuron",
        "--activation",
        "sign",
        "--from=-2",
        "--to=2",
        "--out",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg") && text.contains("sign unit"),
        "{}",
        &text[..80]
    );
    let (code, _, err) = plasticity(&["neuron", "--out", "x.gif"]);
    assert_eq!(code, 2);
    assert!(err.contains("x.gif") && err.lines().count() == 1, "{err}");
}
