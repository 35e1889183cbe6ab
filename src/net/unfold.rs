//! Convolutions as matrix products on the host: a volume's patches unfolded into columns
//! (im2col), columns folded back into a volume (col2im, the input gradient), and the
//! reorderings between a batch of channel-major volumes and one row per channel.
//!
//! With the patches of a whole batch side by side, a convolution's forward, weight gradient
//! and input gradient are each one product on the direct `gemm` path (`src/product.rs`):
//! `Z = W·P`, `∂W = δ·Pᵀ`, `∂P = Fᵀ·δ`, where `P` is `[in·kh·kw, batch·oh·ow]` and `δ`, `Z`
//! are `[out, batch·oh·ow]`. Loops over planes and kernel taps run on Rayon's pool.

use std::mem::MaybeUninit;
use std::ops::Range;

use rayon::prelude::*;

use crate::net::shape::{ConvGeometry, Volume};

/// The output positions `0..out` along one axis whose input cell `o·stride + offset −
/// padding` lies inside `0..length`.
fn inside(out: usize, length: usize, offset: usize, stride: usize, padding: usize) -> Range<usize> {
    let low = padding.saturating_sub(offset).div_ceil(stride);
    let high = (length + padding)
        .saturating_sub(offset)
        .div_ceil(stride)
        .min(out);
    low..high.max(low)
}

/// The patches of a batch of volumes, one row per kernel tap `(channel, i, j)` (PyTorch's
/// kernel order) and one column per output position `(sample, oh, ow)`:
/// `P[(c, i, j), (b, r, q)] = x[b, c, r·s + i − p, q·s + j − p]`, zero in the padding.
///
/// # Shapes
/// `x`: `[batch, in·h·w]` row-major → `[in·kh·kw, batch·oh·ow]` row-major.
pub fn unfold(x: &[f32], batch: usize, g: &ConvGeometry, out: Volume) -> Vec<f32> {
    let (c, k) = (g.input[0], g.kernel);
    let width = batch * out[1] * out[2];
    let len = c * k * k * width;
    let mut patches = Vec::with_capacity(len);
    if width == 0 {
        patches.resize(len, 0.0);
        return patches;
    }
    // Every entry is written once, padding included: no zeroing pass first.
    let taps = Taps {
        x,
        geometry: g,
        out,
    };
    patches.spare_capacity_mut()[..len]
        .par_chunks_mut(width)
        .enumerate()
        .for_each(|(tap, row)| taps.row(tap, row));
    // SAFETY: the loop above wrote all `len` entries (each row of `ow` cells is written
    // either whole with zeros or as zeros before `cols`, the input over `cols`, zeros after).
    unsafe { patches.set_len(len) };
    patches
}

/// What unfolding one kernel tap's row of patches reads.
struct Taps<'a> {
    x: &'a [f32],
    geometry: &'a ConvGeometry,
    out: Volume,
}

impl Taps<'_> {
    /// Row `tap` of the patches (every sample's positions), in the widest vectors the
    /// processor has: its runs of cells are short, and wider vectors copy them in fewer steps.
    fn row(&self, tap: usize, row: &mut [MaybeUninit<f32>]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2 (checked just above).
            return unsafe { wide::unfold_row(self, tap, row) };
        }
        self.row_loop(tap, row);
    }

    #[inline(always)]
    fn row_loop(&self, tap: usize, row: &mut [MaybeUninit<f32>]) {
        let g = self.geometry;
        let ([c, h, w], k, s, p) = (g.input, g.kernel, g.stride, g.padding);
        let [_, oh, ow] = self.out;
        let (channel, i, j) = (tap / (k * k), tap / k % k, tap % k);
        let (rows, cols) = (inside(oh, h, i, s, p), inside(ow, w, j, s, p));
        for (b, out) in row.chunks_exact_mut(oh * ow).enumerate() {
            let plane = &self.x[(b * c + channel) * h * w..][..h * w];
            for (r, out) in out.chunks_exact_mut(ow).enumerate() {
                if !rows.contains(&r) {
                    out.iter_mut().for_each(|v| _ = v.write(0.0));
                    continue;
                }
                let line = &plane[(r * s + i - p) * w..][..w];
                out[..cols.start].iter_mut().for_each(|v| _ = v.write(0.0));
                out[cols.end..].iter_mut().for_each(|v| _ = v.write(0.0));
                let out = &mut out[cols.clone()];
                if s == 1 {
                    // A contiguous run: one vectorised copy (a call to memcpy per short run
                    // cost more than the copy).
                    let start = cols.start + j - p;
                    for (v, x) in out.iter_mut().zip(&line[start..start + cols.len()]) {
                        v.write(*x);
                    }
                } else {
                    for (v, q) in out.iter_mut().zip(cols.clone()) {
                        v.write(line[q * s + j - p]);
                    }
                }
            }
        }
    }
}

/// The input gradient from the patches' gradient: each patch entry added back to the input
/// cell it was read from (the adjoint of [`unfold`]), taps summed kernel column by column.
///
/// Folded channel by channel, a block of [`FOLD_SAMPLES`] samples at a time, into a
/// channel-major volume reordered to sample-major at the end: each tap's row of the patches
/// is then read as one sequential run per block (read plane by plane, the 150 taps of a 6×5×5
/// kernel were 150 interleaved streams through a matrix larger than the cache).
///
/// # Shapes
/// `patches`: `[in·kh·kw, batch·oh·ow]` → `[batch, in·h·w]`, both row-major.
pub fn fold(patches: &[f32], batch: usize, g: &ConvGeometry, out: Volume) -> Vec<f32> {
    let [c, h, w] = g.input;
    if batch * c * h * w == 0 {
        return vec![0.0; batch * c * h * w];
    }
    let fold = Fold {
        patches,
        batch,
        geometry: g,
        out,
    };
    let mut by_channel = vec![0.0; c * batch * h * w];
    by_channel
        .par_chunks_mut(batch * h * w)
        .enumerate()
        .for_each(|(channel, planes)| {
            planes
                .par_chunks_mut(FOLD_SAMPLES * h * w)
                .enumerate()
                .for_each(|(block, planes)| fold.block(channel, block * FOLD_SAMPLES, planes));
        });
    sample_rows(&by_channel, batch, &vec![0.0; c], h * w)
}

/// Samples folded together: enough for a tap's run to stream, few enough that their planes
/// stay in the cache and two cores share a channel's work.
const FOLD_SAMPLES: usize = 16;

/// What folding reads.
struct Fold<'a> {
    patches: &'a [f32],
    batch: usize,
    geometry: &'a ConvGeometry,
    out: Volume,
}

impl Fold<'_> {
    /// Channel `channel`'s planes of samples `first..`, in the widest vectors the processor
    /// has: their rows are short, and wider vectors take them in fewer steps.
    fn block(&self, channel: usize, first: usize, planes: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2 (checked just above).
            return unsafe { wide::fold_block(self, channel, first, planes) };
        }
        self.block_loop(channel, first, planes);
    }

    #[inline(always)]
    fn block_loop(&self, channel: usize, first: usize, planes: &mut [f32]) {
        let g = self.geometry;
        let ([_, h, w], k, s, p) = (g.input, g.kernel, g.stride, g.padding);
        let [_, oh, ow] = self.out;
        let positions = oh * ow;
        let width = self.batch * positions;
        for j in 0..k {
            let cols = inside(ow, w, j, s, p);
            for i in 0..k {
                let rows = inside(oh, h, i, s, p);
                let tap = &self.patches[((channel * k + i) * k + j) * width + first * positions..];
                for (plane, tap) in planes.chunks_exact_mut(h * w).zip(tap.chunks(positions)) {
                    for r in rows.clone() {
                        let line = &mut plane[(r * s + i - p) * w..][..w];
                        let grad = &tap[r * ow..][..ow];
                        if s == 1 {
                            let start = cols.start + j - p;
                            let line = &mut line[start..start + cols.len()];
                            for (cell, grad) in line.iter_mut().zip(&grad[cols.clone()]) {
                                *cell += grad;
                            }
                        } else {
                            for q in cols.clone() {
                                line[q * s + j - p] += grad[q];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The loops compiled for wider vectors than the target's baseline.
#[cfg(target_arch = "x86_64")]
mod wide {
    use std::mem::MaybeUninit;

    #[target_feature(enable = "avx2")]
    pub(super) fn unfold_row(taps: &super::Taps<'_>, tap: usize, row: &mut [MaybeUninit<f32>]) {
        taps.row_loop(tap, row);
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn fold_block(
        fold: &super::Fold<'_>,
        channel: usize,
        first: usize,
        planes: &mut [f32],
    ) {
        fold.block_loop(channel, first, planes);
    }
}

/// A batch of channel-major volumes as one row per channel.
///
/// # Shapes
/// `z`: `[batch, channels·positions]` → `[channels, batch·positions]`, both row-major.
pub fn channel_rows(z: &[f32], batch: usize, channels: usize, positions: usize) -> Vec<f32> {
    let mut rows = Vec::with_capacity(z.len());
    for channel in 0..channels {
        for b in 0..batch {
            rows.extend_from_slice(&z[(b * channels + channel) * positions..][..positions]);
        }
    }
    rows
}

/// One row per channel back to a batch of channel-major volumes, `bias[channel]` added.
///
/// # Shapes
/// `rows`: `[channels, batch·positions]`, `bias`: `[channels]` → `[batch, channels·positions]`.
pub fn sample_rows(rows: &[f32], batch: usize, bias: &[f32], positions: usize) -> Vec<f32> {
    let mut z = Vec::with_capacity(rows.len());
    for b in 0..batch {
        for (channel, bias) in bias.iter().enumerate() {
            let row = &rows[(channel * batch + b) * positions..][..positions];
            z.extend(row.iter().map(|v| v + bias));
        }
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(input: Volume, kernel: usize, stride: usize, padding: usize) -> ConvGeometry {
        ConvGeometry {
            input,
            channels: 1,
            kernel,
            stride,
            padding,
        }
    }

    /// The patches written out entry by entry, reading the input with bounds checks.
    fn unfold_by_definition(x: &[f32], batch: usize, g: &ConvGeometry) -> Vec<f32> {
        let [_, oh, ow] = g.output().unwrap();
        let ([c, h, w], k) = (g.input, g.kernel);
        let mut patches = Vec::new();
        for channel in 0..c {
            for i in 0..k {
                for j in 0..k {
                    for b in 0..batch {
                        for r in 0..oh {
                            for q in 0..ow {
                                let y = (r * g.stride + i) as isize - g.padding as isize;
                                let z = (q * g.stride + j) as isize - g.padding as isize;
                                let fits =
                                    (0..h as isize).contains(&y) && (0..w as isize).contains(&z);
                                patches.push(if fits {
                                    x[((b * c + channel) * h + y as usize) * w + z as usize]
                                } else {
                                    0.0
                                });
                            }
                        }
                    }
                }
            }
        }
        patches
    }

    fn shapes() -> Vec<ConvGeometry> {
        vec![
            geometry([1, 6, 6], 3, 1, 1),
            geometry([2, 7, 5], 3, 2, 0),
            geometry([3, 5, 6], 2, 2, 1),
            geometry([2, 4, 4], 3, 3, 2),
            geometry([1, 3, 3], 3, 1, 0),
        ]
    }

    #[test]
    fn unfold_reads_every_patch_as_the_definition_says() {
        for g in shapes() {
            let batch = 3;
            let x: Vec<f32> = (0..batch * g.input.iter().product::<usize>())
                .map(|v| v as f32 + 1.0)
                .collect();
            let out = g.output().unwrap();
            assert_eq!(
                unfold(&x, batch, &g, out),
                unfold_by_definition(&x, batch, &g),
                "{g}"
            );
        }
    }

    #[test]
    fn fold_is_the_adjoint_of_unfold() {
        // ⟨unfold(x), y⟩ = ⟨x, fold(y)⟩ for every x, y: fold adds each entry where unfold read it.
        // 19 samples: more than one block of samples, the last one short.
        for (g, batch) in shapes().into_iter().flat_map(|g| [(g, 2), (g, 19)]) {
            let out = g.output().unwrap();
            let n = batch * g.input.iter().product::<usize>();
            let x: Vec<f32> = (0..n).map(|v| ((v * 7) % 11) as f32 - 5.0).collect();
            let patches = unfold(&x, batch, &g, out);
            let y: Vec<f32> = (0..patches.len())
                .map(|v| ((v * 5) % 13) as f32 - 6.0)
                .collect();
            let left: f32 = patches.iter().zip(&y).map(|(a, b)| a * b).sum();
            let folded = fold(&y, batch, &g, out);
            let right: f32 = x.iter().zip(&folded).map(|(a, b)| a * b).sum();
            assert_eq!(left, right, "{g}, batch {batch}");
        }
    }

    #[test]
    fn channel_rows_and_sample_rows_are_inverse_reorderings() {
        let (batch, channels, positions) = (3, 4, 5);
        let z: Vec<f32> = (0..batch * channels * positions)
            .map(|v| v as f32)
            .collect();
        let rows = channel_rows(&z, batch, channels, positions);
        // Channel 1 of sample 2 sits at row 1, columns 2·5 .. 3·5.
        assert_eq!(
            rows[(batch + 2) * positions],
            z[(2 * channels + 1) * positions]
        );
        let bias = [0.5, -1.0, 2.0, 0.0];
        let back = sample_rows(&rows, batch, &bias, positions);
        for (index, (value, original)) in back.iter().zip(&z).enumerate() {
            assert_eq!(*value, original + bias[index / positions % channels]);
        }
    }
}
