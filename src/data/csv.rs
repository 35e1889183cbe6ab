//! CSV files: numeric feature columns, the last column an integer class label from 0 (or the
//! last `target_columns` columns float targets, for regression), and a header row or not
//! ([`Header`]). A UTF-8 byte-order mark is skipped; every value must fit a 32-bit float.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::Table;
use crate::error::{Error, Result};

/// Whether a CSV file's first row is a header (`data.header = "auto" | true | false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Header {
    /// A first row of names only (no field a number) is a header; a first row of numbers only
    /// is data; a first row mixing the two is an error, so no data row is dropped unseen.
    #[default]
    Auto,
    /// The first row is a header, whatever it holds.
    Yes,
    /// Every row is data.
    No,
}

impl Serialize for Header {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Header::Auto => s.serialize_str("auto"),
            Header::Yes => s.serialize_bool(true),
            Header::No => s.serialize_bool(false),
        }
    }
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match toml::Value::deserialize(d)? {
            toml::Value::Boolean(true) => Ok(Header::Yes),
            toml::Value::Boolean(false) => Ok(Header::No),
            toml::Value::String(s) if s == "auto" => Ok(Header::Auto),
            other => Err(serde::de::Error::custom(format!(
                "`{other}` is not one of \"auto\", true, false"
            ))),
        }
    }
}

/// How to read the columns: the last `target_columns` are float targets (0: the last column
/// is a class label), and whether the first row is a header.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layout {
    /// Float target columns at the end of each row (0 for a label column).
    pub target_columns: usize,
    /// The header row's rule.
    pub header: Header,
}

/// Parses CSV text as `layout` says; `path` names the source in errors (with line and column).
pub fn parse(text: &str, path: &Path, layout: Layout) -> Result<Table> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut table = Table::default();
    let mut columns: Option<usize> = None;
    let mut first = true;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if std::mem::take(&mut first) && is_header(&fields, layout.header, path)? {
            continue;
        }
        let values = numbers(&fields, number, path)?;
        check_width(&values, columns, number, layout.target_columns, path)?;
        columns = Some(values.len());
        push_row(&mut table, &values, number, layout.target_columns, path)?;
    }
    match columns {
        Some(columns) => {
            let tail = layout.target_columns.max(1);
            table.features = columns - tail;
            table.target_width = layout.target_columns;
            Ok(table)
        }
        None => Err(Error::data(path, "no data rows")),
    }
}

/// Whether the first row `fields` is a header under `rule`.
fn is_header(fields: &[&str], rule: Header, path: &Path) -> Result<bool> {
    let numeric = fields.iter().filter(|f| f.parse::<f64>().is_ok()).count();
    match rule {
        Header::Yes => Ok(true),
        Header::No => Ok(false),
        Header::Auto if numeric == 0 => Ok(true),
        Header::Auto if numeric == fields.len() => Ok(false),
        Header::Auto => Err(Error::data(
            path,
            "line 1 mixes names and numbers: set data.header = true if it is a header, \
             false if it is a data row",
        )),
    }
}

/// The fields of line `number` as numbers, each fitting a 32-bit float.
fn numbers(fields: &[&str], number: usize, path: &Path) -> Result<Vec<f64>> {
    fields
        .iter()
        .enumerate()
        .map(|(column, field)| {
            let at = || format!("line {number}, column {}: `{field}`", column + 1);
            let value: f64 = field
                .parse()
                .map_err(|_| Error::data(path, format!("{} is not a number", at())))?;
            if !value.is_finite() {
                return Err(Error::data(path, format!("{} is not finite", at())));
            }
            if !(value as f32).is_finite() {
                return Err(Error::data(
                    path,
                    format!("{} does not fit a 32-bit float", at()),
                ));
            }
            Ok(value)
        })
        .collect()
}

/// Line `number` has room for a feature and its label or targets, and as many fields as the
/// rows before it (`columns`).
fn check_width(
    values: &[f64],
    columns: Option<usize>,
    number: usize,
    target_columns: usize,
    path: &Path,
) -> Result<()> {
    if values.len() < 1 + target_columns.max(1) {
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
        Some(expected) if expected != values.len() => Err(Error::data(
            path,
            format!(
                "line {number}: ragged row, {} fields where earlier rows have {expected}",
                values.len()
            ),
        )),
        _ => Ok(()),
    }
}

/// Appends line `number`'s features and its label or targets to `table`.
fn push_row(
    table: &mut Table,
    values: &[f64],
    number: usize,
    target_columns: usize,
    path: &Path,
) -> Result<()> {
    let split = values.len() - target_columns.max(1);
    let label = if target_columns == 0 {
        values[split]
    } else {
        0.0
    };
    if label < 0.0 || label.fract() != 0.0 || label > f64::from(u32::MAX) {
        return Err(Error::data(
            path,
            format!("line {number}: label `{label}` is not a class index (an integer from 0)"),
        ));
    }
    table.x.extend(values[..split].iter().map(|&v| v as f32));
    if target_columns > 0 {
        table
            .targets
            .extend(values[split..].iter().map(|&v| v as f32));
    }
    table.y.push(label as u32);
    Ok(())
}

/// Reads and parses a CSV file (see [`parse`]).
pub fn read(path: &Path, layout: Layout) -> Result<Table> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        Error::data(path, format!("line {line}: not UTF-8 text"))
    })?;
    parse(&text, path, layout)
}
