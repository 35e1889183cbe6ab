//! Row-wise L2 normalisation, `y = h / ‖h‖`, with its explicit backward.

use burn::tensor::Tensor;

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
