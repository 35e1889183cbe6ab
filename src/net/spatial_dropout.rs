//! Spatial dropout: whole channels of a volume dropped at once, masks from the run's stream.

use burn::tensor::Tensor;

use crate::net::dropout::mask;
use crate::net::layer::{Layer, LayerCache, LayerGrads, Mode};

/// PyTorch's `Dropout2d` on the input of a convolution: in training each channel of each
/// sample is zeroed with probability `rate` (all its positions together) and the survivors
/// scaled by `1/(1 − rate)`; in evaluation the identity. Neighbouring pixels are strongly
/// correlated, so dropping single entries barely regularises a convolution.
///
/// # Shapes
/// `[batch, channels·positions]` → the same.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpatialDropout {
    /// The probability of dropping a channel, in `[0, 1)`.
    pub rate: f32,
    /// Channels of the volume.
    pub channels: usize,
    /// Positions per channel, `h·w`.
    pub positions: usize,
}

/// The mask a training pass drew, `[batch, channels, 1]`.
struct ChannelMask(Tensor<3>);

impl SpatialDropout {
    fn cells(&self, x: Tensor<2>) -> Tensor<3> {
        let batch = x.dims()[0];
        x.reshape([batch, self.channels, self.positions])
    }

    fn flat(&self, x: Tensor<3>) -> Tensor<2> {
        let batch = x.dims()[0];
        x.reshape([batch, self.channels * self.positions])
    }
}

impl Layer for SpatialDropout {
    fn name(&self) -> &'static str {
        "spatial_dropout"
    }

    fn draws_in_training(&self) -> bool {
        self.rate > 0.0
    }

    fn forward(&self, x: Tensor<2>, mode: &mut Mode<'_>) -> LayerCache {
        match mode {
            Mode::Train(rng) if self.rate > 0.0 => {
                let batch = x.dims()[0];
                let m = mask(self.rate, batch, self.channels, rng, &x.device()).unsqueeze_dim(2);
                let y = self.flat(self.cells(x.clone()) * m.clone());
                LayerCache::new(x, y).with_state(ChannelMask(m))
            }
            _ => LayerCache::new(x.clone(), x),
        }
    }

    fn backward(&self, cache: &LayerCache, grad_output: Tensor<2>) -> (LayerGrads, Tensor<2>) {
        let grad = match cache.state::<ChannelMask>() {
            Some(ChannelMask(m)) => self.flat(self.cells(grad_output) * m.clone()),
            None => grad_output,
        };
        (Vec::new(), grad)
    }
}
