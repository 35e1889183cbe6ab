//! `tanh` as a loop the compiler vectorises, for tensors in host memory.
//!
//! The scalar `tanhf` of the C library (which calls `expm1f`) was a third of a step of a
//! tanh net under target propagation. This one needs no call per element: for `|x| < 0.625`
//! an odd polynomial in `x` (the Cephes `tanhf` coefficients), above it `1 − 2/(e^{2|x|} + 1)`
//! with `e^y` from a range reduction `y = n·ln 2 + r` and a degree-6 polynomial in `r`
//! (Cephes `expf`), both plain multiplies and adds with a branch-free select, so the same
//! inputs give the same bits on every x86-64 machine. Its error is at most 2 units in the last
//! place of the correctly rounded `tanh` (tested on a dense sweep of inputs); `NaN` stays `NaN`
//! and `±∞` gives `±1`.

use burn::tensor::Tensor;
use rayon::prelude::*;

use crate::host;

/// Below this `|x|` the odd polynomial, above it the exponential form.
const SMALL: f32 = 0.625;
/// `tanh(10)` rounds to 1 in f32 (`tanh(9)` does not): larger `|x|` are clamped there before the exponential.
const CLAMP: f32 = 10.0;
/// Elements per parallel chunk.
const CHUNK: usize = 1 << 15;

/// `e^y` for `y` in `[0, 2·CLAMP]` (or `NaN`).
#[inline(always)]
fn exp(y: f32) -> f32 {
    // Round y·log₂e to the nearest integer by adding and removing 1.5·2²³.
    const ROUND: f32 = 12_582_912.0;
    let n = (y * std::f32::consts::LOG2_E + ROUND) - ROUND;
    // r = y − n·ln 2, with ln 2 split in two so that n·C1 is exact.
    let r = (y - n * 0.693_359_4) - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // 2ⁿ from its exponent bits (n ≤ 29 here).
    e * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `tanh(x)` (see the module's note on its accuracy).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3_f32;
    p = p * z + 2.063_909e-2;
    p = p * z - 5.373_971_6e-2;
    p = p * z + 1.333_144_2e-1;
    p = p * z - 3.333_328e-1;
    let small = a + a * z * p;
    // A comparison with NaN is false: NaN goes on to the exponential and stays NaN.
    let clamped = if a > CLAMP { CLAMP } else { a };
    let large = 1.0 - 2.0 / (exp(2.0 * clamped) + 1.0);
    (if a < SMALL { small } else { large }).copysign(x)
}

/// `tanh` of every value of `chunk`, in place, in the widest vectors the processor has (the
/// same operations at every width, no fused multiply-adds: the same bits).
fn tanh_chunk(chunk: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has AVX-512F (checked just above).
            return unsafe { wide::avx512(chunk) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2 (checked just above).
            return unsafe { wide::avx2(chunk) };
        }
    }
    chunk.iter_mut().for_each(|v| *v = tanh(*v));
}

/// The loop compiled for wider vectors than the target's baseline.
#[cfg(target_arch = "x86_64")]
mod wide {
    #[target_feature(enable = "avx512f")]
    pub(super) fn avx512(chunk: &mut [f32]) {
        chunk.iter_mut().for_each(|v| *v = super::tanh(*v));
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn avx2(chunk: &mut [f32]) {
        chunk.iter_mut().for_each(|v| *v = super::tanh(*v));
    }
}

/// `tanh` of every value, in place.
pub fn tanh_in_place(values: &mut [f32]) {
    if values.len() > CHUNK {
        values.par_chunks_mut(CHUNK).for_each(tanh_chunk);
    } else {
        tanh_chunk(values);
    }
}

/// `tanh(x)` element-wise: this file's loop for tensors in host memory, the backend's own
/// `tanh` on a GPU and for tensors burn's autodiff tracks (the tests' references).
///
/// # Shapes
/// `x`: `[rows, cols]` → `[rows, cols]`.
pub fn forward(x: Tensor<2>) -> Tensor<2> {
    if !host::on_host(&x) {
        return x.tanh();
    }
    let [rows, cols] = x.dims();
    let device = x.device();
    let mut values = host::values(&x);
    tanh_in_place(&mut values);
    host::matrix(values, rows, cols, &device)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Units in the last place between `value` and the correctly rounded `exact`.
    fn ulps(value: f32, exact: f64) -> f64 {
        let rounded = exact as f32;
        let ulp = f64::from(f32::from_bits(rounded.abs().to_bits() + 1) - rounded.abs());
        (f64::from(value) - exact).abs() / ulp
    }

    #[test]
    fn tanh_is_within_two_ulps_of_the_exact_value_everywhere() {
        let mut worst = (0.0, 0.0_f32);
        // Every 97th float from 1e-30 up to past the clamp, both signs.
        let (low, high) = (1e-30_f32.to_bits(), 12.0_f32.to_bits());
        for bits in (low..high).step_by(97) {
            for x in [f32::from_bits(bits), -f32::from_bits(bits)] {
                let error = ulps(tanh(x), f64::from(x).tanh());
                if error > worst.0 {
                    worst = (error, x);
                }
            }
        }
        assert!(worst.0 <= 2.0, "{} ulps at x = {}", worst.0, worst.1);
        // Where the two forms meet, and zero, keep their sign and size.
        for x in [0.0_f32, -0.0, SMALL, -SMALL, 0.624_999_9, CLAMP, 1e-40] {
            assert!(ulps(tanh(x), f64::from(x).tanh()) <= 2.0, "{x}");
            assert_eq!(tanh(x).is_sign_negative(), x.is_sign_negative(), "{x}");
        }
    }

    #[test]
    fn tanh_keeps_nan_and_saturates_at_infinity() {
        assert!(tanh(f32::NAN).is_nan());
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh(1e30), 1.0);
    }

    #[test]
    fn the_tensor_form_matches_the_scalar_one_in_any_chunking() {
        let n = 3 * CHUNK + 17;
        let x: Vec<f32> = (0..n).map(|i| (i as f32 - n as f32 / 2.0) * 1e-3).collect();
        let tensor = host::matrix(x.clone(), 1, n, &crate::backend::device());
        let out = host::values(&forward(tensor));
        let expected: Vec<f32> = x.iter().map(|&v| tanh(v)).collect();
        assert_eq!(out, expected);
        // The vector widths this processor has give the scalar loop's bits.
        #[cfg(target_arch = "x86_64")]
        for (wide, has) in [
            (
                wide::avx2 as unsafe fn(&mut [f32]),
                is_x86_feature_detected!("avx2"),
            ),
            (wide::avx512, is_x86_feature_detected!("avx512f")),
        ] {
            let mut values = x.clone();
            if has {
                // SAFETY: the processor has the feature (checked in the same row).
                unsafe { wide(&mut values) };
                assert_eq!(values, expected);
            }
        }
    }
}
