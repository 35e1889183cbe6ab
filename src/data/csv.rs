//! CSV files: numeric feature columns, the last column an integer class label from 0, an
//! optional header row (any first row with a non-numeric field).

use std::path::Path;

use crate::data::Table;
use crate::error::{Error, Result};

/// Parses CSV text; `path` names the source in errors.
pub fn parse(text: &str, path: &Path) -> Result<Table> {
    let mut table = Table::default();
    let mut columns: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let numeric: Option<Vec<f64>> = fields.iter().map(|f| f.parse::<f64>().ok()).collect();
        let Some(values) = numeric else {
            if index == 0 {
                continue;
            }
            let bad = fields
                .iter()
                .position(|f| f.parse::<f64>().is_err())
                .unwrap_or(0);
            return Err(Error::data(
                path,
                format!(
                    "line {number}, column {}: `{}` is not a number",
                    bad + 1,
                    fields[bad]
                ),
            ));
        };
        if values.len() < 2 {
            return Err(Error::data(
                path,
                format!("line {number}: needs at least one feature and a label"),
            ));
        }
        match columns {
            None => columns = Some(values.len()),
            Some(expected) if expected != values.len() => {
                return Err(Error::data(
                    path,
                    format!(
                        "line {number}: ragged row, {} fields where earlier rows have {expected}",
                        values.len()
                    ),
                ));
            }
            Some(_) => {}
        }
        let label = values[values.len() - 1];
        if label < 0.0 || label.fract() != 0.0 || label > f64::from(u32::MAX) {
            return Err(Error::data(
                path,
                format!("line {number}: label `{label}` is not a class index (an integer from 0)"),
            ));
        }
        if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                path,
                format!("line {number}, column {}: value is not finite", bad + 1),
            ));
        }
        table
            .x
            .extend(values[..values.len() - 1].iter().map(|&v| v as f32));
        table.y.push(label as u32);
    }
    match columns {
        Some(columns) => {
            table.features = columns - 1;
            Ok(table)
        }
        None => Err(Error::data(path, "no data rows")),
    }
}

/// Reads and parses a CSV file.
pub fn read(path: &Path) -> Result<Table> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|_| Error::data(path, "not UTF-8 text"))?;
    parse(&text, path)
}
