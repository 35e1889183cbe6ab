//! Fixed random matrices (feedback and projections): how they are drawn, and a named holder
//! that is saved with the model.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::host;
use crate::net::{Init, Net, Parameters, Slot};
use crate::product::matmul;
use crate::rng::Rng;
use crate::task::Task;

/// How feedback alignment's matrices relate to the forward weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackVariant {
    /// `B` drawn once and fixed.
    #[default]
    Random,
    /// Uniform sign-concordant feedback: `B = mean|W|·sign(W)`, following `W` every step.
    Usf,
    /// Batchwise random-magnitude sign-concordant feedback: `|B|` redrawn every step, sign of `W`.
    Brsf,
    /// Fixed random-magnitude sign-concordant feedback: `|B|` drawn once, sign of `W`.
    Frsf,
}

/// How fixed matrices are drawn (seeded from the run's seed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeedbackSettings {
    /// Feedback alignment's variant.
    pub variant: FeedbackVariant,
    /// The distribution: `gaussian` (normal), `uniform`, `orthogonal`, `lecun`, … (see [`Init`]).
    pub init: Init,
    /// Its scale (the scheme's default when `None`).
    pub scale: Option<f32>,
}

impl Default for FeedbackSettings {
    /// Random feedback, LeCun-normal, the scheme's own scale.
    fn default() -> Self {
        Self {
            variant: FeedbackVariant::Random,
            init: Init::Lecun,
            scale: None,
        }
    }
}

impl FeedbackSettings {
    /// Draws a `[rows, cols]` matrix (fan-in `cols`).
    pub fn draw(&self, rows: usize, cols: usize, rng: &mut Rng, device: &Device) -> Tensor<2> {
        host::matrix(
            self.init.matrix(rows, cols, self.scale, rng),
            rows,
            cols,
            device,
        )
    }

    /// Draws the `[outputs, units]` matrix between the task's outputs and the units of hidden
    /// block `index` (DFA's feedback, DRTP's projection, a local loss's projection, a
    /// decoder's initial value), on the block's device.
    pub fn draw_for_block(&self, net: &Net, index: usize, task: Task, rng: &mut Rng) -> Tensor<2> {
        let block = &net.blocks[index];
        let device = block.weight().device();
        self.draw(task.outputs, block.spec().outputs, rng, &device)
    }
}

/// A named matrix a rule owns: fixed (feedback, projection) or trainable (decoder).
#[derive(Debug, Clone)]
pub struct NamedMatrix {
    /// Its name in weight files, e.g. `feedback.2.weight`.
    pub name: String,
    /// Whether an optimizer trains it.
    pub slot: Slot,
    /// The matrix.
    pub tensor: Tensor<2>,
}

impl Parameters for NamedMatrix {
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, Slot, &mut Tensor<2>)) {
        f(&self.name, self.slot, &mut self.tensor);
    }

    fn visit(&self, f: &mut dyn FnMut(&str, Slot, &Tensor<2>)) {
        f(&self.name, self.slot, &self.tensor);
    }
}

impl NamedMatrix {
    /// A fixed (non-trainable) matrix.
    pub fn fixed(name: String, tensor: Tensor<2>) -> Self {
        Self {
            name,
            slot: Slot::FIXED_MATRIX,
            tensor,
        }
    }

    /// A trainable matrix.
    pub fn trainable(name: String, tensor: Tensor<2>) -> Self {
        Self {
            name,
            slot: Slot::MATRIX,
            tensor,
        }
    }
}

/// The product of the forward weights from block `index + 1` up to the output block,
/// `W_L ⋯ W_{index+1}`: the linear path the output error would take back to block `index`
/// under backprop, which DFA's and DRTP's `B_index` stand in for. `None` when a block on the
/// way is a convolution: its kernels are not the linear map they apply.
///
/// # Shapes
/// `[outputs, out_index]`.
pub fn forward_path(net: &Net, index: usize) -> Option<Tensor<2>> {
    let last = net.blocks.len() - 1;
    if net.blocks[index + 1..]
        .iter()
        .any(|b| b.spec().conv.is_some())
    {
        return None;
    }
    Some(
        (index + 1..last)
            .rev()
            .fold(net.blocks[last].weight().clone(), |path, i| {
                matmul(path, net.blocks[i].weight().clone())
            }),
    )
}
