//! The backprop rule's gradient against central finite differences on tiny nets.

use crate::host;
use burn::tensor::Tensor;
use plasticity::activation::Activation;
use plasticity::backend;
use plasticity::loss::Loss;
use plasticity::net::{BlockSpec, Init, Net, Parameters};
use plasticity::rng::Rng;
use plasticity::rule::StepContext;
use plasticity::task::{Batch, Problem};

use crate::rules::{backprop_rule, task_for};

/// The loss of `net` on `batch` in training mode (batch statistics, no dropout here).
fn loss_of(net: &Net, batch: &Batch, loss: Loss) -> f64 {
    let mut copy = net.clone();
    let trace = copy.forward_train(batch.x.clone(), &mut Rng::new(0));
    f64::from(host::scalar(&loss.value(trace.output(), &batch.targets)))
}

/// Compares every parameter's analytic gradient with central differences.
fn check(net: Net, loss: Loss, targets: Vec<f32>) {
    let device = backend::device();
    let (batch_size, outputs) = (5, net.outputs());
    let mut rng = Rng::new(11);
    let batch = Batch {
        x: host::matrix(
            rng.normal_vec(batch_size * net.inputs(), 0.0, 1.0),
            batch_size,
            net.inputs(),
            &device,
        ),
        targets: host::matrix(targets, batch_size, outputs, &device),
        labels: vec![0; batch_size],
    };
    let mut work = net.clone();
    let task = task_for(&net, loss, Problem::Classification);
    let mut rule = backprop_rule(&net, task);
    let step = rule.step(
        &mut work,
        &batch,
        &mut StepContext::new(&mut Rng::new(0), task),
    );
    let mut checked = 0;
    let mut names = Vec::new();
    net.visit(&mut |name, slot, _| {
        if slot.trainable {
            names.push(name.to_string());
        }
    });
    for name in names {
        let analytic = host::values(step.grads.get(&name).unwrap_or_else(|| panic!("{name}")));
        for (k, &g) in analytic.iter().enumerate() {
            let eps = 1e-2f32;
            let shifted = |delta: f32| {
                let mut copy = net.clone();
                copy.visit_mut(&mut |n, _, t| {
                    if n == name {
                        let mut v = host::values(t);
                        v[k] += delta;
                        let [r, c] = t.dims();
                        *t = host::matrix(v, r, c, &device);
                    }
                });
                loss_of(&copy, &batch, loss)
            };
            let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * f64::from(eps));
            let error = (numeric - f64::from(g)).abs();
            assert!(
                error <= 2e-3 + 2e-2 * numeric.abs(),
                "{name}[{k}]: analytic {g}, numeric {numeric}"
            );
            checked += 1;
        }
    }
    assert!(checked > 20);
}

fn one_hot(labels: &[usize], classes: usize) -> Vec<f32> {
    let mut t = vec![0.0; labels.len() * classes];
    for (i, &l) in labels.iter().enumerate() {
        t[i * classes + l] = 1.0;
    }
    t
}

#[test]
fn backprop_matches_finite_differences_on_a_smooth_net() {
    let device = backend::device();
    let specs = vec![
        BlockSpec::dense(3, 4, Activation::Tanh),
        BlockSpec::dense(4, 4, Activation::Gelu),
        BlockSpec::dense(4, 3, Activation::Identity),
    ];
    let net = Net::new(specs, Init::Xavier, None, &mut Rng::new(1), &device);
    check(net, Loss::CrossEntropy, one_hot(&[0, 2, 1, 1, 0], 3));
}

#[test]
fn backprop_matches_finite_differences_through_batchnorm_normalize_and_input_activation() {
    let device = backend::device();
    let mut first = BlockSpec::dense(3, 4, Activation::Mish);
    first.batchnorm = true;
    first.normalize = true;
    let mut second = BlockSpec::dense(4, 4, Activation::Elu { alpha: 1.0 });
    second.input_activation = Some(Activation::Sigmoid);
    second.batchnorm = true;
    let specs = vec![first, second, BlockSpec::dense(4, 2, Activation::Identity)];
    let net = Net::new(specs, Init::Lecun, None, &mut Rng::new(2), &device);
    check(net, Loss::MeanSquaredError, one_hot(&[0, 1, 1, 0, 1], 2));
}

#[test]
fn backprop_matches_finite_differences_with_binary_cross_entropy() {
    let device = backend::device();
    let specs = vec![
        BlockSpec::dense(3, 5, Activation::Silu),
        BlockSpec::dense(5, 1, Activation::Identity),
    ];
    let net = Net::new(specs, Init::Kaiming, None, &mut Rng::new(3), &device);
    check(net, Loss::BinaryCrossEntropy, vec![1.0, 0.0, 0.0, 1.0, 1.0]);
}

/// Every smooth element-wise activation, by config name.
pub const SMOOTH_ACTIVATIONS: [&str; 13] = [
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "relu6",
    "clipped_relu:2",
    "leaky_relu:0.1",
    "elu",
    "mish",
    "silu",
    "gelu",
    "hardtanh",
    "hardsigmoid",
];

#[test]
fn every_smooth_activation_derivative_matches_finite_differences() {
    let device = backend::device();
    let points: Vec<f32> = vec![-2.5, -1.2, -0.4, 0.3, 0.9, 2.2, 3.5];
    for name in SMOOTH_ACTIVATIONS {
        let activation: Activation = name.parse().unwrap();
        let a = host::matrix(points.clone(), 1, points.len(), &device);
        let h = activation.forward(a.clone());
        let analytic = host::values(&activation.backward(&a, &h, a.ones_like()));
        for (i, &x) in points.iter().enumerate() {
            let f = |v: f32| {
                host::values(&activation.forward(Tensor::<2>::from_floats([[v]], &device)))[0]
            };
            let numeric = (f(x + 1e-3) - f(x - 1e-3)) / 2e-3;
            assert!(
                (numeric - analytic[i]).abs() < 1e-2,
                "{name} at {x}: analytic {}, numeric {numeric}",
                analytic[i]
            );
        }
    }
}
