//! The binary: exit codes and one-line errors.

use crate::plasticity;

/// `plasticity train --quiet --out <out> <extra>` exits 2 with one line holding every text
/// of `expected`, and no panic.
fn train_fails_with(out: &str, extra: &[&str], expected: &[&str]) {
    let mut args = vec!["train", "--quiet", "--out", out];
    args.extend_from_slice(extra);
    let (code, _, stderr) = plasticity(&args);
    assert_eq!(code, 2, "{extra:?}: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    for text in expected {
        assert!(stderr.contains(text), "{extra:?}: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let cases: [(&[&str], &str); 9] = [
        (
            &["--set", "name=../escape"],
            "config `name`: `../escape` is not a plain name",
        ),
        (
            &["--set", "name=/tmp/abs"],
            "config `name`: `/tmp/abs` is not a plain name",
        ),
        (
            &["-c", "/no/such.toml"],
            "/no/such.toml: No such file or directory (os error 2)",
        ),
        (&["--set", "model.activation=nope"], "model.activation"),
        (
            &["--set", "model.layers=[\"linear:8\", \"tahn\", \"linear\"]"],
            "model.layers`: entry 2 `tahn`: unknown layer",
        ),
        (
            &["--set", "model.layers=[\"linear:8\", \"linear:7\"]"],
            "the last linear layer has 7 units, the data needs 10",
        ),
        (&["--set", "train.rule=nope"], "train.rule"),
        (
            &["--set", "data.dataset=mnist_idx:/missing/dir"],
            "/missing/dir",
        ),
        (&["--set", "data.dataset=csv:/missing.csv"], "/missing.csv"),
    ];
    for (extra, expected) in cases {
        train_fails_with(out, extra, &[expected]);
    }
    let (_, _, stderr) = plasticity(&["train", "-q", "-c", "/no/such.toml"]);
    assert_eq!(
        stderr.matches("os error 2").count(),
        1,
        "the OS message once: {stderr}"
    );
    assert!(!dir.path().parent().unwrap().join("escape").exists());
}

#[test]
fn settings_the_run_would_ignore_are_rejected_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &["--set", "train.rule=dfa", "--set", "train.feedback=usf"],
            &["train.feedback", "usf", "feedback_alignment"],
        ),
        (&["--set", "train.ff_threshold=3"], &["train.ff_threshold"]),
        (
            &["--set", "train.rule=nope"],
            &[
                "unknown rule `nope`",
                "registered: backprop",
                "dfa",
                "target_prop",
            ],
        ),
        (
            &["--set", "train.rules=[\"target_prop\", \"dfa\"]"],
            &["train.rules", "cannot be mixed"],
        ),
    ];
    for (extra, expected) in cases {
        train_fails_with(out, extra, expected);
    }
    assert!(
        std::fs::read_dir(out).unwrap().next().is_none(),
        "nothing written"
    );
    for flags in [
        &["--depths", "4"][..],
        &["--width", "10"],
        &["--rules", "bp"],
    ] {
        let mut args = vec!["bench"];
        args.extend_from_slice(flags);
        let (code, _, stderr) = plasticity(&args);
        assert_eq!(code, 2, "{flags:?}: {stderr}");
        assert!(stderr.contains("--memory"), "{flags:?}: {stderr}");
    }
}

#[test]
fn rules_lists_every_registered_rule() {
    let (code, stdout, stderr) = plasticity(&["rules"]);
    assert_eq!(code, 0, "{stderr}");
    for rule in crate::BUILT_IN_RULES {
        assert!(
            stdout
                .lines()
                .any(|l| l.split_whitespace().next() == Some(rule)),
            "{rule}: {stdout}"
        );
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
    // An empty split is an error naming the key that emptied it, not zeros.
    let run = run.to_str().unwrap();
    let args = [
        "eval",
        "--run",
        run,
        "--split",
        "validation",
        "--set",
        "data.validation_fraction=0",
    ];
    let (code, _, stderr) = plasticity(&args);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr
            .contains("config `data.validation_fraction`: the validation split of `wine` is empty"),
        "{stderr}"
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

/// A stand-in for `python3`: the reference "trains" at 1000 samples/s and its matmul runs at
/// 7 GFLOP/s; a `--rule boom` run fails.
const FAKE_PYTHON: &str = r#"#!/bin/sh
if [ "$1" = "-c" ]; then case "$2" in *shapes*) echo "[5.0, 6.0, 7.0]";; *) echo 7.0;; esac; exit 0; fi
case "$*" in *"--rule boom"*) echo "Traceback: boom" >&2; exit 1;; esac
echo '{"rule": "x", "train_samples_per_s": 1000.0, "seconds": 1.0}'
"#;

const VS_TORCH: &str = r#"
name = "vs"
[data]
dataset = "iris"
[model]
hidden = [8, 8]
activation = "tanh"
[train]
batch_size = 16
[[variant]]
name = "bp"
"train.rule" = "backprop"
[[variant]]
name = "dfa"
"train.rule" = "dfa"
[[variant]]
name = "boom"
"train.rule" = "dfa"
"#;

/// An executable stand-in for the Python interpreter (`program`, a shell script) and an empty
/// reference script beside it, in `dir`.
fn fake_reference(
    dir: &std::path::Path,
    program: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let python = crate::write(dir, "python", program.as_bytes());
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    (python, crate::write(dir, "ref.py", b""))
}

#[test]
fn bench_vs_torch_alternates_sides_and_reports_ratios() {
    let dir = tempfile::tempdir().unwrap();
    let (python, script) = fake_reference(dir.path(), FAKE_PYTHON);
    let file = crate::write(dir.path(), "vs.toml", VS_TORCH.as_bytes());
    let args = |rules: &str| {
        vec![
            "bench".to_string(),
            "--vs-torch".into(),
            "--json".into(),
            "--config".into(),
            file.display().to_string(),
            "--python".into(),
            python.display().to_string(),
            "--torch-script".into(),
            script.display().to_string(),
            "--rules".into(),
            rules.into(),
            "--repeats".into(),
            "3".into(),
            "--steps".into(),
            "4".into(),
        ]
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        plasticity(&args)
    };
    let (code, stdout, stderr) = run(args("bp,dfa"));
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let rules = report["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(report["torch_matmul_gflops"].as_f64().unwrap(), 7.0);
    for (row, name) in rules.iter().zip(["bp", "dfa"]) {
        // The rule's ceiling: the best repeat of its products on either side.
        let torch_products: Vec<f64> =
            serde_json::from_value(row["ceiling_torch"].clone()).unwrap();
        assert_eq!(torch_products, vec![5.0, 6.0, 7.0]);
        let ours_products: Vec<f64> = serde_json::from_value(row["ceiling_ours"].clone()).unwrap();
        assert_eq!(ours_products.len(), 3, "max(3, --repeats) repeats");
        let best = ours_products.iter().copied().fold(7.0, f64::max);
        let ceiling = row["ceiling_gflops"].as_f64().unwrap();
        assert_eq!(ceiling, best);
        assert_eq!(row["rule"], name);
        let ours: Vec<f64> = serde_json::from_value(row["ours"].clone()).unwrap();
        assert_eq!(ours.len(), 3);
        assert_eq!(row["torch_median"].as_f64().unwrap(), 1000.0);
        let mut ratios: Vec<f64> = ours.iter().map(|o| o / 1000.0).collect();
        ratios.sort_by(f64::total_cmp);
        assert_eq!(row["ratio_median"].as_f64().unwrap(), ratios[1]);
        assert_eq!(row["ratio_min"].as_f64().unwrap(), ratios[0]);
        let fraction = row["torch_fraction_of_ceiling"].as_f64().unwrap();
        let flops = row["measured_flops_per_sample"].as_f64().unwrap();
        assert!(flops > 0.0);
        assert!((fraction - 1000.0 * flops / 1e9 / ceiling).abs() < 1e-12);
    }

    for (rules, expected) in [("boom", "boom"), ("nope", "`nope`")] {
        let (code, _, stderr) = run(args(rules));
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
    let mut missing = args("bp");
    let at = missing.iter().position(|a| a == "--torch-script").unwrap();
    missing[at + 1] = "/missing/ref.py".into();
    let (code, _, stderr) = run(missing);
    assert_eq!(code, 2);
    assert!(stderr.contains("/missing/ref.py"), "{stderr}");
}

/// A reference that records its arguments beside itself and reports a fixed rate.
const RECORDING_PYTHON: &str = r#"#!/bin/sh
if [ "$1" = "-c" ]; then case "$2" in *shapes*) echo "[5.0, 6.0, 7.0]";; *) echo 7.0;; esac; exit 0; fi
echo "$*" >> "$(dirname "$0")/calls"
echo '{"rule": "x", "train_samples_per_s": 500.0, "seconds": 1.0}'
"#;

/// A comparison file of a relu conv net `arch` on digits, batch 16, one variant per reference
/// rule code (`bp`, `dfa`, `ll`).
fn digits_conv_file(dir: &std::path::Path, arch: &str, rules: &[&str]) -> std::path::PathBuf {
    let mut text = format!(
        "name = \"lenet\"\n[data]\ndataset = \"digits\"\n[model]\narch = \"{arch}\"\n\
         activation = \"relu\"\n[train]\nbatch_size = 16\n"
    );
    for rule in rules {
        let code = match *rule {
            "dfa" => "dfa",
            "ll" => "local_loss",
            _ => "backprop",
        };
        text += &format!("[[variant]]\nname = \"{rule}\"\n\"train.rule\" = \"{code}\"\n");
    }
    crate::write(dir, "lenet.toml", text.as_bytes())
}

#[test]
fn bench_vs_torch_hands_a_conv_nets_shorthand_and_activation_to_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let (python, script) = fake_reference(dir.path(), RECORDING_PYTHON);
    let file = digits_conv_file(dir.path(), "4c3p1-mp2-16", &["bp", "ll"]);
    let (python, script, file) = (
        python.display().to_string(),
        script.display().to_string(),
        file.display().to_string(),
    );
    let (code, stdout, stderr) = plasticity(&[
        "bench",
        "--vs-torch",
        "--json",
        "--config",
        &file,
        "--python",
        &python,
        "--torch-script",
        &script,
        "--repeats",
        "2",
        "--steps",
        "3",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["sizes"], "1×8×8-4×4×4-16-10", "{report}");
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 4, "{calls:?}");
    for (call, rule) in calls.iter().zip(["bp", "bp", "ll", "ll"]) {
        for expected in [
            format!("--rule {rule} "),
            "--act relu ".into(),
            "--arch 4c3p1-mp2-16 ".into(),
            "--batch 16 ".into(),
        ] {
            assert!(call.contains(&expected), "`{call}` lacks `{expected}`");
        }
    }
}

#[test]
fn the_ceiling_runs_a_conv_nets_passes_on_both_sides() {
    // The real reference (`bench/torch_reference.py`), where torch is installed; with
    // `PLASTICITY_REQUIRE_TORCH` set (CI, which installs it first) a missing torch fails.
    // The ceiling replays the step's convolution passes as PyTorch's autograd runs them.
    let torch = std::process::Command::new("python3")
        .args(["-c", "import torch"])
        .status()
        .is_ok_and(|s| s.success());
    if !torch {
        assert!(
            std::env::var_os("PLASTICITY_REQUIRE_TORCH").is_none(),
            "PLASTICITY_REQUIRE_TORCH is set but python3 has no torch"
        );
        eprintln!("skipped: python3 has no torch");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = digits_conv_file(dir.path(), "4c3p1-mp2-6c3s2-16", &["bp"]);
    let file = file.display().to_string();
    let (code, stdout, stderr) = plasticity(&[
        "bench",
        "--vs-torch",
        "--json",
        "--config",
        &file,
        "--repeats",
        "1",
        "--steps",
        "2",
        "--warmup",
        "1",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let row = &report["rules"][0];
    for side in ["ceiling_ours", "ceiling_torch"] {
        let rates: Vec<f64> = serde_json::from_value(row[side].clone()).unwrap();
        assert_eq!(rates.len(), 3, "{side}: max(3, --repeats) repeats");
        assert!(
            rates.iter().all(|r| r.is_finite() && *r > 0.0),
            "{side}: {rates:?}"
        );
    }
}

const MEMORY: &str = r#"
name = "mem"
[data]
dataset = "digits"
[model]
activation = "tanh"
[[variant]]
name = "bp"
"train.rule" = "backprop"
[[variant]]
name = "drtp"
"train.rule" = "drtp"
[[variant]]
name = "ll"
"train.rule" = "local_loss"
[[variant]]
name = "ld"
"train.rule" = "linear_decoder"
[[variant]]
name = "ff"
"train.rule" = "forward_forward"
"#;

#[test]
fn bench_memory_is_flat_in_depth_for_local_rules_and_grows_for_backprop() {
    let dir = tempfile::tempdir().unwrap();
    let file = crate::write(dir.path(), "mem.toml", MEMORY.as_bytes());
    let file = file.to_str().unwrap();
    let (code, stdout, stderr) = plasticity(&[
        "bench",
        "--memory",
        "--json",
        "--config",
        file,
        "--depths",
        "2,8",
        "--width",
        "256",
        "--batch",
        "512",
        "--memory-steps",
        "1",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let reports: Vec<serde_json::Value> = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(reports.len(), 10);
    let peak = |rule: &str, blocks: u64| {
        let report = reports
            .iter()
            .find(|r| r["rule"] == rule && r["blocks"].as_u64() == Some(blocks))
            .unwrap_or_else(|| panic!("{rule} {blocks}: {stdout}"));
        report["step_peak_bytes"].as_f64().unwrap()
    };
    // One block's activations: 512 × 256 floats = 0.5 MiB per tensor. Backprop keeps at least
    // one per block until its backward; the peak of a shallow net varies by ~2 MiB from run to
    // run (whether the two cores' products of the backward chain overlap), so the bar counts
    // one tensor per added block, far above the local rules' growth.
    let one = 512.0 * 256.0 * 4.0;
    let grown = peak("bp", 9) - peak("bp", 3);
    assert!(grown > 6.0 * one, "backprop keeps every block: {stdout}");
    for (rule, blocks) in [("drtp", 3), ("ll", 3), ("ld", 3), ("ff", 2)] {
        let grown = peak(rule, blocks + 6) - peak(rule, blocks);
        assert!(grown < one, "{rule} grew by {grown} bytes: {stdout}");
    }

    let (code, _, stderr) = plasticity(&["bench", "--memory", "--config", file, "--depths", "0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--depths"), "{stderr}");
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // `plasticity rules | true`, the reader gone before the first line is printed.
    let output = std::process::Command::new("sh")
        .args(["-c", "(sleep 0.3; \"$0\" rules) | true"])
        .arg(env!("CARGO_BIN_EXE_plasticity"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn drtp_warns_once_about_its_unbounded_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, _, stderr) = plasticity(&[
        "train",
        "--quiet",
        "--out",
        out,
        "--set",
        "train.rule=drtp",
        "--set",
        "model.hidden=[8, 8, 8]",
        "--set",
        "train.epochs=1",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("warning: drtp"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("block(s) 0, 1, 2"), "{stderr}");
}
