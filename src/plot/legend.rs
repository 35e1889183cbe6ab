//! Legends drawn in their own column beside the plot area, never over data.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::plot::FONT;
use crate::plot::style::{Dash, SeriesStyle};

/// What a legend entry's key shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A line in the series' style.
    Line(SeriesStyle),
    /// A filled square (a class's colour).
    Patch(SeriesStyle),
}

/// One legend entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its text.
    pub label: String,
    /// Its key.
    pub key: Key,
}

/// A vertical list of entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Legend {
    /// The entries, top to bottom.
    pub entries: Vec<Entry>,
}

/// Text size of legend entries.
const TEXT: u32 = 13;
/// Height of one entry.
const ROW: i32 = 19;

impl Legend {
    /// Entries `(label, style)` shown as lines, duplicates (same label) dropped.
    pub fn lines<'a>(entries: impl IntoIterator<Item = (&'a str, SeriesStyle)>) -> Self {
        let mut legend = Self::default();
        for (label, style) in entries {
            if !legend.entries.iter().any(|e| e.label == label) {
                legend.entries.push(Entry {
                    label: label.to_string(),
                    key: Key::Line(style),
                });
            }
        }
        legend
    }

    /// The column width it needs, in pixels (0 when empty).
    pub fn width(&self) -> u32 {
        let chars = self
            .entries
            .iter()
            .map(|e| e.label.chars().count())
            .max()
            .unwrap_or(0);
        if chars == 0 {
            0
        } else {
            (48 + chars as u32 * 8).min(320)
        }
    }

    /// The height it needs, in pixels.
    pub fn height(&self) -> u32 {
        (self.entries.len() as i32 * ROW + 16) as u32
    }

    /// Splits `legend`'s column off the right of `area`, draws the legend there (`top`
    /// pixels down) and returns the rest, the plot area; `area` itself when there is none.
    pub fn beside<DB: DrawingBackend>(
        legend: Option<&Self>,
        area: &DrawingArea<DB, Shift>,
        top: i32,
    ) -> std::result::Result<DrawingArea<DB, Shift>, String> {
        let Some(legend) = legend else {
            return Ok(area.clone());
        };
        let (width, _) = area.dim_in_pixel();
        let (plot, column) = area.split_horizontally(width - legend.width());
        legend.draw(&column, top)?;
        Ok(plot)
    }

    /// Draws the entries from the top of `area`, `top` pixels down.
    pub fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        top: i32,
    ) -> std::result::Result<(), String> {
        let font = (FONT, TEXT).into_font().color(&BLACK);
        for (i, entry) in self.entries.iter().enumerate() {
            let y = top + 8 + i as i32 * ROW + ROW / 2;
            match entry.key {
                Key::Line(style) => draw_key_line(area, style, y)?,
                Key::Patch(style) => area
                    .draw(&Rectangle::new(
                        [(10, y - 6), (30, y + 6)],
                        style.colour.mix(0.6).filled(),
                    ))
                    .map_err(|e| e.to_string())?,
            }
            area.draw(&Text::new(
                entry.label.clone(),
                (38, y - TEXT as i32 / 2 - 1),
                font.clone(),
            ))
            .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

fn draw_key_line<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    style: SeriesStyle,
    y: i32,
) -> std::result::Result<(), String> {
    let stroke = style.colour.stroke_width(2);
    let result = match style.dash {
        Dash::Solid => area.draw(&PathElement::new(vec![(8, y), (32, y)], stroke)),
        Dash::Dashed => area.draw(&DashedPathElement::new(vec![(8, y), (32, y)], 7, 4, stroke)),
        Dash::Dotted => area.draw(&DashedPathElement::new(vec![(8, y), (32, y)], 2, 3, stroke)),
    };
    result.map_err(|e| e.to_string())
}
