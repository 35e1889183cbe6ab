//! Histograms side by side, e.g. one per block of its activations.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::axis::Axis;
use crate::plot::style::SeriesStyle;
use crate::plot::{FONT, Figure};

/// One histogram of equal-width bins.
#[derive(Debug, Clone, PartialEq)]
pub struct Bars {
    /// Panel title.
    pub title: String,
    /// Lower edge of the first bin.
    pub low: f64,
    /// Upper edge of the last bin.
    pub high: f64,
    /// Count per bin.
    pub counts: Vec<u64>,
}

/// Histograms laid out row by row, `columns` to a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Histograms {
    /// The panels, in reading order.
    pub panels: Vec<Bars>,
    /// Panels per row.
    pub columns: usize,
    /// The x axis label of every panel.
    pub x_label: String,
}

impl Histograms {
    fn grid(&self) -> (usize, usize) {
        let columns = self.columns.clamp(1, self.panels.len().max(1));
        (self.panels.len().div_ceil(columns).max(1), columns)
    }
}

impl Figure for Histograms {
    fn size(&self) -> (u32, u32) {
        let (rows, columns) = self.grid();
        (380 * columns as u32, 280 * rows as u32)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let (rows, columns) = self.grid();
        for (k, (panel, cell)) in self
            .panels
            .iter()
            .zip(area.split_evenly((rows, columns)))
            .enumerate()
        {
            let top = panel.counts.iter().copied().max().unwrap_or(0).max(1) as f64;
            let mut chart = ChartBuilder::on(&cell)
                .caption(&panel.title, (FONT, 16))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(55)
                .build_cartesian_2d(
                    Axis::linear(panel.low, panel.high, 5),
                    Axis::linear(0.0, top * 1.05, 5),
                )
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc("count")
                .bold_line_style(RGBColor(225, 225, 225))
                .light_line_style(TRANSPARENT)
                .label_style((FONT, 12))
                .draw()
                .map_err(|e| e.to_string())?;
            let width = (panel.high - panel.low) / panel.counts.len().max(1) as f64;
            let colour = SeriesStyle::block(k, self.panels.len()).colour;
            chart
                .draw_series(panel.counts.iter().enumerate().map(|(i, &count)| {
                    let x0 = panel.low + i as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width, count as f64)], colour.filled())
                }))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
