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
    /// A table from row-major `x` of `shape` `[rows, features]` and one label per row; `what`
    /// names the arrays in errors.
    pub fn from_arrays(
        x: Vec<f32>,
        shape: [usize; 2],
        y: Vec<u32>,
        what: &str,
    ) -> crate::Result<Self> {
        let [rows, features] = shape;
        let bad = |message: String| Err(crate::Error::data(what, message));
        if features == 0 {
            return bad("a sample needs at least one feature".into());
        }
        if rows.checked_mul(features) != Some(x.len()) {
            return bad(format!(
                "{} values do not fill the shape [{rows}, {features}]",
                x.len()
            ));
        }
        if y.len() != rows {
            return bad(format!("{} labels for {rows} rows", y.len()));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return bad(format!(
                "row {}, column {}: {} is not a finite number",
                i / features,
                i % features,
                x[i]
            ));
        }
        Ok(Self { x, y, features })
    }

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
