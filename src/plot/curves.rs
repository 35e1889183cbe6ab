//! Line charts of several series over a shared x axis (training curves of runs overlaid).

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::{FONT, Figure};

/// One named line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// `(x, y)` points in order of x; non-finite ys are skipped.
    pub points: Vec<(f64, f64)>,
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
}

/// Distinct line colours, cycled.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

impl Curves {
    fn finite_points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let log_y = self.log_y;
        self.series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(move |(x, y)| x.is_finite() && y.is_finite() && (!log_y || *y > 0.0))
    }

    /// `(x range, y range)` covering every point, padded.
    fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in self.finite_points() {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        if x0 > x1 {
            return ((0.0, 1.0), if self.log_y { (0.1, 1.0) } else { (0.0, 1.0) });
        }
        if x0 == x1 {
            x1 = x0 + 1.0;
        }
        if self.log_y {
            return ((x0, x1), (y0 / 1.5, y1 * 1.5));
        }
        // A flat line (e.g. an angle that is 0 up to rounding) gets a readable range.
        let pad = if y1 - y0 < 1e-6 * y0.abs().max(y1.abs()).max(1.0) {
            0.5 * y0.abs().max(1.0)
        } else {
            (y1 - y0) * 0.05
        };
        ((x0, x1), (y0 - pad, y1 + pad))
    }
}

impl Figure for Curves {
    fn size(&self) -> (u32, u32) {
        (800, 480)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let ((x0, x1), (y0, y1)) = self.bounds();
        let mut builder = ChartBuilder::on(area);
        builder
            .caption(&self.title, (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60);
        if self.log_y {
            let mut chart = builder
                .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .y_label_formatter(&|v| format!("{v:.0e}"))
                .label_style((FONT, 13))
                .draw()
                .map_err(|e| e.to_string())?;
            draw_lines(&mut chart, self)
        } else {
            let mut chart = builder
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .label_style((FONT, 13))
                .draw()
                .map_err(|e| e.to_string())?;
            draw_lines(&mut chart, self)
        }
    }
}

fn draw_lines<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    curves: &Curves,
) -> std::result::Result<(), String> {
    for (k, series) in curves.series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let points = series
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!curves.log_y || *y > 0.0));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(series.name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}
