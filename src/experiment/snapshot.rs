//! What a trained net looks like, saved at the end of a run so that `plasticity plot` can
//! redraw it: per-block activation histograms (`activations.json`) and, for 2-D data, the
//! decision boundary of the net and of each block's own decoder (`boundary.json`).

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, Table};
use crate::host;
use crate::net::{Mode, Net};
use crate::rule::LearningRule;
use crate::task::{Problem, Task};

/// Test rows whose activations the histograms count.
const HISTOGRAM_ROWS: usize = 1000;
/// Bins per histogram.
const BINS: usize = 40;
/// Cells per side of the decision-boundary grid.
const GRID: usize = 100;
/// Training points drawn on the boundary plot, at most.
const POINTS: usize = 2000;

/// The distribution of one block's evaluation-mode outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// The block.
    pub block: usize,
    /// Lower edge of the first bin.
    pub low: f64,
    /// Upper edge of the last bin.
    pub high: f64,
    /// Values per bin (equal widths).
    pub counts: Vec<u64>,
}

/// `activations.json`: one histogram per block, over the first test rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activations {
    /// Samples the histograms count.
    pub samples: usize,
    /// One per block, input first.
    pub blocks: Vec<Histogram>,
}

/// Predicted classes over a grid, row by row from the bottom (`y` low) up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMap {
    /// Whose prediction: `net`, or `block i` for a block's decoder.
    pub source: String,
    /// `GRID × GRID` classes.
    pub classes: Vec<u32>,
    /// Per cell, each class's probability (softmax of the scores; a single score's sigmoid
    /// for `[1 − p, p]`) × 255, rounded: `GRID × GRID × classes` bytes, cell-major (empty in
    /// files written before they were kept).
    #[serde(default)]
    pub probabilities: Vec<u8>,
}

/// `boundary.json`: decision boundaries of a net on 2-D data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Boundary {
    /// `(low, high)` of the first feature.
    pub x_range: (f64, f64),
    /// `(low, high)` of the second feature.
    pub y_range: (f64, f64),
    /// Cells per side.
    pub resolution: usize,
    /// Classes per cell in each map's `probabilities`.
    #[serde(default)]
    pub class_count: usize,
    /// The net's map, then one per block whose rule has a decoder.
    pub maps: Vec<ClassMap>,
    /// Training points `(x, y, label)` (at most 2000).
    pub points: Vec<(f64, f64, u32)>,
}

/// Histograms of every block's evaluation-mode output on the first test rows.
///
/// # Panics
/// If `net` has fewer inputs than `test` has features.
pub fn activations(net: &Net, test: &Table, device: &Device) -> Activations {
    let rows: Vec<usize> = (0..test.rows().min(HISTOGRAM_ROWS)).collect();
    // A net whose input also carries the label (forward-forward) gets the neutral label:
    // every class at 1/classes.
    let inputs = net.inputs();
    let label = inputs.saturating_sub(test.features);
    let neutral = vec![1.0 / label.max(1) as f32; label];
    let mut x = Vec::with_capacity(rows.len() * inputs);
    for &i in &rows {
        x.extend_from_slice(test.row(i));
        x.extend_from_slice(&neutral);
    }
    let mut h = host::matrix(x, rows.len(), inputs, device);
    let mut blocks = Vec::with_capacity(net.blocks.len());
    for (index, block) in net.blocks.iter().enumerate() {
        h = block.forward(h, &mut Mode::Eval).output;
        blocks.push(histogram(index, &host::values(&h)));
    }
    Activations {
        samples: rows.len(),
        blocks,
    }
}

fn histogram(block: usize, values: &[f32]) -> Histogram {
    let finite = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| f64::from(v));
    let (mut low, mut high) = finite
        .clone()
        .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    if low > high {
        (low, high) = (0.0, 1.0);
    } else if high - low < 1e-9 {
        (low, high) = (low - 0.5, high + 0.5);
    }
    let mut counts = vec![0u64; BINS];
    let width = (high - low) / BINS as f64;
    for v in finite {
        let bin = (((v - low) / width) as usize).min(BINS - 1);
        counts[bin] += 1;
    }
    Histogram {
        block,
        low,
        high,
        counts,
    }
}

/// A map of `scores` (`[cells, outputs]`): each row's class and probabilities.
fn class_map(source: String, scores: &Tensor<2>) -> ClassMap {
    let cols = scores.dims()[1];
    let values = host::values(scores);
    ClassMap {
        source,
        classes: classes(&values, cols),
        probabilities: probabilities(&values, cols),
    }
}

/// Each row's class probabilities × 255 (softmax; `[1 − σ(s), σ(s)]` for a single score).
fn probabilities(values: &[f32], cols: usize) -> Vec<u8> {
    let byte = |p: f64| (p.clamp(0.0, 1.0) * 255.0).round() as u8;
    let mut out = Vec::with_capacity(values.len() * cols.max(2));
    for row in values.chunks(cols.max(1)) {
        if cols == 1 {
            let p = 1.0 / (1.0 + (-f64::from(row[0])).exp());
            out.extend([byte(1.0 - p), byte(p)]);
        } else {
            let max = row.iter().fold(f32::MIN, |m, &v| m.max(v));
            let exp: Vec<f64> = row.iter().map(|&v| f64::from(v - max).exp()).collect();
            let sum: f64 = exp.iter().sum();
            out.extend(exp.iter().map(|e| byte(e / sum)));
        }
    }
    out
}

/// Row-wise argmax (or `score > 0` for a single output), one class per row.
fn classes(values: &[f32], cols: usize) -> Vec<u32> {
    values
        .chunks(cols.max(1))
        .map(|row| {
            if cols == 1 {
                u32::from(row[0] > 0.0)
            } else {
                let best = row
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(i, _)| i);
                best as u32
            }
        })
        .collect()
}

/// The decision boundary of the net (and of each block's decoder) over the training points'
/// range, for classification on 2-D data; `None` otherwise.
pub fn boundary(
    rule: &dyn LearningRule,
    net: &Net,
    data: &Dataset,
    task: Task,
    device: &Device,
) -> Option<Boundary> {
    boundary_at(rule, net, data, task, device, GRID)
}

/// The ranges of a 2-D table's two features, padded by a tenth on each side: the area a
/// decision boundary is drawn over.
pub fn plot_ranges(train: &Table) -> ((f64, f64), (f64, f64)) {
    let range = |feature: usize| {
        let (low, high) = (0..train.rows())
            .map(|i| f64::from(train.row(i)[feature]))
            .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
        let pad = 0.1 * (high - low).max(1e-3);
        (low - pad, high + pad)
    };
    (range(0), range(1))
}

/// [`boundary`] on a `resolution × resolution` grid (the playground redraws a coarser one
/// many times a second).
pub fn boundary_at(
    rule: &dyn LearningRule,
    net: &Net,
    data: &Dataset,
    task: Task,
    device: &Device,
    resolution: usize,
) -> Option<Boundary> {
    let train = &data.train;
    if train.features != 2 || task.problem != Problem::Classification || train.rows() == 0 {
        return None;
    }
    let (x_range, y_range) = plot_ranges(train);
    let mut grid = Vec::with_capacity(resolution * resolution * 2);
    for row in 0..resolution {
        let y = y_range.0 + (row as f64 + 0.5) / resolution as f64 * (y_range.1 - y_range.0);
        for col in 0..resolution {
            let x = x_range.0 + (col as f64 + 0.5) / resolution as f64 * (x_range.1 - x_range.0);
            grid.extend([x as f32, y as f32]);
        }
    }
    let grid = host::matrix(grid, resolution * resolution, 2, device);
    let net_scores = rule.predict(net, grid.clone());
    let class_count = net_scores.dims()[1].max(2);
    let mut maps = vec![class_map("net".into(), &net_scores)];
    for (block, scores) in rule.block_predictions(net, grid).iter().enumerate() {
        if let Some(scores) = scores {
            maps.push(class_map(format!("block {block}"), scores));
        }
    }
    let step = train.rows().div_ceil(POINTS).max(1);
    let points = (0..train.rows())
        .step_by(step)
        .map(|i| {
            let row = train.row(i);
            (f64::from(row[0]), f64::from(row[1]), train.y[i])
        })
        .collect();
    Some(Boundary {
        x_range,
        y_range,
        resolution,
        class_count,
        maps,
        points,
    })
}
