//! Host-side dense linear algebra in f64 for the few places that need a matrix inverse
//! (target propagation's exact and pseudoinverse feedback). Written by hand because burn 0.22
//! has no inverse or decomposition; the matrices are layer-sized (hundreds of rows), so a
//! Gauss–Jordan elimination on the host is cheap next to a training step.

use burn::tensor::Tensor;

use crate::host;

/// A row-major `rows × cols` matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows · cols` entries, row by row.
    pub data: Vec<f64>,
}

impl Matrix {
    /// Copies a tensor to the host.
    pub fn from_tensor(tensor: &Tensor<2>) -> Self {
        let [rows, cols] = tensor.dims();
        let data = host::values(tensor).into_iter().map(f64::from).collect();
        Self { rows, cols, data }
    }

    /// Copies the matrix onto `like`'s device as f32.
    pub fn to_tensor(&self, like: &Tensor<2>) -> Tensor<2> {
        let values = self.data.iter().map(|&v| v as f32).collect();
        host::matrix(values, self.rows, self.cols, &like.device())
    }

    /// The transpose.
    pub fn transpose(&self) -> Self {
        let mut data = vec![0.0; self.data.len()];
        for r in 0..self.rows {
            for c in 0..self.cols {
                data[c * self.rows + r] = self.data[r * self.cols + c];
            }
        }
        Self {
            rows: self.cols,
            cols: self.rows,
            data,
        }
    }

    /// The product `self · other`.
    pub fn matmul(&self, other: &Matrix) -> Self {
        assert_eq!(self.cols, other.rows, "matmul shapes");
        let mut data = vec![0.0; self.rows * other.cols];
        for r in 0..self.rows {
            let out = &mut data[r * other.cols..(r + 1) * other.cols];
            for k in 0..self.cols {
                let a = self.data[r * self.cols + k];
                let row = &other.data[k * other.cols..(k + 1) * other.cols];
                for (o, b) in out.iter_mut().zip(row) {
                    *o += a * b;
                }
            }
        }
        Self {
            rows: self.rows,
            cols: other.cols,
            data,
        }
    }

    /// The inverse of a square matrix by Gauss–Jordan elimination with partial pivoting;
    /// `None` when it is singular (a pivot below `1e-12` times the largest entry).
    pub fn inverse(&self) -> Option<Self> {
        assert_eq!(self.rows, self.cols, "inverse of a non-square matrix");
        let n = self.rows;
        let scale = self.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if scale == 0.0 {
            return None;
        }
        let mut a = self.data.clone();
        let mut inv = vec![0.0; n * n];
        for i in 0..n {
            inv[i * n + i] = 1.0;
        }
        for col in 0..n {
            let pivot = (col..n)
                .max_by(|&x, &y| a[x * n + col].abs().total_cmp(&a[y * n + col].abs()))
                .expect("a non-empty column");
            if a[pivot * n + col].abs() < 1e-12 * scale {
                return None;
            }
            if pivot != col {
                for c in 0..n {
                    a.swap(pivot * n + c, col * n + c);
                    inv.swap(pivot * n + c, col * n + c);
                }
            }
            let p = a[col * n + col];
            for c in 0..n {
                a[col * n + c] /= p;
                inv[col * n + c] /= p;
            }
            for r in 0..n {
                let factor = a[r * n + col];
                if r == col || factor == 0.0 {
                    continue;
                }
                for c in 0..n {
                    a[r * n + c] -= factor * a[col * n + c];
                    inv[r * n + c] -= factor * inv[col * n + c];
                }
            }
        }
        Some(Self {
            rows: n,
            cols: n,
            data: inv,
        })
    }

    /// The Moore–Penrose pseudoinverse of a full-rank matrix: `(AᵀA)⁻¹Aᵀ` when it has at least
    /// as many rows as columns, else `Aᵀ(AAᵀ)⁻¹`. A rank-deficient Gram matrix gets a ridge of
    /// `1e-8 · trace / n` (the damped pseudoinverse).
    pub fn pseudoinverse(&self) -> Self {
        let t = self.transpose();
        let tall = self.rows >= self.cols;
        let gram = if tall {
            t.matmul(self)
        } else {
            self.matmul(&t)
        };
        let inverse = gram.inverse().unwrap_or_else(|| {
            let n = gram.rows;
            let trace: f64 = (0..n).map(|i| gram.data[i * n + i]).sum();
            let mut damped = gram.clone();
            for i in 0..n {
                damped.data[i * n + i] += 1e-8 * trace.max(1e-30) / n as f64;
            }
            damped
                .inverse()
                .expect("a ridge-regularised Gram matrix is invertible")
        });
        if tall {
            inverse.matmul(&t)
        } else {
            t.matmul(&inverse)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn pseudoinverse_of_a_full_rank_square_matrix_is_its_inverse() {
        let mut rng = Rng::new(21);
        let w = Matrix {
            rows: 6,
            cols: 6,
            data: rng
                .normal_vec(36, 0.0, 1.0)
                .into_iter()
                .map(f64::from)
                .collect(),
        };
        for inverse in [w.pseudoinverse(), w.inverse().unwrap()] {
            let product = inverse.matmul(&w);
            for r in 0..6 {
                for c in 0..6 {
                    let expected = if r == c { 1.0 } else { 0.0 };
                    let got = product.data[r * 6 + c];
                    assert!((got - expected).abs() < 1e-9, "({r},{c}) = {got}");
                }
            }
        }
        let singular = Matrix {
            rows: 2,
            cols: 2,
            data: vec![1.0, 2.0, 2.0, 4.0],
        };
        assert!(singular.inverse().is_none());
    }
}
