//! Property-based fuzzing: random configs (valid and not) and random corruptions of IDX, CSV,
//! TOML and safetensors files. Every case must end in a finished (or diverged) run or a
//! one-line error — never a panic, an abort or a hang. Seeds are fixed so CI is repeatable;
//! `PROPTEST_CASES` raises the counts for a longer hunt, and failures proptest finds are kept
//! in `proptest-regressions/` and replayed first.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use plasticity::Error;
use plasticity::data::{self, DataConfig, csv, idx};
use plasticity::engine::Trainer;
use plasticity::experiment::compare::Comparison;
use plasticity::experiment::{ExperimentConfig, RunOptions, train};
use plasticity::net::weights::{self, WeightsFile};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// Runs `work` on its own thread: its panic, or its running past `seconds`, is a failure.
fn within<T: Send + 'static>(seconds: u64, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = send.send(work());
    });
    match receive.recv_timeout(Duration::from_secs(seconds)) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung for {seconds} s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = handle
                .join()
                .expect_err("a thread that sent nothing panicked");
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("panicked: {text}")
        }
    }
}

/// An error must be one non-empty line.
fn one_line(error: &Error) -> Result<(), TestCaseError> {
    let text = error.to_string();
    prop_assert!(
        !text.is_empty() && !text.contains('\n'),
        "not one line: {text:?}"
    );
    Ok(())
}

/// Cases per property; together at least the 2,000 CI runs (checked when this compiles).
const CONFIG_CASES: u32 = 400;
const IDX_CASES: u32 = 500;
const CSV_CASES: u32 = 600;
const TOML_CASES: u32 = 400;
const SAFETENSORS_CASES: u32 = 300;
const _: () =
    assert!(CONFIG_CASES + IDX_CASES + CSV_CASES + TOML_CASES + SAFETENSORS_CASES >= 2000);

fn config(cases: u32, seed: u64) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 200,
        ..Config::default()
    }
}

/// One `--set` item: a key from the config's surface with a value that is often right and
/// often wrong (wrong type, out of range, NaN, huge, a misspelt name).
fn override_item() -> impl Strategy<Value = String> {
    let numbers = prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("1e300".to_string()),
        Just("0.5".to_string()),
        Just("\"text\"".to_string()),
        Just("[1, 2]".to_string()),
        (1u32..5).prop_map(|n| n.to_string()),
        (0.0f64..1.0).prop_map(|x| format!("{x}")),
    ];
    let names = prop_oneof![
        Just("backprop"),
        Just("feedback_alignment"),
        Just("dfa"),
        Just("drtp"),
        Just("local_loss"),
        Just("linear_decoder"),
        Just("forward_forward"),
        Just("target_prop"),
        Just("difference_target_prop"),
        Just("backprob"),
    ];
    let activations = prop_oneof![
        Just("tanh"),
        Just("relu"),
        Just("sign"),
        Just("stochastic_binary"),
        Just("leaky_relu:0.2"),
        Just("elu:nan"),
        Just("tahn"),
        Just("softmax"),
    ];
    let keys = prop_oneof![
        Just("train.lr"),
        Just("train.batch_size"),
        Just("train.momentum"),
        Just("train.weight_decay"),
        Just("train.gamma"),
        Just("train.min_lr"),
        Just("train.threads"),
        Just("train.align_every"),
        Just("train.log_every"),
        Just("model.dropout"),
        Just("model.temperature"),
        Just("model.init_scale"),
        Just("data.validation_fraction"),
        Just("data.test_fraction"),
        Just("data.train_limit"),
        Just("data.classes"),
        Just("target_prop.x_lr"),
        Just("train.epochs"),
        Just("train.epoch"),
    ];
    prop_oneof![
        (keys, numbers).prop_map(|(k, v)| format!("{k}={v}")),
        names.prop_map(|n| format!("train.rule={n}")),
        activations.prop_map(|a| format!("model.activation={a}")),
        prop::collection::vec(0usize..6, 0..3).prop_map(|h| format!("model.hidden={h:?}")),
        prop_oneof![Just("sgd"), Just("adam"), Just("rmsprop"), Just("adamm")]
            .prop_map(|o| format!("train.optimizer={o}")),
        prop_oneof![Just("true"), Just("false"), Just("1")]
            .prop_map(|b| format!("model.batchnorm={b}")),
        prop_oneof![
            Just("cross_entropy"),
            Just("mse"),
            Just("bce"),
            Just("hinge")
        ]
        .prop_map(|l| format!("train.loss={l}")),
    ]
}

proptest! {
    #![proptest_config(config(CONFIG_CASES, 19))]

    /// A random config trains to its end (or diverges) or is refused in one line.
    #[test]
    fn random_configs_train_or_fail_in_one_line(
        items in prop::collection::vec(override_item(), 0..6),
        dataset in prop_oneof![Just("iris"), Just("xor"), Just("circles")],
    ) {
        let mut overrides = vec![
            format!("data.dataset={dataset}"),
            "data.samples=120".into(),
            "train.epochs=1".into(),
            "model.hidden=[4]".into(),
        ];
        overrides.extend(items);
        let outcome = within(60, move || {
            let config = ExperimentConfig::load(None, &overrides)?;
            let config = ExperimentConfig {
                train: plasticity::experiment::TrainConfig {
                    epochs: config.train.epochs.min(2),
                    threads: config.train.threads.min(2),
                    ..config.train.clone()
                },
                ..config
            };
            let dir = tempfile::tempdir().expect("a temporary directory");
            let options = RunOptions {
                out: dir.path().to_path_buf(),
                quiet: true,
                report: false,
                checkpoint: false,
                ..RunOptions::default()
            };
            train(&config, &options).map(|_| ())
        });
        match outcome {
            Ok(()) | Err(Error::Diverged(_)) => {}
            Err(error) => one_line(&error)?,
        }
    }
}

/// The bytes of a small good MNIST-format split: images, then labels.
fn idx_files() -> (Vec<u8>, Vec<u8>) {
    let mut images: Vec<u8> = [0x0803u32, 3, 2, 2]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect();
    images.extend([7u8; 12]);
    let mut labels: Vec<u8> = [0x0801u32, 3]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .collect();
    labels.extend([0u8, 1, 2]);
    (images, labels)
}

/// A corruption of a file: bytes overwritten, cut short, lengthened or a header word replaced.
#[derive(Debug, Clone)]
enum Corruption {
    Overwrite(usize, u8),
    Truncate(usize),
    Append(Vec<u8>),
    Word(usize, u32),
}

fn corruption() -> impl Strategy<Value = Corruption> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Corruption::Overwrite(i, b)),
        any::<usize>().prop_map(Corruption::Truncate),
        prop::collection::vec(any::<u8>(), 1..16).prop_map(Corruption::Append),
        (0usize..4, any::<u32>()).prop_map(|(i, w)| Corruption::Word(i, w)),
    ]
}

fn corrupt(bytes: &mut Vec<u8>, corruptions: &[Corruption]) {
    for c in corruptions {
        match c {
            Corruption::Overwrite(i, b) if !bytes.is_empty() => {
                let at = i % bytes.len();
                bytes[at] = *b;
            }
            Corruption::Overwrite(..) => {}
            Corruption::Truncate(n) => bytes.truncate(n % (bytes.len() + 1)),
            Corruption::Append(more) => bytes.extend(more),
            Corruption::Word(i, w) if bytes.len() >= 4 * i + 4 => {
                bytes[4 * i..4 * i + 4].copy_from_slice(&w.to_be_bytes());
            }
            Corruption::Word(..) => {}
        }
    }
}

proptest! {
    #![proptest_config(config(IDX_CASES, 20))]

    /// Corrupt IDX files parse to consistent tables or to one-line errors.
    #[test]
    fn corrupt_idx_files_fail_in_one_line(
        image_damage in prop::collection::vec(corruption(), 0..4),
        label_damage in prop::collection::vec(corruption(), 0..3),
    ) {
        let (mut images, mut labels) = idx_files();
        corrupt(&mut images, &image_damage);
        corrupt(&mut labels, &label_damage);
        let (parsed_images, parsed_labels) = within(20, move || {
            let path = Path::new("train-images-idx3-ubyte");
            (idx::parse_images(&images, path), idx::parse_labels(&labels, path))
        });
        match parsed_images {
            Ok((count, pixels, values)) => prop_assert_eq!(values.len(), count * pixels),
            Err(error) => one_line(&error)?,
        }
        if let Err(error) = parsed_labels {
            one_line(&error)?;
        }
    }
}

/// CSV text from pieces a hand-edited or mis-exported file holds.
fn csv_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => (-3i32..4).prop_map(|v| v.to_string()),
        2 => (-10.0f64..10.0).prop_map(|v| format!("{v:.3}")),
        2 => Just(",".to_string()),
        2 => Just("\n".to_string()),
        1 => Just("\r\n".to_string()),
        1 => Just("nan".to_string()),
        1 => Just("1e39".to_string()),
        1 => Just("label".to_string()),
        1 => Just("\u{feff}".to_string()),
        1 => Just(" ".to_string()),
        1 => Just("\"x\"".to_string()),
        1 => Just("é".to_string()),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(config(CSV_CASES, 21))]

    /// Any CSV text parses to a consistent table of finite values or to a one-line error.
    #[test]
    fn random_csv_text_parses_or_fails_in_one_line(
        text in csv_text(),
        target_columns in 0usize..3,
        header in prop_oneof![Just(csv::Header::Auto), Just(csv::Header::Yes), Just(csv::Header::No)],
    ) {
        let layout = csv::Layout { target_columns, header };
        let parsed = within(20, move || csv::parse(&text, Path::new("f.csv"), layout));
        match parsed {
            Ok(table) => {
                prop_assert_eq!(table.x.len(), table.rows() * table.features);
                prop_assert_eq!(table.targets.len(), table.rows() * table.target_width);
                prop_assert!(table.x.iter().chain(&table.targets).all(|v| v.is_finite()));
                prop_assert!(table.features >= 1);
            }
            Err(error) => one_line(&error)?,
        }
    }
}

/// An experiment file to damage.
const TOML: &str = "name = \"fuzz\"\nseed = 3\n\n[data]\ndataset = \"xor\"\nsamples = 80\n\n\
                    [model]\nhidden = [4]\nactivation = \"tanh\"\n\n[train]\nrule = \"dfa\"\n\
                    epochs = 1\nlr = 0.01\n\n[[variant]]\nname = \"bp\"\ntrain.rule = \"backprop\"\n";

proptest! {
    #![proptest_config(config(TOML_CASES, 22))]

    /// A damaged experiment or comparison file loads or is refused in one line naming it.
    #[test]
    fn corrupt_toml_files_load_or_fail_in_one_line(
        damage in prop::collection::vec((any::<usize>(), prop_oneof![
            Just(""), Just("="), Just("["), Just("]"), Just("\""), Just("\n"), Just("-"),
            Just("0"), Just("x"), Just(","), Just("{"), Just("nan"), Just("."),
        ]), 1..5),
    ) {
        let mut text = TOML.to_string();
        for (at, piece) in &damage {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.replace_range(at..(at + 1).min(text.len()), piece);
        }
        let (single, comparison) = within(20, move || {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let path = dir.path().join("damaged.toml");
            std::fs::write(&path, &text).expect("written");
            let single = ExperimentConfig::load(Some(&path), &[]).map(|_| ());
            let comparison = Comparison::parse(&text, &path, &[]).map(|_| ());
            (single, comparison)
        });
        for outcome in [single, comparison] {
            if let Err(error) = outcome {
                one_line(&error)?;
            }
        }
    }
}

/// A good weights file of a tiny DFA net on xor, and the config it fits.
fn weights_file() -> (Vec<u8>, ExperimentConfig) {
    let overrides = [
        "data.dataset=xor".to_string(),
        "data.samples=60".into(),
        "model.hidden=[3]".into(),
        "train.rule=dfa".into(),
    ];
    let config = ExperimentConfig::load(None, &overrides).unwrap();
    let data = data::load(&config.data).unwrap();
    let trainer = Trainer::new(&config, &data).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    weights::save(&path, &[trainer.net(), trainer.rule()], &Default::default()).unwrap();
    (std::fs::read(&path).unwrap(), config)
}

proptest! {
    #![proptest_config(config(SAFETENSORS_CASES, 23))]

    /// A damaged safetensors file starts a run or is refused in one line naming it.
    #[test]
    fn corrupt_safetensors_start_or_fail_in_one_line(
        damage in prop::collection::vec(corruption(), 1..4),
    ) {
        let (mut bytes, config) = weights_file();
        corrupt(&mut bytes, &damage);
        let outcome = within(20, move || {
            let data = data::load(&config.data)?;
            let mut trainer = Trainer::new(&config, &data)?;
            let file = WeightsFile::parse(&bytes, Path::new("w.safetensors"))?;
            trainer.load_start(&file)
        });
        if let Err(error) = outcome {
            one_line(&error)?;
            prop_assert!(error.to_string().starts_with("w.safetensors: "), "{error}");
        }
    }
}

#[test]
fn hand_made_data_config_rejects_out_of_range_numbers() {
    let config = DataConfig {
        noise: Some(f64::NAN),
        dataset: "moons".into(),
        ..DataConfig::default()
    };
    let error = data::load(&config).unwrap_err().to_string();
    assert_eq!(
        error,
        "config `data.noise`: NaN is not a non-negative number"
    );
}
