//! Several [`Curves`] side by side on one image, e.g. one panel per block.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::Figure;
use crate::plot::curves::Curves;

/// Panels laid out row by row, `columns` to a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Panels {
    /// The panels, in reading order.
    pub panels: Vec<Curves>,
    /// Panels per row.
    pub columns: usize,
}

impl Panels {
    fn grid(&self) -> (usize, usize) {
        let columns = self.columns.clamp(1, self.panels.len().max(1));
        (self.panels.len().div_ceil(columns).max(1), columns)
    }
}

impl Figure for Panels {
    fn size(&self) -> (u32, u32) {
        let (rows, columns) = self.grid();
        (420 * columns as u32, 300 * rows as u32)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let (rows, columns) = self.grid();
        for (panel, cell) in self.panels.iter().zip(area.split_evenly((rows, columns))) {
            panel.draw(&cell)?;
        }
        Ok(())
    }
}
