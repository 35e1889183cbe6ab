//! Seeded randomness. Every random number (initial weights, shuffles, dropout masks, samples of
//! stochastic units) is drawn on the CPU from one ChaCha8 stream, so a run is bit-reproducible
//! whatever the backend, and the stream's position can be saved in a checkpoint. Bulk noise
//! drawn on several cores at once (TP's reconstruction noise) comes from streams keyed by one
//! draw of it ([`keyed_normal_vec`]), so it too depends on the seed alone.

use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
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

    /// A key for [`keyed_normal_vec`]: one 64-bit draw from the stream.
    pub fn key(&mut self) -> u64 {
        self.inner.random::<u64>()
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

/// Values per independent stream of [`keyed_normal_vec`].
const KEYED_CHUNK: usize = 4096;

/// `n` draws from N(mean, std²) for purpose `purpose` of a step that drew `key`
/// ([`Rng::key`]): chunk `c` of 4,096 values comes from its own ChaCha8 stream
/// (seeded by `key`, stream number `purpose · 2³² + c`), so the chunks are drawn side by side on
/// the pool and the values do not depend on the number of threads.
pub fn keyed_normal_vec(key: u64, purpose: u32, n: usize, mean: f32, std: f32) -> Vec<f32> {
    let mut out = vec![0.0; n];
    out.par_chunks_mut(KEYED_CHUNK)
        .enumerate()
        .for_each(|(chunk, values)| {
            let mut stream = ChaCha8Rng::seed_from_u64(key);
            stream.set_stream((u64::from(purpose) << 32) | chunk as u64);
            for value in values {
                let z: f32 = StandardNormal.sample(&mut stream);
                *value = mean + std * z;
            }
        });
    out
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
    fn keyed_normals_are_the_same_on_any_pool_and_differ_by_key_and_purpose() {
        let n = 3 * KEYED_CHUNK + 17;
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let a = one.install(|| keyed_normal_vec(5, 1, n, 0.5, 2.0));
        let b = three.install(|| keyed_normal_vec(5, 1, n, 0.5, 2.0));
        assert_eq!(a, b);
        // Every chunk its own stream: no chunk repeats another.
        assert_ne!(a[..KEYED_CHUNK], a[KEYED_CHUNK..2 * KEYED_CHUNK]);
        assert_ne!(keyed_normal_vec(5, 2, 8, 0.5, 2.0), a[..8]);
        assert_ne!(keyed_normal_vec(6, 1, 8, 0.5, 2.0), a[..8]);
        let mean = a.iter().sum::<f32>() / n as f32;
        let var = a.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n as f32;
        assert!((mean - 0.5).abs() < 0.05, "mean {mean}");
        assert!((var.sqrt() - 2.0).abs() < 0.05, "std {}", var.sqrt());
    }

    #[test]
    fn derived_streams_differ_by_purpose() {
        let a = Rng::derived(1, "init").uniform_vec(4, 0.0, 1.0);
        let b = Rng::derived(1, "data").uniform_vec(4, 0.0, 1.0);
        assert_ne!(a, b);
    }
}
