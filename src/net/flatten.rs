//! Flatten: where a net's convolutional part ends and its fully connected part begins.

use burn::tensor::Tensor;

use crate::net::layer::{Layer, LayerCache, LayerGrads, Mode};
use crate::net::shape::Volume;

/// PyTorch's `Flatten`: a `[c, h, w]` volume read as `c·h·w` features, channel-major. Volumes
/// are held flattened already, so it passes the batch through unchanged; it records the
/// volume it ends, for listings and for the layers that follow.
///
/// # Shapes
/// `[batch, c·h·w]` → `[batch, c·h·w]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flatten {
    /// The volume flattened.
    pub input: Volume,
}

impl Layer for Flatten {
    fn name(&self) -> &'static str {
        "flatten"
    }

    fn draws_in_training(&self) -> bool {
        false
    }

    fn forward(&self, x: Tensor<2>, _mode: &mut Mode<'_>) -> LayerCache {
        LayerCache::new(x.clone(), x)
    }

    fn backward(&self, _cache: &LayerCache, grad_output: Tensor<2>) -> (LayerGrads, Tensor<2>) {
        (Vec::new(), grad_output)
    }
}
