//! Stride-1 convolutions computed straight from the input planes on the host, with no patch
//! matrix: the forward `z[b, o, r, q] = bias[o] + Σ_{c,i,j} W[o, c, i, j] · x̃[b, c, r + i,
//! q + j]` and the weight gradient `∂W[o, c, i, j] = Σ_{b,r,q} δ[b, o, r, q] · x̃[b, c, r + i,
//! q + j]`, where `x̃` is the input with its zero padding written around each plane.
//!
//! Unfolding LeNet-5's first convolution wrote a `[25, batch·784]` patch matrix (10 MB at batch
//! 128) that the forward product and the weight gradient then each read back: a third of a
//! local-loss step went to those passes over memory (`unfold_row` 16 %, the skinny product
//! 17 %, the weight gradient's dot products 15 %). Here each output row is a run of up to 16
//! lanes of an AVX-512 register (two runs at once), every kernel tap one load of the padded
//! row shifted by the tap's offset, and the arithmetic the same multiply-adds; the padded input
//! (about the input's size) is all the backward keeps. Strided convolutions, and processors
//! without AVX-512, keep the unfolded products (`unfold.rs`).
//!
//! Every sum runs in an order fixed by the shapes alone (taps in PyTorch's kernel order for
//! the forward; for the weight gradient, lanes per block of [`BLOCK`] samples, blocks added in
//! order), so results do not depend on the number of threads.

use rayon::prelude::*;

use crate::net::shape::{ConvGeometry, Volume};

/// Lanes of one AVX-512 register of f32.
const LANES: usize = 16;

/// Samples per block of the weight gradient: its partial sums are added in block order.
const BLOCK: usize = 8;

/// Whether this CPU runs the direct path (AVX-512F and FMA).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether a convolution of geometry `g` goes the direct way: stride 1, on a CPU that has
/// AVX-512.
pub fn applies(g: &ConvGeometry) -> bool {
    g.stride == 1 && available()
}

/// The batch's input planes with `g.padding` zeros written around each, then one register of
/// zeros (so that every load of a run stays inside the buffer).
///
/// # Shapes
/// `x`: `[batch, in·h·w]` → `[batch·in·(h + 2p)·(w + 2p) + 16]`, row-major.
pub fn pad(x: &[f32], batch: usize, g: &ConvGeometry) -> Vec<f32> {
    let ([c, h, w], p) = (g.input, g.padding);
    let (hp, wp) = (h + 2 * p, w + 2 * p);
    let mut padded = vec![0.0; batch * c * hp * wp + LANES];
    if h * w == 0 {
        return padded;
    }
    for (plane, out) in x.chunks_exact(h * w).zip(padded.chunks_exact_mut(hp * wp)) {
        for (row, out) in plane
            .chunks_exact(w)
            .zip(out[p * wp..].chunks_exact_mut(wp))
        {
            out[p..p + w].copy_from_slice(row);
        }
    }
    padded
}

/// Where the runs and taps of one geometry read and write.
struct Plan {
    /// Each tap `(c, i, j)` (PyTorch's order) as an offset into a sample's padded planes.
    taps: Vec<usize>,
    /// The output rows cut into runs of at most 16 lanes.
    runs: Vec<Run>,
    /// Floats per sample of the padded input, `in·(h + 2p)·(w + 2p)`.
    sample: usize,
    /// Output channels.
    channels: usize,
    /// Output positions per channel, `oh·ow`.
    positions: usize,
}

/// Up to 16 adjacent output positions of one row.
#[derive(Clone, Copy)]
struct Run {
    /// Offset of the run's first position in a padded plane (tap `(0, 0, 0)`).
    input: usize,
    /// Offset of its first position in an output plane.
    output: usize,
    /// Its lanes, as a mask of the low bits.
    mask: u16,
}

impl Plan {
    fn new(g: &ConvGeometry, out: Volume) -> Self {
        let ([c, h, w], k, p) = (g.input, g.kernel, g.padding);
        let (hp, wp) = (h + 2 * p, w + 2 * p);
        let [channels, oh, ow] = out;
        let taps = (0..c)
            .flat_map(|c| (0..k).flat_map(move |i| (0..k).map(move |j| (c, i, j))))
            .map(|(c, i, j)| (c * hp + i) * wp + j)
            .collect();
        let runs = (0..oh)
            .flat_map(|r| (0..ow).step_by(LANES).map(move |q| (r, q)))
            .map(|(r, q)| Run {
                input: r * wp + q,
                output: r * ow + q,
                mask: (((1u32 << (ow - q).min(LANES)) - 1) & 0xffff) as u16,
            })
            .collect();
        Self {
            taps,
            runs,
            sample: c * hp * wp,
            channels,
            positions: oh * ow,
        }
    }
}

/// The forward `W ⋆ x + b` from the padded input ([`pad`]); the caller has checked
/// [`applies`].
///
/// # Shapes
/// `padded`: `[batch·in·(h+2p)·(w+2p) + 16]`, `weight`: `[out, in·k·k]`, `bias`: `[out]` →
/// `[batch, out·oh·ow]`.
pub fn forward(
    padded: &[f32],
    batch: usize,
    g: &ConvGeometry,
    out: Volume,
    weight: &[f32],
    bias: &[f32],
) -> Vec<f32> {
    let plan = Plan::new(g, out);
    let mut z = vec![0.0; batch * plan.channels * plan.positions];
    if z.is_empty() {
        return z;
    }
    // The kernels tap-major, `[in·k·k, out]`: a tile's weights for one tap side by side.
    let taps = plan.taps.len();
    let by_tap: Vec<f32> = (0..taps)
        .flat_map(|t| (0..plan.channels).map(move |o| weight[o * taps + t]))
        .collect();
    z.par_chunks_mut(plan.channels * plan.positions)
        .enumerate()
        .for_each(|(b, z)| {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `applies` (the caller's check) saw AVX-512F and FMA.
            unsafe {
                wide::forward_sample(&plan, &padded[b * plan.sample..], &by_tap, bias, z)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let _ = (b, z, &by_tap);
        });
    z
}

/// The weight and bias gradients from the padded input ([`pad`]) and the output gradient;
/// the caller has checked [`applies`].
///
/// # Shapes
/// `padded`: `[batch·in·(h+2p)·(w+2p) + 16]`, `grad`: `[batch, out·oh·ow]` → `([out, in·k·k],
/// [out])`.
pub fn weight_grad(
    padded: &[f32],
    batch: usize,
    g: &ConvGeometry,
    out: Volume,
    grad: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let plan = Plan::new(g, out);
    let (channels, taps) = (plan.channels, plan.taps.len());
    let per_sample = channels * plan.positions;
    let blocks: Vec<(Vec<f32>, Vec<f32>)> = (0..batch.div_ceil(BLOCK))
        .into_par_iter()
        .map(|block| {
            let (first, samples) = (block * BLOCK, BLOCK.min(batch - block * BLOCK));
            let grad = &grad[first * per_sample..(first + samples) * per_sample];
            let mut lanes = vec![[0.0f32; LANES]; channels * taps];
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `applies` (the caller's check) saw AVX-512F and FMA.
            unsafe {
                wide::weight_block(
                    &plan,
                    &padded[first * plan.sample..],
                    grad,
                    samples,
                    &mut lanes,
                )
            };
            let weight = lanes.iter().map(|l| l.iter().sum::<f32>()).collect();
            let mut bias = vec![0.0f32; channels];
            for sample in grad.chunks_exact(per_sample) {
                for (sum, plane) in bias.iter_mut().zip(sample.chunks_exact(plan.positions)) {
                    *sum += plane.iter().sum::<f32>();
                }
            }
            (weight, bias)
        })
        .collect();
    let mut weight = vec![0.0f32; channels * taps];
    let mut bias = vec![0.0f32; channels];
    for (w, b) in &blocks {
        weight.iter_mut().zip(w).for_each(|(sum, v)| *sum += v);
        bias.iter_mut().zip(b).for_each(|(sum, v)| *sum += v);
    }
    (weight, bias)
}

#[cfg(target_arch = "x86_64")]
mod wide {
    use std::arch::x86_64::{
        __m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps,
        _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
    };

    use super::{LANES, Plan, Run};

    /// The lanes of `run` read from `values` at `at`, zero where the run has none.
    ///
    /// # Safety
    /// `at` lies inside `values`; lanes past its end are masked off (loads of masked lanes
    /// do not touch memory).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn load(values: &[f32], at: usize, run: &Run) -> __m512 {
        debug_assert!(at < values.len());
        // SAFETY: `at` is inside `values` (the caller's promise), masked lanes are not read.
        unsafe { _mm512_maskz_loadu_ps(run.mask, values.as_ptr().add(at)) }
    }

    /// One sample's output planes: tiles of up to 8 output channels over pairs of runs.
    ///
    /// # Safety
    /// The CPU has AVX-512F and FMA; `x` starts at the sample's padded planes and runs to the
    /// end of the padded batch (its trailing register of zeros included).
    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn forward_sample(
        plan: &Plan,
        x: &[f32],
        by_tap: &[f32],
        bias: &[f32],
        z: &mut [f32],
    ) {
        let mut o = 0;
        while o < plan.channels {
            let width = match plan.channels - o {
                8.. => 8,
                4.. => 4,
                2.. => 2,
                _ => 1,
            };
            for runs in plan.runs.chunks(2) {
                let at = (o, runs, x, by_tap, bias);
                match (width, runs.len()) {
                    (8, 2) => forward_tile::<8, 2>(plan, at, z),
                    (8, _) => forward_tile::<8, 1>(plan, at, z),
                    (4, 2) => forward_tile::<4, 2>(plan, at, z),
                    (4, _) => forward_tile::<4, 1>(plan, at, z),
                    (2, 2) => forward_tile::<2, 2>(plan, at, z),
                    (2, _) => forward_tile::<2, 1>(plan, at, z),
                    (_, 2) => forward_tile::<1, 2>(plan, at, z),
                    (_, _) => forward_tile::<1, 1>(plan, at, z),
                }
            }
            o += width;
        }
    }

    /// What a forward tile reads: its first output channel, its runs, the sample's padded
    /// planes, the tap-major kernels and the bias.
    type ForwardAt<'a> = (usize, &'a [Run], &'a [f32], &'a [f32], &'a [f32]);

    /// Output channels `o..o + O` over `V` runs: `O·V` registers summed over every tap.
    #[target_feature(enable = "avx512f,fma")]
    #[inline]
    fn forward_tile<const O: usize, const V: usize>(
        plan: &Plan,
        (o, runs, x, by_tap, bias): ForwardAt<'_>,
        z: &mut [f32],
    ) {
        let last = plan.taps.last().copied().unwrap_or(0);
        assert!(runs.iter().all(|run| run.input + last < x.len()));
        let mut acc: [[__m512; V]; O] = std::array::from_fn(|s| [_mm512_set1_ps(bias[o + s]); V]);
        for (t, &tap) in plan.taps.iter().enumerate() {
            // SAFETY: every run's last tap starts inside `x` (asserted above).
            let xs: [__m512; V] =
                std::array::from_fn(|v| unsafe { load(x, runs[v].input + tap, &runs[v]) });
            let weights = &by_tap[t * plan.channels + o..][..O];
            for (row, &w) in acc.iter_mut().zip(weights) {
                let w = _mm512_set1_ps(w);
                for (sum, x) in row.iter_mut().zip(&xs) {
                    *sum = _mm512_fmadd_ps(*x, w, *sum);
                }
            }
        }
        for (s, row) in acc.iter().enumerate() {
            let plane = &mut z[(o + s) * plan.positions..][..plan.positions];
            for (run, sum) in runs.iter().zip(row) {
                let lanes = run.mask.count_ones() as usize;
                let cells = &mut plane[run.output..run.output + lanes];
                // SAFETY: the mask's lanes are the `lanes` cells of `cells`.
                unsafe { _mm512_mask_storeu_ps(cells.as_mut_ptr(), run.mask, *sum) };
            }
        }
    }

    /// The weight gradient's lane sums of one block of samples, added to `lanes`
    /// (`[out·taps]`): tiles of up to 4 output channels × 6 taps over every run.
    ///
    /// # Safety
    /// The CPU has AVX-512F and FMA; `x` starts at the block's first padded sample and runs to
    /// the end of the padded batch; `grad` is the block's `[samples, out·oh·ow]`.
    #[target_feature(enable = "avx512f,fma")]
    pub(super) unsafe fn weight_block(
        plan: &Plan,
        x: &[f32],
        grad: &[f32],
        samples: usize,
        lanes: &mut [[f32; LANES]],
    ) {
        let taps = plan.taps.len();
        let mut o = 0;
        while o < plan.channels {
            let width = match plan.channels - o {
                4.. => 4,
                2.. => 2,
                _ => 1,
            };
            let mut t = 0;
            while t < taps {
                let at = (o, t, samples, x, grad);
                let depth = if taps - t >= 6 { 6 } else { 1 };
                match (width, depth) {
                    (4, 6) => weight_tile::<4, 6>(plan, at, lanes),
                    (4, _) => weight_tile::<4, 1>(plan, at, lanes),
                    (2, 6) => weight_tile::<2, 6>(plan, at, lanes),
                    (2, _) => weight_tile::<2, 1>(plan, at, lanes),
                    (_, 6) => weight_tile::<1, 6>(plan, at, lanes),
                    (_, _) => weight_tile::<1, 1>(plan, at, lanes),
                }
                t += depth;
            }
            o += width;
        }
    }

    /// What a weight tile reads: its first output channel and tap, the block's samples, its
    /// padded planes and its output gradient.
    type WeightAt<'a> = (usize, usize, usize, &'a [f32], &'a [f32]);

    /// Output channels `o..o + O` × taps `t..t + T`: `O·T` registers summed over every run
    /// of every sample of the block.
    #[target_feature(enable = "avx512f,fma")]
    #[inline]
    fn weight_tile<const O: usize, const T: usize>(
        plan: &Plan,
        (o, t, samples, x, grad): WeightAt<'_>,
        lanes: &mut [[f32; LANES]],
    ) {
        let taps = plan.taps.len();
        let offsets: [usize; T] = std::array::from_fn(|u| plan.taps[t + u]);
        let last = offsets[T - 1];
        let reach = plan.runs.iter().map(|run| run.input).max().unwrap_or(0) + last;
        // The last sample's slice of `x` is the shortest.
        assert!(samples == 0 || (samples - 1) * plan.sample + reach < x.len());
        let mut acc = [[_mm512_setzero_ps(); T]; O];
        for sample in 0..samples {
            let x = &x[sample * plan.sample..];
            let grad = &grad[sample * plan.channels * plan.positions..];
            for run in &plan.runs {
                // SAFETY: each run starts inside its plane of `grad`; its last tap starts inside
                // every sample's `x` (asserted above).
                let d: [__m512; O] = std::array::from_fn(|s| unsafe {
                    load(grad, (o + s) * plan.positions + run.output, run)
                });
                for (u, offset) in offsets.iter().enumerate() {
                    // SAFETY: as above.
                    let xv = unsafe { load(x, run.input + offset, run) };
                    for (row, d) in acc.iter_mut().zip(&d) {
                        row[u] = _mm512_fmadd_ps(*d, xv, row[u]);
                    }
                }
            }
        }
        for (s, row) in acc.iter().enumerate() {
            for (u, sum) in row.iter().enumerate() {
                let cell = &mut lanes[(o + s) * taps + t + u];
                // SAFETY: 16 f32 read from and written to a 16-lane array.
                unsafe {
                    let before = _mm512_loadu_ps(cell.as_ptr());
                    _mm512_storeu_ps(cell.as_mut_ptr(), _mm512_add_ps(before, *sum));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::unfold;
    use crate::rng::Rng;

    fn geometry(input: Volume, channels: usize, kernel: usize, padding: usize) -> ConvGeometry {
        ConvGeometry {
            input,
            channels,
            kernel,
            stride: 1,
            padding,
        }
    }

    /// Forward and weight gradient through the patch matrix (`unfold.rs`), in f64.
    fn by_patches(
        x: &[f32],
        grad: &[f32],
        weight: &[f32],
        batch: usize,
        g: &ConvGeometry,
    ) -> (Vec<f64>, Vec<f64>) {
        let out = g.output().unwrap();
        let [channels, oh, ow] = out;
        let positions = oh * ow;
        let taps = weight.len() / channels;
        let patches = unfold::unfold(x, batch, g, out);
        let width = batch * positions;
        let mut z = vec![0.0f64; batch * channels * positions];
        let mut dw = vec![0.0f64; channels * taps];
        for o in 0..channels {
            for t in 0..taps {
                for col in 0..width {
                    let (b, pos) = (col / positions, col % positions);
                    let p = f64::from(patches[t * width + col]);
                    let at = (b * channels + o) * positions + pos;
                    z[at] += f64::from(weight[o * taps + t]) * p;
                    dw[o * taps + t] += f64::from(grad[at]) * p;
                }
            }
        }
        (z, dw)
    }

    #[test]
    fn direct_convolution_agrees_with_the_patch_products() {
        if !available() {
            return; // the unfolded products run instead, and are checked in unfold.rs
        }
        let mut rng = Rng::new(3);
        // LeNet's two shapes (runs of 16 + 12 lanes, and of 10), a width of exactly 16, a
        // one-lane output, output channels that take every tile width, a ragged last block.
        for (g, batch) in [
            (geometry([1, 28, 28], 6, 5, 2), 3),
            (geometry([6, 14, 14], 16, 5, 0), 2),
            (geometry([2, 6, 16], 15, 3, 1), 9),
            (geometry([3, 3, 3], 7, 3, 0), 17),
            (geometry([2, 5, 40], 3, 2, 1), 4),
        ] {
            let out = g.output().unwrap();
            let x = rng.normal_vec(batch * g.input.iter().product::<usize>(), 0.0, 1.0);
            let grad = rng.normal_vec(batch * out.iter().product::<usize>(), 0.0, 1.0);
            let taps = g.input[0] * g.kernel * g.kernel;
            let weight = rng.normal_vec(g.channels * taps, 0.0, 1.0);
            let bias = rng.normal_vec(g.channels, 0.0, 1.0);
            let padded = pad(&x, batch, &g);
            let z = forward(&padded, batch, &g, out, &weight, &bias);
            let (dw, db) = weight_grad(&padded, batch, &g, out, &grad);
            let (want_z, want_dw) = by_patches(&x, &grad, &weight, batch, &g);
            let positions = out[1] * out[2];
            for (k, (got, want)) in z.iter().zip(&want_z).enumerate() {
                let want = want + f64::from(bias[k / positions % g.channels]);
                assert!((f64::from(*got) - want).abs() < 1e-4, "{g}: z[{k}]");
            }
            assert_eq!(z.len(), want_z.len());
            for (k, (got, want)) in dw.iter().zip(&want_dw).enumerate() {
                let bound = 1e-5 * (batch * positions) as f64;
                assert!((f64::from(*got) - want).abs() < bound, "{g}: ∂W[{k}]");
            }
            for (o, got) in db.iter().enumerate() {
                let want: f64 = (0..batch)
                    .flat_map(|b| (0..positions).map(move |p| (b, p)))
                    .map(|(b, p)| f64::from(grad[(b * g.channels + o) * positions + p]))
                    .sum();
                assert!((f64::from(*got) - want).abs() < 1e-3, "{g}: ∂b[{o}]");
            }
        }
    }

    #[test]
    fn padding_surrounds_each_plane_with_zeros() {
        let g = geometry([2, 2, 3], 1, 3, 1);
        let x: Vec<f32> = (1..=12).map(|v| v as f32).collect();
        let padded = pad(&x, 1, &g);
        // 2 planes of 4×5, then one register of zeros.
        assert_eq!(padded.len(), 2 * 20 + 16);
        let plane = &padded[20..40]; // channel 1
        assert_eq!(plane[..6], [0.0; 6]);
        assert_eq!(plane[6..9], [7.0, 8.0, 9.0]);
        assert_eq!(plane[9..11], [0.0; 2]);
        assert_eq!(plane[11..14], [10.0, 11.0, 12.0]);
        assert_eq!(plane[14..], [0.0; 6]);
        assert!(padded[40..].iter().all(|v| *v == 0.0));
    }
}
