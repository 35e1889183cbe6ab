//! Adam in one pass over memory, for the CPU backends. burn's Adam runs as thirteen separate
//! element-wise tensor operations, each reading and writing a whole parameter-sized buffer; on
//! a 2-core CPU that made the optimizer a third of a training step. This one does the same
//! arithmetic, in the same order and precision, per element in a single loop split over the
//! cores, so its results are bit-identical to burn's (tested) and its state is burn's
//! [`AdamState`] (checkpoints are interchangeable). On GPU backends burn's Adam is used.

use burn::optim::{AdamState, AdaptiveMomentumState, Optimizer};
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

/// Tensors of at most this many elements are stepped on one thread: splitting costs more than
/// it saves.
const SERIAL_MAX: usize = 1 << 15;

/// Chunks per thread of the pool for a larger tensor, so that no thread waits long on another's
/// last chunk (a 300 × 300 weight in chunks of 2¹⁵ went 2 : 1 on two cores).
const CHUNKS_PER_THREAD: usize = 4;

/// Adam (optionally with L2 weight decay added to the gradient), fused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusedAdam {
    /// First-moment decay (0.9).
    pub beta_1: f32,
    /// Second-moment decay (0.999).
    pub beta_2: f32,
    /// Added to the root of the second moment (1e-8).
    pub epsilon: f32,
    /// L2 penalty added to the gradient (`grad + w·penalty`), if any.
    pub weight_decay: Option<f32>,
}

impl FusedAdam {
    /// PyTorch's defaults (β = 0.9, 0.999; ε = 1e-8) with the given weight decay.
    pub fn new(weight_decay: Option<f32>) -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay,
        }
    }
}

fn slice_mut(data: &mut TensorData) -> &mut [f32] {
    data.as_mut_slice::<f32>()
        .expect("Adam's parameters and moments are f32")
}

/// The scalars one step uses, computed as burn's Adam computes them.
#[derive(Clone, Copy)]
struct StepScalars {
    beta_1: f32,
    beta_2: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    combined_factor: f32,
    denominator_epsilon: f32,
    lr: f32,
    weight_decay: Option<f32>,
}

impl StepScalars {
    fn new(adam: &FusedAdam, time: usize, lr: f64) -> Self {
        let time = time as i32;
        let bias_correction2_sqrt = (1.0 - adam.beta_2.powi(time)).sqrt();
        Self {
            beta_1: adam.beta_1,
            beta_2: adam.beta_2,
            one_minus_beta_1: 1.0 - adam.beta_1,
            one_minus_beta_2: 1.0 - adam.beta_2,
            combined_factor: bias_correction2_sqrt / (1.0 - adam.beta_1.powi(time)),
            denominator_epsilon: adam.epsilon * bias_correction2_sqrt,
            lr: lr as f32,
            weight_decay: adam.weight_decay,
        }
    }

    /// One chunk: updates `w`, `m`, `v` in place, element by element. `FIRST` (no moments
    /// yet) and `DECAY` are constants so that the loop has no branch and vectorises; the
    /// arithmetic is burn's, operation for operation (no fused multiply-adds), except that a
    /// moment below the smallest normal float is stored as 0 (see [`flush`]).
    #[inline(always)]
    fn apply<const FIRST: bool, const DECAY: bool>(
        &self,
        w: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
    ) {
        let n = w.len();
        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
        let penalty = self.weight_decay.unwrap_or(0.0);
        for i in 0..n {
            let grad = if DECAY { w[i] * penalty + g[i] } else { g[i] };
            let square = grad * grad;
            if FIRST {
                m[i] = flush(grad * self.one_minus_beta_1);
                v[i] = flush(square * self.one_minus_beta_2);
            } else {
                m[i] = flush(m[i] * self.beta_1 + grad * self.one_minus_beta_1);
                v[i] = flush(v[i] * self.beta_2 + square * self.one_minus_beta_2);
            }
            let update = (m[i] * self.combined_factor) / (v[i].sqrt() + self.denominator_epsilon);
            w[i] -= update * self.lr;
        }
    }

    /// [`StepScalars::apply`] with the constants this step needs, in the widest vectors the
    /// processor has (the same operations at every width: the same bits). Built for the
    /// baseline target the loop ran 4 lanes wide; with AVX-512, 16 (2-core Xeon, backprop
    /// bench step: 1–4 % more samples per second in three alternating rounds).
    fn apply_chunk(&self, first: bool, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has AVX-512F (checked just above).
            return unsafe { self.apply_avx512(first, w, g, m, v) };
        }
        self.apply_any(first, w, g, m, v);
    }

    /// [`StepScalars::apply_any`] compiled for AVX-512.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn apply_avx512(&self, first: bool, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        self.apply_any(first, w, g, m, v);
    }

    /// [`StepScalars::apply`] with the constants this step needs.
    #[inline(always)]
    fn apply_any(&self, first: bool, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        match (first, self.weight_decay.is_some()) {
            (true, true) => self.apply::<true, true>(w, g, m, v),
            (true, false) => self.apply::<true, false>(w, g, m, v),
            (false, true) => self.apply::<false, true>(w, g, m, v),
            (false, false) => self.apply::<false, false>(w, g, m, v),
        }
    }
}

/// `x`, or 0 when it is subnormal (|x| < 1.18e-38). A weight whose gradient stays 0 (a dead
/// unit's, a blank pixel's) has its first moment shrunk by β₁ every step until it is
/// subnormal, where rounding keeps it for good (0.9 × the smallest subnormal rounds back to
/// it); arithmetic on subnormals takes a slow path on x86 CPUs, and in Hinton's forward-forward
/// net 23–43 % of the first moments were subnormal by epoch 11, Adam 68 % of its
/// step. Stored as 0 they cost nothing; the weights' update from such a moment is below
/// 1e-30, so the weights come out as burn's (tested).
#[inline(always)]
fn flush(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE { 0.0 } else { x }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let device = tensor.device();
        let shape = tensor.shape();
        // Owned host buffers: no copy when the CPU tensor is not shared.
        let mut weights = tensor.into_data();
        let grad = grad.into_data();
        let grad = grad.as_slice::<f32>().expect("Adam's gradients are f32");
        let first = state.is_none();
        let (time, mut m, mut v) = match state {
            Some(state) => {
                let momentum = state.momentum;
                (
                    momentum.time + 1,
                    momentum.moment_1.into_data(),
                    momentum.moment_2.into_data(),
                )
            }
            None => {
                let zeros = || TensorData::new(vec![0.0f32; grad.len()], shape.clone());
                (1, zeros(), zeros())
            }
        };
        let scalars = StepScalars::new(self, time, lr);
        let (w, m_values, v_values) = (
            slice_mut(&mut weights),
            slice_mut(&mut m),
            slice_mut(&mut v),
        );
        if w.len() <= SERIAL_MAX {
            // Biases and small matrices: not worth waking another thread.
            scalars.apply_chunk(first, w, grad, m_values, v_values);
        } else {
            // Elementwise: the same values whatever the chunks.
            let chunks = rayon::current_num_threads() * CHUNKS_PER_THREAD;
            let chunk = w.len().div_ceil(chunks).next_multiple_of(64);
            w.par_chunks_mut(chunk)
                .zip(grad.par_chunks(chunk))
                .zip(m_values.par_chunks_mut(chunk))
                .zip(v_values.par_chunks_mut(chunk))
                .for_each(|(((w, g), m), v)| scalars.apply_chunk(first, w, g, m, v));
        }
        let momentum = AdaptiveMomentumState::new(
            time,
            Tensor::from_data(m, &device),
            Tensor::from_data(v, &device),
        );
        (
            Tensor::from_data(weights, &device),
            Some(AdamState::new(momentum)),
        )
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

#[cfg(test)]
mod tests {
    //! The fused CPU Adam against burn's.

    use super::*;
    use crate::host;
    use crate::rng::Rng;
    use burn::optim::{AdamConfig, Optimizer, decay::WeightDecayConfig};

    /// Runs `steps` steps of `optimizer` from the same start on the same gradients and returns the
    /// final bits of two parameters: one of 70,000 elements (several parallel chunks) and a small one.
    fn run<O: Optimizer>(optimizer: &O, steps: usize) -> Vec<u32> {
        let mut bits = run_one(optimizer, steps, 350, 200);
        bits.extend(run_one(optimizer, steps, 1, 30));
        bits
    }

    fn run_one<O: Optimizer>(optimizer: &O, steps: usize, rows: usize, cols: usize) -> Vec<u32> {
        let device = crate::backend::device();
        let mut rng = Rng::new(7);
        let mut w = host::matrix(rng.normal_vec(rows * cols, 0.0, 0.1), rows, cols, &device);
        let mut state = None;
        for step in 0..steps {
            let mut grad = rng.normal_vec(rows * cols, 0.0, 1e-3);
            grad[step] = 0.0;
            let grad = host::matrix(grad, rows, cols, &device);
            let lr = 1e-3 * 0.9f64.powi(step as i32);
            let (next, next_state) = optimizer.step(lr, w, grad, state);
            w = next;
            state = next_state;
        }
        let values: Vec<f32> = host::values::<2>(&w);
        values.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn fused_adam_is_bit_identical_to_burns() {
        let plain = AdamConfig::new().with_epsilon(1e-8).build();
        let fused = FusedAdam::new(None);
        let reference = run(&plain, 12);
        assert_eq!(run(&fused, 12), reference);

        let decayed = AdamConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(Some(WeightDecayConfig::new(1e-2)))
            .build();
        let reference_decayed = run(&decayed, 12);
        assert_ne!(
            reference_decayed, reference,
            "the decay must change something"
        );
        assert_eq!(run(&FusedAdam::new(Some(1e-2)), 12), reference_decayed);
    }

    /// Weights and first moments after `steps` steps on a `[1, 30]` parameter whose gradient is
    /// nonzero only at the first step.
    fn after_one_gradient<O>(optimizer: &O, steps: usize) -> (Vec<u32>, Vec<f32>)
    where
        O: Optimizer<State<2> = AdamState<2>>,
    {
        let device = crate::backend::device();
        let mut rng = Rng::new(3);
        let mut w = host::matrix(rng.normal_vec(30, 0.0, 0.1), 1, 30, &device);
        let first = host::matrix(rng.normal_vec(30, 0.0, 1e-3), 1, 30, &device);
        let mut state = None;
        for step in 0..steps {
            let grad = if step == 0 {
                first.clone()
            } else {
                first.zeros_like()
            };
            let (next, next_state) = optimizer.step(1e-3, w, grad, state);
            (w, state) = (next, next_state);
        }
        let weights = host::values::<2>(&w).iter().map(|v| v.to_bits()).collect();
        let moment = state.expect("a state after a step").momentum.moment_1;
        (weights, host::values::<2>(&moment))
    }

    #[test]
    fn subnormal_moments_are_stored_as_zero_and_leave_the_weights_as_burns() {
        let steps = 900;
        let (reference, burns_moment) =
            after_one_gradient(&AdamConfig::new().with_epsilon(1e-8).build(), steps);
        let subnormal = |m: &f32| *m != 0.0 && m.abs() < f32::MIN_POSITIVE;
        assert!(
            burns_moment.iter().filter(|m| subnormal(m)).count() > 20,
            "burn's first moments must have gone subnormal: {burns_moment:?}"
        );
        let (weights, moment) = after_one_gradient(&FusedAdam::new(None), steps);
        assert!(moment.iter().all(|m| *m == 0.0), "{moment:?}");
        assert_eq!(weights, reference);
    }
}
