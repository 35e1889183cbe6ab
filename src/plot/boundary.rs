//! Decision boundaries on 2-D data: each panel shades a grid by its predicted class, darker
//! where the prediction is surer, draws the decision boundary (the 0.5 contour for two classes)
//! and the training points, translucent, on top; one class legend for the figure. E.g. the
//! net's boundary beside each block decoder's.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::axis::Axis;
use crate::plot::legend::{Entry, Key, Legend};
use crate::plot::style::{PALETTE, SeriesStyle};
use crate::plot::{FONT, Figure};

/// One grid of predictions, row by row from the bottom up.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassGrid {
    /// Panel title.
    pub title: String,
    /// `resolution × resolution` classes.
    pub classes: Vec<u32>,
    /// Per cell, each class's probability × 255 (`resolution² × class_count`, cell-major);
    /// empty draws hard class colours without a contour.
    pub probabilities: Vec<u8>,
}

/// Decision-boundary panels sharing a range and a set of points.
#[derive(Debug, Clone, PartialEq)]
pub struct Boundaries {
    /// The panels, in reading order.
    pub panels: Vec<ClassGrid>,
    /// Cells per side.
    pub resolution: usize,
    /// Classes per cell in `probabilities`.
    pub class_count: usize,
    /// `(low, high)` of x.
    pub x_range: (f64, f64),
    /// `(low, high)` of y.
    pub y_range: (f64, f64),
    /// Points `(x, y, class)`.
    pub points: Vec<(f64, f64, u32)>,
    /// Panels per row.
    pub columns: usize,
}

/// Pixels of one panel.
const PANEL: u32 = 380;
/// Shading levels of a class's colour (how sure the prediction is).
const LEVELS: u8 = 8;

fn colour(class: u32) -> RGBColor {
    PALETTE[class as usize % PALETTE.len()]
}

impl Boundaries {
    fn grid(&self) -> (usize, usize) {
        let columns = self.columns.clamp(1, self.panels.len().max(1));
        (self.panels.len().div_ceil(columns).max(1), columns)
    }

    /// The classes present (in the points or any map), in order.
    fn classes(&self) -> Vec<u32> {
        let mut classes: Vec<u32> = self
            .points
            .iter()
            .map(|p| p.2)
            .chain(self.panels.iter().flat_map(|p| p.classes.iter().copied()))
            .collect();
        classes.sort_unstable();
        classes.dedup();
        classes
    }

    /// The figure's legend: one patch per class, and the boundary line.
    pub fn legend(&self) -> Legend {
        let mut entries: Vec<Entry> = self
            .classes()
            .into_iter()
            .map(|c| Entry {
                label: format!("class {c}"),
                key: Key::Patch(SeriesStyle::of(c as usize % PALETTE.len())),
            })
            .collect();
        if self.panels.iter().any(|p| !p.probabilities.is_empty()) {
            entries.push(Entry {
                label: if self.class_count <= 2 {
                    "p = 0.5".into()
                } else {
                    "boundary".into()
                },
                key: Key::Line(SeriesStyle {
                    colour: BLACK,
                    dash: crate::plot::style::Dash::Solid,
                }),
            });
        }
        Legend { entries }
    }

    /// Shade level `0..LEVELS` of cell `i` in `panel`: how far its top probability is above
    /// chance.
    fn level(&self, panel: &ClassGrid, i: usize) -> u8 {
        let k = self.class_count.max(2);
        let Some(cell) = panel.probabilities.get(i * k..(i + 1) * k) else {
            return LEVELS - 1;
        };
        let top = f64::from(cell.iter().copied().max().unwrap_or(255)) / 255.0;
        let chance = 1.0 / k as f64;
        let sure = ((top - chance) / (1.0 - chance)).clamp(0.0, 1.0);
        ((sure * f64::from(LEVELS)) as u8).min(LEVELS - 1)
    }

    /// The field whose zero level is class `c`'s boundary: `p_c − max_{c' ≠ c} p_c'`, per cell.
    fn margin(&self, panel: &ClassGrid, c: usize) -> Vec<f64> {
        let k = self.class_count.max(2);
        panel
            .probabilities
            .chunks(k)
            .map(|cell| {
                let own = f64::from(cell[c]);
                let other = cell
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != c)
                    .map(|(_, &p)| f64::from(p))
                    .fold(f64::MIN, f64::max);
                own - other
            })
            .collect()
    }
}

impl Figure for Boundaries {
    fn size(&self) -> (u32, u32) {
        let (rows, columns) = self.grid();
        let legend = self.legend();
        (
            PANEL * columns as u32 + legend.width(),
            (PANEL * rows as u32).max(legend.height() + 40),
        )
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let (rows, columns) = self.grid();
        let legend = self.legend();
        let (width, _) = area.dim_in_pixel();
        let (grid, column) = area.split_horizontally(width - legend.width());
        legend.draw(&column, 30)?;
        let (grid, _) = grid.split_vertically(PANEL * rows as u32);
        for (panel, cell) in self.panels.iter().zip(grid.split_evenly((rows, columns))) {
            self.draw_panel(panel, &cell)?;
        }
        Ok(())
    }
}

impl Boundaries {
    fn draw_panel<DB: DrawingBackend>(
        &self,
        panel: &ClassGrid,
        cell: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        let n = self.resolution.max(1);
        let (dx, dy) = ((x1 - x0) / n as f64, (y1 - y0) / n as f64);
        let mut chart = ChartBuilder::on(cell)
            .caption(&panel.title, (FONT, 15))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(Axis::linear(x0, x1, 5), Axis::linear(y0, y1, 5))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_mesh()
            .label_style((FONT, 12))
            .draw()
            .map_err(|e| e.to_string())?;
        // One rectangle per run of equal (class, shade) cells along a row keeps the SVG small.
        let mut cells = Vec::new();
        let key = |i: usize| (panel.classes[i], self.level(panel, i));
        for row in 0..panel.classes.len() / n {
            let mut start = 0;
            for col in 1..=n {
                if col == n || key(row * n + col) != key(row * n + start) {
                    let (class, level) = key(row * n + start);
                    let cy = y0 + row as f64 * dy;
                    let shade = 0.12 + 0.5 * (f64::from(level) + 0.5) / f64::from(LEVELS);
                    cells.push(Rectangle::new(
                        [
                            (x0 + start as f64 * dx, cy),
                            (x0 + col as f64 * dx, cy + dy),
                        ],
                        colour(class).mix(shade).filled(),
                    ));
                    start = col;
                }
            }
        }
        chart.draw_series(cells).map_err(|e| e.to_string())?;
        if !panel.probabilities.is_empty() {
            let contours: Vec<usize> = if self.class_count <= 2 {
                vec![1]
            } else {
                (0..self.class_count).collect()
            };
            let centre = |(c, r): (f64, f64)| (x0 + (c + 0.5) * dx, y0 + (r + 0.5) * dy);
            let segments = contours.into_iter().flat_map(|c| {
                zero_contour(&self.margin(panel, c), n)
                    .into_iter()
                    .map(move |(a, b)| {
                        PathElement::new(vec![centre(a), centre(b)], BLACK.stroke_width(2))
                    })
            });
            chart.draw_series(segments).map_err(|e| e.to_string())?;
        }
        chart
            .draw_series(self.points.iter().map(|&(x, y, class)| {
                EmptyElement::at((x, y))
                    + Circle::new((0, 0), 3, colour(class).mix(0.55).filled())
                    + Circle::new((0, 0), 3, WHITE.mix(0.8).stroke_width(1))
            }))
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// Marching squares: the segments where the field `v` (an `n × n` grid, row by row) crosses
/// zero, in grid coordinates `(column, row)` of the cell centres.
pub fn zero_contour(v: &[f64], n: usize) -> Vec<((f64, f64), (f64, f64))> {
    let mut segments = Vec::new();
    if v.len() < n * n || n < 2 {
        return segments;
    }
    let at = |c: usize, r: usize| v[r * n + c];
    for r in 0..n - 1 {
        for c in 0..n - 1 {
            // Corners counter-clockwise from the bottom left, and the edges between them.
            let corners = [
                ((c, r), at(c, r)),
                ((c + 1, r), at(c + 1, r)),
                ((c + 1, r + 1), at(c + 1, r + 1)),
                ((c, r + 1), at(c, r + 1)),
            ];
            let crossings: Vec<(f64, f64)> = (0..4)
                .filter_map(|e| {
                    let ((ca, va), (cb, vb)) = (corners[e], corners[(e + 1) % 4]);
                    ((va >= 0.0) != (vb >= 0.0)).then(|| {
                        let t = va / (va - vb);
                        let lerp = |a: usize, b: usize| a as f64 + t * (b as f64 - a as f64);
                        (lerp(ca.0, cb.0), lerp(ca.1, cb.1))
                    })
                })
                .collect();
            for pair in crossings.chunks_exact(2) {
                segments.push((pair[0], pair[1]));
            }
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contour_of_a_plane_is_the_line_where_it_is_zero() {
        // v = column − 1.5 on a 4 × 4 grid: zero on the vertical line column = 1.5.
        let v: Vec<f64> = (0..16).map(|i| (i % 4) as f64 - 1.5).collect();
        let segments = zero_contour(&v, 4);
        assert_eq!(segments.len(), 3);
        for (a, b) in segments {
            assert!((a.0 - 1.5).abs() < 1e-12 && (b.0 - 1.5).abs() < 1e-12);
            assert!((a.1 - b.1).abs() == 1.0);
        }
    }
}
