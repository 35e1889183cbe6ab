//! Several [`Curves`] side by side on one image, e.g. one panel per block, with one legend for
//! the whole figure in a column at its right.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::Figure;
use crate::plot::curves::Curves;
use crate::plot::legend::Legend;

/// Panels laid out row by row, `columns` to a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Panels {
    /// The panels, in reading order (their own `legend` flags are ignored).
    pub panels: Vec<Curves>,
    /// Panels per row.
    pub columns: usize,
}

/// Pixels of one panel.
const PANEL: (u32, u32) = (420, 300);

impl Panels {
    fn grid(&self) -> (usize, usize) {
        let columns = self.columns.clamp(1, self.panels.len().max(1));
        (self.panels.len().div_ceil(columns).max(1), columns)
    }

    /// The shared legend: every series name of every panel once, in order of appearance; none
    /// when every panel has a single series of the same name.
    pub fn legend(&self) -> Option<Legend> {
        let legend = Legend::lines(
            self.panels
                .iter()
                .flat_map(|p| p.series.iter().map(|s| (s.name.as_str(), s.style))),
        );
        let single = self.panels.iter().all(|p| p.series.len() <= 1);
        (legend.entries.len() > 1 || !single && !legend.entries.is_empty()).then_some(legend)
    }

    /// One y range for every panel (drawing all on one scale): the union of their fitted
    /// ranges, padded.
    pub fn share_y(mut self) -> Self {
        let (mut low, mut high) = (f64::MAX, f64::MIN);
        for panel in &self.panels {
            for (_, y) in panel.series.iter().flat_map(|s| s.points.iter()) {
                if y.is_finite() && (!panel.log_y || *y > 0.0) {
                    (low, high) = (low.min(*y), high.max(*y));
                }
            }
        }
        if low <= high {
            let range = if self.panels.iter().any(|p| p.log_y) {
                let (l, h) = crate::plot::curves::pad(low.log10(), high.log10());
                (10f64.powf(l), 10f64.powf(h))
            } else {
                crate::plot::curves::pad(low, high)
            };
            for panel in &mut self.panels {
                panel.y_range = Some(range);
            }
        }
        self
    }
}

impl Figure for Panels {
    fn size(&self) -> (u32, u32) {
        let (rows, columns) = self.grid();
        let legend = self.legend();
        let height = (PANEL.1 * rows as u32).max(legend.as_ref().map_or(0, |l| l.height() + 40));
        (
            PANEL.0 * columns as u32 + legend.map_or(0, |l| l.width()),
            height,
        )
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let (rows, columns) = self.grid();
        let grid = Legend::beside(self.legend().as_ref(), area, 30)?;
        let (grid, _) = grid.split_vertically(PANEL.1 * rows as u32);
        for (panel, cell) in self.panels.iter().zip(grid.split_evenly((rows, columns))) {
            panel.draw_chart(&cell, 15)?;
        }
        Ok(())
    }
}
