//! Networks as stacks of blocks, each with an explicit forward and backward.

mod activation_layer;
mod avg_pool;
mod batchnorm;
mod block;
mod conv2d;
mod direct;
pub mod dropout;
mod flatten;
mod init;
mod layer;
mod linear;
mod max_pool;
pub mod normalize;
mod params;
pub mod shape;
mod spatial_dropout;
mod unfold;
pub mod weights;

pub use activation_layer::ActivationLayer;
pub use avg_pool::AvgPool;
pub use batchnorm::{BatchNorm, BatchNormCache, BatchNormGrads};
pub use block::{
    Block, BlockCache, BlockGrads, BlockSpec, ConvSpec, Feedback, Place, Pool, PoolKind,
    UnitFractions,
};
pub use conv2d::Conv2d;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use init::Init;
pub use layer::{Layer, LayerCache, LayerGrads, LayerObject, Mode, Weighted};
pub use linear::Linear;
pub use max_pool::MaxPool;
pub use normalize::Normalize;
pub use params::{BlockParams, Gradients, Parameters, Slot};
pub use shape::{ConvGeometry, PoolGeometry, Volume};
pub use spatial_dropout::SpatialDropout;

use burn::tensor::{Device, Tensor};

use crate::rng::Rng;

/// A feed-forward network: blocks applied in order.
#[derive(Debug, Clone)]
pub struct Net {
    /// The blocks, input first; the last one produces the output (logits).
    pub blocks: Vec<Block>,
}

/// The caches of one training forward pass, one per block, input first.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Block `i`'s cache.
    pub blocks: Vec<BlockCache>,
}

impl Trace {
    /// The network's output (the last block's output).
    ///
    /// # Shapes
    /// `[batch, outputs]`.
    pub fn output(&self) -> &Tensor<2> {
        &self
            .blocks
            .last()
            .expect("a net has at least one block")
            .output
    }
}

impl Net {
    /// A network of freshly drawn blocks.
    pub fn new(
        specs: Vec<BlockSpec>,
        init: Init,
        scale: Option<f32>,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let blocks = specs
            .into_iter()
            .map(|spec| Block::new(spec, init, scale, rng, device))
            .collect();
        Self { blocks }
    }

    /// The name of block `index`'s weights: `blocks.<index>.linear.weight`, or
    /// `blocks.<index>.conv.weight` for a convolution.
    pub fn weight_name(&self, index: usize) -> String {
        self.blocks[index].weight_name(index)
    }

    /// Input width.
    pub fn inputs(&self) -> usize {
        self.blocks[0].spec().inputs
    }

    /// Output width.
    pub fn outputs(&self) -> usize {
        self.blocks.last().expect("a net has blocks").spec().outputs
    }

    /// The layer sizes as `in-h1-…-out`, e.g. `784-300-300-300-10`; a convolutional block
    /// as its volume, `1×28×28-6×14×14-16×5×5-120-84-10` (LeNet-5).
    pub fn sizes(&self) -> String {
        let first = &self.blocks[0].spec();
        let mut sizes = vec![match first.conv {
            Some(conv) => shape::display(conv.geometry().input),
            None => self.inputs().to_string(),
        }];
        sizes.extend(self.blocks.iter().map(|b| match b.spec().conv {
            Some(conv) => shape::display(conv.output()),
            None => b.spec().outputs.to_string(),
        }));
        sizes.join("-")
    }

    /// A training forward pass: dropout from `rng`, batch statistics (folded into the running
    /// ones), every block's cache kept.
    ///
    /// # Shapes
    /// `x`: `[batch, inputs]`.
    pub fn forward_train(&mut self, x: Tensor<2>, rng: &mut Rng) -> Trace {
        let mut caches: Vec<BlockCache> = Vec::with_capacity(self.blocks.len());
        let mut h = x;
        for block in &mut self.blocks {
            let cache = block.forward(h, &mut Mode::Train(rng));
            block.observe(&cache);
            h = cache.output.clone();
            caches.push(cache);
        }
        Trace { blocks: caches }
    }

    /// Per block, what its units did since the last call ([`UnitFractions`]; `None` for a
    /// block that saw no training pass).
    pub fn take_unit_fractions(&mut self) -> Vec<Option<UnitFractions>> {
        self.blocks
            .iter_mut()
            .map(Block::take_unit_fractions)
            .collect()
    }

    /// Re-estimates every batchnorm's running statistics from `batches` as an evaluation pass
    /// sees them (no dropout, stochastic units as `eval_mode` says): each block's running mean
    /// and variance become the averages of its batch means and unbiased batch variances.
    /// Training folds in statistics of sampled (and dropped-out) inputs, which a thresholded
    /// evaluation does not see.
    ///
    /// # Shapes
    /// each batch `[rows, inputs]`.
    pub fn recalibrate_batchnorm(&mut self, batches: impl IntoIterator<Item = Tensor<2>>) {
        let mut sums: Vec<Option<(Tensor<2>, Tensor<2>)>> = vec![None; self.blocks.len()];
        let mut count = 0usize;
        for x in batches {
            let unbiased = batchnorm::unbiased_factor(x.dims()[0]);
            let mut h = x;
            for (block, sum) in self.blocks.iter().zip(sums.iter_mut()) {
                let cache = block.forward(h, &mut Mode::Calibrate);
                if let Some(bn) = cache.batchnorm() {
                    let var = bn.var.clone().mul_scalar(unbiased);
                    *sum = Some(match sum.take() {
                        Some((m, v)) => (m + bn.mean.clone(), v + var),
                        None => (bn.mean.clone(), var),
                    });
                }
                h = cache.output;
            }
            count += 1;
        }
        for (block, sum) in self.blocks.iter_mut().zip(sums) {
            if let (Some(bn), Some((mean, var))) = (block.batchnorm_mut(), sum) {
                bn.running_mean = mean.div_scalar(count as f32);
                bn.running_var = var.div_scalar(count as f32);
            }
        }
    }

    /// An evaluation forward pass.
    ///
    /// # Shapes
    /// `x`: `[batch, inputs]` → `[batch, outputs]`.
    pub fn forward_eval(&self, x: Tensor<2>) -> Tensor<2> {
        self.blocks
            .iter()
            .fold(x, |h, block| block.forward(h, &mut Mode::Eval).output)
    }
}
