//! Row-wise L2 normalisation, `y = h / ‖h‖`, with its explicit backward.

use burn::tensor::Tensor;

use crate::net::layer::{Layer, LayerCache, LayerGrads, Mode};

/// Row-wise L2 normalisation of a block's output (forward-forward's layer normalisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Normalize;

/// The row norms of the input, `[batch, 1]`.
struct Norms(Tensor<2>);

impl Layer for Normalize {
    fn name(&self) -> &'static str {
        "normalize"
    }

    fn draws_in_training(&self) -> bool {
        false
    }

    fn forward(&self, x: Tensor<2>, _mode: &mut Mode<'_>) -> LayerCache {
        let (y, norms) = forward(x.clone());
        LayerCache::new(x, y).with_state(Norms(norms))
    }

    fn backward(&self, cache: &LayerCache, grad_output: Tensor<2>) -> (LayerGrads, Tensor<2>) {
        let Norms(norms) = cache.state::<Norms>().expect("normalize keeps its norms");
        (Vec::new(), backward(&cache.output, norms, grad_output))
    }
}

const EPSILON: f32 = 1e-12;

/// Normalises each row; returns the output and the row norms.
///
/// # Shapes
/// `h`: `[batch, units]` → (`[batch, units]`, norms `[batch, 1]`).
pub fn forward(h: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let norms = h.clone().square().sum_dim(1).sqrt().clamp_min(EPSILON);
    (h / norms.clone(), norms)
}

/// The gradient at the input: `(δy − y·⟨y, δy⟩) / ‖h‖`.
///
/// # Shapes
/// `y`, `grad_y`: `[batch, units]`, `norms`: `[batch, 1]` → `[batch, units]`.
pub fn backward(y: &Tensor<2>, norms: &Tensor<2>, grad_y: Tensor<2>) -> Tensor<2> {
    let projection = (y.clone() * grad_y.clone()).sum_dim(1);
    (grad_y - y.clone() * projection) / norms.clone()
}
