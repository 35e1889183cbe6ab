//! Each rule's first step against its paper's formula written out on the host, and the batch
//! convention every rule shares: signals are batch means, so a batch given twice over yields
//! the same gradients as the batch once.

use crate::host;
use crate::rules::{batch, grads, net, settings, task_for};
use plasticity::activation::Activation;
use plasticity::experiment::ExperimentConfig;
use plasticity::loss::Loss;
use plasticity::net::{Gradients, Net};
use plasticity::prelude::Trainer;
use plasticity::rng::Rng;
use plasticity::rule::{self, LearningRule};
use plasticity::task::{Batch, Problem, Task};

/// A host matrix, row-major, in f64 so the reference is exact to the f32 result's precision.
#[derive(Clone, Debug)]
struct M {
    rows: usize,
    cols: usize,
    v: Vec<f64>,
}

impl M {
    fn of(t: &burn::tensor::Tensor<2>) -> M {
        let [rows, cols] = t.dims();
        M {
            rows,
            cols,
            v: host::values(t).into_iter().map(f64::from).collect(),
        }
    }
    fn at(&self, r: usize, c: usize) -> f64 {
        self.v[r * self.cols + c]
    }
    /// `self · other`.
    fn mul(&self, o: &M) -> M {
        assert_eq!(self.cols, o.rows);
        let mut v = vec![0.0; self.rows * o.cols];
        for r in 0..self.rows {
            for c in 0..o.cols {
                v[r * o.cols + c] = (0..self.cols).map(|k| self.at(r, k) * o.at(k, c)).sum();
            }
        }
        M {
            rows: self.rows,
            cols: o.cols,
            v,
        }
    }
    fn t(&self) -> M {
        let mut v = vec![0.0; self.v.len()];
        for r in 0..self.rows {
            for c in 0..self.cols {
                v[c * self.rows + r] = self.at(r, c);
            }
        }
        M {
            rows: self.cols,
            cols: self.rows,
            v,
        }
    }
    fn zip(&self, o: &M, f: impl Fn(f64, f64) -> f64) -> M {
        assert_eq!((self.rows, self.cols), (o.rows, o.cols));
        let v = self.v.iter().zip(&o.v).map(|(a, b)| f(*a, *b)).collect();
        M { v, ..*self }
    }
    fn map(&self, f: impl Fn(f64) -> f64) -> M {
        M {
            v: self.v.iter().map(|a| f(*a)).collect(),
            ..*self
        }
    }
    /// `1ᵀ·self` as a `[1, cols]` row.
    fn col_sums(&self) -> M {
        let v = (0..self.cols)
            .map(|c| (0..self.rows).map(|r| self.at(r, c)).sum())
            .collect();
        M {
            rows: 1,
            cols: self.cols,
            v,
        }
    }
    /// Row-wise softmax minus the one-hot `targets`, over the batch size: the mean
    /// cross-entropy's gradient at the logits.
    fn ce_grad(&self, targets: &M) -> M {
        let mut v = Vec::with_capacity(self.v.len());
        for r in 0..self.rows {
            let row = &self.v[r * self.cols..(r + 1) * self.cols];
            let top = row.iter().cloned().fold(f64::MIN, f64::max);
            let sum: f64 = row.iter().map(|z| (z - top).exp()).sum();
            for (c, z) in row.iter().enumerate() {
                let p = (z - top).exp() / sum;
                v.push((p - targets.at(r, c)) / self.rows as f64);
            }
        }
        M { v, ..*self }
    }
}

/// The forward pass of a tanh net: every block's input and output (`h[0] = x`).
fn forward(net: &Net, x: &M) -> Vec<M> {
    let mut h = vec![x.clone()];
    for (i, block) in net.blocks.iter().enumerate() {
        let w = M::of(block.weight());
        let b = M::of(block.bias());
        let z = h[i].mul(&w.t());
        let z = M {
            v: z.v
                .iter()
                .enumerate()
                .map(|(k, v)| v + b.v[k % b.cols])
                .collect(),
            ..z
        };
        let last = i + 1 == net.blocks.len();
        h.push(if last { z } else { z.map(f64::tanh) });
    }
    h
}

/// `∂L/∂h_i ⊙ tanh′` for hidden block `i` given the gradient at its output `g`.
fn through_tanh(g: &M, h: &M) -> M {
    g.zip(h, |g, h| g * (1.0 - h * h))
}

/// Asserts that the rule's gradient `name` equals the reference `expected`.
fn assert_grad(got: &Gradients, name: &str, expected: &M) {
    let got = M::of(
        got.get(name)
            .unwrap_or_else(|| panic!("no gradient {name}")),
    );
    assert_eq!(got.v.len(), expected.v.len(), "{name}");
    let scale = expected.v.iter().map(|v| v.abs()).fold(1e-3, f64::max);
    for (g, e) in got.v.iter().zip(&expected.v) {
        assert!((g - e).abs() < 1e-5 * scale.max(1.0), "{name}: {g} vs {e}");
    }
}

/// Asserts block `i`'s weight and bias gradients are `δᵀ·h_{i-1}` and `Σ δ`.
fn assert_block(got: &Gradients, i: usize, delta: &M, input: &M) {
    assert_grad(
        got,
        &format!("blocks.{i}.linear.weight"),
        &delta.t().mul(input),
    );
    assert_grad(got, &format!("blocks.{i}.linear.bias"), &delta.col_sums());
}

/// A rule's tensor by name, as a host matrix.
fn tensor(rule: &dyn LearningRule, name: &str) -> M {
    let mut found = None;
    rule.visit(&mut |n, _, t| {
        if n == name {
            found = Some(M::of(t));
        }
    });
    found.unwrap_or_else(|| panic!("the rule has no tensor {name}"))
}

struct Setup {
    net: Net,
    task: Task,
    batch: Batch,
    x: M,
    y: M,
    h: Vec<M>,
}

fn setup() -> Setup {
    let net = net(&[3, 5, 4, 2], Activation::Tanh, false, 11);
    let task = task_for(&net, Loss::CrossEntropy, Problem::Classification);
    let batch = batch(&net, task, 4, 12);
    let (x, y) = (M::of(&batch.x), M::of(&batch.targets));
    let h = forward(&net, &x);
    Setup {
        net,
        task,
        batch,
        x,
        y,
        h,
    }
}

fn rule_for(kind: &str, s: &Setup) -> Box<dyn LearningRule> {
    let rules = vec![kind; s.net.blocks.len()];
    rule::build(&settings(rules), &s.net, s.task, &mut Rng::new(5)).unwrap()
}

#[test]
fn backprop_first_step_is_the_chain_rule() {
    let s = setup();
    let got = grads(rule_for("backprop", &s).as_mut(), &s.net, &s.batch, s.task);
    let e = s.h[3].ce_grad(&s.y);
    let w2 = M::of(s.net.blocks[2].weight());
    let w1 = M::of(s.net.blocks[1].weight());
    let d1 = through_tanh(&e.mul(&w2), &s.h[2]);
    let d0 = through_tanh(&d1.mul(&w1), &s.h[1]);
    assert_block(&got, 2, &e, &s.h[2]);
    assert_block(&got, 1, &d1, &s.h[1]);
    assert_block(&got, 0, &d0, &s.x);
}

#[test]
fn feedback_alignment_first_step_sends_the_error_through_b() {
    // Lillicrap et al. 2016: δ_i = (δ_{i+1}·B_{i+1}) ⊙ f′(a_i), B fixed and random.
    let s = setup();
    let mut rule = rule_for("feedback_alignment", &s);
    let b2 = tensor(rule.as_ref(), "feedback.2.weight");
    let b1 = tensor(rule.as_ref(), "feedback.1.weight");
    let got = grads(rule.as_mut(), &s.net, &s.batch, s.task);
    let e = s.h[3].ce_grad(&s.y);
    let d1 = through_tanh(&e.mul(&b2), &s.h[2]);
    let d0 = through_tanh(&d1.mul(&b1), &s.h[1]);
    assert_block(&got, 2, &e, &s.h[2]);
    assert_block(&got, 1, &d1, &s.h[1]);
    assert_block(&got, 0, &d0, &s.x);
}

#[test]
fn dfa_first_step_projects_the_output_error_to_every_block() {
    // Nøkland 2016: δ_i = (e·B_i) ⊙ f′(a_i).
    let s = setup();
    let mut rule = rule_for("dfa", &s);
    let b = [0, 1].map(|i| tensor(rule.as_ref(), &format!("dfa.{i}.weight")));
    let got = grads(rule.as_mut(), &s.net, &s.batch, s.task);
    let e = s.h[3].ce_grad(&s.y);
    assert_block(&got, 2, &e, &s.h[2]);
    for (i, b) in b.iter().enumerate() {
        let d = through_tanh(&e.mul(b), &s.h[i + 1]);
        assert_block(&got, i, &d, &s.h[i]);
    }
}

#[test]
fn drtp_first_step_projects_the_target_as_a_batch_mean() {
    // Frenkel et al. 2021: δ_i = (−y*·B_i) ⊙ f′(a_i), here over the batch's n rows.
    let s = setup();
    let mut rule = rule_for("drtp", &s);
    let b = [0, 1].map(|i| tensor(rule.as_ref(), &format!("drtp.{i}.weight")));
    let got = grads(rule.as_mut(), &s.net, &s.batch, s.task);
    let n = s.x.rows as f64;
    assert_block(&got, 2, &s.h[3].ce_grad(&s.y), &s.h[2]);
    for (i, b) in b.iter().enumerate() {
        let signal = s.y.mul(b).map(|v| -v / n);
        let d = through_tanh(&signal, &s.h[i + 1]);
        assert_block(&got, i, &d, &s.h[i]);
    }
}

#[test]
fn local_loss_first_step_descends_a_fixed_random_classifier() {
    // Nøkland & Eidnes 2019 (prediction loss): z_i = h_i·P_iᵀ, δ_i = (∂CE/∂z_i·P_i) ⊙ f′(a_i).
    let s = setup();
    let mut rule = rule_for("local_loss", &s);
    let p = [0, 1].map(|i| tensor(rule.as_ref(), &format!("projections.{i}.weight")));
    let got = grads(rule.as_mut(), &s.net, &s.batch, s.task);
    assert_block(&got, 2, &s.h[3].ce_grad(&s.y), &s.h[2]);
    for (i, p) in p.iter().enumerate() {
        let g = s.h[i + 1].mul(&p.t()).ce_grad(&s.y);
        let d = through_tanh(&g.mul(p), &s.h[i + 1]);
        assert_block(&got, i, &d, &s.h[i]);
    }
}

#[test]
fn linear_decoders_first_step_trains_each_decoder_and_its_block() {
    // Mertens: each block learns through its own linear decoder D_i to the classes.
    let s = setup();
    let mut rule = rule_for("linear_decoder", &s);
    let d = [0, 1].map(|i| tensor(rule.as_ref(), &format!("decoders.{i}.weight")));
    let got = grads(rule.as_mut(), &s.net, &s.batch, s.task);
    assert_block(&got, 2, &s.h[3].ce_grad(&s.y), &s.h[2]);
    for (i, d) in d.iter().enumerate() {
        let g = s.h[i + 1].mul(&d.t()).ce_grad(&s.y);
        assert_grad(
            &got,
            &format!("decoders.{i}.weight"),
            &g.t().mul(&s.h[i + 1]),
        );
        let delta = through_tanh(&g.mul(d), &s.h[i + 1]);
        assert_block(&got, i, &delta, &s.h[i]);
    }
}

/// The batch given twice over (every row repeated).
fn doubled(b: &Batch) -> Batch {
    let twice =
        |t: &burn::tensor::Tensor<2>| burn::tensor::Tensor::cat(vec![t.clone(), t.clone()], 0);
    Batch {
        x: twice(&b.x),
        targets: twice(&b.targets),
        labels: b.labels.iter().chain(&b.labels).copied().collect(),
    }
}

#[test]
fn every_rule_signal_is_a_batch_mean() {
    let s = setup();
    let twice = doubled(&s.batch);
    for kind in [
        "backprop",
        "feedback_alignment",
        "dfa",
        "drtp",
        "local_loss",
        "linear_decoder",
        "target_prop",
        "difference_target_prop",
    ] {
        let once = grads(rule_for(kind, &s).as_mut(), &s.net, &s.batch, s.task);
        let again = grads(rule_for(kind, &s).as_mut(), &s.net, &twice, s.task);
        for i in 0..3 {
            let name = format!("blocks.{i}.linear.weight");
            let (a, b) = (
                M::of(once.get(&name).unwrap()),
                M::of(again.get(&name).unwrap()),
            );
            let worst =
                a.v.iter()
                    .zip(&b.v)
                    .map(|(p, q)| (p - q).abs())
                    .fold(0.0, f64::max);
            let size = a.v.iter().map(|v| v.abs()).fold(1e-6, f64::max);
            assert!(
                worst <= 1e-4 * size,
                "{kind} {name}: the doubled batch differs by {worst}"
            );
        }
    }
}

#[test]
fn a_trainer_sgd_step_moves_drtp_weights_by_minus_lr_times_the_formula() {
    let overrides: Vec<String> = [
        "data.dataset=iris",
        "model.hidden=[5]",
        "model.activation=tanh",
        "train.rule=drtp",
        "train.optimizer=sgd",
        "train.lr=0.5",
    ]
    .map(String::from)
    .to_vec();
    let config = ExperimentConfig::load(None, &overrides).unwrap();
    let data = plasticity::data::load(&config.data).unwrap();
    let mut trainer = Trainer::new(&config, &data).unwrap();
    let rows: Vec<usize> = (0..8).collect();
    let batch = trainer.batch(&data.train, &rows);
    let before = M::of(trainer.net().blocks[0].weight());
    let b = tensor(trainer.rule(), "drtp.0.weight");
    let (x, y) = (M::of(&batch.x), M::of(&batch.targets));
    let h = forward(trainer.net(), &x);
    trainer.step(&batch);
    let after = M::of(trainer.net().blocks[0].weight());
    let delta = through_tanh(&y.mul(&b).map(|v| -v / 8.0), &h[1]);
    let expected = before.zip(&delta.t().mul(&x), |w, g| w - 0.5 * g);
    for (a, e) in after.v.iter().zip(&expected.v) {
        assert!((a - e).abs() < 1e-5, "{a} vs {e}");
    }
}
