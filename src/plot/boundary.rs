//! Decision boundaries on 2-D data: each panel colours a grid by predicted class and draws the
//! training points on top, e.g. the net's boundary beside each block decoder's.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::curves::PALETTE;
use crate::plot::{FONT, Figure};

/// One grid of predicted classes, row by row from the bottom up.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassGrid {
    /// Panel title.
    pub title: String,
    /// `resolution × resolution` classes.
    pub classes: Vec<u32>,
}

/// Decision-boundary panels sharing a range and a set of points.
#[derive(Debug, Clone, PartialEq)]
pub struct Boundaries {
    /// The panels, in reading order.
    pub panels: Vec<ClassGrid>,
    /// Cells per side.
    pub resolution: usize,
    /// `(low, high)` of x.
    pub x_range: (f64, f64),
    /// `(low, high)` of y.
    pub y_range: (f64, f64),
    /// Points `(x, y, class)`.
    pub points: Vec<(f64, f64, u32)>,
    /// Panels per row.
    pub columns: usize,
}

impl Boundaries {
    fn grid(&self) -> (usize, usize) {
        let columns = self.columns.clamp(1, self.panels.len().max(1));
        (self.panels.len().div_ceil(columns).max(1), columns)
    }
}

fn colour(class: u32) -> RGBColor {
    PALETTE[class as usize % PALETTE.len()]
}

impl Figure for Boundaries {
    fn size(&self) -> (u32, u32) {
        let (rows, columns) = self.grid();
        (400 * columns as u32, 400 * rows as u32)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let (rows, columns) = self.grid();
        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        let n = self.resolution.max(1);
        let (dx, dy) = ((x1 - x0) / n as f64, (y1 - y0) / n as f64);
        for (panel, cell) in self.panels.iter().zip(area.split_evenly((rows, columns))) {
            let mut chart = ChartBuilder::on(&cell)
                .caption(&panel.title, (FONT, 16))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(40)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .disable_mesh()
                .label_style((FONT, 12))
                .draw()
                .map_err(|e| e.to_string())?;
            // One rectangle per run of equal classes along a row keeps the SVG small.
            let mut cells = Vec::new();
            for (row, classes) in panel.classes.chunks(n).enumerate() {
                let mut start = 0;
                for col in 1..=classes.len() {
                    if col == classes.len() || classes[col] != classes[start] {
                        let cy = y0 + row as f64 * dy;
                        cells.push(Rectangle::new(
                            [
                                (x0 + start as f64 * dx, cy),
                                (x0 + col as f64 * dx, cy + dy),
                            ],
                            colour(classes[start]).mix(0.35).filled(),
                        ));
                        start = col;
                    }
                }
            }
            chart.draw_series(cells).map_err(|e| e.to_string())?;
            chart
                .draw_series(self.points.iter().map(|&(x, y, class)| {
                    Circle::new((x, y), 3, colour(class).filled().stroke_width(1))
                }))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
