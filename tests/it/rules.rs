//! Learning rules against exact references, and end to end on iris.

use crate::host;
use burn::tensor::Tensor;
use plasticity::activation::Activation;
use plasticity::backend;
use plasticity::experiment::{ExperimentConfig, RunOptions, train};
use plasticity::loss::Loss;
use plasticity::net::{BlockSpec, Gradients, Init, Net};
use plasticity::rng::Rng;
use plasticity::rule::{
    self, FeedbackSettings, FeedbackVariant, ForwardForward, Layerwise, LearningRule, RuleSettings,
    StepContext,
};
use plasticity::task::{Batch, Problem, Task};

/// The task a net's output implies.
pub fn task_for(net: &Net, loss: Loss, problem: Problem) -> Task {
    let classes = if loss == Loss::BinaryCrossEntropy {
        2
    } else {
        net.outputs()
    };
    Task::new(problem, loss, classes, net.inputs()).unwrap()
}

pub fn settings(rules: Vec<&str>) -> RuleSettings {
    RuleSettings {
        feedback: FeedbackSettings {
            variant: FeedbackVariant::Random,
            init: Init::Lecun,
            scale: None,
        },
        layerwise: Layerwise::Parallel,
        layer_epochs: 1,
        ..RuleSettings::per_block(&rules)
    }
}

fn build(kind: &str, net: &Net, task: Task) -> Box<dyn LearningRule> {
    rule::build(
        &settings(vec![kind; net.blocks.len()]),
        net,
        task,
        &mut Rng::new(5),
    )
    .unwrap()
}

/// Backprop for every block of `net`.
pub fn backprop_rule(net: &Net, task: Task) -> Box<dyn LearningRule> {
    build("backprop", net, task)
}

pub fn net(sizes: &[usize], activation: Activation, batchnorm: bool, seed: u64) -> Net {
    let specs = sizes
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let hidden = i + 2 < sizes.len();
            let activation = if hidden {
                activation
            } else {
                Activation::Identity
            };
            BlockSpec {
                batchnorm: batchnorm && hidden,
                ..BlockSpec::dense(w[0], w[1], activation)
            }
        })
        .collect();
    Net::new(
        specs,
        Init::Xavier,
        None,
        &mut Rng::new(seed),
        &backend::device(),
    )
}

pub fn batch(net: &Net, task: Task, rows: usize, seed: u64) -> Batch {
    let device = backend::device();
    let mut rng = Rng::new(seed);
    let labels: Vec<u32> = (0..rows).map(|i| (i % task.classes) as u32).collect();
    let mut targets = vec![0.0; rows * task.outputs];
    for (r, &l) in labels.iter().enumerate() {
        targets[r * task.outputs + l as usize] = 1.0;
    }
    Batch {
        x: host::matrix(
            rng.normal_vec(rows * net.inputs(), 0.0, 1.0),
            rows,
            net.inputs(),
            &device,
        ),
        targets: host::matrix(targets, rows, task.outputs, &device),
        labels,
    }
}

pub fn grads(rule: &mut dyn LearningRule, net: &Net, batch: &Batch, task: Task) -> Gradients {
    let mut work = net.clone();
    let mut rng = Rng::new(0);
    let mut ctx = StepContext::new(&mut rng, task);
    rule.step(&mut work, batch, &mut ctx).grads
}

pub fn assert_same(a: &Gradients, b: &Gradients, names: &[&str]) {
    for name in names {
        let (x, y) = (
            host::values(a.get(name).unwrap()),
            host::values(b.get(name).unwrap()),
        );
        let worst = x
            .iter()
            .zip(&y)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{name}: differs by {worst}");
    }
}

/// Sets the rule's tensor `name` to `value`.
fn set(rule: &mut dyn LearningRule, name: &str, value: &burn::tensor::Tensor<2>) {
    let mut found = false;
    rule.visit_mut(&mut |n, _, t| {
        if n == name {
            *t = value.clone();
            found = true;
        }
    });
    assert!(found, "{name}");
}

#[test]
fn feedback_alignment_with_b_equal_to_w_is_backprop() {
    let net = net(&[5, 7, 6, 4], Activation::Tanh, true, 1);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let batch = batch(&net, task, 8, 2);
    let mut fa = build("feedback_alignment", &net, task);
    let before = grads(fa.as_mut(), &net, &batch, task);
    for j in [1, 2] {
        set(
            fa.as_mut(),
            &format!("feedback.{j}.weight"),
            net.blocks[j].weight(),
        );
    }
    let synced = grads(fa.as_mut(), &net, &batch, task);
    let reference = grads(backprop_rule(&net, task).as_mut(), &net, &batch, task);
    let names = [
        "blocks.0.linear.weight",
        "blocks.0.linear.bias",
        "blocks.0.batchnorm.weight",
        "blocks.1.linear.weight",
        "blocks.2.linear.weight",
    ];
    assert_same(&synced, &reference, &names);
    let w0 = |g: &Gradients| host::values(g.get("blocks.0.linear.weight").unwrap());
    assert_ne!(
        w0(&before),
        w0(&reference),
        "random feedback must differ from backprop"
    );
}

#[test]
fn dfa_on_one_hidden_layer_with_b_equal_to_w2_is_backprop() {
    let net = net(&[4, 9, 3], Activation::Sigmoid, false, 3);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let batch = batch(&net, task, 6, 4);
    let mut dfa = build("dfa", &net, task);
    set(dfa.as_mut(), "dfa.0.weight", net.blocks[1].weight());
    let reference = grads(backprop_rule(&net, task).as_mut(), &net, &batch, task);
    let names = [
        "blocks.0.linear.weight",
        "blocks.0.linear.bias",
        "blocks.1.linear.weight",
    ];
    assert_same(&grads(dfa.as_mut(), &net, &batch, task), &reference, &names);
}

#[test]
fn drtp_hidden_updates_ignore_the_output_weights() {
    let first = net(&[4, 8, 8, 3], Activation::Tanh, false, 5);
    let mut second = first.clone();
    second.blocks[2] = net(&[4, 8, 8, 3], Activation::Tanh, false, 99).blocks[2].clone();
    let task = task_for(&first, Loss::CrossEntropy, Problem::Classification);
    let batch = batch(&first, task, 6, 6);
    let mut drtp = build("drtp", &first, task);
    let a = grads(drtp.as_mut(), &first, &batch, task);
    let b = grads(drtp.as_mut(), &second, &batch, task);
    assert_same(
        &a,
        &b,
        &["blocks.0.linear.weight", "blocks.1.linear.weight"],
    );
    let top = |g: &Gradients| host::values(g.get("blocks.2.linear.weight").unwrap());
    assert_ne!(
        top(&a),
        top(&b),
        "the output block does learn from its own weights"
    );
}

#[test]
fn linear_decoder_trains_its_decoders_and_sequential_trains_one_block() {
    let net = net(&[4, 8, 8, 3], Activation::Mish, false, 7);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let batch = batch(&net, task, 6, 8);
    let mut parallel = build("linear_decoder", &net, task);
    let g = grads(parallel.as_mut(), &net, &batch, task);
    for name in [
        "decoders.0.weight",
        "decoders.1.weight",
        "blocks.0.linear.weight",
        "blocks.2.linear.weight",
    ] {
        assert!(g.get(name).is_some(), "{name}");
    }
    let mut s = settings(vec!["linear_decoder"; 3]);
    s.layerwise = Layerwise::Sequential;
    let mut sequential = rule::build(&s, &net, task, &mut Rng::new(5)).unwrap();
    let g = grads(sequential.as_mut(), &net, &batch, task);
    let mut names: Vec<&String> = g.iter().map(|(n, _)| n).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "blocks.0.linear.bias",
            "blocks.0.linear.weight",
            "decoders.0.weight"
        ]
    );
    sequential.end_epoch(1);
    let g = grads(sequential.as_mut(), &net, &batch, task);
    assert!(g.get("blocks.1.linear.weight").is_some() && g.get("blocks.0.linear.weight").is_none());
}

#[test]
fn forward_forward_negatives_never_carry_the_true_label() {
    let task = Task::new(Problem::Classification, Loss::CrossEntropy, 10, 4).unwrap();
    let ff = ForwardForward::new(task, 2.0, 1.0);
    let labels: Vec<u32> = (0..5000).map(|i| (i % 10) as u32).collect();
    let negatives = ff.negative_labels(&labels, &mut Rng::new(1));
    assert!(
        labels
            .iter()
            .zip(&negatives)
            .all(|(y, n)| y != n && *n < 10)
    );
    for wrong in 0..10u32 {
        let count = negatives.iter().filter(|&&n| n == wrong).count();
        assert!(
            (400..600).contains(&count),
            "label {wrong} drawn {count} times"
        );
    }
}

fn iris(rule: &str, extra: &[&str]) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let mut overrides: Vec<String> = [
        "name=r",
        "data.dataset=iris",
        "model.hidden=[16, 16]",
        "model.activation=tanh",
        "train.epochs=6",
        "train.batch_size=16",
        "train.lr=0.01",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    overrides.push(format!("train.rule={rule}"));
    overrides.extend(extra.iter().map(|s| s.to_string()));
    let config = ExperimentConfig::load(None, &overrides).unwrap();
    let options = RunOptions {
        out: dir.path().to_path_buf(),
        ..RunOptions::default()
    };
    train(&config, &options).unwrap();
    std::fs::read_to_string(dir.path().join("r/metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["train_loss"]
                .as_f64()
                .unwrap()
        })
        .collect()
}

#[test]
fn every_rule_lowers_the_training_loss_on_iris() {
    let cases: [(&str, &[&str]); 11] = [
        ("backprop", &[]),
        ("feedback_alignment", &[]),
        ("feedback_alignment", &["train.feedback=usf"]),
        ("feedback_alignment", &["train.feedback=brsf"]),
        (
            "feedback_alignment",
            &["train.feedback=frsf", "model.batchnorm=true"],
        ),
        ("dfa", &["model.dropout=0.1"]),
        ("drtp", &["train.feedback_init=uniform"]),
        ("local_loss", &["train.feedback_init=orthogonal"]),
        ("linear_decoder", &["model.normalize=true"]),
        (
            "linear_decoder",
            &["train.layerwise=sequential", "train.layer_epochs=2"],
        ),
        ("forward_forward", &["train.lr=0.003"]),
    ];
    for (rule, extra) in cases {
        let losses = iris(rule, extra);
        assert!(
            losses.last().unwrap() < &(losses[0] * 0.95),
            "{rule} {extra:?}: {losses:?}"
        );
    }
}

#[test]
fn rules_mix_per_block() {
    let losses = iris(
        "backprop",
        &["train.rules=[\"dfa\", \"local_loss\", \"backprop\"]"],
    );
    assert!(losses.last().unwrap() < &losses[0]);
    let error = ExperimentConfig::load(None, &["train.rules=[\"dfa\"]".into()])
        .unwrap_err()
        .to_string();
    assert!(error.contains("train.rules"), "{error}");
}

#[test]
fn impossible_combinations_are_named_errors() {
    for rule in ["drtp", "forward_forward"] {
        let error = ExperimentConfig::load(
            None,
            &[
                format!("train.rule={rule}"),
                "train.problem=reconstruction".into(),
                "train.loss=mse".into(),
                "data.dataset=iris".into(),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("train.problem"), "{rule}: {error}");
        assert!(error.contains(rule), "{rule}: {error}");
    }
    let error = ExperimentConfig::load(
        None,
        &[
            "train.rules=[\"forward_forward\", \"backprop\"]".into(),
            "model.hidden=[4]".into(),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("cannot be mixed"), "{error}");
}

#[test]
fn local_loss_reconstruction_reports_the_mse() {
    let dir = tempfile::tempdir().unwrap();
    let summary = crate::train_in(
        dir.path(),
        &[
            "name=rec".into(),
            "data.dataset=wine".into(),
            "train.rule=local_loss".into(),
            "train.problem=reconstruction".into(),
            "train.loss=mse".into(),
            "model.hidden=[32]".into(),
            "train.epochs=8".into(),
            "train.batch_size=16".into(),
        ],
    );
    assert_eq!(summary.test_accuracy, None);
    let mse = summary.test_loss.unwrap();
    assert!(
        mse < 0.9,
        "standardized inputs: MSE well under 1, got {mse}"
    );
}

#[test]
fn every_rule_runs_with_every_smooth_activation_batchnorm_and_dropout() {
    let activations = [
        "identity",
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "mish",
        "silu",
        "gelu",
        "hardtanh",
        "hardsigmoid",
    ];
    let rules = [
        "backprop",
        "feedback_alignment",
        "dfa",
        "drtp",
        "local_loss",
        "linear_decoder",
        "forward_forward",
    ];
    for rule in rules {
        for activation in activations {
            let dir = tempfile::tempdir().unwrap();
            let config = ExperimentConfig::load(
                None,
                &[
                    "data.dataset=wine".into(),
                    "model.hidden=[8, 8]".into(),
                    "model.batchnorm=true".into(),
                    "model.dropout=0.1".into(),
                    format!("model.activation={activation}"),
                    format!("train.rule={rule}"),
                    "train.epochs=1".into(),
                    "train.batch_size=32".into(),
                ],
            )
            .unwrap();
            let options = RunOptions {
                out: dir.path().to_path_buf(),
                ..RunOptions::default()
            };
            let summary = train(&config, &options).unwrap();
            assert!(
                summary.test_loss.is_some_and(f64::is_finite),
                "{rule} + {activation}: {summary:?}"
            );
        }
    }
}

#[test]
fn every_mix_of_rules_names_each_tensor_once_and_its_weights_read_back() {
    let mixes: [&[&str]; 4] = [
        &["feedback_alignment", "dfa", "backprop"],
        &["feedback_alignment", "drtp", "backprop"],
        &["dfa", "feedback_alignment", "backprop"],
        &["drtp", "dfa", "backprop"],
    ];
    for mix in mixes {
        let dir = tempfile::tempdir().unwrap();
        let rules = format!(
            "train.rules=[{}]",
            mix.iter()
                .map(|r| format!("\"{r}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let overrides = [
            "data.dataset=iris".to_string(),
            "model.hidden=[6, 5]".into(),
            "train.epochs=1".into(),
            rules,
        ];
        let config = plasticity::experiment::ExperimentConfig::load(None, &overrides).unwrap();
        let options = plasticity::experiment::RunOptions {
            out: dir.path().to_path_buf(),
            ..Default::default()
        };
        plasticity::experiment::train(&config, &options).unwrap();
        let file = dir.path().join("run/weights.safetensors");
        let weights = plasticity::net::weights::WeightsFile::read(&file).unwrap();
        let names: Vec<&String> = weights.names().collect();
        assert_eq!(names.len(), 6 + 2, "{mix:?}: {names:?}");
        let result = plasticity::experiment::evaluate_weights(
            &config,
            &file,
            plasticity::experiment::Split::Test,
        );
        assert!(result.is_ok(), "{mix:?}: {result:?}");
    }
}

#[test]
fn tensors_that_share_a_name_are_refused_by_the_writer() {
    struct Twice(Tensor<2>);
    impl plasticity::net::Parameters for Twice {
        fn visit_mut(&mut self, f: &mut dyn FnMut(&str, plasticity::net::Slot, &mut Tensor<2>)) {
            f("a.weight", plasticity::net::Slot::MATRIX, &mut self.0);
        }
        fn visit(&self, f: &mut dyn FnMut(&str, plasticity::net::Slot, &Tensor<2>)) {
            f("a.weight", plasticity::net::Slot::MATRIX, &self.0);
        }
    }
    let t = Twice(Tensor::<2>::zeros([2, 2], &backend::device()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let error = plasticity::net::weights::save(&path, &[&t, &t], &Default::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("two tensors are named `a.weight`"),
        "{error}"
    );
    assert!(!path.exists(), "nothing written");
}
