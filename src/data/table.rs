//! A table of samples: row-major features and integer class labels.

/// Samples as rows of `features` values, each with a class label.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Row-major features, `rows × features` values.
    pub x: Vec<f32>,
    /// One class label per row, from 0.
    pub y: Vec<u32>,
    /// Number of features per row.
    pub features: usize,
}

impl Table {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.y.len()
    }

    /// Row `i`'s features.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.features..(i + 1) * self.features]
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Table {
        let mut x = Vec::with_capacity(indices.len() * self.features);
        for &i in indices {
            x.extend_from_slice(self.row(i));
        }
        Table {
            x,
            y: indices.iter().map(|&i| self.y[i]).collect(),
            features: self.features,
        }
    }

    /// The largest label plus one (0 for an empty table).
    pub fn label_bound(&self) -> usize {
        self.y.iter().max().map_or(0, |&m| m as usize + 1)
    }
}
