//! Alignment with the true gradient: on a fixed probe batch, per block, the angle between the
//! update direction a rule hands the optimizer and the backprop gradient of the same output
//! loss at the same weights (through the straight-through estimator where units are hard,
//! with the same dropout masks and samples); and for rules with fixed feedback matrices, the
//! angle between each matrix and the forward weights it stands in for, with their norm ratio.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::activation::Estimator;
use crate::data::Table;
use crate::host;
use crate::net::{Gradients, Net};
use crate::rng::Rng;
use crate::rule::{Backprop, BlockRule, Layered, Layerwise, LearningRule, StepContext};
use crate::task::{Batch, Task};

/// One measurement, one entry per block (`null` where it does not apply).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlignmentRecord {
    /// Cosine between the rule's weight update direction and the backprop gradient.
    pub grad_cosine: Vec<Option<f64>>,
    /// The same as an angle in degrees (0 = the true gradient, 90 = orthogonal).
    pub grad_angle: Vec<Option<f64>>,
    /// Angle in degrees between the block's feedback matrix and the forward weights it stands
    /// in for (feedback alignment, DFA, DRTP).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weight_angle: Vec<Option<f64>>,
    /// `‖B‖ / ‖W‖` for the same pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub norm_ratio: Vec<Option<f64>>,
}

/// One line of `alignment.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlignmentLine {
    /// Iterations so far.
    pub iteration: usize,
    /// The epoch the measurement falls in, from 1.
    pub epoch: usize,
    /// The measurement.
    #[serde(flatten)]
    pub record: AlignmentRecord,
}

/// The fixed probe batch and the backprop reference.
pub struct AlignmentProbe {
    batch: Batch,
    seed: u64,
    reference: Layered,
}

/// `(cosine, angle in degrees)` of two equally shaped tensors, summed in f64 on the host;
/// `None` when either is zero.
pub fn cosine_angle(a: &Tensor<2>, b: &Tensor<2>) -> Option<(f64, f64)> {
    let (a, b) = (host::values(a), host::values(b));
    let (mut dot, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(&b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return None;
    }
    let cosine = (dot / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0);
    Some((cosine, cosine.acos().to_degrees()))
}

/// Frobenius norm, in f64.
fn norm(t: &Tensor<2>) -> f64 {
    host::values(t)
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

/// Gradients of one probe step of `rule` on `batch` at `net`'s weights (which stay as they
/// are: the step runs on a copy), with dropout masks and samples from a stream derived from
/// `seed`.
fn probe_grads(
    rule: &mut dyn LearningRule,
    net: &Net,
    batch: &Batch,
    task: Task,
    seed: u64,
) -> Gradients {
    let mut work = net.clone();
    let mut rng = Rng::derived(seed, "alignment probe");
    let mut ctx = StepContext::new(&mut rng, task);
    ctx.probe = true;
    rule.step(&mut work, batch, &mut ctx).grads
}

impl AlignmentProbe {
    /// A probe on the first `rows` rows of `table` for a net of `blocks` blocks; its dropout
    /// masks and stochastic samples come from a stream derived from `seed`, the same at every
    /// measurement.
    pub fn new(
        table: &Table,
        rows: usize,
        task: Task,
        blocks: usize,
        seed: u64,
        device: &Device,
    ) -> Self {
        let rows: Vec<usize> = (0..rows.min(table.rows())).collect();
        Self::from_batch(task.batch(table, &rows, device), blocks, seed)
    }

    /// A probe on `batch` for a net of `blocks` blocks.
    pub fn from_batch(batch: Batch, blocks: usize, seed: u64) -> Self {
        let hidden = blocks.saturating_sub(1);
        let rules = (0..hidden)
            .map(|_| BlockRule::Chained(Box::new(Backprop)))
            .collect();
        let names = vec!["backprop".to_string(); hidden];
        Self {
            batch,
            seed,
            reference: Layered::new(rules, names, Layerwise::Parallel, 1, blocks),
        }
    }

    /// Measures `rule` at `net`'s current weights.
    pub fn measure(
        &mut self,
        rule: &mut dyn LearningRule,
        net: &Net,
        task: Task,
    ) -> AlignmentRecord {
        let update = probe_grads(rule, net, &self.batch, task, self.seed);
        // Blocks whose estimator passes no gradient (none, REINFORCE) are differentiated
        // through the straight-through estimator.
        let mut straight_through = net.clone();
        for block in &mut straight_through.blocks {
            if matches!(
                block.spec().estimator,
                Estimator::None | Estimator::Reinforce
            ) {
                block.set_estimator(Estimator::Ste);
            }
        }
        let truth = probe_grads(
            &mut self.reference,
            &straight_through,
            &self.batch,
            task,
            self.seed,
        );
        let blocks = net.blocks.len();
        let (mut grad_cosine, mut grad_angle) = (vec![None; blocks], vec![None; blocks]);
        for i in 0..blocks {
            let name = net.weight_name(i);
            if let (Some(u), Some(g)) = (update.get(&name), truth.get(&name))
                && let Some((cosine, angle)) = cosine_angle(u, g)
            {
                grad_cosine[i] = Some(cosine);
                grad_angle[i] = Some(angle);
            }
        }
        let mut pairs = rule.feedback_pairs(net);
        if pairs.iter().all(Option::is_none) {
            pairs.clear();
        }
        let weight_angle = pairs
            .iter()
            .map(|p| {
                p.as_ref()
                    .and_then(|(b, w)| cosine_angle(b, w).map(|c| c.1))
            })
            .collect();
        let norm_ratio = pairs
            .iter()
            .map(|p| p.as_ref().map(|(b, w)| norm(b) / norm(w)))
            .collect();
        AlignmentRecord {
            grad_cosine,
            grad_angle,
            weight_angle,
            norm_ratio,
        }
    }
}
