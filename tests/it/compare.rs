//! Comparisons: shared initial weights, one table, overlaid curves, resuming, bad files.

use plasticity::experiment::compare::{CompareOptions, Comparison, compare};
use plasticity::net::weights::WeightsFile;

use crate::write;

const FILE: &str = r#"
name = "cmp"
[data]
dataset = "iris"
[model]
hidden = [8]
activation = "tanh"
[train]
epochs = 3
batch_size = 16
lr = 0.01

[[variant]]
name = "bp"

[[variant]]
name = "fa"
train.rule = "feedback_alignment"

[[variant]]
name = "bp_norm"
"model.batchnorm" = true
"#;

#[test]
fn variants_share_initial_weights_and_land_in_one_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "cmp.toml", FILE.as_bytes());
    let comparison = Comparison::load(&path, &["train.epochs=2".into()]).unwrap();
    assert_eq!(comparison.variants.len(), 3);
    assert!(
        comparison
            .variants
            .iter()
            .all(|v| v.config.train.epochs == 2)
    );
    let options = CompareOptions {
        out: dir.path().join("runs"),
        quiet: true,
        jobs: 1,
    };
    let report = compare(&comparison, &options).unwrap();
    let root = dir.path().join("runs/cmp");
    let init = WeightsFile::read(&root.join("init.safetensors")).unwrap();
    for variant in ["bp", "fa", "bp_norm"] {
        let row = report.rows.iter().find(|r| r.variant == variant).unwrap();
        assert!(row.trained && row.summary.shared_init, "{variant}");
        assert!(report.markdown.contains(variant));
        let metrics = std::fs::read_to_string(root.join(variant).join("metrics.jsonl")).unwrap();
        assert_eq!(metrics.lines().count(), 2, "{variant}");
    }
    assert!(init.names().any(|n| n == "blocks.0.linear.weight"));
    let csv = std::fs::read_to_string(root.join("table.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4);
    for stem in ["train_loss", "test_accuracy"] {
        for ext in ["png", "svg"] {
            let bytes = std::fs::read(root.join(format!("{stem}.{ext}"))).unwrap();
            assert!(bytes.len() > 1000, "{stem}.{ext}");
        }
    }
    // Same variants again: nothing retrains, the table is the same.
    let again = compare(&comparison, &options).unwrap();
    assert!(again.rows.iter().all(|r| !r.trained));
    assert_eq!(again.markdown, report.markdown);
}

#[test]
fn variants_trained_at_once_match_variants_trained_one_after_another() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "cmp.toml", FILE.as_bytes());
    let comparison = Comparison::load(&path, &[]).unwrap();
    let run = |jobs: usize| {
        let options = CompareOptions {
            out: dir.path().join(format!("jobs_{jobs}")),
            quiet: true,
            jobs,
        };
        compare(&comparison, &options).unwrap()
    };
    let (serial, parallel) = (run(1), run(3));
    assert!(parallel.rows.iter().all(|r| r.trained));
    // Everything but the timings.
    let results = |report: &plasticity::experiment::compare::Report| {
        (report.rows.iter())
            .map(|r| {
                let s = &r.summary;
                let test = (s.test_accuracy, s.test_loss.map(f64::to_bits));
                (r.variant.clone(), r.series, test, s.best_epoch)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(results(&serial), results(&parallel));
    for variant in ["bp", "fa", "bp_norm"] {
        let weights = |report: &plasticity::experiment::compare::Report| {
            std::fs::read(report.dir.join(variant).join("weights.safetensors")).unwrap()
        };
        assert_eq!(weights(&serial), weights(&parallel), "{variant}");
    }
}

#[test]
fn the_seeds_table_is_written_into_a_readme_between_its_markers() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "cmp.toml", FILE.as_bytes());
    let readme = "# Study\n\nBefore.\n\n<!-- plasticity:table cmp -->\n| typed | in |\n\
                  <!-- /plasticity:table -->\n\nAfter.\n";
    let readme_path = write(dir.path(), "README.md", readme.as_bytes());
    let out = dir.path().join("runs");
    let args = [
        "compare",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seeds",
        "2",
        "--jobs",
        "2",
        "--quiet",
        "--into",
        readme_path.to_str().unwrap(),
        "--set",
        "train.epochs=1",
    ];
    let (code, stdout, stderr) = crate::plasticity(&args);
    assert_eq!(code, 0, "{stderr}");
    let seeds = std::fs::read_to_string(out.join("cmp/seeds.md")).unwrap();
    let written = std::fs::read_to_string(&readme_path).unwrap();
    assert_eq!(
        written,
        format!(
            "# Study\n\nBefore.\n\n<!-- plasticity:table cmp -->\n{seeds}\
             <!-- /plasticity:table -->\n\nAfter.\n"
        )
    );
    assert!(stdout.contains(&seeds) && seeds.contains("| fa | feedback_alignment |"));
    // A document without the markers: exit 2, one line naming it, the file untouched.
    let other = write(dir.path(), "OTHER.md", b"no markers\n");
    let mut args = args;
    args[10] = other.to_str().unwrap();
    let (code, _, stderr) = crate::plasticity(&args);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("OTHER.md") && stderr.contains("plasticity:table cmp"));
    assert_eq!(std::fs::read(&other).unwrap(), b"no markers\n");
}

#[test]
fn rerunning_some_variants_merges_their_rows_into_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "cmp.toml", FILE.as_bytes());
    let out = dir.path().join("runs");
    let readme = "<!-- plasticity:table cmp -->\n<!-- /plasticity:table -->\n";
    let readme_path = write(dir.path(), "README.md", readme.as_bytes());
    let run = |variants: &str| {
        let mut args = vec!["compare", path.to_str().unwrap(), "--out"];
        args.extend([out.to_str().unwrap(), "--seeds", "1", "--quiet"]);
        args.extend(["--into", readme_path.to_str().unwrap()]);
        args.extend(["--set", "train.epochs=1", "--variants", variants]);
        let (code, _, stderr) = crate::plasticity(&args);
        assert_eq!(code, 0, "{stderr}");
    };
    run("fa");
    let rows = |text: &str| -> Vec<String> {
        (text
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| variant")))
        .map(|l| l.split('|').nth(1).unwrap().trim().to_string())
        .collect()
    };
    let written = std::fs::read_to_string(&readme_path).unwrap();
    assert_eq!(rows(&written), ["fa"], "{written}");
    // Only `fa` trained: the other variants have no run directory.
    assert!(out.join("cmp/seed_0/fa").is_dir() && !out.join("cmp/seed_0/bp").exists());
    let fa_row = written
        .lines()
        .find(|l| l.starts_with("| fa "))
        .unwrap()
        .to_string();
    run("bp_norm,bp");
    let written = std::fs::read_to_string(&readme_path).unwrap();
    // The file's order, the `fa` row kept as it was.
    assert_eq!(rows(&written), ["bp", "fa", "bp_norm"], "{written}");
    assert!(written.contains(&fa_row), "{written}");
    // A variant the file lacks: exit 2 naming it, nothing trained.
    let mut args = vec!["compare", path.to_str().unwrap(), "--out"];
    args.extend([out.to_str().unwrap(), "--variants", "nope"]);
    let (code, _, stderr) = crate::plasticity(&args);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("nope") && stderr.contains("cmp.toml"),
        "{stderr}"
    );
}

#[test]
fn bad_comparison_files_name_the_variant_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            FILE.replace("name = \"fa\"", "name = \"bp\""),
            "variant[1].name",
        ),
        (FILE.replace("train.rule", "train.rul"), "variant `fa`"),
        (FILE.replace("[[variant]]", "[[variants]]"), "variant"),
    ];
    for (text, key) in cases {
        let path = write(dir.path(), "bad.toml", text.as_bytes());
        let err = Comparison::load(&path, &[]).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn every_committed_experiment_and_comparison_resolves() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let (mut comparisons, mut sweeps) = (0, 0);
    // experiments/kolen_pollack.toml names the rule examples/custom_rule/ registers.
    crate::custom_rule::kolen_pollack::register().unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("[[variant]]") {
            let comparison = Comparison::load(&path, &[]).unwrap();
            assert!(!comparison.variants.is_empty(), "{}", path.display());
            comparisons += 1;
        } else if text.contains("\n[sweep]") {
            let sweep = plasticity::experiment::sweep::Sweep::load(&path, &[])
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(sweep.trials.len() > 1, "{}", path.display());
            sweeps += 1;
        } else {
            plasticity::experiment::ExperimentConfig::load(Some(&path), &[])
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    assert!(comparisons >= 2, "rules_on_digits and tp_hard_activations");
    assert!(sweeps >= 1, "rules_fashion_sweep");
}

#[test]
fn deep_sigmoid_gradients_vanish_and_relu_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("experiments/vanishing_gradients.toml");
    let comparison = Comparison::load(&file, &["train.epochs=20".into()]).unwrap();
    let options = CompareOptions {
        out: dir.path().to_path_buf(),
        quiet: true,
        jobs: 1,
    };
    let report = compare(&comparison, &options).unwrap();
    let ratio = |variant: &str| {
        let path = report.dir.join(variant).join("metrics.jsonl");
        let text = std::fs::read_to_string(path).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let grads = first["mean_abs_grad"].as_array().unwrap();
        grads[0].as_f64().unwrap() / grads[grads.len() - 1].as_f64().unwrap()
    };
    let accuracy = |variant: &str| {
        let row = report.rows.iter().find(|r| r.variant == variant).unwrap();
        row.summary.test_accuracy.unwrap()
    };
    assert!(ratio("sigmoid") < 1e-4, "sigmoid: {}", ratio("sigmoid"));
    assert!(ratio("relu") > 1e-1, "relu: {}", ratio("relu"));
    assert!(
        accuracy("sigmoid") < 0.7,
        "sigmoid learned: {}",
        accuracy("sigmoid")
    );
    assert!(accuracy("relu") > 0.95, "relu: {}", accuracy("relu"));
    // From large weights the gradients explode: the first block's far above the relu row's
    // and above the output block's; relu6 keeps them bounded and learns.
    let first_grad = |variant: &str| {
        let path = report.dir.join(variant).join("metrics.jsonl");
        let text = std::fs::read_to_string(path).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        first["mean_abs_grad"][0].as_f64().unwrap()
    };
    let exploding = first_grad("relu_large_init");
    assert!(exploding > 100.0 * first_grad("relu"), "{exploding}");
    assert!(
        ratio("relu_large_init") > 1.0,
        "{}",
        ratio("relu_large_init")
    );
    assert!(accuracy("relu_large_init") < 0.7);
    assert!(first_grad("relu6_large_init") < 0.1 * exploding);
    assert!(accuracy("relu6_large_init") > 0.95);
    let row = |variant: &str| report.rows.iter().find(|r| r.variant == variant).unwrap();
    assert!(!row("relu_large_init").summary.shared_init, "its own start");
    assert!(row("relu").summary.shared_init);
    // Dead units per block: the relu net has some, every block is reported.
    let text = std::fs::read_to_string(report.dir.join("relu/metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let dead = last["dead_units"].as_array().unwrap();
    assert_eq!(dead.len(), 11);
    assert!(dead.iter().any(|d| d.as_f64().unwrap() > 0.0), "{dead:?}");
    assert!(report.dir.join("grad_magnitudes.svg").is_file());
}

#[test]
fn a_shared_start_drawn_from_another_base_config_is_drawn_anew() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "cmp.toml", FILE.as_bytes());
    let options = CompareOptions {
        out: dir.path().join("runs"),
        quiet: true,
        jobs: 1,
    };
    let init = dir.path().join("runs/cmp/init.safetensors");
    let first_weight = |overrides: &[String]| {
        let comparison = Comparison::load(&path, overrides).unwrap();
        compare(&comparison, &options).unwrap();
        let file = WeightsFile::read(&init).unwrap();
        let device = plasticity::backend::device();
        crate::host::values(&file.matrix("blocks.0.linear.weight", &device).unwrap())
    };
    let one = ["train.epochs=1".to_string()];
    let seeded = |seed: u64| [one[0].clone(), format!("seed={seed}")];
    let a = first_weight(&seeded(1));
    assert_eq!(
        first_weight(&seeded(1)),
        a,
        "the same base reuses its start"
    );
    let b = first_weight(&seeded(2));
    assert_ne!(a, b, "another seed: another start, not the stale one");
    let report = compare(&Comparison::load(&path, &seeded(2)).unwrap(), &options).unwrap();
    assert!(
        report
            .rows
            .iter()
            .all(|r| r.summary.shared_init && !r.trained)
    );
}

#[test]
fn a_comparison_over_seeds_reports_each_variant_as_mean_and_std() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "cmp.toml", FILE.as_bytes());
    let out = dir.path().join("runs").display().to_string();
    let file = path.display().to_string();
    let args = [
        "compare",
        &file,
        "--seeds",
        "2",
        "--out",
        &out,
        "-q",
        "--set",
        "train.epochs=2",
        "--set",
        "seed=4",
    ];
    let (code, stdout, stderr) = crate::plasticity(&args);
    assert_eq!(code, 0, "{stderr}");
    let root = dir.path().join("runs/cmp");
    let table = std::fs::read_to_string(root.join("seeds.md")).unwrap();
    assert!(stdout.contains(&table), "{stdout}");
    for variant in ["bp", "fa", "bp_norm"] {
        let accuracy = |seed: u64| -> f64 {
            let dir = root.join(format!("seed_{seed}/{variant}"));
            let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
            assert!(config.contains(&format!("seed = {seed}\n")), "{config}");
            let text = std::fs::read_to_string(dir.join("summary.json")).unwrap();
            let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
            summary["test_accuracy"].as_f64().unwrap()
        };
        let (a, b) = (accuracy(4), accuracy(5));
        let mean = (a + b) / 2.0;
        let std = ((a - mean).powi(2) + (b - mean).powi(2)).sqrt();
        let row = format!("| {variant} | ");
        let line = table.lines().find(|l| l.starts_with(&row)).unwrap();
        assert!(line.contains(&format!("{mean:.4} ± {std:.4}")), "{line}");
        assert!(line.ends_with("| 4, 5 |"), "{line}");
    }
    let (code, _, stderr) = crate::plasticity(&["compare", &file, "--seeds", "0", "--out", &out]);
    assert_eq!(
        (code, stderr.trim()),
        (2, "error: config `--seeds`: must be at least 1")
    );
}

#[test]
fn the_seeds_of_a_one_variant_study_train_side_by_side_with_the_same_results() {
    use plasticity::experiment::compare::compare_seeds;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "cmp.toml", FILE.as_bytes());
    let comparison =
        Comparison::load_variants(&path, &["train.epochs=6".into()], &["bp".into()]).unwrap();
    let run = |jobs: usize| {
        let options = CompareOptions {
            out: dir.path().join(format!("jobs_{jobs}")),
            quiet: true,
            jobs,
        };
        compare_seeds(&comparison, &options, 2).unwrap()
    };
    let (serial, parallel) = (run(1), run(2));
    assert_eq!(serial.markdown, parallel.markdown);
    for seed in ["seed_0", "seed_1"] {
        let weights = |report: &plasticity::experiment::compare::SeedsReport| {
            std::fs::read(report.dir.join(seed).join("bp/weights.safetensors")).unwrap()
        };
        assert_eq!(weights(&serial), weights(&parallel), "{seed}");
    }
    // With two jobs the second seed's run starts before the first one's ends; one after
    // another, it starts after.
    let when = |report: &plasticity::experiment::compare::SeedsReport, file: &str| {
        let path = report.dir.join(file);
        std::fs::metadata(&path).unwrap().modified().unwrap()
    };
    let overlap =
        |report| when(report, "seed_1/bp/config.toml") < when(report, "seed_0/bp/summary.json");
    assert!(overlap(&parallel));
    assert!(!overlap(&serial));
}
