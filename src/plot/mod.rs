//! Figures drawn with `plotters` and saved as PNG or SVG, chosen by the file's extension.
//! Rendering happens in memory and the file is written atomically.
//!
//! Labels use DejaVu Sans embedded in the binary (`assets/fonts`), so no system font library is
//! needed.

pub mod axis;
pub mod boundary;
pub mod curves;
pub mod histogram;
pub mod legend;
pub mod neuron;
pub mod panels;
pub mod style;
pub mod ticks;

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::error::{Error, Result};
use crate::io::write_atomic;

/// The font every label uses.
pub const FONT: &str = "sans-serif";

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static REGISTERED: OnceLock<bool> = OnceLock::new();

/// An image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PNG (RGB, 8 bits).
    Png,
    /// SVG (text stays text).
    Svg,
}

impl Format {
    /// The format a path's extension names (`.png` or `.svg`).
    pub fn of(path: &Path) -> Result<Self> {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("png") => Ok(Format::Png),
            Some(e) if e.eq_ignore_ascii_case("svg") => Ok(Format::Svg),
            _ => Err(Error::plot(
                path,
                "unknown image format (the name must end in .png or .svg)",
            )),
        }
    }
}

/// Something that draws itself on any plotters backend.
pub trait Figure {
    /// Its size in pixels, `(width, height)`.
    fn size(&self) -> (u32, u32);

    /// Draws onto `area` (already filled white); errors are returned as text.
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String>;
}

/// Renders `figure` and writes it to `path` (PNG or SVG by extension), atomically.
pub fn save(figure: &impl Figure, path: &Path) -> Result<()> {
    let bytes = match Format::of(path)? {
        Format::Svg => render_svg(figure)
            .map_err(|m| Error::plot(path, m))?
            .into_bytes(),
        Format::Png => render_png(figure).map_err(|m| Error::plot(path, m))?,
    };
    write_atomic(path, &bytes)
}

/// `figure` as SVG text (to inline in HTML).
pub fn render_svg(figure: &impl Figure) -> std::result::Result<String, String> {
    if !register_embedded_font() {
        return Err("the embedded font does not parse".into());
    }
    let mut text = String::new();
    {
        let area = SVGBackend::with_string(&mut text, figure.size()).into_drawing_area();
        paint(figure, &area)?;
    }
    Ok(text)
}

/// `figure` as PNG bytes.
pub fn render_png(figure: &impl Figure) -> std::result::Result<Vec<u8>, String> {
    if !register_embedded_font() {
        return Err("the embedded font does not parse".into());
    }
    let (width, height) = figure.size();
    let mut pixels = vec![0u8; (width * height * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        paint(figure, &area)?;
    }
    encode_png(&pixels, width, height)
}

fn paint<DB: DrawingBackend>(
    figure: &impl Figure,
    area: &DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    area.fill(&WHITE).map_err(|e| e.to_string())?;
    figure.draw(area)?;
    area.present().map_err(|e| e.to_string())
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> std::result::Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    }
    Ok(bytes)
}

/// Registers the embedded font once; whether it parsed.
fn register_embedded_font() -> bool {
    *REGISTERED.get_or_init(|| {
        [FontStyle::Normal, FontStyle::Bold]
            .into_iter()
            .all(|style| register_font(FONT, style, FONT_BYTES).is_ok())
    })
}
