//! Every layer's explicit backward against burn's autodiff of its own forward, through one
//! shared check; whole blocks the same way; a layer defined here, outside the crate, checked
//! and trained in a net.

use burn::tensor::{Device, Tensor};
use plasticity::activation::{ACTIVATION_NAMES, Activation, Estimator, EvalMode};
use plasticity::backend;
use plasticity::net::{
    ActivationLayer, AvgPool, BatchNorm, Block, BlockSpec, Conv2d, ConvGeometry, Dropout, Feedback,
    Flatten, Init, Layer, LayerCache, LayerGrads, Linear, MaxPool, Mode, Normalize, Place,
    PoolGeometry, Slot, SpatialDropout,
};
use plasticity::rng::Rng;

use crate::gradients::SMOOTH_ACTIVATIONS;
use crate::host;

/// `t` copied onto `device` (an autodiff one), tracked when `track`.
fn onto(t: &Tensor<2>, device: &Device, track: bool) -> Tensor<2> {
    let [rows, cols] = t.dims();
    let copy = host::matrix(host::values(t), rows, cols, device);
    if track { copy.require_grad() } else { copy }
}

/// Asserts `got` equals `want` entry by entry up to float32 rounding.
fn assert_close(got: &Tensor<2>, want: &Tensor<2>, what: &str) -> usize {
    assert_eq!(got.dims(), want.dims(), "{what}: shapes");
    let (got, want) = (host::values(got), host::values(want));
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 + 1e-3 * w.abs(),
            "{what}[{k}]: explicit {g}, autodiff {w}"
        );
    }
    got.len()
}

/// A visit of mutable named tensors, as [`Layer::visit_mut`] takes.
type Visitor<'a> = &'a mut dyn FnMut(&str, Slot, &mut Tensor<2>);

/// Runs `forward` (a layer or block's training pass, seeded stream) on an autodiff copy of its
/// tensors and input, and returns the gradients of `Σ output ⊙ upstream` at the input and at
/// every trainable tensor, by name.
fn autodiff_grads(
    visit_mut: &mut dyn FnMut(Visitor<'_>),
    forward: &dyn Fn(Tensor<2>) -> Tensor<2>,
    x: &Tensor<2>,
    upstream: &Tensor<2>,
) -> (Tensor<2>, Vec<(String, Tensor<2>)>) {
    let device = backend::device().autodiff();
    let mut tracked = Vec::new();
    visit_mut(&mut |name, slot, t| {
        *t = onto(t, &device, slot.trainable);
        if slot.trainable {
            tracked.push((name.to_string(), t.clone()));
        }
    });
    let x = onto(x, &device, true);
    let loss = (forward(x.clone()) * onto(upstream, &device, false)).sum();
    let grads = loss.backward();
    let input = x.grad(&grads).expect("the input takes part in the forward");
    let params = tracked
        .into_iter()
        .map(|(name, t)| {
            let grad = t.grad(&grads);
            (
                name.clone(),
                grad.unwrap_or_else(|| panic!("`{name}` takes part")),
            )
        })
        .collect();
    (input, params)
}

/// Explicit gradients: at the input, and at each trainable tensor by name.
type Explicit = (Tensor<2>, Vec<(String, Tensor<2>)>);

/// Draws a `[rows, inputs]` batch and an upstream gradient from `seed`, and compares what
/// `explicit` (a training pass and the explicit backward from the upstream gradient) returns
/// with burn's autodiff of `forward` over the tensors `visit_mut` reaches: the input gradient
/// and every trainable tensor's. Returns how many values agreed.
fn compare(
    (inputs, rows, seed): (usize, usize, u64),
    explicit: &dyn Fn(Tensor<2>, Tensor<2>) -> Explicit,
    visit_mut: &mut dyn FnMut(Visitor<'_>),
    forward: &dyn Fn(Tensor<2>) -> Tensor<2>,
    what: &str,
) -> usize {
    let device = backend::device();
    let mut rng = Rng::new(seed);
    let x = host::matrix(
        rng.normal_vec(rows * inputs, 0.0, 1.0),
        rows,
        inputs,
        &device,
    );
    let [_, outputs] = forward(x.clone()).dims();
    let upstream = host::matrix(
        rng.normal_vec(rows * outputs, 0.0, 1.0),
        rows,
        outputs,
        &device,
    );
    let (explicit_input, explicit_grads) = explicit(x.clone(), upstream.clone());
    let (input, params) = autodiff_grads(visit_mut, forward, &x, &upstream);
    let mut checked = assert_close(&explicit_input, &input, &format!("{what} input"));
    assert_eq!(
        explicit_grads.len(),
        params.len(),
        "{what}: one explicit gradient per trainable tensor"
    );
    for (name, want) in &params {
        let got = explicit_grads
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{what}: no explicit gradient of `{name}`"));
        checked += assert_close(&got.1, want, &format!("{what}: {name}"));
    }
    checked
}

/// The shared layer check: `layer`'s backward (input gradient and every trainable tensor's)
/// against burn's autodiff of the same forward, on a `[rows, inputs]` batch in training mode
/// with the stream seeded alike. Returns how many values agreed.
pub fn check_layer(layer: &dyn Layer, inputs: usize, rows: usize, seed: u64) -> usize {
    let train = || Rng::new(seed + 1);
    let cell = std::cell::RefCell::new(layer.clone_layer());
    compare(
        (inputs, rows, seed),
        &|x, upstream| {
            let cache = layer.forward(x, &mut Mode::Train(&mut train()));
            let (grads, input) = layer.backward(&cache, upstream);
            let grads = grads.into_iter().map(|(n, g)| (n.to_string(), g)).collect();
            (input, grads)
        },
        &mut |f| cell.borrow_mut().visit_mut(f),
        &|x| {
            cell.borrow()
                .forward(x, &mut Mode::Train(&mut train()))
                .output
        },
        layer.name(),
    )
}

fn smooth(activation: Activation, relaxes: bool) -> ActivationLayer {
    ActivationLayer {
        activation,
        estimator: Estimator::Ste,
        eval_mode: EvalMode::Threshold,
        relaxes,
        name: "activation",
    }
}

#[test]
fn linear_backward_matches_autodiff() {
    let mut rng = Rng::new(1);
    let linear = Linear::new(5, 4, Init::Xavier, None, &mut rng, &backend::device());
    assert_eq!(check_layer(&linear, 5, 6, 2), 6 * 5 + 4 * 5 + 4);
}

#[test]
fn batchnorm_backward_matches_autodiff_with_and_without_affine() {
    let device = backend::device();
    let mut bn = BatchNorm::new(4, true, &device);
    bn.gamma = host::matrix(vec![0.5, 1.5, -1.0, 2.0], 1, 4, &device);
    bn.beta = host::matrix(vec![0.1, -0.2, 0.3, 0.0], 1, 4, &device);
    assert_eq!(check_layer(&bn, 4, 7, 3), 7 * 4 + 4 + 4);
    let fixed = BatchNorm::new(4, false, &device);
    assert_eq!(check_layer(&fixed, 4, 7, 4), 7 * 4);
}

#[test]
fn dropout_normalize_and_every_smooth_activation_match_autodiff() {
    assert_eq!(check_layer(&Dropout { rate: 0.4 }, 6, 5, 5), 30);
    assert_eq!(check_layer(&Normalize, 6, 5, 6), 30);
    let softmax = ["softmax"];
    for name in SMOOTH_ACTIVATIONS.iter().chain(&softmax) {
        let activation: Activation = name.parse().unwrap();
        for relaxes in [false, true] {
            assert_eq!(
                check_layer(&smooth(activation, relaxes), 6, 5, 7),
                30,
                "{name}"
            );
        }
    }
}

/// A whole block's split backward (`pre_activation_grad`, `param_grads`, `input_grad` through
/// `W`) against autodiff of its forward. Returns how many values agreed.
pub fn check_block(block: &Block, rows: usize, seed: u64) -> usize {
    let train = || Rng::new(seed + 1);
    let cell = std::cell::RefCell::new(block.clone());
    compare(
        (block.spec().inputs, rows, seed),
        &|x, upstream| {
            let cache = block.forward(x, &mut Mode::Train(&mut train()));
            let grad_a = block.pre_activation_grad(&cache, upstream);
            let (grads, grad_z) = block.param_grads(&cache, grad_a);
            let input = block.input_grad(&cache, grad_z, Feedback::Weights);
            let grads = grads
                .into_entries()
                .map(|(n, g)| (format!("block.{n}"), g))
                .collect();
            (input, grads)
        },
        &mut |f| cell.borrow_mut().visit_mut("block", f),
        &|x| {
            cell.borrow()
                .forward(x, &mut Mode::Train(&mut train()))
                .output
        },
        "block",
    )
}

#[test]
fn whole_blocks_match_autodiff_through_every_layer_kind() {
    let device = backend::device();
    let mut spec = BlockSpec::dense(5, 4, Activation::Mish);
    spec.input_activation = Some(Activation::Tanh);
    spec.dropout = 0.3;
    spec.batchnorm = true;
    spec.normalize = true;
    let block = Block::new(spec, Init::Lecun, None, &mut Rng::new(8), &device);
    let names: Vec<&str> = block.layers().iter().map(|l| l.name()).collect();
    assert_eq!(
        names,
        [
            "input_activation",
            "dropout",
            "linear",
            "batchnorm",
            "activation",
            "normalize"
        ]
    );
    assert_eq!(check_block(&block, 6, 9), 6 * 5 + (4 * 5 + 4) + (4 + 4));
    let plain = Block::new(
        BlockSpec::dense(3, 2, Activation::Sigmoid),
        Init::Xavier,
        None,
        &mut Rng::new(1),
        &device,
    );
    assert_eq!(check_block(&plain, 4, 2), 4 * 3 + 2 * 3 + 2);
}

/// A layer written outside the crate: a learned per-unit scale, `y = x ⊙ s`.
#[derive(Debug, Clone)]
struct Scale {
    s: Tensor<2>,
}

impl Layer for Scale {
    fn name(&self) -> &'static str {
        "scale"
    }

    fn forward(&self, x: Tensor<2>, _mode: &mut Mode<'_>) -> LayerCache {
        let y = x.clone() * self.s.clone();
        LayerCache::new(x, y)
    }

    fn backward(&self, cache: &LayerCache, grad: Tensor<2>) -> (LayerGrads, Tensor<2>) {
        let grad_s = (grad.clone() * cache.input.clone()).sum_dim(0);
        (vec![("weight", grad_s)], grad * self.s.clone())
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {
        f("weight", Slot::ROW, &self.s);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {
        f("weight", Slot::ROW, &mut self.s);
    }
}

fn scale(units: usize) -> Scale {
    let values = (0..units).map(|k| 0.5 + 0.25 * k as f32).collect();
    Scale {
        s: host::matrix(values, 1, units, &backend::device()),
    }
}

#[test]
fn a_layer_from_outside_the_crate_is_checked_and_placed_in_a_block() {
    assert_eq!(check_layer(&scale(4), 4, 5, 10), 5 * 4 + 4);
    let device = backend::device();
    let mut block = Block::new(
        BlockSpec::dense(3, 4, Activation::Tanh),
        Init::Xavier,
        None,
        &mut Rng::new(3),
        &device,
    );
    block
        .insert_layer(Place::PreActivation, Box::new(scale(4)))
        .unwrap();
    let mut names = Vec::new();
    block.visit("blocks.0", &mut |name, _, _| names.push(name.to_string()));
    assert_eq!(
        names,
        [
            "blocks.0.linear.weight",
            "blocks.0.linear.bias",
            "blocks.0.scale.weight"
        ]
    );
    assert_eq!(check_block(&block, 5, 4), 5 * 3 + (4 * 3 + 4) + 4);
    let twice = block
        .insert_layer(Place::Input, Box::new(scale(3)))
        .unwrap_err();
    assert!(
        twice
            .to_string()
            .contains("already has a layer named `scale`"),
        "{twice}"
    );
    let mut other = Block::new(
        BlockSpec::dense(3, 4, Activation::Tanh),
        Init::Xavier,
        None,
        &mut Rng::new(3),
        &device,
    );
    for place in [Place::Input, Place::Output] {
        let error = other.insert_layer(place, Box::new(scale(4))).unwrap_err();
        assert!(error.to_string().contains("parameters to learn"), "{error}");
    }
    other
        .insert_layer(Place::Input, Box::new(Dropout { rate: 0.2 }))
        .unwrap();
    other
        .insert_layer(Place::Output, Box::new(Normalize))
        .unwrap();
    let second = smooth(Activation::Sigmoid, false);
    let error = other
        .insert_layer(Place::Output, Box::new(second))
        .unwrap_err();
    assert!(error.to_string().contains("named `activation`"), "{error}");
    let names: Vec<&str> = other.layers().iter().map(|l| l.name()).collect();
    assert_eq!(names, ["dropout", "linear", "activation", "normalize"]);
    assert_eq!(check_block(&other, 5, 6), 5 * 3 + (4 * 3 + 4));
}

#[test]
fn a_layer_from_outside_the_crate_trains_in_a_net_under_backprop_and_dfa() {
    use plasticity::prelude::{ExperimentConfig, Trainer};
    for rule in ["backprop", "dfa"] {
        let settings = [
            "data.dataset=iris".to_string(),
            "model.hidden=[8]".into(),
            "train.epochs=20".into(),
            "train.batch_size=16".into(),
            "train.lr=0.02".into(),
            format!("train.rule={rule}"),
        ];
        let config = ExperimentConfig::load(None, &settings).unwrap();
        let data = plasticity::data::load(&config.data).unwrap();
        let mut trainer = Trainer::new(&config, &data).unwrap();
        trainer.net_mut().blocks[0]
            .insert_layer(Place::PreActivation, Box::new(scale(8)))
            .unwrap();
        let before = host::values(&scale(8).s);
        let mut last = None;
        for _ in 0..config.train.epochs {
            last = Some(trainer.epoch(&data, &|| {}).unwrap().metrics);
        }
        let block = &trainer.net().blocks[0];
        let after = host::values(&block.layer::<Scale>().unwrap().s);
        let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        assert_eq!(moved, 8, "{rule}: every scale learns");
        let accuracy = last.unwrap().test_accuracy.unwrap();
        assert!(accuracy > 0.8, "{rule}: test accuracy {accuracy}");
        let bytes = plasticity::net::weights::to_bytes(&[trainer.net()], &Default::default());
        let text = String::from_utf8_lossy(&bytes[..200.min(bytes.len())]).to_string();
        assert!(
            text.contains("blocks.0.scale.weight"),
            "{rule}: saved with the net"
        );
    }
}

#[test]
fn stochastic_units_evaluate_by_threshold_sample_or_expectation() {
    let device = backend::device();
    let a = host::matrix(vec![-2.0, -0.1, 0.0, 0.3, 1.5, 4.0], 2, 3, &device);
    let unit = |eval_mode| ActivationLayer {
        activation: Activation::StochasticBinary,
        estimator: Estimator::Ste,
        eval_mode,
        relaxes: false,
        name: "input_activation",
    };
    let eval = |mode| host::values(&unit(mode).forward(a.clone(), &mut Mode::Eval).output);
    let sigma: Vec<f32> = host::values(&a)
        .iter()
        .map(|x| 1.0 / (1.0 + (-x).exp()))
        .collect();
    let expected = eval(EvalMode::Expectation);
    for (got, want) in expected.iter().zip(&sigma) {
        assert!((got - want).abs() < 1e-6, "{got} vs σ = {want}");
    }
    assert_eq!(
        eval(EvalMode::Threshold),
        vec![0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    );
    let sampled = eval(EvalMode::Sample);
    assert!(
        sampled.iter().all(|v| *v == 0.0 || *v == 1.0),
        "{sampled:?}"
    );
    assert_eq!(sampled, eval(EvalMode::Sample), "evaluation samples repeat");
}

/// Whether a training pass of `layer` on a `[4, width]` input moved the run's stream.
fn moved_the_stream(layer: &dyn Layer, width: usize) -> bool {
    let mut rng = Rng::new(9);
    let x = host::matrix(
        (0..4 * width).map(|k| (k as f32 * 0.37).sin()).collect(),
        4,
        width,
        &backend::device(),
    );
    let before = rng.state();
    layer.forward(x, &mut Mode::Train(&mut rng));
    rng.state() != before
}

/// Target propagation runs side by side the noisy passes of blocks whose layers say they draw
/// nothing; a built-in layer that draws while saying it does not would reorder the run's
/// stream. Every built-in layer, every activation under a straight-through and a concrete
/// estimator, relaxed or not.
#[test]
fn a_training_pass_draws_from_the_stream_exactly_when_the_layer_says_so() {
    let device = backend::device();
    let mut layers: Vec<(String, Box<dyn Layer>, usize)> = vec![
        (
            "linear".into(),
            Box::new(Linear::new(
                6,
                3,
                Init::Xavier,
                None,
                &mut Rng::new(1),
                &device,
            )),
            6,
        ),
        (
            "batchnorm".into(),
            Box::new(BatchNorm::new(6, true, &device)),
            6,
        ),
        ("normalize".into(), Box::new(Normalize), 6),
        ("dropout 0".into(), Box::new(Dropout { rate: 0.0 }), 6),
        ("dropout 0.4".into(), Box::new(Dropout { rate: 0.4 }), 6),
    ];
    let (image, pool) = ([2, 4, 4], |input| PoolGeometry {
        input,
        size: 2,
        stride: 2,
    });
    let geometry = ConvGeometry {
        input: image,
        channels: 3,
        kernel: 3,
        stride: 1,
        padding: 1,
    };
    let conv = Conv2d::new(geometry, Init::Lecun, None, &mut Rng::new(2), &device).unwrap();
    layers.push(("conv2d".into(), Box::new(conv), 32));
    layers.push((
        "max_pool".into(),
        Box::new(MaxPool::new(pool(image)).unwrap()),
        32,
    ));
    layers.push((
        "avg_pool".into(),
        Box::new(AvgPool::new(pool(image)).unwrap()),
        32,
    ));
    layers.push(("flatten".into(), Box::new(Flatten { input: image }), 32));
    for rate in [0.0, 0.4] {
        let dropout = SpatialDropout {
            rate,
            channels: 2,
            positions: 16,
        };
        layers.push((format!("spatial dropout {rate}"), Box::new(dropout), 32));
    }
    for name in ACTIVATION_NAMES {
        let activation: Activation = match *name {
            "categorical" => "categorical:3".parse().unwrap(),
            "clipped_relu" => "clipped_relu:4".parse().unwrap(),
            name => name.parse().unwrap_or_else(|e| panic!("{name}: {e}")),
        };
        let concrete = Estimator::Concrete {
            temperature: 0.5,
            straight_through: false,
        };
        for (estimator, relaxes) in [(Estimator::Ste, false), (concrete, false), (concrete, true)] {
            let layer = ActivationLayer {
                activation,
                estimator,
                relaxes,
                ..smooth(activation, relaxes)
            };
            layers.push((
                format!("{name} {estimator:?} relaxes {relaxes}"),
                Box::new(layer),
                6,
            ));
        }
    }
    let mut drawing = 0;
    for (what, layer, width) in &layers {
        let says = layer.draws_in_training();
        assert_eq!(moved_the_stream(layer.as_ref(), *width), says, "{what}");
        drawing += usize::from(says);
    }
    // Dropout and spatial dropout at 0.4; the four stochastic and the four noisy units under
    // all three estimators; softmax relaxed by the concrete estimator.
    assert_eq!(drawing, 2 + 8 * 3 + 1);
    // A layer from outside the crate draws unless it says it does not.
    assert!(scale(3).draws_in_training() && !moved_the_stream(&scale(3), 3));
}
