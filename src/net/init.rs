//! Seeded weight initialisation schemes for a `[out, in]` weight matrix.

use std::fmt;
use std::str::FromStr;

use crate::rng::Rng;

/// How a weight matrix (or a fixed feedback/projection matrix) is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Init {
    /// Glorot/Xavier uniform: U(±√(6 / (fan_in + fan_out))).
    Xavier,
    /// He/Kaiming uniform for relu-like units: U(±√(6 / fan_in)).
    Kaiming,
    /// LeCun normal: N(0, 1 / fan_in).
    Lecun,
    /// A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one.
    Orthogonal,
    /// U(±scale); scale defaults to 1/√fan_in, PyTorch's `nn.Linear` default (bias alike).
    #[default]
    Uniform,
    /// N(0, scale²); scale defaults to 0.01. Also called "gaussian".
    Normal,
}

impl Init {
    /// Every accepted name.
    pub const NAMES: &'static [&'static str] = &[
        "xavier",
        "glorot",
        "kaiming",
        "he",
        "lecun",
        "orthogonal",
        "uniform",
        "normal",
        "gaussian",
    ];

    /// Draws a row-major `[rows, cols]` matrix whose fan-in is `cols`.
    pub fn matrix(&self, rows: usize, cols: usize, scale: Option<f32>, rng: &mut Rng) -> Vec<f32> {
        let fan_in = cols as f32;
        let fan_out = rows as f32;
        let n = rows * cols;
        match self {
            Init::Xavier => {
                let bound = scale.unwrap_or(1.0) * (6.0 / (fan_in + fan_out)).sqrt();
                rng.uniform_vec(n, -bound, bound)
            }
            Init::Kaiming => {
                let bound = scale.unwrap_or(1.0) * (6.0 / fan_in).sqrt();
                rng.uniform_vec(n, -bound, bound)
            }
            Init::Lecun => rng.normal_vec(n, 0.0, scale.unwrap_or(1.0) / fan_in.sqrt()),
            Init::Orthogonal => orthogonal(rows, cols, scale.unwrap_or(1.0), rng),
            Init::Uniform => {
                let bound = scale.unwrap_or(1.0 / fan_in.sqrt());
                rng.uniform_vec(n, -bound, bound)
            }
            Init::Normal => rng.normal_vec(n, 0.0, scale.unwrap_or(0.01)),
        }
    }

    /// Draws a bias of `size` for a layer of fan-in `fan_in`: PyTorch's uniform for
    /// [`Init::Uniform`] without an explicit scale, zeros otherwise.
    pub fn bias(&self, size: usize, fan_in: usize, scale: Option<f32>, rng: &mut Rng) -> Vec<f32> {
        match (self, scale) {
            (Init::Uniform, None) => {
                let bound = 1.0 / (fan_in as f32).sqrt();
                rng.uniform_vec(size, -bound, bound)
            }
            _ => vec![0.0; size],
        }
    }
}

/// Rows (or columns, whichever are fewer) orthonormal, times `gain`; by modified Gram–Schmidt.
fn orthogonal(rows: usize, cols: usize, gain: f32, rng: &mut Rng) -> Vec<f32> {
    let (short, long) = if rows <= cols {
        (rows, cols)
    } else {
        (cols, rows)
    };
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(short);
    while basis.len() < short {
        let mut v: Vec<f64> = rng
            .normal_vec(long, 0.0, 1.0)
            .into_iter()
            .map(f64::from)
            .collect();
        for b in &basis {
            let dot: f64 = v.iter().zip(b).map(|(x, y)| x * y).sum();
            v.iter_mut().zip(b).for_each(|(x, y)| *x -= dot * y);
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-6 {
            v.iter_mut().for_each(|x| *x /= norm);
            basis.push(v);
        }
    }
    let mut out = vec![0.0f32; rows * cols];
    for (i, b) in basis.iter().enumerate() {
        for (j, value) in b.iter().enumerate() {
            let (r, c) = if rows <= cols { (i, j) } else { (j, i) };
            out[r * cols + c] = gain * *value as f32;
        }
    }
    out
}

impl FromStr for Init {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "xavier" | "glorot" => Ok(Init::Xavier),
            "kaiming" | "he" => Ok(Init::Kaiming),
            "lecun" => Ok(Init::Lecun),
            "orthogonal" => Ok(Init::Orthogonal),
            "uniform" => Ok(Init::Uniform),
            "normal" | "gaussian" => Ok(Init::Normal),
            _ => Err(format!(
                "unknown init `{text}`{} (expected one of: {})",
                crate::suggest::did_you_mean(text, Init::NAMES.iter().copied()),
                Init::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Init::Xavier => "xavier",
            Init::Kaiming => "kaiming",
            Init::Lecun => "lecun",
            Init::Orthogonal => "orthogonal",
            Init::Uniform => "uniform",
            Init::Normal => "normal",
        };
        f.write_str(name)
    }
}

crate::serde_via_str!(Init);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_rows_are_orthonormal() {
        let (rows, cols) = (5, 9);
        let w = Init::Orthogonal.matrix(rows, cols, None, &mut Rng::new(3));
        for i in 0..rows {
            for j in 0..rows {
                let dot: f32 = (0..cols).map(|k| w[i * cols + k] * w[j * cols + k]).sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-5, "row {i}·row {j} = {dot}");
            }
        }
    }

    #[test]
    fn xavier_respects_its_bound_and_seed() {
        let a = Init::Xavier.matrix(30, 20, None, &mut Rng::new(1));
        let b = Init::Xavier.matrix(30, 20, None, &mut Rng::new(1));
        let bound = (6.0f32 / 50.0).sqrt();
        assert_eq!(a, b);
        assert!(a.iter().all(|w| w.abs() <= bound));
        assert!(a.iter().any(|w| w.abs() > bound * 0.9));
    }
}
