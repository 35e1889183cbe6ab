//! How series look: one colour (and line style) per run, fixed by the run's place in its
//! comparison, so a rule keeps its colour in every figure of a run, a comparison and a sweep;
//! and a sequential colour per block, so depth reads as colour.

use plotters::style::RGBColor;

/// Twelve colours for series on white, after Okabe & Ito (2008) and Paul Tol's "muted"
/// scheme: told apart with the common colour-vision deficiencies, and beyond the first six
/// also by line style (see [`SeriesStyle::of`]).
pub const PALETTE: [RGBColor; 12] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(213, 94, 0),    // vermilion
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
    RGBColor(136, 34, 85),   // wine
    RGBColor(68, 170, 153),  // teal
    RGBColor(153, 153, 51),  // olive
    RGBColor(51, 34, 136),   // indigo
    RGBColor(221, 170, 51),  // sand
];

/// A line's dash pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dash {
    /// Unbroken.
    Solid,
    /// Long dashes.
    Dashed,
    /// Dots.
    Dotted,
}

impl Dash {
    /// The SVG `stroke-dasharray` value (`None` for solid lines).
    pub fn dasharray(self) -> Option<&'static str> {
        match self {
            Dash::Solid => None,
            Dash::Dashed => Some("7 4"),
            Dash::Dotted => Some("2 3"),
        }
    }
}

/// The look of one series: its colour and dash pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesStyle {
    /// Line (and marker) colour.
    pub colour: RGBColor,
    /// Dash pattern.
    pub dash: Dash,
}

impl SeriesStyle {
    /// The style of the `k`-th run of a comparison (0-based): every one of the first
    /// [`PALETTE`]`.len()` runs has its own colour; the first six lines are solid, the next six
    /// dashed, then dotted, so colour and dash together stay distinct up to 36 runs.
    pub fn of(k: usize) -> Self {
        let dash = match (k / 6) % 3 {
            0 => Dash::Solid,
            1 => Dash::Dashed,
            _ => Dash::Dotted,
        };
        Self {
            colour: PALETTE[k % PALETTE.len()],
            dash,
        }
    }

    /// Block `i` of `n` (input side first): a sequential dark-blue → yellow ramp (viridis'
    /// end points and middle), solid.
    pub fn block(i: usize, n: usize) -> Self {
        Self {
            colour: ramp(if n <= 1 {
                0.0
            } else {
                i as f64 / (n - 1) as f64
            }),
            dash: Dash::Solid,
        }
    }

    /// The colour as `#rrggbb`.
    pub fn hex(&self) -> String {
        hex(self.colour)
    }
}

/// `#rrggbb` of a colour.
pub fn hex(colour: RGBColor) -> String {
    let RGBColor(r, g, b) = colour;
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// The sequential ramp at `t ∈ [0, 1]`: piecewise linear through five of viridis' colours
/// (dark purple-blue, blue, teal, green, yellow-green), dark enough to read on white.
fn ramp(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (190.0, 200.0, 30.0),
    ];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_twelve_runs_have_twelve_colours_and_blocks_a_ramp() {
        let colours: std::collections::BTreeSet<String> =
            (0..12).map(|k| SeriesStyle::of(k).hex()).collect();
        assert_eq!(colours.len(), 12);
        assert_eq!(SeriesStyle::of(12).colour, SeriesStyle::of(0).colour);
        assert_ne!(SeriesStyle::of(12).dash, SeriesStyle::of(0).dash);
        assert_eq!(SeriesStyle::block(0, 3).hex(), "#440154");
        assert_eq!(SeriesStyle::block(2, 3).hex(), "#bec81e");
        assert_eq!(SeriesStyle::block(1, 3).hex(), "#21918c");
    }
}
