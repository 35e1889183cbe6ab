//! Every dot product of `m` rows with `n` rows over a long inner dimension, with both operands
//! contiguous along it: a convolution's weight gradient `δ·Pᵀ` (`δ` `[out, positions]`, the
//! patches `P` `[in·kh·kw, positions]`, 6×25 or 16×150 sums over 100,352 or 12,800 positions
//! at batch 128 for LeNet-5). `gemm` copies both operands into packed panels before its
//! kernel runs, three passes over a patch matrix of 10 MB where the arithmetic (a few
//! multiply-adds per element) needs one; this reads each once, in blocks that stay in the
//! cache, with a tile of 4×4 sums in sixteen 16-lane registers. AVX-512 only (where it is
//! missing the caller keeps `gemm`). The summation order is fixed by the shapes alone. Stride-1
//! convolutions on AVX-512 now skip the patches altogether (`net/direct.rs`); this serves the
//! strided ones.

/// Lanes of one accumulator: an AVX-512 register of f32.
const LANES: usize = 16;

/// Positions per block: a block of every `b` row (150 rows × 4 KiB for LeNet's second conv)
/// stays in a 2 MiB L2 cache while each tile of rows passes over it.
const BLOCK: usize = 1024;

/// `out[o·n + j] = Σ_p a[o][p]·b[j][p]` for `o < m`, `j < n`, `p < len`, where row `o` of
/// `a` starts at `a[o·a_stride]` and row `j` of `b` at `b[j·b_stride]`; `None` without
/// AVX-512F and FMA.
///
/// # Panics
/// If a row runs past its slice.
pub(super) fn dot_products(
    a: &[f32],
    a_stride: usize,
    m: usize,
    b: &[f32],
    b_stride: usize,
    n: usize,
    len: usize,
) -> Option<Vec<f32>> {
    #[cfg(target_arch = "x86_64")]
    if available() {
        let a: Vec<&[f32]> = (0..m).map(|r| &a[r * a_stride..][..len]).collect();
        let b: Vec<&[f32]> = (0..n).map(|r| &b[r * b_stride..][..len]).collect();
        // SAFETY: the CPU has the features the function is compiled for (checked above).
        return Some(unsafe { wide::dots(&a, &b, len) });
    }
    let _ = (a, a_stride, m, b, b_stride, n, len);
    None
}

/// Whether this CPU runs [`dot_products`] (AVX-512F and FMA).
pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[cfg(target_arch = "x86_64")]
mod wide {
    use std::arch::x86_64::{
        __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_setzero_ps, _mm512_storeu_ps,
    };

    use super::{BLOCK, LANES};

    /// The rows of `a` against those of `b`, each `len` long: per block of positions, every
    /// tile of up to 4×4 row pairs; lane sums kept per pair, added up at the end.
    #[target_feature(enable = "avx512f,fma")]
    pub(super) fn dots(a: &[&[f32]], b: &[&[f32]], len: usize) -> Vec<f32> {
        let (m, n) = (a.len(), b.len());
        let mut lanes = vec![[0.0f32; LANES]; m * n];
        let whole = len - len % LANES;
        for start in (0..whole).step_by(BLOCK) {
            let end = (start + BLOCK).min(whole);
            for o in (0..m).step_by(4) {
                for j in (0..n).step_by(4) {
                    let range = start..end;
                    let at = (o, j, range, n);
                    match ((m - o).min(4), (n - j).min(4)) {
                        (4, 4) => tile::<4, 4>(a, b, at, &mut lanes),
                        (4, 3) => tile::<4, 3>(a, b, at, &mut lanes),
                        (4, 2) => tile::<4, 2>(a, b, at, &mut lanes),
                        (4, _) => tile::<4, 1>(a, b, at, &mut lanes),
                        (3, 4) => tile::<3, 4>(a, b, at, &mut lanes),
                        (3, 3) => tile::<3, 3>(a, b, at, &mut lanes),
                        (3, 2) => tile::<3, 2>(a, b, at, &mut lanes),
                        (3, _) => tile::<3, 1>(a, b, at, &mut lanes),
                        (2, 4) => tile::<2, 4>(a, b, at, &mut lanes),
                        (2, 3) => tile::<2, 3>(a, b, at, &mut lanes),
                        (2, 2) => tile::<2, 2>(a, b, at, &mut lanes),
                        (2, _) => tile::<2, 1>(a, b, at, &mut lanes),
                        (_, 4) => tile::<1, 4>(a, b, at, &mut lanes),
                        (_, 3) => tile::<1, 3>(a, b, at, &mut lanes),
                        (_, 2) => tile::<1, 2>(a, b, at, &mut lanes),
                        (_, _) => tile::<1, 1>(a, b, at, &mut lanes),
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(m * n);
        for o in 0..m {
            for j in 0..n {
                let mut sum = lanes[o * n + j].iter().sum::<f32>();
                for p in whole..len {
                    sum = a[o][p].mul_add(b[j][p], sum);
                }
                out.push(sum);
            }
        }
        out
    }

    /// Adds `a[o + s]·b[j + t]` over `positions` (a multiple of [`LANES`] long) to the lane
    /// sums of the pairs `(o + s, j + t)`, `s < TO`, `t < TJ`, held in registers meanwhile
    /// (`lanes` holds the sums of every pair, row-major over `n` columns).
    #[target_feature(enable = "avx512f,fma")]
    #[inline]
    fn tile<const TO: usize, const TJ: usize>(
        a: &[&[f32]],
        b: &[&[f32]],
        (o, j, positions, n): (usize, usize, std::ops::Range<usize>, usize),
        lanes: &mut [[f32; LANES]],
    ) {
        let rows_a: [&[f32]; TO] = std::array::from_fn(|s| &a[o + s][positions.clone()]);
        let rows_b: [&[f32]; TJ] = std::array::from_fn(|t| &b[j + t][positions.clone()]);
        let mut acc = [[_mm512_setzero_ps(); TJ]; TO];
        for (s, row) in acc.iter_mut().enumerate() {
            for (t, sums) in row.iter_mut().enumerate() {
                // SAFETY: 16 f32 read from a 16-lane array.
                *sums = unsafe { _mm512_loadu_ps(lanes[(o + s) * n + j + t].as_ptr()) };
            }
        }
        for q in 0..positions.len() / LANES {
            let xs: [__m512; TO] = std::array::from_fn(|s| load(rows_a[s], q));
            for (t, row_b) in rows_b.iter().enumerate() {
                let y = load(row_b, q);
                for (s, x) in xs.iter().enumerate() {
                    acc[s][t] = _mm512_fmadd_ps(*x, y, acc[s][t]);
                }
            }
        }
        for (s, row) in acc.iter().enumerate() {
            for (t, sums) in row.iter().enumerate() {
                // SAFETY: 16 f32 written to a 16-lane array.
                unsafe { _mm512_storeu_ps(lanes[(o + s) * n + j + t].as_mut_ptr(), *sums) };
            }
        }
    }

    /// Lanes `q·16 .. q·16 + 16` of `row`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn load(row: &[f32], q: usize) -> __m512 {
        let lanes: &[f32; LANES] = row[q * LANES..(q + 1) * LANES]
            .try_into()
            .expect("a whole register of the row");
        // SAFETY: 16 f32 read from a 16-lane array.
        unsafe { _mm512_loadu_ps(lanes.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Each dot product in f64, one after another.
    fn reference(a: &[f32], b: &[f32], m: usize, n: usize, len: usize) -> Vec<f64> {
        let mut out = Vec::new();
        for o in 0..m {
            for j in 0..n {
                let dot = (0..len)
                    .map(|p| f64::from(a[o * len + p]) * f64::from(b[j * len + p]))
                    .sum::<f64>();
                out.push(dot);
            }
        }
        out
    }

    #[test]
    fn dot_products_agree_with_sums_in_f64_for_ragged_shapes() {
        let mut rng = Rng::new(9);
        // Tiles of 4×4, their ragged edges (6 = 4 + 2 rows, 25 = 6·4 + 1 columns), a length
        // with a tail shorter than a register and more than one block of positions.
        for (m, n, len) in [
            (6, 25, 2 * 1024 + 37),
            (16, 150, 700),
            (1, 1, 15),
            (3, 5, 16),
        ] {
            let a = rng.normal_vec(m * len, 0.0, 1.0);
            let b = rng.normal_vec(n * len, 0.0, 1.0);
            let got = dot_products(&a, len, m, &b, len, n, len);
            assert_eq!(
                got.is_some(),
                available(),
                "None exactly where AVX-512 is missing"
            );
            let Some(got) = got else {
                return; // the caller keeps gemm
            };
            let want = reference(&a, &b, m, n, len);
            assert_eq!(got.len(), m * n);
            for (g, w) in got.iter().zip(&want) {
                let bound = 1e-5 * (len as f64).sqrt() * w.abs().max(1.0);
                assert!(
                    (f64::from(*g) - w).abs() <= bound,
                    "{g} vs {w} ({m}×{n}×{len})"
                );
            }
        }
    }

    #[test]
    fn rows_are_read_at_their_strides() {
        // a: 2 rows of 3 inside rows of 5; b: 2 rows of 3 inside rows of 4.
        let a = [1.0, 2.0, 3.0, 9.0, 9.0, 4.0, 5.0, 6.0, 9.0, 9.0];
        let b = [1.0, 0.0, 1.0, 7.0, 0.0, 1.0, 0.0, 7.0];
        let got = dot_products(&a, 5, 2, &b, 4, 2, 3);
        assert_eq!(got.is_some(), available());
        if let Some(got) = got {
            assert_eq!(got, vec![4.0, 2.0, 10.0, 5.0]);
        }
    }
}
