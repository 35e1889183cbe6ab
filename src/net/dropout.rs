//! Inverted dropout with masks drawn from the run's seeded stream.

use burn::tensor::{Device, Tensor};

use crate::host;
use crate::net::layer::{Layer, LayerCache, LayerGrads, Mode};
use crate::rng::Rng;

/// Inverted dropout on the input of a block's weighted layer: in training each entry is zeroed
/// with probability `rate` and the survivors scaled by `1/(1 − rate)`; in evaluation the
/// identity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    /// The probability of dropping an entry, in `[0, 1)`.
    pub rate: f32,
}

/// The mask a training pass drew, `[batch, units]`.
struct DropoutMask(Tensor<2>);

impl Layer for Dropout {
    fn name(&self) -> &'static str {
        "dropout"
    }

    fn draws_in_training(&self) -> bool {
        self.rate > 0.0
    }

    fn forward(&self, x: Tensor<2>, mode: &mut Mode<'_>) -> LayerCache {
        match mode {
            Mode::Train(rng) if self.rate > 0.0 => {
                let [batch, units] = x.dims();
                let m = mask(self.rate, batch, units, rng, &x.device());
                let y = x.clone() * m.clone();
                LayerCache::new(x, y).with_state(DropoutMask(m))
            }
            _ => LayerCache::new(x.clone(), x),
        }
    }

    fn backward(&self, cache: &LayerCache, grad_output: Tensor<2>) -> (LayerGrads, Tensor<2>) {
        let grad = match cache.state::<DropoutMask>() {
            Some(DropoutMask(m)) => grad_output * m.clone(),
            None => grad_output,
        };
        (Vec::new(), grad)
    }
}

/// A dropout mask: each entry is 0 with probability `rate`, else `1/(1 − rate)`.
///
/// # Shapes
/// `[batch, units]`.
pub fn mask(rate: f32, batch: usize, units: usize, rng: &mut Rng, device: &Device) -> Tensor<2> {
    let keep = 1.0 - rate;
    let scale = 1.0 / keep;
    let mut values = vec![0.0; batch * units];
    rng.uniform_fill(&mut values);
    for value in &mut values {
        *value = if *value < keep { scale } else { 0.0 };
    }
    host::matrix(values, batch, units, device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn bulk_uniforms_are_the_single_draws() {
        let (mut bulk_rng, mut one) = (Rng::new(3), Rng::new(3));
        let mut bulk = vec![0.0; 1001];
        bulk_rng.uniform_fill(&mut bulk);
        let single: Vec<f32> = (0..1001).map(|_| one.uniform()).collect();
        assert_eq!(bulk, single);
        assert_eq!(
            bulk_rng.uniform(),
            one.uniform(),
            "the stream goes on alike"
        );
    }

    #[test]
    fn mask_keeps_the_expected_fraction_and_scales_survivors() {
        let device = Device::default();
        let m = host::values(&mask(0.25, 100, 100, &mut Rng::new(0), &device));
        let kept = m.iter().filter(|v| **v > 0.0).count() as f32 / m.len() as f32;
        assert!((kept - 0.75).abs() < 0.02, "kept {kept}");
        assert!(
            m.iter()
                .all(|v| *v == 0.0 || (*v - 1.0 / 0.75).abs() < 1e-6)
        );
    }
}
