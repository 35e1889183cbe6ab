//! Hard units and their gradient estimators against exact formulas.

use crate::host;
use burn::tensor::Tensor;
use plasticity::activation::estimator::{concrete_backward, concrete_sample, reinforce_grad};
use plasticity::activation::{Activation, Estimator, hard};
use plasticity::backend;
use plasticity::loss::Loss;
use plasticity::net::{BlockSpec, Init, Mode, Net};
use plasticity::rng::Rng;
use plasticity::rule::StepContext;
use plasticity::task::{Batch, Problem};

use crate::rules::{backprop_rule, task_for};

const POINTS: [f32; 7] = [-2.5, -1.0, -0.4, 0.0, 0.3, 1.0, 1.7];

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn row(values: &[f32]) -> Tensor<2> {
    host::matrix(values.to_vec(), 1, values.len(), &backend::device())
}

fn close(actual: &[f32], expected: &[f32], tolerance: f32, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= tolerance, "{what}[{i}]: {a} vs {e}");
    }
}

/// A block with a hard activation, one input per unit and the identity as weight, so its
/// pre-activation is its input.
fn hard_block(activation: Activation, estimator: Estimator) -> Net {
    let n = POINTS.len();
    let spec = BlockSpec {
        estimator,
        ..BlockSpec::dense(n, n, activation)
    };
    let device = backend::device();
    let mut net = Net::new(vec![spec], Init::Xavier, None, &mut Rng::new(0), &device);
    let mut eye = vec![0.0; n * n];
    for i in 0..n {
        eye[i * n + i] = 1.0;
    }
    *net.blocks[0].weight_mut() = host::matrix(eye, n, n, &device);
    *net.blocks[0].bias_mut() = host::matrix(vec![0.0; n], 1, n, &device);
    net
}

#[test]
fn straight_through_estimators_follow_their_formulas() {
    let upstream: Vec<f32> = (0..POINTS.len()).map(|i| 0.5 + i as f32).collect();
    type Derivative = fn(f32) -> f32;
    let cases: [(Estimator, Derivative); 4] = [
        (Estimator::None, |_| 0.0),
        (Estimator::Ste, |_| 1.0),
        (Estimator::SteClipped, |x| {
            if x.abs() <= 1.0 { 1.0 } else { 0.0 }
        }),
        (Estimator::SteSigmoid, |x| sigmoid(x) * (1.0 - sigmoid(x))),
    ];
    for activation in [
        Activation::Sign,
        Activation::Step,
        Activation::StochasticBinary,
    ] {
        for (estimator, derivative) in cases {
            let net = hard_block(activation, estimator);
            let cache = net.blocks[0].forward(row(&POINTS), &mut Mode::Train(&mut Rng::new(1)));
            let grad = net.blocks[0].pre_activation_grad(&cache, row(&upstream));
            let expected: Vec<f32> = POINTS
                .iter()
                .zip(&upstream)
                .map(|(&x, &g)| g * derivative(x))
                .collect();
            close(
                &host::values(&grad),
                &expected,
                1e-6,
                &format!("{activation} {estimator:?}"),
            );
        }
    }
}

#[test]
fn hard_units_output_their_definitions() {
    let a = row(&POINTS);
    let sign = host::values(&Activation::Sign.forward(a.clone()));
    let step = host::values(&Activation::Step.forward(a.clone()));
    let threshold = host::values(&Activation::StochasticHardSigmoid.forward(a.clone()));
    let bernoulli = host::values(&Activation::Bernoulli.forward(a));
    for (i, &x) in POINTS.iter().enumerate() {
        let expected_sign = if x > 0.0 {
            1.0
        } else if x < 0.0 {
            -1.0
        } else {
            0.0
        };
        assert_eq!(sign[i], expected_sign, "sign({x})");
        assert_eq!(step[i], if x > 0.0 { 1.0 } else { 0.0 }, "step({x})");
        let p = (x.clamp(-1.0, 1.0) + 1.0) / 2.0;
        assert_eq!(
            threshold[i],
            if p >= 0.5 { 1.0 } else { 0.0 },
            "threshold({x})"
        );
        let p = x.clamp(0.0, 1.0);
        assert_eq!(
            bernoulli[i],
            if p >= 0.5 { 1.0 } else { 0.0 },
            "bernoulli threshold({x})"
        );
    }
}

#[test]
fn concrete_backward_follows_its_formula() {
    let device = backend::device();
    let temperature = 0.7;
    let a = row(&POINTS);
    let (_, relaxed) = concrete_sample(
        &Activation::StochasticBinary,
        a,
        temperature,
        true,
        &mut Rng::new(3),
    );
    let upstream = row(&[1.0, -2.0, 0.5, 3.0, -1.0, 2.0, 0.25]);
    let grad = concrete_backward(
        &Activation::StochasticBinary,
        &relaxed,
        temperature,
        upstream.clone(),
    );
    let y = host::values(&relaxed);
    let g = host::values(&upstream);
    let expected: Vec<f32> = y
        .iter()
        .zip(&g)
        .map(|(&y, &g)| g * y * (1.0 - y) / temperature)
        .collect();
    close(&host::values(&grad), &expected, 1e-6, "binary concrete");

    let logits = host::matrix(vec![0.2, -0.5, 1.0, 0.1, 0.0, -1.0], 2, 3, &device);
    let (_, y) = concrete_sample(
        &Activation::Softmax,
        logits,
        temperature,
        false,
        &mut Rng::new(4),
    );
    let upstream = host::matrix(vec![1.0, 0.0, -1.0, 0.5, 2.0, 0.0], 2, 3, &device);
    let grad = host::values(&concrete_backward(
        &Activation::Softmax,
        &y,
        temperature,
        upstream.clone(),
    ));
    let (y, g) = (host::values(&y), host::values(&upstream));
    for r in 0..2 {
        let dot: f32 = (0..3).map(|c| y[r * 3 + c] * g[r * 3 + c]).sum();
        for c in 0..3 {
            let expected = y[r * 3 + c] * (g[r * 3 + c] - dot) / temperature;
            assert!((grad[r * 3 + c] - expected).abs() < 1e-6, "gumbel-softmax");
        }
    }
}

#[test]
fn concrete_tends_to_the_hard_sample_as_temperature_falls() {
    let device = backend::device();
    let a = host::matrix(Rng::new(8).normal_vec(64 * 16, 0.0, 2.0), 64, 16, &device);
    let gap = |temperature: f32| {
        let (hard, relaxed) = concrete_sample(
            &Activation::StochasticBinary,
            a.clone(),
            temperature,
            true,
            &mut Rng::new(9),
        );
        let (h, r) = (host::values(&hard), host::values(&relaxed));
        h.iter().zip(&r).map(|(h, r)| (h - r).abs()).sum::<f32>() / h.len() as f32
    };
    let gaps: Vec<f32> = [2.0, 0.5, 0.1, 0.01].into_iter().map(gap).collect();
    assert!(gaps.windows(2).all(|w| w[1] < w[0]), "gaps {gaps:?}");
    assert!(gaps[3] < 0.01, "gap at τ = 0.01: {}", gaps[3]);

    let logits = host::matrix(Rng::new(10).normal_vec(32 * 5, 0.0, 1.0), 32, 5, &device);
    let (one_hot, relaxed) =
        concrete_sample(&Activation::Softmax, logits, 0.01, true, &mut Rng::new(11));
    let (h, r) = (host::values(&one_hot), host::values(&relaxed));
    for sample in h.chunks(5) {
        assert_eq!(sample.iter().sum::<f32>(), 1.0, "one-hot rows");
    }
    let gap = h.iter().zip(&r).map(|(h, r)| (h - r).abs()).sum::<f32>() / h.len() as f32;
    assert!(gap < 0.01, "gumbel-softmax gap at τ = 0.01: {gap}");
}

#[test]
fn sampling_is_reproducible_from_the_seed() {
    let a = host::matrix(
        Rng::new(1).normal_vec(50 * 20, 0.0, 1.0),
        50,
        20,
        &backend::device(),
    );
    for activation in [
        Activation::StochasticBinary,
        Activation::StochasticHardSigmoid,
        Activation::Bernoulli,
    ] {
        let draw = |seed| host::values(&hard::sample(&activation, a.clone(), &mut Rng::new(seed)));
        assert_eq!(draw(7), draw(7), "{activation}");
        assert_ne!(draw(7), draw(8), "{activation}");
        assert!(draw(7).iter().all(|&v| v == 0.0 || v == 1.0));
    }
}

#[test]
fn stochastic_units_fire_at_their_probability() {
    let n = 40_000;
    let a = host::matrix(vec![0.8; n], n, 1, &backend::device());
    let fired = host::values(&hard::sample(
        &Activation::StochasticBinary,
        a,
        &mut Rng::new(2),
    ));
    let rate = fired.iter().sum::<f32>() / n as f32;
    assert!((rate - sigmoid(0.8)).abs() < 0.01, "rate {rate}");
}

/// A `bernoulli` unit fires with probability `clamp(a, 0, 1)`: never at `a ≤ 0`, always at
/// `a ≥ 1`, at rate `a` in between.
#[test]
fn bernoulli_units_fire_with_their_input_as_probability() {
    let n = 40_000;
    for (a, expected) in [
        (-0.3f32, 0.0f32),
        (0.0, 0.0),
        (0.3, 0.3),
        (0.8, 0.8),
        (1.7, 1.0),
    ] {
        let input = host::matrix(vec![a; n], n, 1, &backend::device());
        let fired = host::values(&hard::sample(
            &Activation::Bernoulli,
            input,
            &mut Rng::new(5),
        ));
        let rate = fired.iter().sum::<f32>() / n as f32;
        assert!((rate - expected).abs() < 0.01, "a = {a}: rate {rate}");
    }
}

/// `1 → stochastic_binary (reinforce) → identity`, MSE to a target: the expected loss is
/// `σ(a)·L(1) + (1 − σ(a))·L(0)`, so `∂E[L]/∂w₁ = σ′(a)·x·(L(1) − L(0))`.
#[test]
fn reinforce_is_unbiased_on_one_unit() {
    let device = backend::device();
    let (x, w1, b1, w2, b2, target) = (0.7f32, 0.9f32, -0.2f32, 1.5f32, 0.1f32, 1.2f32);
    let specs = [Activation::StochasticBinary, Activation::Identity]
        .into_iter()
        .map(|activation| BlockSpec {
            estimator: Estimator::Reinforce,
            ..BlockSpec::dense(1, 1, activation)
        })
        .collect();
    let mut net = Net::new(specs, Init::Xavier, None, &mut Rng::new(0), &device);
    let scalar = |v: f32| host::matrix(vec![v], 1, 1, &device);
    *net.blocks[0].weight_mut() = scalar(w1);
    *net.blocks[0].bias_mut() = scalar(b1);
    *net.blocks[1].weight_mut() = scalar(w2);
    *net.blocks[1].bias_mut() = scalar(b2);
    let task = task_for(&net, Loss::MeanSquaredError, Problem::Classification);
    let mut rule = backprop_rule(&net, task);
    let rows = 20_000;
    let batch = Batch {
        x: host::matrix(vec![x; rows], rows, 1, &device),
        targets: host::matrix(vec![target; rows], rows, 1, &device),
        labels: vec![0; rows],
    };
    let mut rng = Rng::new(21);
    let (mut sum, steps) = (0.0f64, 10);
    for _ in 0..steps {
        let mut work = net.clone();
        let mut ctx = StepContext::new(&mut rng, task);
        let grads = rule.step(&mut work, &batch, &mut ctx).grads;
        sum += f64::from(host::scalar(grads.get("blocks.0.linear.weight").unwrap()));
    }
    let estimate = sum / steps as f64;
    let a = w1 * x + b1;
    let loss = |h: f32| (w2 * h + b2 - target).powi(2);
    let exact = f64::from(sigmoid(a) * (1.0 - sigmoid(a)) * x * (loss(1.0) - loss(0.0)));
    assert!(
        (estimate - exact).abs() < 0.05 * exact.abs(),
        "REINFORCE {estimate} vs exact {exact}"
    );
}

#[test]
fn reinforce_score_matches_the_log_likelihood_derivative() {
    let a = row(&[-0.5, 0.2, 0.9]);
    let h = row(&[1.0, 0.0, 1.0]);
    let advantage = host::matrix(vec![2.0], 1, 1, &backend::device());
    let binary = host::values(&reinforce_grad(
        &Activation::StochasticBinary,
        &a,
        &h,
        &advantage,
    ));
    let hard_sigmoid = host::values(&reinforce_grad(
        &Activation::StochasticHardSigmoid,
        &a,
        &h,
        &advantage,
    ));
    for (i, (&x, &h)) in [-0.5f32, 0.2, 0.9]
        .iter()
        .zip(&[1.0f32, 0.0, 1.0])
        .enumerate()
    {
        let log_likelihood = |x: f32, p: fn(f32) -> f32| {
            let p = p(x);
            h * p.ln() + (1.0 - h) * (1.0 - p).ln()
        };
        for (p, actual) in [
            (sigmoid as fn(f32) -> f32, binary[i]),
            (|x: f32| (x.clamp(-1.0, 1.0) + 1.0) / 2.0, hard_sigmoid[i]),
        ] {
            let numeric = (log_likelihood(x + 1e-3, p) - log_likelihood(x - 1e-3, p)) / 2e-3;
            assert!(
                (actual - 2.0 * numeric).abs() < 1e-2,
                "{actual} vs {}",
                2.0 * numeric
            );
        }
    }
    // `bernoulli` inside (0, 1), where both outcomes are possible: the score is
    // `h/a − (1 − h)/(1 − a)`; outside it the unit is deterministic and the score zero.
    let a = row(&[0.2, 0.9, 0.5, -0.4, 1.3]);
    let h = row(&[0.0, 1.0, 1.0, 0.0, 1.0]);
    let bernoulli = host::values(&reinforce_grad(&Activation::Bernoulli, &a, &h, &advantage));
    let expected = [-2.0 / 0.8, 2.0 / 0.9, 2.0 / 0.5, 0.0, 0.0];
    close(&bernoulli, &expected, 1e-4, "bernoulli score");
}

#[test]
fn units_that_never_change_output_count_as_frozen() {
    let device = backend::device();
    let mut net = hard_block(Activation::Step, Estimator::Ste);
    let n = POINTS.len();
    let mut bias = vec![0.0; n];
    bias[0] = -100.0;
    bias[1] = 100.0;
    *net.blocks[0].bias_mut() = host::matrix(bias, 1, n, &device);
    let mut rng = Rng::new(3);
    for _ in 0..3 {
        let x = host::matrix(rng.normal_vec(8 * n, 0.0, 1.0), 8, n, &device);
        net.forward_train(x, &mut Rng::new(0));
    }
    let frozen = net.take_frozen_fractions();
    assert_eq!(frozen.len(), 1);
    let fraction = frozen[0].expect("a hard block");
    assert!((fraction - 2.0 / n as f64).abs() < 1e-6, "{fraction}");
    assert_eq!(net.take_frozen_fractions(), vec![None], "a fresh start");
}
