//! Max pooling over square windows, with its explicit backward.

use burn::tensor::module::{max_pool2d_with_indices, max_pool2d_with_indices_backward};
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Int, Tensor};

use crate::net::layer::{Layer, LayerCache, LayerGrads, Mode};
use crate::net::shape::{PoolGeometry, Volume, flat, volumes};

/// Each output cell is the largest input in its window, per channel (PyTorch's `MaxPool2d`,
/// no padding); the gradient goes to the position that won.
///
/// # Shapes
/// input `[batch, c·h·w]`, output `[batch, c·oh·ow]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool {
    geometry: PoolGeometry,
    output: Volume,
}

/// Where each output's maximum came from, `[batch, c, oh, ow]`.
struct Winners(Tensor<4, Int>);

impl MaxPool {
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

    fn options(&self) -> MaxPoolOptions<2> {
        MaxPoolOptions::new([self.geometry.size; 2]).with_stride([self.geometry.stride; 2])
    }

    fn volumes(&self, x: Tensor<2>) -> Tensor<4> {
        volumes(x, self.geometry.input)
    }
}

impl Layer for MaxPool {
    fn name(&self) -> &'static str {
        "max_pool"
    }

    fn forward(&self, x: Tensor<2>, _mode: &mut Mode<'_>) -> LayerCache {
        let (y, winners) = max_pool2d_with_indices(self.volumes(x.clone()), self.options());
        let y = flat(y);
        LayerCache::new(x, y).with_state(Winners(winners))
    }

    fn backward(&self, cache: &LayerCache, grad_output: Tensor<2>) -> (LayerGrads, Tensor<2>) {
        let winners = &cache
            .state::<Winners>()
            .expect("a max-pool cache keeps its winners")
            .0;
        let g = self.geometry;
        let grad = max_pool2d_with_indices_backward(
            self.volumes(cache.input.clone()),
            [g.size; 2],
            [g.stride; 2],
            [0, 0],
            [1, 1],
            false,
            volumes(grad_output, self.output),
            winners.clone(),
        );
        (Vec::new(), flat(grad))
    }
}
