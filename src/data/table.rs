//! A table of samples: row-major features with integer class labels or float targets.

/// Samples as rows of `features` values, each with a class label, or with `target_width`
/// float targets (regression).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Row-major features, `rows × features` values.
    pub x: Vec<f32>,
    /// One class label per row, from 0 (all 0 for a table of float targets).
    pub y: Vec<u32>,
    /// Number of features per row.
    pub features: usize,
    /// Row-major float targets, `rows × target_width` values (empty for class labels).
    pub targets: Vec<f32>,
    /// Float targets per row (0: the table has class labels).
    pub target_width: usize,
    /// The shape of a sample, `[channels, height, width]`, when the rows are images
    /// (flattened channel-major); `None` for flat features.
    pub volume: Option<[usize; 3]>,
    /// Each row's index in the file (or arrays) it was read from, kept through every split and
    /// selection; filled when a data set is prepared (empty in a table a loader just made).
    pub origin: Vec<usize>,
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
        check_matrix(&x, shape, "feature", what)?;
        if y.len() != rows {
            return Err(crate::Error::data(
                what,
                format!("{} labels for {rows} rows", y.len()),
            ));
        }
        Ok(Self {
            x,
            y,
            features,
            targets: Vec::new(),
            target_width: 0,
            volume: None,
            origin: Vec::new(),
        })
    }

    /// A table of float targets (regression): row-major `x` of `shape` `[rows, features]` and
    /// `targets` of `target_shape` `[rows, width]`; `what` names the arrays in errors.
    pub fn with_targets(
        x: Vec<f32>,
        shape: [usize; 2],
        targets: Vec<f32>,
        target_shape: [usize; 2],
        what: &str,
    ) -> crate::Result<Self> {
        let [rows, width] = target_shape;
        let targets_of = format!("{what} targets");
        if rows != shape[0] {
            return Err(crate::Error::data(
                &targets_of,
                format!("{rows} rows of targets for {} rows of features", shape[0]),
            ));
        }
        check_matrix(&targets, target_shape, "target", &targets_of)?;
        let mut table = Self::from_arrays(x, shape, vec![0; rows], what)?;
        table.targets = targets;
        table.target_width = width;
        Ok(table)
    }

    /// Row `i`'s float targets (empty for a table of class labels).
    pub fn target_row(&self, i: usize) -> &[f32] {
        &self.targets[i * self.target_width..(i + 1) * self.target_width]
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
        let mut targets = Vec::with_capacity(indices.len() * self.target_width);
        for &i in indices {
            targets.extend_from_slice(self.target_row(i));
        }
        Table {
            x,
            y: indices.iter().map(|&i| self.y[i]).collect(),
            features: self.features,
            targets,
            target_width: self.target_width,
            volume: self.volume,
            origin: indices
                .iter()
                .map(|&i| self.origin.get(i).copied().unwrap_or(i))
                .collect(),
        }
    }

    /// The largest label plus one (0 for an empty table).
    pub fn label_bound(&self) -> usize {
        self.y.iter().max().map_or(0, |&m| m as usize + 1)
    }
}

/// Checks that `values` fill `[rows, width]` (at least one `kind` per row) with finite
/// numbers; `what` names the arrays in errors.
fn check_matrix(
    values: &[f32],
    [rows, width]: [usize; 2],
    kind: &str,
    what: &str,
) -> crate::Result<()> {
    let bad = |message: String| Err(crate::Error::data(what, message));
    if width == 0 {
        return bad(format!("a sample needs at least one {kind}"));
    }
    if rows.checked_mul(width) != Some(values.len()) {
        return bad(format!(
            "{} values do not fill the shape [{rows}, {width}]",
            values.len()
        ));
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => bad(format!(
            "row {}, column {}: {} is not a finite number",
            i / width,
            i % width,
            values[i]
        )),
        None => Ok(()),
    }
}
