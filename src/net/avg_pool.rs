//! Average pooling over square windows, with its explicit backward.

use burn::tensor::Tensor;
use burn::tensor::module::{avg_pool2d, avg_pool2d_backward};
use burn::tensor::ops::AvgPoolOptions;

use crate::net::layer::{Layer, LayerCache, LayerGrads, Mode};
use crate::net::shape::{PoolGeometry, Volume, flat, volumes};

/// Each output cell is the mean of its window, per channel (PyTorch's `AvgPool2d`, no
/// padding); the gradient is shared equally over the window.
///
/// # Shapes
/// input `[batch, c·h·w]`, output `[batch, c·oh·ow]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvgPool {
    geometry: PoolGeometry,
    output: Volume,
}

impl AvgPool {
    /// A pool of `geometry`; fails when the window does not fit the input.
    pub fn new(geometry: PoolGeometry) -> Result<Self, String> {
        Ok(Self {
            output: geometry.output()?,
            geometry,
        })
    }

    /// The output volume.
    pub fn output_volume(&self) -> Volume {
        self.output
    }

    fn volumes(&self, x: Tensor<2>) -> Tensor<4> {
        volumes(x, self.geometry.input)
    }
}

impl Layer for AvgPool {
    fn name(&self) -> &'static str {
        "avg_pool"
    }

    fn draws_in_training(&self) -> bool {
        false
    }

    fn forward(&self, x: Tensor<2>, _mode: &mut Mode<'_>) -> LayerCache {
        let g = self.geometry;
        let options = AvgPoolOptions::new([g.size; 2]).with_stride([g.stride; 2]);
        let y = avg_pool2d(self.volumes(x.clone()), options);
        LayerCache::new(x, flat(y))
    }

    fn backward(&self, cache: &LayerCache, grad_output: Tensor<2>) -> (LayerGrads, Tensor<2>) {
        let g = self.geometry;
        let grad = avg_pool2d_backward(
            self.volumes(cache.input.clone()),
            volumes(grad_output, self.output),
            [g.size; 2],
            [g.stride; 2],
            [0, 0],
            true,
            false,
        );
        (Vec::new(), flat(grad))
    }
}
