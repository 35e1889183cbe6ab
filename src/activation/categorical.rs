//! The categorical hard unit (`categorical:k`): a block's units in consecutive groups of `k`,
//! each group one k-way choice emitted as a one-hot vector. It fires the argmax of its group
//! in evaluation, samples `softmax` of the group in training (Gumbel-max), and trains through
//! a straight-through estimator, REINFORCE (score `h − softmax(a)`), or the Gumbel-softmax
//! relaxation (`model.estimator = "concrete"`; straight-through Gumbel with
//! `model.straight_through`), all per group (Jang, Gu & Poole 2016, the hard-nonlinearity
//! notes' future work).

use burn::tensor::{Tensor, activation as act};

/// `f` applied to each group of `k` consecutive units as a row of its own.
///
/// # Shapes
/// `x`: `[batch, units]` with `units` a multiple of `k` → `[batch, units]`.
pub fn per_group(x: Tensor<2>, k: usize, f: impl FnOnce(Tensor<2>) -> Tensor<2>) -> Tensor<2> {
    let [rows, units] = x.dims();
    f(x.reshape([rows * units / k, k])).reshape([rows, units])
}

/// The softmax of each group: its choice's probabilities.
pub fn probabilities(a: Tensor<2>, k: usize) -> Tensor<2> {
    per_group(a, k, |g| act::softmax(g, 1))
}

/// The one-hot of each group's argmax (ties: every maximum fires).
pub fn one_hot_argmax(y: Tensor<2>, k: usize) -> Tensor<2> {
    per_group(y, k, |g| g.clone().equal(g.max_dim(1)).float())
}

/// The gradient at the input of each group's softmax `s`, from the gradient at its output:
/// `s ⊙ (g − ⟨g, s⟩)` per group.
pub fn softmax_backward(s: &Tensor<2>, grad_out: Tensor<2>, k: usize) -> Tensor<2> {
    let [rows, units] = s.dims();
    let s = s.clone().reshape([rows * units / k, k]);
    let g = grad_out.reshape([rows * units / k, k]);
    let dot = (g.clone() * s.clone()).sum_dim(1);
    (s * (g - dot)).reshape([rows, units])
}

/// Standard Gumbel noise `−ln(−ln u)` from uniforms `u` (clamped away from 0 and 1).
pub fn gumbel(u: Tensor<2>) -> Tensor<2> {
    u.clamp(1e-7, 1.0 - 1e-7).log().neg().log().neg()
}
