//! Experiment files: round trip, overrides and errors that name the key.

use plasticity::activation::Activation;
use plasticity::experiment::{ExperimentConfig, PerBlock};
use plasticity::optim::OptimizerKind;

use crate::write;

const FILE: &str = r#"
name = "fashion_backprop"
seed = 3
[data]
dataset = "iris"
validation_fraction = 0.2
scaling = "unit"
[model]
hidden = [300, 300, 300]
activation = "leaky_relu"
dropout = [0.1, 0.05, 0.05, 0.0]
batchnorm = false
[train]
rule = "backprop"
epochs = 20
batch_size = 128
optimizer = "adam"
lr = 1e-3
schedule = "constant"
"#;

#[test]
fn a_file_round_trips_through_its_saved_form() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "e.toml", FILE.as_bytes());
    let config = ExperimentConfig::load(Some(&path), &[]).unwrap();
    assert_eq!(config.seed, 3);
    assert_eq!(
        config.model.dropout,
        PerBlock::Many(vec![0.1, 0.05, 0.05, 0.0])
    );
    let saved = write(dir.path(), "saved.toml", config.to_toml().as_bytes());
    let reloaded = ExperimentConfig::load(Some(&saved), &[]).unwrap();
    assert_eq!(reloaded, config.resolved());
    assert_eq!(reloaded.to_toml(), config.to_toml());
}

#[test]
fn the_saved_form_writes_every_default_out() {
    let config = ExperimentConfig::load(
        None,
        &["model.arch=\"8-4\"".into(), "data.dataset=moons".into()],
    )
    .unwrap();
    let text = config.to_toml();
    let table: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(
        table["model"]["hidden"].as_array().unwrap().len(),
        2,
        "{text}"
    );
    assert!(table["model"].get("arch").is_none(), "{text}");
    assert_eq!(
        table["train"]["layer_epochs"].as_integer(),
        Some(7),
        "{text}"
    );
    assert_eq!(table["data"]["noise"].as_float(), Some(0.1), "{text}");
    for key in ["threads", "pipeline_stages", "recalibrate_batchnorm"] {
        assert!(table["train"].get(key).is_some(), "train.{key} in {text}");
    }
    assert!(table["model"].get("batchnorm_affine").is_some(), "{text}");
}

#[test]
fn overrides_replace_any_field_and_parse_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "e.toml", FILE.as_bytes());
    let overrides = [
        "train.epochs=3",
        "data.dataset=wine",
        "model.activation=tanh",
        "model.hidden=[64, 32]",
        "train.optimizer=rprop",
        "model.dropout=0.25",
    ]
    .map(String::from);
    let config = ExperimentConfig::load(Some(&path), &overrides).unwrap();
    assert_eq!(config.train.epochs, 3);
    assert_eq!(config.data.dataset, "wine");
    assert_eq!(config.model.activation, PerBlock::One(Activation::Tanh));
    assert_eq!(config.model.hidden, Some(vec![64, 32]));
    assert_eq!(config.train.optimizer, OptimizerKind::Rprop);
    assert_eq!(config.model.dropout, PerBlock::One(0.25));
    // A net described on the command line replaces the file's description.
    let replaced =
        ExperimentConfig::load(Some(&path), &["model.arch=64-32-16".to_string()]).unwrap();
    assert_eq!(replaced.model.hidden, None);
    assert_eq!(replaced.hidden_sizes().unwrap(), [64, 32, 16]);
}

#[test]
fn defaults_fill_a_config_given_only_by_flags() {
    let config =
        ExperimentConfig::load(None, &["data.dataset=csv:a.csv,b.csv".to_string()]).unwrap();
    assert_eq!(config.data.dataset, "csv:a.csv,b.csv");
    assert_eq!(config.train.epochs, 20);
}

#[test]
fn bad_keys_and_values_name_the_key() {
    let cases = [
        ("train.epohcs=3", "train"),
        ("train.epohcs=3", "epohcs"),
        ("model.activation=swishy", "model.activation"),
        ("model.activation=swishy", "unknown activation `swishy`"),
        ("train.rule=magic", "train.rule"),
        ("train.optimizer=adamax", "train.optimizer"),
        ("train.lr=-1", "train.lr"),
        ("train.epochs=many", "train.epochs"),
        ("model.init=zeros", "model.init"),
        ("bogus=1", "bogus"),
    ];
    for (item, expected) in cases {
        let error = ExperimentConfig::load(None, &[item.to_string()])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(expected),
            "{item}: `{error}` lacks `{expected}`"
        );
        assert!(!error.contains('\n'), "{error}");
    }
}

#[test]
fn per_block_lists_must_match_the_network() {
    // Checked when the config is read, before any data or tensor.
    let error = ExperimentConfig::load(
        None,
        &[
            "model.hidden=[10, 10]".into(),
            "model.dropout=[0.1, 0.0]".into(),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("model.dropout"), "{error}");
    assert!(
        error.contains("2 values given, the network needs 3"),
        "{error}"
    );
}

#[test]
fn a_broken_file_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "broken.toml", b"name = \"x\"\n[train\nlr = 1\n");
    let error = ExperimentConfig::load(Some(&path), &[])
        .unwrap_err()
        .to_string();
    assert!(error.contains("broken.toml"), "{error}");
    assert!(error.contains("line 2"), "{error}");
}

#[test]
fn estimators_must_fit_their_activation() {
    let cases = [
        (
            ["model.activation=sign", "model.estimator=reinforce"],
            "reinforce needs a stochastic unit",
        ),
        (
            ["model.activation=step", "model.estimator=concrete"],
            "concrete relaxes",
        ),
    ];
    for (items, expected) in cases {
        let mut overrides: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        if !items.iter().any(|s| s.starts_with("model.estimator")) {
            overrides.push("model.estimator=concrete".into());
        }
        let error = ExperimentConfig::load(None, &overrides)
            .unwrap_err()
            .to_string();
        assert!(error.contains("model.estimator"), "{error}");
        assert!(error.contains(expected), "{error}");
    }
    let error = ExperimentConfig::load(
        None,
        &[
            "model.activation=stochastic_binary".into(),
            "model.estimator=concrete".into(),
            "model.temperature=0".into(),
        ],
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        error,
        "config `model.temperature`: 0 is not a positive number"
    );
}

/// `model.layers` and the shorthand it generalises, for one net.
const LAYERS: &str = r#"["linear:24", "batchnorm:fixed", "tanh", "sigmoid", "dropout:0.1", "linear:16", "relu", "normalize", "linear"]"#;
const SHORTHAND: [&str; 7] = [
    "model.hidden=[24, 16]",
    "model.activation=[\"tanh\", \"relu\"]",
    "model.input_activation=[\"none\", \"sigmoid\"]",
    "model.dropout=[0.0, 0.1, 0.0]",
    "model.batchnorm=[true, false]",
    "model.batchnorm_affine=false",
    "model.normalize=[false, true]",
];

#[test]
fn a_layer_list_builds_the_net_its_shorthand_builds_and_trains_it_alike() {
    use plasticity::prelude::Trainer;
    let common = ["data.dataset=digits", "train.epochs=2", "seed=5"];
    let mut listed: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    listed.push(format!("model.layers={LAYERS}"));
    let mut short: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    short.extend(SHORTHAND.iter().map(|s| s.to_string()));
    let (listed, short) = (
        ExperimentConfig::load(None, &listed).unwrap(),
        ExperimentConfig::load(None, &short).unwrap(),
    );
    let (a, b) = (
        listed.block_specs(64, 10).unwrap(),
        short.block_specs(64, 10).unwrap(),
    );
    assert_eq!(a.len(), 3);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            (x.inputs, x.outputs, x.activation),
            (y.inputs, y.outputs, y.activation)
        );
        assert_eq!(
            (x.input_activation, x.dropout, x.normalize),
            (y.input_activation, y.dropout, y.normalize)
        );
        assert_eq!(x.batchnorm, y.batchnorm);
        assert!(!x.batchnorm || x.batchnorm_affine == y.batchnorm_affine);
    }
    let data = plasticity::data::load(&listed.data).unwrap();
    let weights = |config: &ExperimentConfig| {
        let mut trainer = Trainer::new(config, &data).unwrap();
        for _ in 0..config.train.epochs {
            trainer.epoch(&data, &|| {}).unwrap();
        }
        plasticity::net::weights::to_bytes(&[trainer.net()], &Default::default())
    };
    assert_eq!(
        weights(&listed),
        weights(&short),
        "the same net, trained alike"
    );
    // The saved config keeps the list, and loads back to the same config.
    let dir = tempfile::tempdir().unwrap();
    let saved = write(dir.path(), "saved.toml", listed.to_toml().as_bytes());
    let again = ExperimentConfig::load(Some(&saved), &[]).unwrap();
    assert_eq!(again.model.layers, listed.model.layers);
    assert_eq!(again.model.hidden, None);
    assert_eq!(again.hidden_sizes().unwrap(), [24, 16]);
}

#[test]
fn a_layer_list_rejects_the_shorthand_beside_it_and_a_wrong_output_width() {
    let layers = "model.layers=[\"linear:8\", \"tanh\", \"linear:4\"]".to_string();
    for key in [
        "model.hidden=[8]",
        "model.batchnorm=true",
        "model.activation=relu",
    ] {
        let error = ExperimentConfig::load(None, &[layers.clone(), key.into()]).unwrap_err();
        let name = key.split('=').next().unwrap();
        assert!(
            error.to_string().starts_with(&format!("config `{name}`")),
            "{error}"
        );
        assert!(
            error.to_string().contains("model.layers describes"),
            "{error}"
        );
    }
    let config = ExperimentConfig::load(None, &[layers]).unwrap();
    let error = config.block_specs(4, 3).unwrap_err().to_string();
    assert_eq!(
        error,
        "config `model.layers`: the last linear layer has 4 units, the data needs 3"
    );
}

#[test]
fn a_net_given_on_the_command_line_replaces_the_files_description() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "net.toml",
        b"[data]\ndataset = \"digits\"\n[model]\nhidden = [32, 32]\n",
    );
    let arch = ExperimentConfig::load(Some(&file), &["model.arch=4c3p1-mp2-16".into()]).unwrap();
    assert_eq!(arch.model.hidden, None);
    assert!(arch.has_conv());
    let layers = ExperimentConfig::load(
        Some(&file),
        &["model.layers=[\"linear:8\", \"tanh\", \"linear\"]".into()],
    )
    .unwrap();
    assert_eq!(layers.hidden_sizes().unwrap(), [8]);
    let both = ExperimentConfig::load(
        Some(&file),
        &["model.arch=16-8".into(), "model.hidden=[8]".into()],
    )
    .unwrap_err()
    .to_string();
    assert!(
        both.contains("give either model.hidden or model.arch, not both"),
        "{both}"
    );
}
