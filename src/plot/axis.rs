//! An axis whose ticks and labels are given ([`crate::plot::ticks`]): plotters draws grid
//! lines and labels at exactly those values.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

/// A linear `f64` axis over `range` with ticks `(value, label)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    range: Range<f64>,
    ticks: Vec<(f64, String)>,
}

impl Axis {
    /// The axis over `[low, high]` with `ticks` (values outside the range are dropped).
    pub fn new(low: f64, high: f64, ticks: Vec<(f64, String)>) -> Self {
        let ticks = ticks
            .into_iter()
            .filter(|(v, _)| *v >= low - 1e-9 && *v <= high + 1e-9)
            .collect();
        Self {
            range: low..high,
            ticks,
        }
    }

    /// Round linear ticks (about `target` of them), labelled without spurious decimals.
    pub fn linear(low: f64, high: f64, target: usize) -> Self {
        let (values, step) = crate::plot::ticks::linear(low, high, target);
        let ticks = values
            .into_iter()
            .map(|v| (v, crate::plot::ticks::label(v, step)))
            .collect();
        Self::new(low, high, ticks)
    }

    /// A log axis drawn over log₁₀ values `[low, high]`, one label per decade.
    pub fn log(low: f64, high: f64) -> Self {
        Self::new(low, high, crate::plot::ticks::log(low, high))
    }
}

impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let t = if span > 0.0 {
            (value - self.range.start) / span
        } else {
            0.5
        };
        limit.0 + (t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.iter().map(|(v, _)| *v).collect()
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

impl ValueFormatter<f64> for Axis {
    fn format_ext(&self, value: &f64) -> String {
        self.ticks
            .iter()
            .find(|(v, _)| (v - value).abs() < 1e-9)
            .map_or_else(String::new, |(_, label)| label.clone())
    }
}
