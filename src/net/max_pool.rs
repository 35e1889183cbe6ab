//! Max pooling over square windows, with its explicit backward.

use burn::tensor::module::{max_pool2d_with_indices, max_pool2d_with_indices_backward};
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Int, Tensor};
use rayon::prelude::*;

use crate::host;
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

/// One output row of a 2×2 pool of stride 2 over input rows `top` and `bottom` (no NaN in
/// either): each output the largest of its four cells, the first on ties, and that cell's
/// offset from `base`, the plane offset of `top`. Every output of the row is independent, so
/// the loop runs in the widest vectors the processor has.
fn two_by_two(top: &[f32], bottom: &[f32], base: u32, (max, at): (&mut [f32], &mut [u32])) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2 (checked just above).
        return unsafe { wide::two_by_two(top, bottom, base, max, at) };
    }
    two_by_two_loop(top, bottom, base, max, at);
}

#[inline(always)]
fn two_by_two_loop(top: &[f32], bottom: &[f32], base: u32, max: &mut [f32], at: &mut [u32]) {
    let below = top.len() as u32;
    let cells = top.chunks_exact(2).zip(bottom.chunks_exact(2));
    for (q, ((max, at), (t, b))) in max.iter_mut().zip(at.iter_mut()).zip(cells).enumerate() {
        let m = t[0].max(t[1]).max(b[0].max(b[1]));
        let mut cell = if b[0] == m { below } else { below + 1 };
        cell = if t[1] == m { 1 } else { cell };
        cell = if t[0] == m { 0 } else { cell };
        *max = m;
        *at = base + 2 * q as u32 + cell;
    }
}

/// The 2×2 loop compiled for wider vectors than the target's baseline.
#[cfg(target_arch = "x86_64")]
mod wide {
    #[target_feature(enable = "avx2")]
    pub(super) fn two_by_two(
        top: &[f32],
        bottom: &[f32],
        base: u32,
        max: &mut [f32],
        at: &mut [u32],
    ) {
        super::two_by_two_loop(top, bottom, base, max, at);
    }
}

/// Where each output's maximum came from, `[batch, c, oh, ow]`.
enum Winners {
    /// The host loop's: each output's winner as an offset in its input plane (`h·w` cells).
    Host(Vec<u32>),
    /// The backend's indices.
    Backend(Box<Tensor<4, Int>>),
}

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

    /// The pool as a host loop, one plane per task: each output the largest cell of its
    /// window and where it was (the first such cell; a NaN wins, so it propagates).
    ///
    /// # Shapes
    /// `x`: `[batch, c·h·w]` row-major → `[batch, c·oh·ow]` row-major, winners as many.
    fn forward_host(&self, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
        let ([_, h, w], [_, oh, ow]) = (self.geometry.input, self.output);
        let planes = x.len() / (h * w);
        let mut y = vec![0.0; planes * oh * ow];
        let mut winners = vec![0_u32; y.len()];
        (y.par_chunks_mut(oh * ow), winners.par_chunks_mut(oh * ow))
            .into_par_iter()
            .enumerate()
            .for_each(|(index, (y, winners))| {
                let plane = &x[index * h * w..][..h * w];
                let stride = self.geometry.stride;
                let pairs = self.geometry.size == 2 && stride == 2;
                for r in 0..oh {
                    let rows = || &plane[2 * r * w..][..2 * w];
                    if pairs && !has_nan(rows()) {
                        let (top, bottom) = rows().split_at(w);
                        let at = (&mut y[r * ow..][..ow], &mut winners[r * ow..][..ow]);
                        two_by_two(top, bottom, (2 * r * w) as u32, at);
                        continue;
                    }
                    for q in 0..ow {
                        let first = (r * w + q) * stride;
                        (y[r * ow + q], winners[r * ow + q]) = self.window_max(plane, first);
                    }
                }
            });
        (y, winners)
    }

    /// The largest cell of the window whose top-left cell is `first` in `plane`, and its
    /// offset in the plane. Without branches on the data (random data made them mispredict
    /// half the time): the maximum first, then a bit per cell that equals it (or is NaN), and
    /// the first set bit.
    fn window_max(&self, plane: &[f32], first: usize) -> (f32, u32) {
        let (size, w) = (self.geometry.size, self.geometry.input[2]);
        if size * size > 64 {
            return self.window_max_wide(plane, first);
        }
        let (mut max, mut nans) = (f32::NEG_INFINITY, 0_u64);
        for i in 0..size {
            for (j, &v) in plane[first + i * w..][..size].iter().enumerate() {
                max = max.max(v);
                nans |= u64::from(v.is_nan()) << (i * size + j);
            }
        }
        let mut equal = 0_u64;
        for i in 0..size {
            for (j, &v) in plane[first + i * w..][..size].iter().enumerate() {
                equal |= u64::from(v == max) << (i * size + j);
            }
        }
        let (max, mask) = if nans != 0 {
            (f32::NAN, nans)
        } else {
            (max, equal)
        };
        let cell = mask.trailing_zeros() as usize;
        (max, (first + cell / size * w + cell % size) as u32)
    }

    /// [`Self::window_max`] for windows of more than 64 cells, cell by cell.
    fn window_max_wide(&self, plane: &[f32], first: usize) -> (f32, u32) {
        let (size, w) = (self.geometry.size, self.geometry.input[2]);
        let (mut max, mut at) = (plane[first], first);
        for i in 0..size {
            let row = first + i * w;
            for (j, &v) in plane[row..row + size].iter().enumerate() {
                if v > max || (v.is_nan() && !max.is_nan()) {
                    (max, at) = (v, row + j);
                }
            }
        }
        (max, at as u32)
    }

    /// Each output's gradient added to the cell that won its window.
    ///
    /// # Shapes
    /// `grad`: `[batch, c·oh·ow]`, `winners` as many → `[batch, c·h·w]`.
    fn backward_host(&self, grad: &[f32], winners: &[u32]) -> Vec<f32> {
        let ([_, h, w], [_, oh, ow]) = (self.geometry.input, self.output);
        let planes = grad.len() / (oh * ow);
        let mut input = vec![0.0; planes * h * w];
        input
            .par_chunks_mut(h * w)
            .enumerate()
            .for_each(|(index, plane)| {
                let range = index * oh * ow..(index + 1) * oh * ow;
                for (&at, &g) in winners[range.clone()].iter().zip(&grad[range]) {
                    plane[at as usize] += g;
                }
            });
        input
    }
}

impl Layer for MaxPool {
    fn name(&self) -> &'static str {
        "max_pool"
    }

    fn draws_in_training(&self) -> bool {
        false
    }

    fn forward(&self, x: Tensor<2>, _mode: &mut Mode<'_>) -> LayerCache {
        if host::on_host(&x) && x.dims()[0] > 0 {
            let (y, winners) = host::read(&x, |x| self.forward_host(x));
            let [c, oh, ow] = self.output;
            let y = host::matrix(y, x.dims()[0], c * oh * ow, &x.device());
            return LayerCache::new(x, y).with_state(Winners::Host(winners));
        }
        let (y, winners) = max_pool2d_with_indices(self.volumes(x.clone()), self.options());
        let y = flat(y);
        LayerCache::new(x, y).with_state(Winners::Backend(Box::new(winners)))
    }

    fn backward(&self, cache: &LayerCache, grad_output: Tensor<2>) -> (LayerGrads, Tensor<2>) {
        let winners = cache
            .state::<Winners>()
            .expect("a max-pool cache keeps its winners");
        let winners = match winners {
            Winners::Host(winners) => {
                let grad = host::read(&grad_output, |g| self.backward_host(g, winners));
                let [batch, features] = cache.input.dims();
                let device = grad_output.device();
                return (Vec::new(), host::matrix(grad, batch, features, &device));
            }
            Winners::Backend(winners) => winners,
        };
        let g = self.geometry;
        let grad = max_pool2d_with_indices_backward(
            self.volumes(cache.input.clone()),
            [g.size; 2],
            [g.stride; 2],
            [0, 0],
            [1, 1],
            false,
            volumes(grad_output, self.output),
            (**winners).clone(),
        );
        (Vec::new(), flat(grad))
    }
}

/// Whether `values` holds a NaN: every value looked at, with no early exit, so the loop runs
/// in vectors (the early-exit `any` was a scalar loop, as long as the pooling itself).
fn has_nan(values: &[f32]) -> bool {
    values.iter().fold(false, |nan, v| nan | v.is_nan())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(size: usize, stride: usize) -> MaxPool {
        MaxPool::new(PoolGeometry {
            input: [1, 4, 4],
            size,
            stride,
        })
        .unwrap()
    }

    #[test]
    fn ties_go_to_the_first_cell_and_a_nan_propagates() {
        #[rustfmt::skip]
        let x = [
            1.0, 1.0,      2.0, 0.0,
            1.0, 0.0,      2.0, 2.0,
            -1.0, f32::NAN, 3.0, 4.0,
            -2.0, -1.0,     5.0, 4.0,
        ];
        let (y, winners) = pool(2, 2).forward_host(&x);
        assert_eq!(&winners, &[0, 2, 9, 14]);
        assert_eq!(&y[..2], &[1.0, 2.0]);
        assert!(y[2].is_nan());
        assert_eq!(y[3], 5.0);
        // The same through the cell-by-cell loop of windows wider than the mask.
        let wide = MaxPool::new(PoolGeometry {
            input: [1, 9, 9],
            size: 9,
            stride: 1,
        })
        .unwrap();
        let mut x = vec![0.0; 81];
        (x[40], x[70]) = (3.0, 3.0);
        assert_eq!(wide.forward_host(&x), (vec![3.0], vec![40]));
        x[75] = f32::NAN;
        let (y, winners) = wide.forward_host(&x);
        assert!(y[0].is_nan() && winners == [75]);
    }

    #[test]
    fn the_gradient_goes_to_each_winner_and_adds_where_windows_share_it() {
        let overlapping = pool(2, 1);
        let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let (_, winners) = overlapping.forward_host(&x);
        // Each window's largest cell is its bottom-right one.
        assert_eq!(&winners, &[5, 6, 7, 9, 10, 11, 13, 14, 15]);
        let grad = overlapping.backward_host(&[1.0; 9], &winners);
        assert_eq!(grad.iter().sum::<f32>(), 9.0);
        assert_eq!(grad[5], 1.0);
        let shared = MaxPool::new(PoolGeometry {
            input: [1, 3, 3],
            size: 2,
            stride: 1,
        })
        .unwrap();
        let mut x = vec![0.0; 9];
        x[4] = 7.0;
        let (_, winners) = shared.forward_host(&x);
        assert_eq!(&winners, &[4, 4, 4, 4]);
        assert_eq!(
            shared.backward_host(&[1.0, 2.0, 3.0, 4.0], &winners)[4],
            10.0
        );
    }
}
