//! Float targets: regression from arrays in memory and from CSV files, and the errors that
//! keep labels and targets apart.

use plasticity::data::{self, DataConfig, Dataset};
use plasticity::experiment::ExperimentConfig;
use plasticity::prelude::Trainer;

use crate::write;

/// `y = (sin(2a) + b², a·b)` on `n` points of `[-1, 1]²`, row-major features and targets.
fn smooth_function(n: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..n {
        let a = ((i * 37) % 101) as f32 / 50.0 - 1.0;
        let b = ((i * 53) % 97) as f32 / 48.0 - 1.0;
        x.extend([a, b]);
        y.extend([(2.0 * a).sin() + b * b, a * b]);
    }
    (x, y)
}

/// The mean squared error of predicting the training targets' mean on the test split.
fn mean_predictor_mse(data: &Dataset) -> f64 {
    let width = data.target_width();
    let mean: Vec<f64> = (0..width)
        .map(|j| {
            let column = (0..data.train.rows()).map(|i| f64::from(data.train.target_row(i)[j]));
            column.sum::<f64>() / data.train.rows() as f64
        })
        .collect();
    let test = &data.test;
    let sum: f64 = (0..test.rows())
        .flat_map(|i| (0..width).map(move |j| (i, j)))
        .map(|(i, j)| (f64::from(test.target_row(i)[j]) - mean[j]).powi(2))
        .sum();
    // The loss is the mean over outputs of the squared error, averaged over samples.
    sum / (test.rows() * width) as f64
}

#[test]
fn regression_from_arrays_learns_far_below_the_mean_predictor_under_backprop_and_dfa() {
    let (x, y) = smooth_function(600);
    for rule in ["backprop", "dfa"] {
        let settings: Vec<String> = [
            "train.problem=regression",
            "train.loss=mse",
            "model.hidden=[32, 32]",
            "model.activation=tanh",
            "train.epochs=60",
            "train.batch_size=32",
            "train.lr=3e-3",
            &format!("train.rule={rule}"),
        ]
        .map(String::from)
        .to_vec();
        let config = ExperimentConfig::load(None, &settings).unwrap();
        let data = Dataset::from_arrays_with_targets(
            x.clone(),
            [600, 2],
            y.clone(),
            [600, 2],
            None,
            &config.data,
        )
        .unwrap();
        assert_eq!(
            (data.features(), data.target_width(), data.classes),
            (2, 2, 0)
        );
        let baseline = mean_predictor_mse(&data);
        let mut trainer = Trainer::new(&config, &data).unwrap();
        assert_eq!(trainer.net().outputs(), 2);
        let mut last = None;
        for _ in 0..config.train.epochs {
            last = Some(trainer.epoch(&data, &|| {}).unwrap().metrics);
        }
        let last = last.unwrap();
        assert_eq!(last.test_accuracy, None, "no accuracy for regression");
        let mse = last.test_loss;
        assert!(
            mse < 0.1 * baseline,
            "{rule}: test MSE {mse} vs mean predictor {baseline}"
        );
    }
}

#[test]
fn regression_from_a_csv_file_on_the_command_line() {
    let (x, y) = smooth_function(400);
    let mut text = String::from("a,b,y1,y2\n");
    for (features, targets) in x.chunks(2).zip(y.chunks(2)) {
        let row = [features[0], features[1], targets[0], targets[1]].map(|v| v.to_string());
        text.push_str(&row.join(","));
        text.push('\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "f.csv", text.as_bytes());
    let dataset = format!("data.dataset=csv:{}", file.display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_plasticity"))
        .args(["train", "--quiet", "--out"])
        .arg(dir.path())
        .args(["--set", &dataset, "--set", "data.target_columns=2"])
        .args([
            "--set",
            "train.problem=regression",
            "--set",
            "train.loss=mse",
        ])
        .args([
            "--set",
            "model.hidden=[32]",
            "--set",
            "model.activation=tanh",
        ])
        .args(["--set", "train.epochs=40", "--set", "train.batch_size=16"])
        .args(["--set", "name=fit"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2-32-2"), "{stdout}");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("fit/summary.json")).unwrap(),
    )
    .unwrap();
    let config = DataConfig {
        dataset: format!("csv:{}", file.display()),
        target_columns: 2,
        ..DataConfig::default()
    };
    let baseline = mean_predictor_mse(&data::load(&config).unwrap());
    let mse = summary["test_loss"].as_f64().unwrap();
    assert!(
        mse < 0.2 * baseline,
        "test MSE {mse} vs mean predictor {baseline}"
    );
}

#[test]
fn labels_and_targets_do_not_mix() {
    let load = |settings: &[&str]| {
        let settings: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
        let config = ExperimentConfig::load(None, &settings).unwrap();
        let data = data::load(&config.data)?;
        Trainer::new(&config, &data).map(|_| ())
    };
    let error = load(&["train.problem=regression", "train.loss=mse"]).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("config `train.problem`: regression needs float targets"),
        "{error}"
    );
    let error = load(&["data.target_columns=1"]).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("config `data.target_columns`"),
        "{error}"
    );
    let (x, y) = smooth_function(50);
    let config = ExperimentConfig::load(None, &[]).unwrap();
    let data =
        Dataset::from_arrays_with_targets(x, [50, 2], y, [50, 2], None, &config.data).unwrap();
    let error = Trainer::new(&config, &data).map(|_| ()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("set train.problem = \"regression\""),
        "{error}"
    );
    let regression = ExperimentConfig::load(None, &["train.problem=regression".into()]).unwrap();
    let error = Trainer::new(&regression, &data).map(|_| ()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "config `train.loss`: regression needs the mse loss, not cross_entropy"
    );
    let short = Dataset::from_arrays_with_targets(
        vec![0.0; 4],
        [2, 2],
        vec![1.0; 3],
        [2, 2],
        None,
        &config.data,
    );
    assert_eq!(
        short.unwrap_err().to_string(),
        "features targets: 3 values do not fill the shape [2, 2]"
    );
}
