//! Named parameters and gradients, with PyTorch-style names (`blocks.0.linear.weight`).

use std::collections::BTreeMap;

use burn::tensor::Tensor;

use crate::net::{Block, BlockGrads, Net};

/// Gradients (or updates) keyed by parameter name.
#[derive(Debug, Clone, Default)]
pub struct Gradients {
    map: BTreeMap<String, Tensor<2>>,
}

impl Gradients {
    /// No gradients yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the gradient of `name`, adding to one already there.
    pub fn add(&mut self, name: impl Into<String>, grad: Tensor<2>) {
        let name = name.into();
        let grad = match self.map.remove(&name) {
            Some(previous) => previous + grad,
            None => grad,
        };
        self.map.insert(name, grad);
    }

    /// Records block `index`'s gradients under the net's parameter names.
    pub fn add_block(&mut self, index: usize, grads: BlockGrads) {
        self.add_prefixed(&format!("blocks.{index}"), grads);
    }

    /// Records a block's gradients under `prefix` (`blocks.0`, `feedback.2`).
    pub fn add_prefixed(&mut self, prefix: &str, grads: BlockGrads) {
        for (name, grad) in grads.into_entries() {
            self.add(format!("{prefix}.{name}"), grad);
        }
    }

    /// Records every gradient of `other`, adding to those already there.
    pub fn merge(&mut self, other: Gradients) {
        for (name, grad) in other.map {
            self.add(name, grad);
        }
    }

    /// The gradient of `name`, if recorded.
    pub fn get(&self, name: &str) -> Option<&Tensor<2>> {
        self.map.get(name)
    }

    /// Takes the gradient of `name` out.
    pub fn remove(&mut self, name: &str) -> Option<Tensor<2>> {
        self.map.remove(name)
    }

    /// All gradients, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Tensor<2>)> {
        self.map.iter()
    }

    /// Number of recorded gradients.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// How a named tensor is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Whether an optimizer updates it (false for buffers and fixed matrices).
    pub trainable: bool,
    /// Whether it is a `[1, n]` row held in memory but saved 1-D as `[n]` (biases, statistics).
    pub row: bool,
    /// For a convolution's kernels held `[out, in·k·k]`: the kernel size `k`, and the tensor is
    /// saved 4-D as `[out, in, k, k]` (PyTorch's layout); 0 for every other tensor.
    pub kernel: usize,
}

impl Slot {
    /// A trainable matrix.
    pub const MATRIX: Slot = Slot {
        trainable: true,
        row: false,
        kernel: 0,
    };
    /// A trainable row (bias, batchnorm scale/shift).
    pub const ROW: Slot = Slot {
        trainable: true,
        row: true,
        kernel: 0,
    };
    /// A non-trainable row (running statistics).
    pub const BUFFER_ROW: Slot = Slot {
        trainable: false,
        row: true,
        kernel: 0,
    };
    /// A non-trainable matrix (fixed feedback or projection).
    pub const FIXED_MATRIX: Slot = Slot {
        trainable: false,
        row: false,
        kernel: 0,
    };

    /// The slot saved as `[out, in, k, k]` kernels of size `k`.
    pub const fn with_kernel(self, kernel: usize) -> Slot {
        Slot { kernel, ..self }
    }
}

/// Something holding named tensors: trainable parameters, buffers and fixed matrices.
pub trait Parameters {
    /// Visits every tensor mutably, in a stable order.
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>));

    /// Visits every tensor, in the same order.
    fn visit(&self, f: &mut dyn FnMut(&str, Slot, &Tensor<2>));

    /// Number of trainable scalars.
    fn parameter_count(&self) -> usize {
        let mut count = 0;
        self.visit(&mut |_, slot, t| {
            if slot.trainable {
                count += t.dims().iter().product::<usize>();
            }
        });
        count
    }
}

impl Parameters for Net {
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {
        for (i, block) in self.blocks.iter_mut().enumerate() {
            block.visit_mut(&format!("blocks.{i}"), f);
        }
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {
        for (i, block) in self.blocks.iter().enumerate() {
            block.visit(&format!("blocks.{i}"), f);
        }
    }
}

/// One block of a net under its names in the net (`blocks.{index}.…`).
pub struct BlockParams<'a> {
    /// The block's position in the net.
    pub index: usize,
    /// The block.
    pub block: &'a mut Block,
}

impl Parameters for BlockParams<'_> {
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {
        self.block.visit_mut(&format!("blocks.{}", self.index), f);
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {
        self.block.visit(&format!("blocks.{}", self.index), f);
    }
}
