//! Alignment with the true gradient: exact references and its effect on training.

use std::path::Path;

use plasticity::activation::Activation;
use plasticity::engine::{AlignmentProbe, cosine_angle};
use plasticity::experiment::config::parse_table;
use plasticity::experiment::{ExperimentConfig, RunOptions, train};
use plasticity::loss::Loss;
use plasticity::net::Slot;
use plasticity::rule;
use plasticity::task::Problem;

use crate::rules::{backprop_rule, batch, net, settings, task_for};

#[test]
fn backprop_is_aligned_with_itself() {
    let net = net(&[6, 8, 7, 3], Activation::Tanh, true, 1);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let mut probe = AlignmentProbe::from_batch(batch(&net, task, 16, 2), net.blocks.len(), 3);
    let mut rule = backprop_rule(&net, task);
    let record = probe.measure(rule.as_mut(), &net, task);
    assert_eq!(record.grad_angle.len(), 3);
    for angle in &record.grad_angle {
        let angle = angle.expect("every block has a gradient");
        assert!(angle < 1e-3, "backprop vs backprop: {angle}°");
    }
    assert!(record.weight_angle.is_empty());
}

/// Sets every fixed feedback matrix `feedback.k.weight` of `rule` to `matrix(k)`.
fn sync(rule: &mut dyn rule::LearningRule, matrix: &dyn Fn(usize) -> burn::tensor::Tensor<2>) {
    rule.visit_mut(&mut |name, slot, tensor| {
        assert_eq!(slot, Slot::FIXED_MATRIX);
        let k: usize = name.split('.').nth(1).unwrap().parse().unwrap();
        *tensor = matrix(k);
    });
}

#[test]
fn feedback_alignment_with_b_synced_to_w_is_aligned() {
    let net = net(&[5, 9, 8, 4], Activation::Tanh, false, 4);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let mut rule = rule::build(
        &settings(vec!["feedback_alignment"; 3]),
        &net,
        task,
        &mut plasticity::rng::Rng::new(6),
    )
    .unwrap();
    let mut probe = AlignmentProbe::from_batch(batch(&net, task, 12, 7), 3, 8);
    let random = probe.measure(rule.as_mut(), &net, task);
    let angles: Vec<f64> = random.weight_angle.iter().map(|a| a.unwrap()).collect();
    assert!(angles.iter().all(|&a| a > 45.0), "random B: {angles:?}");
    sync(rule.as_mut(), &|k| net.blocks[k].weight().clone());
    let synced = probe.measure(rule.as_mut(), &net, task);
    for block in 0..2 {
        let weight = synced.weight_angle[block].unwrap();
        assert!(weight < 1e-3, "block {block}: B vs W {weight}°");
        assert!((synced.norm_ratio[block].unwrap() - 1.0).abs() < 1e-9);
        let grad = synced.grad_angle[block].unwrap();
        assert!(
            grad < 1e-2,
            "block {block}: FA with B = W vs backprop {grad}°"
        );
    }
}

#[test]
fn dfa_with_one_hidden_block_and_b_equal_to_w2_is_aligned() {
    let net = net(&[5, 9, 4], Activation::Tanh, false, 9);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let mut rule = rule::build(
        &settings(vec!["dfa"; 2]),
        &net,
        task,
        &mut plasticity::rng::Rng::new(10),
    )
    .unwrap();
    sync(rule.as_mut(), &|_| net.blocks[1].weight().clone());
    let mut probe = AlignmentProbe::from_batch(batch(&net, task, 12, 11), 2, 12);
    let record = probe.measure(rule.as_mut(), &net, task);
    assert!(record.weight_angle[0].unwrap() < 1e-3);
    assert!(record.grad_angle[0].unwrap() < 1e-2);
}

#[test]
fn cosine_of_orthogonal_and_opposite_matrices() {
    let device = plasticity::backend::device();
    let a = crate::host::matrix(vec![1.0, 0.0, 0.0, 2.0], 2, 2, &device);
    let b = crate::host::matrix(vec![0.0, 3.0, 1.0, 0.0], 2, 2, &device);
    let (cosine, angle) = cosine_angle(&a, &b).unwrap();
    assert!(cosine.abs() < 1e-12 && (angle - 90.0).abs() < 1e-9);
    let (cosine, angle) = cosine_angle(&a, &a.clone().neg()).unwrap();
    assert!(
        (cosine + 1.0).abs() < 1e-12 && (angle - 180.0).abs() < 1e-4,
        "{cosine} {angle}"
    );
    assert!(cosine_angle(&a, &a.zeros_like()).is_none());
}

fn digits(rule: &str, align_every: usize, name: &str) -> plasticity::Result<ExperimentConfig> {
    let text = format!(
        "name = \"{name}\"\n[data]\ndataset = \"digits\"\n[model]\nhidden = [32, 32]\n\
         dropout = 0.1\n[train]\nrule = \"{rule}\"\nepochs = 2\nalign_every = {align_every}\n\
         align_batch = 64\n"
    );
    ExperimentConfig::from_table(parse_table(&text, Path::new("digits.toml"))?)
}

#[test]
fn measuring_alignment_leaves_training_unchanged_and_logs_angles() {
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions {
        out: dir.path().to_path_buf(),
        report: false,
        ..RunOptions::default()
    };
    for rule in ["feedback_alignment", "target_prop"] {
        let plain = train(
            &digits(rule, 0, &format!("{rule}_plain")).unwrap(),
            &options,
        )
        .unwrap();
        let probed = train(
            &digits(rule, 5, &format!("{rule}_probed")).unwrap(),
            &options,
        )
        .unwrap();
        assert_eq!(plain.test_loss, probed.test_loss, "{rule}");
        let run = dir.path().join(format!("{rule}_probed"));
        let metrics = plasticity::report::read_metrics(&run).unwrap();
        let last = metrics.last().unwrap().alignment.as_ref().unwrap();
        let hidden = last.grad_angle[0].unwrap();
        assert!(hidden > 0.0 && hidden < 180.0, "{rule}: {hidden}");
        let lines = std::fs::read_to_string(run.join("alignment.jsonl")).unwrap();
        assert!(lines.lines().count() >= 2 * 13 / 5, "{rule}: {lines}");
        assert!(
            !dir.path()
                .join(format!("{rule}_plain/alignment.jsonl"))
                .exists()
        );
    }
}

#[test]
fn forward_forward_alignment_is_rejected() {
    let error = digits("forward_forward", 10, "ff").unwrap_err().to_string();
    assert!(error.contains("train.align_every"), "{error}");
}
