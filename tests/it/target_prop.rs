//! Target propagation against exact references: gradient-step targets, DTP's difference
//! correction, analytic inverses, and the configs it must reject.

use crate::host;
use burn::tensor::Tensor;
use plasticity::activation::{Activation, EvalMode};
use plasticity::experiment::{ExperimentConfig, RunOptions, train};
use plasticity::loss::Loss;
use plasticity::net::{BlockSpec, Gradients, Init, Net};
use plasticity::rng::Rng;
use plasticity::rule::{self, FeedbackPass, Inverse, TargetProp, TargetPropSettings};
use plasticity::task::Problem;

use crate::rules::{backprop_rule, batch, grads, net, settings, task_for};

const LEAKY: Activation = Activation::LeakyRelu { slope: 0.01 };

fn tp(net: &Net, difference: bool, settings: TargetPropSettings) -> TargetProp {
    TargetProp::new(net, difference, settings, Init::Xavier, &mut Rng::new(3)).unwrap()
}

fn worst_gap(a: &Tensor<2>, b: &Tensor<2>) -> f32 {
    host::values(a)
        .iter()
        .zip(host::values(b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn values(g: &Gradients, name: &str) -> Vec<f32> {
    host::values(g.get(name).unwrap_or_else(|| panic!("{name}")))
}

#[test]
fn top_target_with_an_exact_inverse_is_a_gradient_step() {
    let net = net(&[5, 6, 6, 4], LEAKY, false, 11);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let batch = batch(&net, task, 8, 12);
    let reference = grads(backprop_rule(&net, task).as_mut(), &net, &batch, task);
    for x_lr in [1e-2f32, 1e-4] {
        let settings = TargetPropSettings {
            x_lr,
            inverse: Inverse::Exact,
            ..TargetPropSettings::default()
        };
        let mut rule = tp(&net, false, settings);
        let got = grads(&mut rule, &net, &batch, task);
        // The top hidden block learns toward t = h − x_lr·∂ℓ/∂h: its MSE gradient is
        // 2·x_lr times backprop's, whatever x_lr.
        for name in ["blocks.1.linear.weight", "blocks.1.linear.bias"] {
            let bp = values(&reference, name);
            let scale = bp.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (t, b) in values(&got, name).iter().zip(&bp) {
                assert!(
                    (t / (2.0 * x_lr) - b).abs() < 1e-3 * scale,
                    "{name} at x_lr {x_lr}: {t} vs 2·x_lr·{b}"
                );
            }
        }
        assert_eq!(
            values(&got, "blocks.2.linear.weight"),
            values(&reference, "blocks.2.linear.weight"),
            "the output block learns by backprop"
        );
    }
}

#[test]
fn exact_and_pseudo_inverses_send_the_activity_back_unchanged() {
    // Square (exact) and widening (pseudoinverse: W⁺W = I for a tall full-rank W).
    for (sizes, inverse) in [
        (&[5usize, 6, 6, 4][..], Inverse::Exact),
        (&[5, 6, 6, 4][..], Inverse::Pseudoinverse),
        (&[5, 6, 9, 4][..], Inverse::Pseudoinverse),
    ] {
        let mut net = net(sizes, LEAKY, false, 13);
        let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
        let batch = batch(&net, task, 7, 14);
        let rule = tp(
            &net,
            false,
            TargetPropSettings {
                inverse,
                ..TargetPropSettings::default()
            },
        );
        let trace = net.forward_train(batch.x.clone(), &mut Rng::new(0));
        let top = trace.blocks[1].output.clone();
        let targets = rule.targets(&net, &trace, top, &mut Rng::new(0));
        let gap = worst_gap(&targets[0], &trace.blocks[0].output);
        assert!(
            gap < 1e-4,
            "{sizes:?} {inverse:?}: g₁(h₁) misses h₀ by {gap}"
        );
    }
}

#[test]
fn difference_correction_makes_the_target_the_activity_when_the_top_target_is() {
    let mut net = net(&[5, 7, 6, 6, 3], Activation::Tanh, true, 15);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let batch = batch(&net, task, 9, 16);
    let trace = net.forward_train(batch.x.clone(), &mut Rng::new(0));
    let top = trace.blocks[2].output.clone();
    let dtp = tp(&net, true, TargetPropSettings::default());
    let targets = dtp.targets(&net, &trace, top.clone(), &mut Rng::new(0));
    for (i, target) in targets.iter().enumerate() {
        let gap = worst_gap(target, &trace.blocks[i].output);
        assert!(gap < 1e-5, "DTP block {i}: target misses activity by {gap}");
    }
    // Plain TP with an untrained g has no such correction.
    let plain = tp(&net, false, TargetPropSettings::default());
    let targets = plain.targets(&net, &trace, top, &mut Rng::new(0));
    assert!(worst_gap(&targets[0], &trace.blocks[0].output) > 1e-2);
}

#[test]
fn feedback_maps_of_target_and_activity_stacked_give_the_targets_of_separate_maps() {
    // Noisy plain reconstructions let each g_i map the target and the activity as one stacked
    // batch; without noise they map them one at a time. Widths and batch keep both products on
    // gemm's general path, so the targets must agree bit for bit.
    let mut net = net(&[5, 70, 70, 70, 3], LEAKY, false, 23);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let batch = batch(&net, task, 80, 24);
    let trace = net.forward_train(batch.x.clone(), &mut Rng::new(0));
    let h = trace.blocks[2].output.clone();
    let top = h.clone() + h.clone().mul_scalar(0.1).sin();
    for difference in [false, true] {
        let noisy = TargetPropSettings {
            rec_noise: 0.1,
            ..TargetPropSettings::default()
        };
        let stacked =
            tp(&net, difference, noisy).targets(&net, &trace, top.clone(), &mut Rng::new(0));
        let separate = tp(&net, difference, TargetPropSettings::default()).targets(
            &net,
            &trace,
            top.clone(),
            &mut Rng::new(0),
        );
        for (i, (a, b)) in stacked.iter().zip(&separate).enumerate() {
            assert_eq!(
                host::values(a),
                host::values(b),
                "difference {difference}, block {i}"
            );
        }
        assert!(worst_gap(&stacked[0], &trace.blocks[0].output) > 1e-3);
    }
}

/// A 5-6-6-3 net whose block 1 samples `stochastic_binary` inputs (probability σ(h₀)) behind
/// dropout 0.3, evaluated as their expectation.
fn stochastic_net(seed: u64) -> Net {
    let leaky = BlockSpec::dense(5, 6, LEAKY);
    let stochastic = BlockSpec {
        input_activation: Some(Activation::StochasticBinary),
        dropout: 0.3,
        eval_mode: EvalMode::Expectation,
        ..BlockSpec::dense(6, 6, LEAKY)
    };
    let output = BlockSpec::dense(6, 3, Activation::Identity);
    Net::new(
        vec![leaky, stochastic, output],
        Init::Xavier,
        None,
        &mut Rng::new(seed),
        &plasticity::backend::device(),
    )
}

#[test]
fn the_evaluation_pass_sends_targets_down_from_the_noise_free_block() {
    let mut net = stochastic_net(21);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let batch = batch(&net, task, 8, 22);
    let trace = net.forward_train(batch.x.clone(), &mut Rng::new(5));
    // h̄₁ = leaky_relu(σ(h₀)·W₁ᵀ + b₁), written out on the host: no sample, no dropout.
    let h0 = host::values(&trace.blocks[0].output);
    let w1 = host::values(net.blocks[1].weight());
    let b1 = host::values(net.blocks[1].bias());
    let mut mean = Vec::with_capacity(8 * 6);
    for row in h0.chunks(6) {
        for (j, weights) in w1.chunks(6).enumerate() {
            let z = b1[j]
                + weights
                    .iter()
                    .zip(row)
                    .map(|(w, h)| w / (1.0 + (-h).exp()))
                    .sum::<f32>();
            mean.push(if z > 0.0 { z } else { 0.01 * z });
        }
    }
    let device = plasticity::backend::device();
    let mean = host::matrix(mean, 8, 6, &device);
    let sampled = trace.blocks[1].output.clone();
    assert!(
        worst_gap(&sampled, &mean) > 1e-2,
        "the training pass is noisy"
    );
    let settings = |feedback_pass| TargetPropSettings {
        feedback_pass,
        ..TargetPropSettings::default()
    };
    // The same learned g₁ in both rules (same seed). Through the evaluation pass the target
    // h₁ + Δ goes down as g₁(h̄₁ + Δ): what the training pass sends down from a trace whose
    // block 1 output is h̄₁ and whose target is h̄₁ + Δ.
    let delta = host::matrix(
        (0..48).map(|k| 0.05 * (k % 7) as f32).collect(),
        8,
        6,
        &device,
    );
    let evaluation = tp(&net, false, settings(FeedbackPass::Evaluation));
    let got = evaluation.targets(
        &net,
        &trace,
        sampled.clone() + delta.clone(),
        &mut Rng::new(0),
    );
    let train_pass = tp(&net, false, settings(FeedbackPass::Train));
    let mut noise_free = trace.clone();
    noise_free.blocks[1].output = mean.clone();
    let want = train_pass.targets(&net, &noise_free, mean + delta.clone(), &mut Rng::new(0));
    let gap = worst_gap(&got[0], &want[0]);
    assert!(
        gap < 1e-5,
        "evaluation-pass target misses g₁(h̄₁ + Δ) by {gap}"
    );
    let through_sample = train_pass.targets(&net, &trace, sampled + delta, &mut Rng::new(0));
    assert!(
        worst_gap(&got[0], &through_sample[0]) > 1e-3,
        "the training pass would send g₁(h₁ + Δ)"
    );
}

#[test]
fn configs_target_propagation_cannot_follow_are_rejected() {
    let tanh = net(&[5, 6, 6, 3], Activation::Tanh, false, 17);
    let task = task_for(&tanh, Loss::CrossEntropy, Problem::Classification);
    let mut s = settings(vec!["target_prop"; 3]);
    s.target_prop.feedback_activation = Some(vec![LEAKY]);
    let err = rule::build(&s, &tanh, task, &mut Rng::new(0))
        .err()
        .expect("leaky_relu feedback cannot predict a tanh block");
    assert!(
        err.to_string().contains("target_prop.feedback_activation"),
        "{err}"
    );
    s.target_prop.feedback_activation = Some(vec![Activation::Tanh]);
    assert!(rule::build(&s, &tanh, task, &mut Rng::new(0)).is_ok());

    let with_norm = net(&[5, 6, 6, 3], LEAKY, true, 17);
    let exact = TargetPropSettings {
        inverse: Inverse::Exact,
        ..TargetPropSettings::default()
    };
    let err = TargetProp::new(&with_norm, false, exact, Init::Xavier, &mut Rng::new(0))
        .err()
        .expect("batchnorm has no exact inverse");
    assert!(err.to_string().contains("target_prop.inverse"), "{err}");

    let sign = net(&[5, 6, 6, 3], Activation::Sign, false, 17);
    let err = TargetProp::new(
        &sign,
        false,
        TargetPropSettings::default(),
        Init::Xavier,
        &mut Rng::new(0),
    )
    .err()
    .expect("targets cannot pass a hard output activation");
    assert!(err.to_string().contains("model.activation"), "{err}");
}

#[test]
fn autoencoder_flags_choose_which_blocks_the_reconstruction_loss_trains() {
    let net = net(&[5, 6, 6, 6, 3], LEAKY, false, 19);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let batch = batch(&net, task, 8, 20);
    let run = |flags: [bool; 3]| {
        let settings = TargetPropSettings {
            x_lr: 0.1,
            autoencoder: Some(flags.to_vec()),
            ..TargetPropSettings::default()
        };
        grads(&mut tp(&net, false, settings), &net, &batch, task)
    };
    let (all, top_off, none) = (
        run([true, true, true]),
        run([true, true, false]),
        run([false, false, false]),
    );
    // Blocks 0 and 1 still learn as autoencoders; block 2 learns from its target alone (the top
    // target needs no feedback map, so it is the same whatever g_i exist).
    for name in ["blocks.0.linear.weight", "blocks.1.linear.weight"] {
        assert_eq!(values(&top_off, name), values(&all, name), "{name}");
    }
    let name = "blocks.2.linear.weight";
    assert_eq!(values(&top_off, name), values(&none, name));
    assert_ne!(values(&top_off, name), values(&all, name));
    assert!(top_off.get("feedback.0.linear.weight").is_some());
    assert!(none.get("feedback.0.linear.weight").is_none());

    let wrong = TargetPropSettings {
        autoencoder: Some(vec![true, false]),
        ..TargetPropSettings::default()
    };
    let err = TargetProp::new(&net, false, wrong, Init::Xavier, &mut Rng::new(0))
        .err()
        .expect("two flags for three hidden blocks");
    assert!(err.to_string().contains("target_prop.autoencoder"), "{err}");
}

fn digits_run(extra: &[&str]) -> (f64, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut overrides: Vec<String> = [
        "name=r",
        "data.dataset=digits",
        "train.epochs=6",
        "train.batch_size=32",
        "target_prop.step_every=1000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    overrides.extend(extra.iter().map(|s| s.to_string()));
    let config = ExperimentConfig::load(None, &overrides).unwrap();
    let options = RunOptions {
        out: dir.path().to_path_buf(),
        quiet: true,
        ..RunOptions::default()
    };
    let summary = train(&config, &options).unwrap();
    let last = std::fs::read_to_string(dir.path().join("r/metrics.jsonl"))
        .unwrap()
        .lines()
        .last()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .unwrap();
    (summary.test_accuracy.unwrap(), last)
}

#[test]
fn target_propagation_trains_sign_and_stochastic_nets_without_estimators() {
    // The study's blocks: sign inputs with tanh outputs, stochastic inputs with leaky_relu
    // (noisier: wider blocks, a lower bar; chance is 0.1). A `bernoulli` unit keeps silent
    // leaky_relu units silent where `stochastic_binary` flips a coin for them, so it clears a
    // higher bar. TP's targets through the blocks' noise-free pass are not shrunk by that
    // coin flip (`feedback_pass = evaluation`): a higher bar than through the training pass
    // (0.33 there, 0.47 here).
    for (rule, input, output, width, pass, bar) in [
        ("target_prop", "sign", "tanh", 32, "train", 0.5),
        ("difference_target_prop", "sign", "tanh", 32, "train", 0.5),
        ("target_prop", "bernoulli", "leaky_relu", 128, "train", 0.6),
        (
            "difference_target_prop",
            "bernoulli",
            "leaky_relu",
            128,
            "train",
            0.6,
        ),
        (
            "target_prop",
            "stochastic_binary",
            "leaky_relu",
            128,
            "train",
            0.2,
        ),
        (
            "target_prop",
            "stochastic_binary",
            "leaky_relu",
            128,
            "evaluation",
            0.4,
        ),
        (
            "difference_target_prop",
            "stochastic_binary",
            "leaky_relu",
            128,
            "train",
            0.2,
        ),
    ] {
        let rule_flag = format!("train.rule={rule}");
        let inputs = format!("model.input_activation=[\"none\", \"{input}\", \"{input}\"]");
        let outputs = format!("model.activation={output}");
        let hidden = format!("model.hidden=[{width}, {width}, {width}]");
        let pass_flag = format!("target_prop.feedback_pass={pass}");
        let (accuracy, last) = digits_run(&[
            &rule_flag,
            &inputs,
            &outputs,
            &hidden,
            &pass_flag,
            "model.batchnorm=true",
            "target_prop.x_lr=1.0",
        ]);
        assert!(
            accuracy > bar,
            "{rule} with {input} inputs, {pass} pass: {accuracy}"
        );
        let diagnostics = &last["diagnostics"];
        for key in [
            "reconstruction_error",
            "target_distance",
            "reconstruction_loss",
        ] {
            let per_block = diagnostics[key].as_array().unwrap();
            assert_eq!(per_block.len(), 4, "{key}");
            assert!(per_block[1].as_f64().unwrap().is_finite(), "{key}");
        }
        let has_correction = diagnostics.get("difference_correction").is_some();
        assert_eq!(has_correction, rule == "difference_target_prop");
    }
}

/// A TP or DTP step's gradients by name and where it left the run's stream, on a pool of
/// `threads`.
fn step_on_pool(
    threads: usize,
    rule: &(dyn Fn() -> TargetProp + Sync),
    net: &Net,
    batch: &plasticity::rule::Batch,
    task: plasticity::task::Task,
) -> (Vec<(String, Vec<f32>)>, plasticity::rng::RngState) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let (mut rule, mut work, mut rng) = (rule(), net.clone(), Rng::new(4));
        let mut ctx = plasticity::rule::StepContext::new(&mut rng, task);
        let grads =
            plasticity::rule::LearningRule::step(&mut rule, &mut work, batch, &mut ctx).grads;
        let values = grads
            .iter()
            .map(|(name, g)| (name.clone(), host::values(g)))
            .collect();
        (values, rng.state())
    })
}

/// The hidden blocks' parts run one per core when there are as many as cores, side by side on
/// the pool otherwise, and the noisy passes that draw nothing (block 2) run inside them while
/// those that draw (block 1: dropout) run first in block order: the step is the same on any
/// pool, and draws the same from the run's stream.
#[test]
fn a_step_is_the_same_on_one_two_and_three_threads() {
    let leaky = |i, o| BlockSpec::dense(i, o, LEAKY);
    let specs = vec![
        leaky(5, 6),
        BlockSpec {
            dropout: 0.3,
            ..leaky(6, 6)
        },
        leaky(6, 6),
        BlockSpec::dense(6, 3, Activation::Identity),
    ];
    let device = plasticity::backend::device();
    let net = Net::new(specs, Init::Xavier, None, &mut Rng::new(23), &device);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let batch = batch(&net, task, 8, 24);
    for difference in [false, true] {
        let settings = TargetPropSettings {
            x_lr: 0.1,
            rec_noise: 0.1,
            ..TargetPropSettings::default()
        };
        let rule = || tp(&net, difference, settings.clone());
        let (one, drawn) = step_on_pool(1, &rule, &net, &batch, task);
        assert!(
            one.iter()
                .any(|(name, _)| name == "feedback.2.linear.weight")
        );
        // The run's stream: the training pass, the noise's key, block 1's noisy pass (its
        // dropout mask), and nothing else.
        let mut stream = Rng::new(4);
        let trace = net.clone().forward_train(batch.x.clone(), &mut stream);
        stream.key();
        let input = trace.blocks[1].input.clone();
        net.blocks[1].forward(input, &mut plasticity::net::Mode::Train(&mut stream));
        assert_eq!(drawn, stream.state(), "difference {difference}");
        for threads in [2, 3] {
            let (got, after) = step_on_pool(threads, &rule, &net, &batch, task);
            assert_eq!(got, one, "difference {difference}, {threads} threads");
            assert_eq!(after, drawn, "difference {difference}, {threads} threads");
        }
    }
}
