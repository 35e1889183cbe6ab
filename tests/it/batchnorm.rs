//! Batchnorm without learned scale and shift, and running statistics re-estimated as
//! evaluation sees the net.

use crate::host;
use plasticity::activation::Activation;
use plasticity::backend;
use plasticity::experiment::ExperimentConfig;
use plasticity::net::weights::WeightsFile;
use plasticity::net::{BlockSpec, Init, Linear, Net, Parameters};
use plasticity::rng::Rng;

use crate::rules::{backprop_rule, batch, grads, net, task_for};

const LEAKY: Activation = Activation::LeakyRelu { slope: 0.01 };

/// Per column of a row-major `[rows, cols]` matrix: mean and unbiased variance.
fn column_stats(values: &[f32], rows: usize, cols: usize) -> (Vec<f64>, Vec<f64>) {
    let mut means = vec![0.0; cols];
    let mut vars = vec![0.0; cols];
    for c in 0..cols {
        let column: Vec<f64> = (0..rows).map(|r| f64::from(values[r * cols + c])).collect();
        let mean = column.iter().sum::<f64>() / rows as f64;
        means[c] = mean;
        vars[c] = column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (rows - 1) as f64;
    }
    (means, vars)
}

fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (f64::from(*g) - w).abs() < 1e-4 * (1.0 + w.abs()),
            "{what}: {g} vs {w}"
        );
    }
}

#[test]
fn recalibrated_statistics_are_those_of_a_thresholded_pass_without_dropout() {
    // 4 → 5 → 3 → 2; block 1 samples bernoulli units from block 0's output in training and
    // thresholds them in evaluation; both hidden blocks drop out half their inputs in training.
    let mut specs: Vec<BlockSpec> = net(&[4, 5, 3, 2], LEAKY, true, 21)
        .blocks
        .iter()
        .map(|b| b.spec().clone())
        .collect();
    specs[1].input_activation = Some(Activation::Bernoulli);
    for spec in &mut specs[..2] {
        spec.dropout = 0.5;
    }
    // Dropout and input activations draw nothing at initialisation: the same weights.
    let mut net = Net::new(
        specs,
        Init::Xavier,
        None,
        &mut Rng::new(21),
        &backend::device(),
    );
    let task = task_for(
        &net,
        plasticity::loss::Loss::CrossEntropy,
        plasticity::task::Problem::Classification,
    );
    let batches: Vec<_> = [31, 32].map(|seed| batch(&net, task, 6, seed).x).into();
    let mut sums = [(vec![0.0; 5], vec![0.0; 5]), (vec![0.0; 3], vec![0.0; 3])];
    for x in &batches {
        // Block 0 by hand: batch statistics of z₀ = x·W₀ᵀ + b₀, then γ = 1, β = 0.
        let z0 = host::values(&net.blocks[0].layer::<Linear>().unwrap().forward(x.clone()));
        let (mean0, var0) = column_stats(&z0, 6, 5);
        let thresholded: Vec<f32> = z0
            .iter()
            .enumerate()
            .map(|(k, &z)| {
                let c = k % 5;
                let biased = var0[c] * 5.0 / 6.0;
                let a = (f64::from(z) - mean0[c]) / (biased + 1e-5).sqrt();
                let h = if a > 0.0 { a } else { 0.01 * a };
                if h >= 0.5 { 1.0 } else { 0.0 }
            })
            .collect();
        let s = host::matrix(thresholded, 6, 5, &x.device());
        let z1 = host::values(&net.blocks[1].layer::<Linear>().unwrap().forward(s));
        let (mean1, var1) = column_stats(&z1, 6, 3);
        for (sum, (mean, var)) in sums.iter_mut().zip([(mean0, var0), (mean1, var1)]) {
            for (s, m) in sum.0.iter_mut().zip(mean) {
                *s += m / 2.0;
            }
            for (s, v) in sum.1.iter_mut().zip(var) {
                *s += v / 2.0;
            }
        }
    }
    let trained_before = host::values(&net.blocks[0].batchnorm().unwrap().running_mean);
    net.recalibrate_batchnorm(batches);
    for (i, (mean, var)) in sums.iter().enumerate() {
        let bn = net.blocks[i].batchnorm().unwrap();
        assert_close(
            &host::values(&bn.running_mean),
            mean,
            &format!("block {i} mean"),
        );
        assert_close(
            &host::values(&bn.running_var),
            var,
            &format!("block {i} var"),
        );
    }
    assert_ne!(
        trained_before,
        host::values(&net.blocks[0].batchnorm().unwrap().running_mean)
    );
}

#[test]
fn batchnorm_without_affine_has_no_scale_or_shift_to_learn_or_save() {
    let config = ExperimentConfig::load(
        None,
        &[
            "model.hidden=[6, 5]".into(),
            "model.batchnorm=true".into(),
            "model.batchnorm_affine=[false, true]".into(),
        ],
    )
    .unwrap();
    let specs = config.block_specs(4, 3).unwrap();
    assert_eq!(
        specs.iter().map(|s| s.batchnorm_affine).collect::<Vec<_>>(),
        [false, true, true]
    );
    let net = Net::new(
        specs,
        Default::default(),
        None,
        &mut plasticity::rng::Rng::new(4),
        &plasticity::backend::device(),
    );
    let mut names = vec![];
    net.visit(&mut |name, slot, _| {
        if slot.trainable {
            names.push(name.to_string());
        }
    });
    assert!(
        !names.iter().any(|n| n.starts_with("blocks.0.batchnorm")),
        "{names:?}"
    );
    assert!(
        names.contains(&"blocks.1.batchnorm.weight".to_string()),
        "{names:?}"
    );
    let task = task_for(
        &net,
        plasticity::loss::Loss::CrossEntropy,
        plasticity::task::Problem::Classification,
    );
    let step = grads(
        backprop_rule(&net, task).as_mut(),
        &net,
        &batch(&net, task, 8, 5),
        task,
    );
    assert!(step.get("blocks.0.batchnorm.weight").is_none());
    assert!(step.get("blocks.0.linear.weight").is_some());
    assert!(step.get("blocks.1.batchnorm.weight").is_some());
}

#[test]
fn runs_with_plain_batchnorm_and_recalibration_train_and_save_what_they_use() {
    for rule in ["backprop", "target_prop"] {
        let dir = tempfile::tempdir().unwrap();
        let summary = crate::train_in(
            dir.path(),
            &[
                "name=bn".into(),
                "data.dataset=digits".into(),
                "model.hidden=[64, 64]".into(),
                "model.input_activation=[\"none\", \"bernoulli\"]".into(),
                "model.batchnorm=true".into(),
                "model.batchnorm_affine=false".into(),
                "train.recalibrate_batchnorm=true".into(),
                "train.epochs=6".into(),
                "target_prop.x_lr=30".into(),
                format!("train.rule={rule}"),
            ],
        );
        assert!(
            summary.test_accuracy.unwrap() > 0.6,
            "{rule:?}: {summary:?}"
        );
        let weights = WeightsFile::read(&dir.path().join("bn/weights.safetensors")).unwrap();
        let names: Vec<&String> = weights.names().collect();
        assert!(
            names.iter().any(|n| *n == "blocks.1.batchnorm.running_var"),
            "{names:?}"
        );
        assert!(
            !names.iter().any(|n| n.ends_with("batchnorm.weight")),
            "{rule:?}: {names:?}"
        );
    }
}

#[test]
fn recalibration_needs_a_batchnorm_and_the_nets_own_evaluation() {
    for (extra, needle) in [
        (vec![], "no batchnorm"),
        (
            vec!["model.batchnorm=true", "train.rule=forward_forward"],
            "forward_forward",
        ),
    ] {
        let mut overrides = vec!["train.recalibrate_batchnorm=true".to_string()];
        overrides.extend(extra.iter().map(|s| s.to_string()));
        let error = ExperimentConfig::load(None, &overrides)
            .and_then(|c| c.validate())
            .unwrap_err()
            .to_string();
        assert!(error.contains("train.recalibrate_batchnorm"), "{error}");
        assert!(error.contains(needle), "{error}");
    }
}
