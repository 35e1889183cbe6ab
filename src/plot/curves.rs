//! Line charts of several series over a shared x axis (training curves of runs overlaid), the
//! legend in a column of its own beside the plot area.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::axis::Axis;
use crate::plot::legend::Legend;
use crate::plot::style::{Dash, SeriesStyle};
use crate::plot::{FONT, Figure};

/// One named line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// `(x, y)` points in order of x; non-finite ys (and, on a log axis, ys ≤ 0) are skipped.
    pub points: Vec<(f64, f64)>,
    /// Colour and dash.
    pub style: SeriesStyle,
}

/// Several series on one chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Curves {
    /// Chart title.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// A logarithmic y axis (positive values only).
    pub log_y: bool,
    /// The lines.
    pub series: Vec<Series>,
    /// The y range shown (data units), e.g. shared by panels or zoomed to where curves are;
    /// `None` fits every point. Lines leaving it are clipped at its edges.
    pub y_range: Option<(f64, f64)>,
    /// Whether the chart draws its own legend (off in panels that share one; never for a
    /// single series, whose name is the title's business).
    pub legend: bool,
}

/// Plot-area pixels of a standalone chart, legend column excluded.
const SIZE: (u32, u32) = (760, 460);

impl Curves {
    /// A chart with its own legend, fitted to its points.
    pub fn new(title: impl Into<String>, x_label: &str, y_label: &str, log_y: bool) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_y,
            series: Vec::new(),
            y_range: None,
            legend: true,
        }
    }

    /// The legend this chart draws beside itself, if any.
    pub fn own_legend(&self) -> Option<Legend> {
        (self.legend && self.series.len() > 1)
            .then(|| Legend::lines(self.series.iter().map(|s| (s.name.as_str(), s.style))))
    }

    /// The plotted points as drawn: y as log₁₀(y) on a log axis, unplottable points dropped.
    fn plotted(&self, series: &Series) -> Vec<(f64, f64)> {
        series
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!self.log_y || *y > 0.0))
            .map(|&(x, y)| (x, if self.log_y { y.log10() } else { y }))
            .collect()
    }

    /// `(x range, y range)` in drawing units (log₁₀ on a log axis), padded.
    pub fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let points: Vec<(f64, f64)> = self.series.iter().flat_map(|s| self.plotted(s)).collect();
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in &points {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        if x0 > x1 {
            return ((0.0, 1.0), (0.0, 1.0));
        }
        if x0 == x1 {
            x1 = x0 + 1.0;
        }
        if let Some((low, high)) = self.y_range {
            let t = |v: f64| if self.log_y { v.log10() } else { v };
            return ((x0, x1), (t(low), t(high)));
        }
        ((x0, x1), pad(y0, y1))
    }
}

/// A data range padded by 5 % (a flat line gets a readable range).
pub fn pad(low: f64, high: f64) -> (f64, f64) {
    let pad = if high - low < 1e-6 * low.abs().max(high.abs()).max(1.0) {
        0.5 * low.abs().max(1.0)
    } else {
        (high - low) * 0.05
    };
    (low - pad, high + pad)
}

impl Figure for Curves {
    fn size(&self) -> (u32, u32) {
        let legend = self.own_legend().map_or(0, |l| l.width());
        (SIZE.0 + legend, SIZE.1)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let plot = Legend::beside(self.own_legend().as_ref(), area, 40)?;
        self.draw_chart(&plot, 18)
    }
}

impl Curves {
    /// Draws axes and lines (no legend) on `area`, the title at `title_size`.
    pub fn draw_chart<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title_size: u32,
    ) -> std::result::Result<(), String> {
        let ((x0, x1), (y0, y1)) = self.bounds();
        let y_axis = if self.log_y {
            Axis::log(y0, y1)
        } else {
            Axis::linear(y0, y1, 6)
        };
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FONT, title_size))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(62)
            .build_cartesian_2d(Axis::linear(x0, x1, 6), y_axis)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(TRANSPARENT)
            .label_style((FONT, 13))
            .draw()
            .map_err(|e| e.to_string())?;
        for series in &self.series {
            for piece in clip(&self.plotted(series), (x0, x1), (y0, y1)) {
                draw_line(&mut chart, piece, series.style)?;
            }
        }
        Ok(())
    }
}

type Chart<'a, DB, R> = ChartContext<'a, DB, Cartesian2d<R, R>>;

fn draw_line<'a, DB: DrawingBackend + 'a, R>(
    chart: &mut Chart<'a, DB, R>,
    points: Vec<(f64, f64)>,
    style: SeriesStyle,
) -> std::result::Result<(), String>
where
    R: Ranged<ValueType = f64>,
{
    let stroke = style.colour.stroke_width(2);
    let result = match style.dash {
        Dash::Solid => chart.draw_series(LineSeries::new(points, stroke)),
        Dash::Dashed => chart.draw_series(DashedLineSeries::new(points, 7, 4, stroke)),
        Dash::Dotted => chart.draw_series(DashedLineSeries::new(points, 2, 3, stroke)),
    };
    result.map(|_| ()).map_err(|e| e.to_string())
}

/// A polyline cut to the box `[x0, x1] × [y0, y1]`: the visible pieces, each continuous.
pub fn clip(points: &[(f64, f64)], xs: (f64, f64), ys: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let inside = |(x, y): (f64, f64)| x >= xs.0 && x <= xs.1 && y >= ys.0 && y <= ys.1;
    let mut pieces: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    if let [only] = points
        && inside(*only)
    {
        pieces.push(vec![*only]);
    }
    for pair in points.windows(2) {
        match clip_segment(pair[0], pair[1], xs, ys) {
            Some((a, b)) => {
                if current.last() != Some(&a) {
                    if current.len() > 1 {
                        pieces.push(std::mem::take(&mut current));
                    }
                    current = vec![a];
                }
                current.push(b);
            }
            None => {
                if current.len() > 1 {
                    pieces.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    if current.len() > 1 {
        pieces.push(current);
    }
    pieces
}

/// Liang–Barsky: the part of segment `a → b` inside the box, if any.
fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    xs: (f64, f64),
    ys: (f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - xs.0),
        (dx, xs.1 - a.0),
        (-dy, a.1 - ys.0),
        (dy, ys.1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| (a.0 + t * dx, a.1 + t * dy);
    Some((
        if t0 == 0.0 { a } else { at(t0) },
        if t1 == 1.0 { b } else { at(t1) },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_the_visible_pieces_and_cuts_at_the_edges() {
        let points = [(0.0, 0.5), (1.0, 2.0), (2.0, 0.5), (3.0, 0.6)];
        let pieces = clip(&points, (0.0, 3.0), (0.0, 1.0));
        assert_eq!(pieces.len(), 2);
        let close = |a: &[(f64, f64)], b: &[(f64, f64)]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(p, q)| (p.0 - q.0).abs() < 1e-12 && (p.1 - q.1).abs() < 1e-12)
        };
        assert!(close(&pieces[0], &[(0.0, 0.5), (1.0 / 3.0, 1.0)]));
        assert!(close(
            &pieces[1],
            &[(5.0 / 3.0, 1.0), (2.0, 0.5), (3.0, 0.6)]
        ));
        assert!(clip(&[(0.0, 5.0), (1.0, 6.0)], (0.0, 1.0), (0.0, 1.0)).is_empty());
    }
}
