//! Per-block gradient and update magnitudes, the vanishing-gradient diagnostic: for every block,
//! the mean absolute value of the rule's gradient (the signal it hands the optimizer: the true
//! gradient under backprop) and of the update the optimizer applied, per weight matrix.

use burn::tensor::Tensor;

use crate::host;
use crate::net::{Gradients, Net};

/// Sums of per-block magnitudes over an epoch's steps, kept on the device until read.
pub struct Magnitudes {
    grads: Vec<Option<Tensor<1>>>,
    updates: Vec<Option<Tensor<1>>>,
    steps: usize,
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

fn weight_name(block: usize) -> String {
    format!("blocks.{block}.linear.weight")
}

impl Magnitudes {
    /// An empty tally for a net of `blocks` blocks.
    pub fn new(blocks: usize) -> Self {
        Self {
            grads: vec![None; blocks],
            updates: vec![None; blocks],
            steps: 0,
        }
    }

    /// Every block's weight matrix, to diff against after the optimizer step.
    pub fn weights(net: &Net) -> Vec<Tensor<2>> {
        net.blocks.iter().map(|b| b.linear.weight.clone()).collect()
    }

    /// Records the rule's `grads` of one step (before the optimizer takes them); returns the
    /// step's per-block mean |gradient| (`[1]` each).
    pub fn record_grads(&mut self, grads: &Gradients) -> Vec<Option<Tensor<1>>> {
        let step: Vec<Option<Tensor<1>>> = (0..self.grads.len())
            .map(|i| grads.get(&weight_name(i)).map(mean_abs))
            .collect();
        for (slot, value) in self.grads.iter_mut().zip(&step) {
            if let Some(value) = value {
                add(slot, value.clone());
            }
        }
        self.steps += 1;
        step
    }

    /// Records the update the optimizer applied: the weights `before` its step against `net`'s.
    pub fn record_updates(&mut self, before: &[Tensor<2>], net: &Net) {
        for (i, (slot, old)) in self.updates.iter_mut().zip(before).enumerate() {
            let new = net.blocks[i].linear.weight.clone();
            add(slot, mean_abs(&(new - old.clone())));
        }
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
