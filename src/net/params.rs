//! Named parameters and gradients, with PyTorch-style names (`blocks.0.linear.weight`).

use std::collections::BTreeMap;

use burn::tensor::Tensor;

use crate::net::{BlockGrads, Net};

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
        self.add(format!("blocks.{index}.linear.weight"), grads.linear.weight);
        self.add(format!("blocks.{index}.linear.bias"), grads.linear.bias);
        if let Some(bn) = grads.batchnorm {
            self.add(format!("blocks.{index}.batchnorm.weight"), bn.gamma);
            self.add(format!("blocks.{index}.batchnorm.bias"), bn.beta);
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
}

impl Slot {
    /// A trainable matrix.
    pub const MATRIX: Slot = Slot {
        trainable: true,
        row: false,
    };
    /// A trainable row (bias, batchnorm scale/shift).
    pub const ROW: Slot = Slot {
        trainable: true,
        row: true,
    };
    /// A non-trainable row (running statistics).
    pub const BUFFER_ROW: Slot = Slot {
        trainable: false,
        row: true,
    };
    /// A non-trainable matrix (fixed feedback or projection).
    pub const FIXED_MATRIX: Slot = Slot {
        trainable: false,
        row: false,
    };
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

/// Lists a net's tensors once for both visits: `&` or `&mut` is the optional last token.
macro_rules! visit_net {
    ($net:expr, $f:ident $(, $m:tt)?) => {
        for (i, block) in (&$($m)? $net.blocks).into_iter().enumerate() {
            $f(&format!("blocks.{i}.linear.weight"), Slot::MATRIX, &$($m)? block.linear.weight);
            $f(&format!("blocks.{i}.linear.bias"), Slot::ROW, &$($m)? block.linear.bias);
            if let Some(bn) = &$($m)? block.batchnorm {
                $f(&format!("blocks.{i}.batchnorm.weight"), Slot::ROW, &$($m)? bn.gamma);
                $f(&format!("blocks.{i}.batchnorm.bias"), Slot::ROW, &$($m)? bn.beta);
                $f(&format!("blocks.{i}.batchnorm.running_mean"), Slot::BUFFER_ROW, &$($m)? bn.running_mean);
                $f(&format!("blocks.{i}.batchnorm.running_var"), Slot::BUFFER_ROW, &$($m)? bn.running_var);
            }
        }
    };
}

impl Parameters for Net {
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {
        visit_net!(self, f, mut);
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {
        visit_net!(self, f);
    }
}
