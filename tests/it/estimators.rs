//! Hard units and their gradient estimators against exact formulas.

use crate::host;
use burn::tensor::Tensor;
use plasticity::activation::estimator::{concrete_backward, concrete_sample, reinforce_grad};
use plasticity::activation::{Activation, Estimator, EvalMode, hard, noise};
use plasticity::backend;
use plasticity::loss::Loss;
use plasticity::net::{ActivationLayer, BlockSpec, Init, Layer, Mode, Net};
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
    let units = net.take_unit_fractions();
    assert_eq!(units.len(), 1);
    let units = units[0].expect("a trained block");
    let fraction = units.frozen.expect("a hard block");
    assert!((fraction - 2.0 / n as f64).abs() < 1e-6, "{fraction}");
    // The unit held at 0 is dead; the one held at 1 is frozen but alive.
    assert!((units.dead - 1.0 / n as f64).abs() < 1e-6, "{}", units.dead);
    assert_eq!(net.take_unit_fractions(), vec![None], "a fresh start");
}

/// A block activation as a layer, trained straight through (noisy units ignore the estimator).
fn layer(activation: Activation, eval_mode: EvalMode) -> ActivationLayer {
    ActivationLayer {
        activation,
        estimator: Estimator::Ste,
        eval_mode,
        relaxes: false,
        name: "activation",
    }
}

/// `Σ w ⊙ f(a)` at the noise drawn from `seed`.
fn weighted_output(layer: &ActivationLayer, a: &[f32], w: &[f32], seed: u64) -> f32 {
    let x = host::matrix(a.to_vec(), 2, a.len() / 2, &backend::device());
    let h = host::values(
        &layer
            .forward(x, &mut Mode::Train(&mut Rng::new(seed)))
            .output,
    );
    h.iter().zip(w).map(|(h, w)| h * w).sum()
}

#[test]
fn noisy_units_backprop_through_their_drawn_noise_as_finite_differences_say() {
    let device = backend::device();
    let a: Vec<f32> = Rng::new(1).normal_vec(16, 0.2, 1.0);
    let w: Vec<f32> = Rng::new(2).normal_vec(16, 0.0, 1.0);
    for name in [
        "additive_noise_relu:0.5",
        "multiplicative_noise_relu:0.7",
        "stochastic_times_smooth",
    ] {
        let unit = layer(name.parse().unwrap(), EvalMode::Threshold);
        let x = host::matrix(a.clone(), 2, 8, &device);
        let cache = unit.forward(x, &mut Mode::Train(&mut Rng::new(9)));
        let (_, grad) = unit.backward(&cache, host::matrix(w.clone(), 2, 8, &device));
        let grad = host::values(&grad);
        let mut checked = 0;
        for j in 0..a.len() {
            let eps = 1e-3;
            let at = |d: f32| {
                let mut shifted = a.clone();
                shifted[j] += d;
                weighted_output(&unit, &shifted, &w, 9)
            };
            let (left, mid, right) = (at(-eps), at(0.0), at(eps));
            // A kink (the rectifier's, a Bernoulli draw flipping) inside [a − ε, a + ε]:
            // the one-sided slopes disagree; such points are skipped.
            if ((right - mid) - (mid - left)).abs() > 1e-4 {
                continue;
            }
            let numeric = (right - left) / (2.0 * eps);
            assert!(
                (numeric - grad[j]).abs() < 5e-3,
                "{name} at {}: analytic {}, numeric {numeric}",
                a[j],
                grad[j]
            );
            checked += 1;
        }
        assert!(checked >= 14, "{name}: only {checked} smooth points");
        // The gradient is not the noise-free one: the noise enters it.
        let clean = host::values(
            &unit.activation.backward(
                &host::matrix(a.clone(), 2, 8, &device),
                &unit
                    .activation
                    .forward(host::matrix(a.clone(), 2, 8, &device)),
                host::matrix(w.clone(), 2, 8, &device),
            ),
        );
        assert_ne!(clean, grad, "{name}: the drawn noise changes the gradient");
    }
}

#[test]
fn noisy_units_evaluate_deterministically_or_at_their_mean() {
    let device = backend::device();
    let a = [-1.5f32, -0.3, 0.0, 0.4, 1.2, 2.0];
    let draws = 20_000;
    let tall: Vec<f32> = (0..draws).flat_map(|_| a).collect();
    for name in [
        "additive_noise_relu:0.8",
        "multiplicative_noise_relu:0.5",
        "stochastic_times_smooth",
    ] {
        let activation: Activation = name.parse().unwrap();
        let x = host::matrix(tall.clone(), draws, a.len(), &device);
        let samples = host::values(&noise::sample(&activation, x, &mut Rng::new(4)));
        let mean: Vec<f32> = (0..a.len())
            .map(|j| (0..draws).map(|i| samples[i * a.len() + j]).sum::<f32>() / draws as f32)
            .collect();
        let unit = layer(activation, EvalMode::Expectation);
        let expected = unit.forward(row(&a), &mut Mode::Eval).output;
        close(&mean, &host::values(&expected), 0.02, name);
        let threshold = layer(activation, EvalMode::Threshold);
        let deterministic = host::values(&threshold.forward(row(&a), &mut Mode::Eval).output);
        let formula: Vec<f32> = a
            .iter()
            .map(|&x| match activation {
                Activation::StochasticTimesSmooth => {
                    let s = sigmoid(x).sqrt();
                    if s >= 0.5 { s } else { 0.0 }
                }
                _ => x.max(0.0),
            })
            .collect();
        close(&deterministic, &formula, 1e-6, name);
    }
    // The noisy rectifier's mean, E[max(0, a + σz)] = a·Φ(a/σ) + σ·φ(a/σ), at a = 0: σ/√(2π).
    let unit = layer("noisy_relu:0.8".parse().unwrap(), EvalMode::Expectation);
    let at_zero = host::values(&unit.forward(row(&[0.0]), &mut Mode::Eval).output)[0];
    assert!((at_zero - 0.8 / (2.0 * std::f32::consts::PI).sqrt()).abs() < 1e-6);
}

#[test]
fn categorical_units_choose_one_unit_per_group() {
    let device = backend::device();
    let k = 3;
    let logits = [0.5f32, -1.0, 2.0, 0.0, 0.3, -0.2];
    let categorical: Activation = "categorical:3".parse().unwrap();
    let chosen = host::values(&categorical.forward(row(&logits)));
    assert_eq!(
        chosen,
        vec![0.0, 0.0, 1.0, 0.0, 1.0, 0.0],
        "argmax per group"
    );
    // Sampled choices (Gumbel-max) come at each group's softmax probabilities.
    let draws = 20_000;
    let tall: Vec<f32> = (0..draws).flat_map(|_| logits).collect();
    let x = host::matrix(tall, draws, logits.len(), &device);
    let samples = host::values(&hard::sample(&categorical, x, &mut Rng::new(8)));
    for group in samples.chunks(k) {
        assert_eq!(group.iter().sum::<f32>(), 1.0, "one-hot");
    }
    let p = host::values(&hard::probability(&categorical, row(&logits)));
    for j in 0..logits.len() {
        let rate = (0..draws).map(|i| samples[i * 6 + j]).sum::<f32>() / draws as f32;
        assert!((rate - p[j]).abs() < 0.015, "unit {j}: {rate} vs {}", p[j]);
    }
    for group in p.chunks(k) {
        assert!((group.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
    // REINFORCE's score is h − softmax(a) per group (∂ ln p(h)/∂a of a categorical draw).
    let h = row(&chosen);
    let score = reinforce_grad(
        &categorical,
        &row(&logits),
        &h,
        &host::matrix(vec![1.0], 1, 1, &device),
    );
    let expected: Vec<f32> = chosen.iter().zip(&p).map(|(h, p)| h - p).collect();
    close(&host::values(&score), &expected, 1e-6, "categorical score");
}

#[test]
fn gumbel_softmax_per_group_matches_finite_differences_and_straight_through_is_one_hot() {
    let device = backend::device();
    let categorical: Activation = "categorical:4".parse().unwrap();
    let temperature = 0.6;
    let logits: Vec<f32> = Rng::new(5).normal_vec(16, 0.0, 1.0);
    let w: Vec<f32> = Rng::new(6).normal_vec(16, 0.0, 1.0);
    let relaxed_at = |a: &[f32]| {
        let x = host::matrix(a.to_vec(), 2, 8, &device);
        concrete_sample(&categorical, x, temperature, false, &mut Rng::new(7)).1
    };
    let y = relaxed_at(&logits);
    for group in host::values(&y).chunks(4) {
        assert!(
            (group.iter().sum::<f32>() - 1.0).abs() < 1e-5,
            "a softmax per group"
        );
    }
    let upstream = host::matrix(w.clone(), 2, 8, &device);
    let grad = host::values(&concrete_backward(&categorical, &y, temperature, upstream));
    for j in 0..logits.len() {
        let at = |d: f32| {
            let mut shifted = logits.clone();
            shifted[j] += d;
            let y = host::values(&relaxed_at(&shifted));
            y.iter().zip(&w).map(|(y, w)| y * w).sum::<f32>()
        };
        let numeric = (at(1e-3) - at(-1e-3)) / 2e-3;
        assert!(
            (numeric - grad[j]).abs() < 5e-3,
            "unit {j}: analytic {}, numeric {numeric}",
            grad[j]
        );
    }
    // Straight-through Gumbel: the forward emits the one-hot of the relaxed sample's argmax;
    // the backward is the relaxed sample's.
    let x = host::matrix(logits.clone(), 2, 8, &device);
    let (hard_out, relaxed) = concrete_sample(&categorical, x, temperature, true, &mut Rng::new(7));
    let (hard_out, relaxed) = (host::values(&hard_out), host::values(&relaxed));
    assert_eq!(relaxed, host::values(&y), "the same draw");
    for (one_hot, soft) in hard_out.chunks(4).zip(relaxed.chunks(4)) {
        let argmax = (0..4).max_by(|&i, &j| soft[i].total_cmp(&soft[j])).unwrap();
        let expected: Vec<f32> = (0..4)
            .map(|i| if i == argmax { 1.0 } else { 0.0 })
            .collect();
        assert_eq!(one_hot, &expected[..]);
    }
}
