//! CSV files: numeric feature columns, the last column an integer class label from 0 (or the
//! last `target_columns` columns float targets, for regression), an optional header row (any
//! first row with a non-numeric field).

use std::path::Path;

use crate::data::Table;
use crate::error::{Error, Result};

/// Parses CSV text whose last column is a class label (`target_columns = 0`) or whose last
/// `target_columns` columns are float targets; `path` names the source in errors.
pub fn parse(text: &str, path: &Path, target_columns: usize) -> Result<Table> {
    let tail = target_columns.max(1);
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
        if values.len() < 1 + tail {
            let what = match target_columns {
                0 => "a label".to_string(),
                n => format!("{n} target column(s) (data.target_columns)"),
            };
            return Err(Error::data(
                path,
                format!("line {number}: needs at least one feature and {what}"),
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
        let label = if target_columns == 0 {
            values[values.len() - 1]
        } else {
            0.0
        };
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
        let split = values.len() - tail;
        table.x.extend(values[..split].iter().map(|&v| v as f32));
        if target_columns > 0 {
            table
                .targets
                .extend(values[split..].iter().map(|&v| v as f32));
        }
        table.y.push(label as u32);
    }
    match columns {
        Some(columns) => {
            table.features = columns - tail;
            table.target_width = target_columns;
            Ok(table)
        }
        None => Err(Error::data(path, "no data rows")),
    }
}

/// Reads and parses a CSV file (see [`parse`]).
pub fn read(path: &Path, target_columns: usize) -> Result<Table> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|_| Error::data(path, "not UTF-8 text"))?;
    parse(&text, path, target_columns)
}
