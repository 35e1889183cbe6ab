//! Seeded randomness. Every random number (initial weights, shuffles, dropout masks, samples of
//! stochastic units) is drawn on the CPU from one ChaCha8 stream, so a run is bit-reproducible
//! whatever the backend, and the stream's position can be saved in a checkpoint.

use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// A seeded random stream.
#[derive(Debug, Clone)]
pub struct Rng {
    inner: ChaCha8Rng,
    seed: u64,
}

/// Where a stream stands: enough to restore it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The seed the stream started from.
    pub seed: u64,
    /// The stream's position in 32-bit words.
    pub word_pos: u128,
}

impl Rng {
    /// A stream started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            inner: ChaCha8Rng::seed_from_u64(seed),
            seed,
        }
    }

    /// An independent stream for a named purpose (e.g. "init", "data"), derived from `seed`.
    pub fn derived(seed: u64, purpose: &str) -> Self {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in purpose.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        Self::new(seed ^ hash)
    }

    /// The stream's current position.
    pub fn state(&self) -> RngState {
        RngState {
            seed: self.seed,
            word_pos: self.inner.get_word_pos(),
        }
    }

    /// A stream restored at a saved position.
    pub fn from_state(state: RngState) -> Self {
        let mut rng = Self::new(state.seed);
        rng.inner.set_word_pos(state.word_pos);
        rng
    }

    /// One draw from U[0, 1).
    pub fn uniform(&mut self) -> f32 {
        self.inner.random::<f32>()
    }

    /// `n` draws from U[0, 1), the same values as `n` calls of [`Rng::uniform`], drawn in bulk.
    pub fn uniform_fill(&mut self, out: &mut [f32]) {
        let mut words = vec![0u32; out.len()];
        self.inner.fill(&mut words[..]);
        // rand's f32 from one word: its top 24 bits, scaled by 2⁻²⁴.
        let scale = 1.0 / (1u32 << 24) as f32;
        for (value, word) in out.iter_mut().zip(&words) {
            *value = (word >> 8) as f32 * scale;
        }
    }

    /// `n` draws from U[low, high).
    pub fn uniform_vec(&mut self, n: usize, low: f32, high: f32) -> Vec<f32> {
        (0..n)
            .map(|_| low + (high - low) * self.inner.random::<f32>())
            .collect()
    }

    /// `n` draws from N(mean, std²).
    pub fn normal_vec(&mut self, n: usize, mean: f32, std: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let z: f32 = StandardNormal.sample(&mut self.inner);
                mean + std * z
            })
            .collect()
    }

    /// One draw from N(0, 1).
    pub fn normal(&mut self) -> f32 {
        StandardNormal.sample(&mut self.inner)
    }

    /// A uniformly drawn index below `n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.inner.random_range(0..n)
    }

    /// Fisher–Yates shuffle of `items`.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.inner.random_range(0..=i);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restored_state_continues_the_same_stream() {
        let mut a = Rng::new(7);
        a.uniform_vec(13, 0.0, 1.0);
        let saved = a.state();
        let next = a.normal_vec(5, 0.0, 1.0);
        let mut b = Rng::from_state(saved);
        assert_eq!(b.normal_vec(5, 0.0, 1.0), next);
    }

    #[test]
    fn derived_streams_differ_by_purpose() {
        let a = Rng::derived(1, "init").uniform_vec(4, 0.0, 1.0);
        let b = Rng::derived(1, "data").uniform_vec(4, 0.0, 1.0);
        assert_ne!(a, b);
    }
}
