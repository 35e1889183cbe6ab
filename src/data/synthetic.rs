//! Synthetic 2-D classification sets, drawn from a seeded stream.

use std::f32::consts::PI;

use crate::data::Table;
use crate::rng::Rng;

/// A synthetic set's name, description and default noise.
pub struct Synthetic {
    /// Its name in configs.
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Standard deviation of the Gaussian noise added to each coordinate by default.
    pub default_noise: f32,
    generate: fn(usize, f32, &mut Rng) -> Table,
}

/// Every synthetic set.
pub const SYNTHETIC: &[Synthetic] = &[
    Synthetic {
        name: "signed_xor",
        description: "x ~ U[-1,1]², class 1 iff x1·x2 ≥ 0",
        default_noise: 0.0,
        generate: signed_xor,
    },
    Synthetic {
        name: "xor",
        description: "Gaussian blobs at the corners of [0,1]², class = x1 xor x2",
        default_noise: 0.15,
        generate: xor,
    },
    Synthetic {
        name: "moons",
        description: "two interleaving half circles",
        default_noise: 0.1,
        generate: moons,
    },
    Synthetic {
        name: "circles",
        description: "a circle inside a larger one (radius ratio 0.5)",
        default_noise: 0.05,
        generate: circles,
    },
    Synthetic {
        name: "spirals",
        description: "two interleaved spirals, 1.5 turns each",
        default_noise: 0.05,
        generate: spirals,
    },
    Synthetic {
        name: "gaussians",
        description: "two Gaussian blobs centred at (−1, −1) and (1, 1)",
        default_noise: 0.5,
        generate: gaussians,
    },
];

impl Synthetic {
    /// The set by name.
    pub fn find(name: &str) -> Option<&'static Synthetic> {
        SYNTHETIC.iter().find(|s| s.name == name)
    }

    /// Draws `samples` points with `noise` (the default when `None`).
    pub fn generate(&self, samples: usize, noise: Option<f32>, rng: &mut Rng) -> Table {
        (self.generate)(samples, noise.unwrap_or(self.default_noise), rng)
    }
}

fn table(points: Vec<(f32, f32, u32)>, noise: f32, rng: &mut Rng) -> Table {
    let mut x = Vec::with_capacity(points.len() * 2);
    let mut y = Vec::with_capacity(points.len());
    for (a, b, label) in points {
        let (da, db) = if noise > 0.0 {
            (noise * rng.normal(), noise * rng.normal())
        } else {
            (0.0, 0.0)
        };
        x.extend([a + da, b + db]);
        y.push(label);
    }
    Table {
        x,
        y,
        features: 2,
        ..Table::default()
    }
}

fn signed_xor(n: usize, noise: f32, rng: &mut Rng) -> Table {
    let points = (0..n)
        .map(|_| {
            let a = 2.0 * rng.uniform() - 1.0;
            let b = 2.0 * rng.uniform() - 1.0;
            (a, b, u32::from(a * b >= 0.0))
        })
        .collect();
    table(points, noise, rng)
}

fn xor(n: usize, noise: f32, rng: &mut Rng) -> Table {
    let points = (0..n)
        .map(|i| {
            let (a, b) = ((i % 2) as u32, ((i / 2) % 2) as u32);
            (a as f32, b as f32, a ^ b)
        })
        .collect();
    table(points, noise, rng)
}

fn moons(n: usize, noise: f32, rng: &mut Rng) -> Table {
    let points = (0..n)
        .map(|i| {
            let t = PI * rng.uniform();
            if i % 2 == 0 {
                (t.cos(), t.sin(), 0)
            } else {
                (1.0 - t.cos(), 0.5 - t.sin(), 1)
            }
        })
        .collect();
    table(points, noise, rng)
}

fn circles(n: usize, noise: f32, rng: &mut Rng) -> Table {
    let points = (0..n)
        .map(|i| {
            let t = 2.0 * PI * rng.uniform();
            let radius = if i % 2 == 0 { 1.0 } else { 0.5 };
            (radius * t.cos(), radius * t.sin(), (i % 2) as u32)
        })
        .collect();
    table(points, noise, rng)
}

fn spirals(n: usize, noise: f32, rng: &mut Rng) -> Table {
    let points = (0..n)
        .map(|i| {
            let class = (i % 2) as u32;
            let t = rng.uniform();
            let angle = 3.0 * PI * t + PI * class as f32;
            let radius = 0.1 + 0.9 * t;
            (radius * angle.cos(), radius * angle.sin(), class)
        })
        .collect();
    table(points, noise, rng)
}

/// The blobs' spread is the noise itself (its default 0.5 makes them overlap a little).
fn gaussians(n: usize, noise: f32, rng: &mut Rng) -> Table {
    let points = (0..n)
        .map(|i| {
            let class = (i % 2) as u32;
            let centre = if class == 0 { -1.0 } else { 1.0 };
            (centre, centre, class)
        })
        .collect();
    table(points, noise, rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_xor_labels_follow_the_sign_of_the_product() {
        let t = Synthetic::find("signed_xor")
            .unwrap()
            .generate(500, None, &mut Rng::new(4));
        for i in 0..t.rows() {
            let r = t.row(i);
            assert_eq!(t.y[i], u32::from(r[0] * r[1] >= 0.0));
        }
    }

    #[test]
    fn every_set_is_balanced_and_seeded() {
        for set in SYNTHETIC {
            let a = set.generate(400, None, &mut Rng::new(9));
            let b = set.generate(400, None, &mut Rng::new(9));
            assert_eq!(a, b, "{}", set.name);
            let ones = a.y.iter().filter(|&&y| y == 1).count();
            assert!((120..=280).contains(&ones), "{}: {ones} of 400", set.name);
        }
    }
}
