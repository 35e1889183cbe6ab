//! Per-block gradient and update magnitudes, the vanishing-gradient diagnostic: for every block,
//! the mean absolute value of the rule's gradient (the signal it hands the optimizer: the true
//! gradient under backprop) and of the update the optimizer applied, per weight matrix.

use burn::tensor::Tensor;

use crate::host;
use crate::net::{Gradients, Net};

/// Sums of per-block magnitudes over an epoch's steps, kept on the device until read.
pub struct Magnitudes {
    /// Each block's weight name.
    names: Vec<String>,
    grads: Vec<Option<Tensor<1>>>,
    updates: Vec<Option<Tensor<1>>>,
    steps: usize,
    /// Each block's weight gradient of the last step, when kept ([`Magnitudes::keep_last`]).
    last: Option<Vec<Option<Tensor<2>>>>,
}

/// Mean absolute value of every entry, `[1]`.
fn mean_abs(t: &Tensor<2>) -> Tensor<1> {
    t.clone().abs().mean()
}

fn add(slot: &mut Option<Tensor<1>>, value: Tensor<1>) {
    *slot = Some(match slot.take() {
        Some(sum) => sum + value,
        None => value,
    });
}

impl Magnitudes {
    /// An empty tally for `net`'s blocks.
    pub fn new(net: &Net) -> Self {
        let blocks = net.blocks.len();
        Self {
            names: (0..blocks).map(|i| net.weight_name(i)).collect(),
            grads: vec![None; blocks],
            updates: vec![None; blocks],
            steps: 0,
            last: None,
        }
    }

    /// Every block's weight matrix, to diff against after the optimizer step.
    pub fn weights(net: &Net) -> Vec<Tensor<2>> {
        net.blocks.iter().map(|b| b.weight().clone()).collect()
    }

    /// Records the rule's `grads` of one step (before the optimizer takes them); returns the
    /// step's per-block mean |gradient| (`[1]` each).
    pub fn record_grads(&mut self, grads: &Gradients) -> Vec<Option<Tensor<1>>> {
        let step = (0..self.grads.len())
            .map(|i| self.record_block_grad(i, grads))
            .collect();
        self.count_step();
        step
    }

    /// Records block `index`'s weight gradient in `grads`, if there is one; returns its mean
    /// |gradient|, `[1]`. (A rule that updates block by block calls this per block and
    /// [`Magnitudes::count_step`] once per step.)
    pub fn record_block_grad(&mut self, index: usize, grads: &Gradients) -> Option<Tensor<1>> {
        let grad = grads.get(&self.names[index])?;
        if let Some(last) = &mut self.last {
            last[index] = Some(grad.clone());
        }
        let value = mean_abs(grad);
        add(&mut self.grads[index], value.clone());
        Some(value)
    }

    /// Keeps each block's weight gradient of the last step from now on (one weight matrix's
    /// worth of memory per block), for [`Magnitudes::last_grads`].
    pub fn keep_last(&mut self) {
        self.last
            .get_or_insert_with(|| vec![None; self.names.len()]);
    }

    /// Per block, its weight's name and the last step's gradient of it (`None` before a step,
    /// for a block the rule did not train, or unless [`Magnitudes::keep_last`] was called),
    /// `[out, in]` each.
    pub fn last_grads(&self) -> Vec<(&str, Option<&Tensor<2>>)> {
        (self.names.iter().enumerate())
            .map(|(i, name)| {
                let grad = self.last.as_ref().and_then(|last| last[i].as_ref());
                (name.as_str(), grad)
            })
            .collect()
    }

    /// Counts one training step (the denominator of the epoch's means).
    pub fn count_step(&mut self) {
        self.steps += 1;
    }

    /// Records the update the optimizer applied: the weights `before` its step against `net`'s.
    pub fn record_updates(&mut self, before: &[Tensor<2>], net: &Net) {
        for (i, old) in before.iter().enumerate() {
            self.record_block_update(i, old, net.blocks[i].weight());
        }
    }

    /// Records the update of block `index`'s weight matrix, `before` → `after`.
    pub fn record_block_update(&mut self, index: usize, before: &Tensor<2>, after: &Tensor<2>) {
        add(
            &mut self.updates[index],
            mean_abs(&(after.clone() - before.clone())),
        );
    }

    /// The epoch's per-block means of |gradient| and |update| (`null` for a block that never
    /// had one), and a fresh tally.
    pub fn take(&mut self) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
        let steps = self.steps.max(1) as f64;
        let read = |sums: &mut Vec<Option<Tensor<1>>>| {
            sums.iter_mut()
                .map(|s| s.take().map(|s| f64::from(host::scalar(&s)) / steps))
                .collect()
        };
        let grads = read(&mut self.grads);
        let updates = read(&mut self.updates);
        self.steps = 0;
        (grads, updates)
    }
}
