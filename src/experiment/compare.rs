//! Comparisons: one experiment file plus `[[variant]]` tables, each a name and dotted-key
//! overrides. Every variant starts from the same initial weights (those of the base config, when
//! its net has the same tensors) and sees the same data order; the result is one table and
//! overlaid curves.
//!
//! ```toml
//! name = "rules_on_digits"
//! [data]
//! dataset = "digits"
//!
//! [[variant]]
//! name = "backprop"
//!
//! [[variant]]
//! name = "dfa"
//! "train.rule" = "dfa"
//! ```
//!
//! A variant whose run directory already holds a summary of the same config is not trained
//! again, so an interrupted comparison resumes where it stopped.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::experiment::config::{apply_overrides, parse_table, read_table, set_path};
use crate::experiment::{EpochMetrics, ExperimentConfig, RunOptions, Setup, Summary, train};
use crate::io::write_atomic;
use crate::net::weights;
use crate::plot::{self, curves::Curves, curves::Series, panels::Panels};

/// One variant: its name and resolved config (whose `name` is the variant's).
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The variant's name (its run directory).
    pub name: String,
    /// Its dotted-key overrides, as written.
    pub overrides: Vec<(String, toml::Value)>,
    /// The resolved config.
    pub config: ExperimentConfig,
}

/// A comparison file, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The comparison's name (`name` of the base config): results go to `<out>/<name>/`.
    pub name: String,
    /// The base config every variant starts from.
    pub base: ExperimentConfig,
    /// The variants, in file order.
    pub variants: Vec<Variant>,
}

/// One row of the comparison table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The variant.
    pub variant: String,
    /// Its summary.
    pub summary: Summary,
    /// Whether it was trained now (false: an earlier run's result was reused).
    pub trained: bool,
}

/// What [`compare`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The comparison's directory.
    pub dir: PathBuf,
    /// One row per variant.
    pub rows: Vec<Row>,
    /// The Markdown table.
    pub markdown: String,
    /// Seconds for the whole comparison.
    pub wall_seconds: f64,
}

/// Options of [`compare`].
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Parent of the comparison's directory.
    pub out: PathBuf,
    /// No progress output.
    pub quiet: bool,
}

impl Comparison {
    /// Reads a comparison file; `overrides` (`key=value`) apply to the base and so to every
    /// variant.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        Self::from_table(read_table(path)?, path, overrides)
    }

    /// Resolves a comparison from TOML text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path, overrides: &[String]) -> Result<Self> {
        Self::from_table(parse_table(text, path)?, path, overrides)
    }

    fn from_table(mut table: toml::Table, path: &Path, overrides: &[String]) -> Result<Self> {
        let variants = match table.remove("variant") {
            Some(toml::Value::Array(items)) if !items.is_empty() => items,
            Some(toml::Value::Array(_)) | None => {
                return Err(Error::config(
                    "variant",
                    format!(
                        "{}: a comparison lists at least one [[variant]] table",
                        path.display()
                    ),
                ));
            }
            Some(_) => {
                return Err(Error::config(
                    "variant",
                    "must be an array of tables ([[variant]])",
                ));
            }
        };
        apply_overrides(&mut table, overrides)?;
        let base = ExperimentConfig::from_table(table.clone())?;
        let mut resolved: Vec<Variant> = Vec::new();
        for (k, item) in variants.into_iter().enumerate() {
            let toml::Value::Table(mut entries) = item else {
                return Err(Error::config(
                    format!("variant[{k}]"),
                    "must be a table of dotted keys",
                ));
            };
            let name = match entries.remove("name") {
                Some(toml::Value::String(name)) if valid_name(&name) => name,
                Some(_) => {
                    return Err(Error::config(
                        format!("variant[{k}].name"),
                        "must be a non-empty name of letters, digits, `-`, `_` or `.`",
                    ));
                }
                None => {
                    return Err(Error::config(format!("variant[{k}].name"), "is missing"));
                }
            };
            if resolved.iter().any(|v| v.name == name) {
                return Err(Error::config(
                    format!("variant[{k}].name"),
                    format!("`{name}` names two variants"),
                ));
            }
            let mut variant_table = table.clone();
            let mut overrides = Vec::new();
            let mut flat = Vec::new();
            flatten("", entries, &mut flat);
            for (key, value) in flat {
                set_path(&mut variant_table, &key, value.clone())?;
                overrides.push((key, value));
            }
            variant_table.insert("name".into(), toml::Value::String(name.clone()));
            let config = ExperimentConfig::from_table(variant_table)
                .map_err(|e| Error::config(format!("variant `{name}`"), e.to_string()))?;
            resolved.push(Variant {
                name,
                overrides,
                config,
            });
        }
        Ok(Self {
            name: base.name.clone(),
            base,
            variants: resolved,
        })
    }
}

/// `train.rule = "dfa"` written unquoted parses as a nested table: turn nested tables back
/// into dotted keys, so a variant changes single values, never whole sections.
fn flatten(prefix: &str, table: toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (key, value) in table {
        let key = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&key, inner, out),
            value => out.push((key, value)),
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Reads a run's `metrics.jsonl`.
pub fn read_metrics(run_dir: &Path) -> Result<Vec<EpochMetrics>> {
    let path = run_dir.join("metrics.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| Error::data(&path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

/// A finished run's summary, if its directory holds one for exactly `config`.
fn finished(run_dir: &Path, config: &ExperimentConfig) -> Option<Summary> {
    let saved = std::fs::read_to_string(run_dir.join("config.toml")).ok()?;
    if saved != config.to_toml() {
        return None;
    }
    let text = std::fs::read_to_string(run_dir.join("summary.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Trains every variant (or reuses a finished one) and writes `table.md`, `table.csv` and the
/// overlaid curves (`train_loss`, `test_accuracy`, PNG and SVG) to `<out>/<name>/`.
pub fn compare(comparison: &Comparison, options: &CompareOptions) -> Result<Report> {
    let started = Instant::now();
    let dir = options.out.join(&comparison.name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let init = dir.join("init.safetensors");
    if !init.exists() {
        let setup = Setup::new(&comparison.base)?;
        weights::save(&init, &[&setup.net], &Default::default())?;
    }
    let mut rows = Vec::new();
    for variant in &comparison.variants {
        let run_dir = dir.join(&variant.name);
        let (summary, trained) = match finished(&run_dir, &variant.config) {
            Some(summary) => (summary, false),
            None => {
                if !options.quiet {
                    eprintln!("== {} / {}", comparison.name, variant.name);
                }
                let run = RunOptions {
                    out: dir.clone(),
                    quiet: options.quiet,
                    init_weights: None,
                    save_init: None,
                    shared_init: Some(init.clone()),
                };
                (train(&variant.config, &run)?, true)
            }
        };
        rows.push(Row {
            variant: variant.name.clone(),
            summary,
            trained,
        });
    }
    let markdown = markdown_table(&rows);
    write_atomic(&dir.join("table.md"), markdown.as_bytes())?;
    write_atomic(&dir.join("table.csv"), csv_table(&rows).as_bytes())?;
    let histories = rows
        .iter()
        .map(|row| Ok((row.variant.clone(), read_metrics(&dir.join(&row.variant))?)))
        .collect::<Result<Vec<_>>>()?;
    write_plots(&dir, &comparison.name, &histories)?;
    Ok(Report {
        dir,
        rows,
        markdown,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

/// The training-loss and test-accuracy (or test-loss, for reconstruction) curves of several
/// runs, by file stem.
pub fn overlaid_curves(
    title: &str,
    histories: &[(String, Vec<EpochMetrics>)],
) -> Vec<(&'static str, Curves)> {
    let series = |value: &dyn Fn(&EpochMetrics) -> Option<f64>| {
        histories
            .iter()
            .map(|(name, history)| Series {
                name: name.clone(),
                points: history
                    .iter()
                    .filter_map(|m| value(m).map(|v| (m.epoch as f64, v)))
                    .collect(),
            })
            .collect::<Vec<_>>()
    };
    let mut figures = vec![(
        "train_loss",
        Curves {
            title: format!("{title}: training loss"),
            x_label: "epoch".into(),
            y_label: "mean training loss".into(),
            log_y: true,
            series: series(&|m| Some(m.train_loss)),
        },
    )];
    let accuracy = series(&|m| m.test_accuracy);
    if accuracy.iter().any(|s| !s.points.is_empty()) {
        figures.push((
            "test_accuracy",
            Curves {
                title: format!("{title}: test accuracy"),
                x_label: "epoch".into(),
                y_label: "test accuracy".into(),
                log_y: false,
                series: accuracy,
            },
        ));
    } else {
        figures.push((
            "test_loss",
            Curves {
                title: format!("{title}: test loss"),
                x_label: "epoch".into(),
                y_label: "test loss".into(),
                log_y: true,
                series: series(&|m| Some(m.test_loss)),
            },
        ));
    }
    figures
}

/// One panel per block: each run's mean |gradient| of the block's weights against epoch
/// (log scale), the vanishing-gradient picture; `None` when no run logged magnitudes.
pub fn gradient_panels(title: &str, histories: &[(String, Vec<EpochMetrics>)]) -> Option<Panels> {
    let blocks = histories
        .iter()
        .flat_map(|(_, h)| h.iter().map(|m| m.mean_abs_grad.len()))
        .max()
        .filter(|&b| b > 0)?;
    let panels = (0..blocks)
        .map(|block| Curves {
            title: format!("{title}: block {block}"),
            x_label: "epoch".into(),
            y_label: "mean |grad|".into(),
            log_y: true,
            series: histories
                .iter()
                .map(|(name, history)| Series {
                    name: name.clone(),
                    points: history
                        .iter()
                        .filter_map(|m| {
                            let g = m.mean_abs_grad.get(block).copied().flatten()?;
                            Some((m.epoch as f64, g))
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    Some(Panels { panels, columns: 4 })
}

/// Writes the overlaid curves and gradient panels of `histories` into `dir` (PNG and SVG).
pub fn write_plots(
    dir: &Path,
    title: &str,
    histories: &[(String, Vec<EpochMetrics>)],
) -> Result<()> {
    for (stem, curves) in overlaid_curves(title, histories) {
        for extension in ["png", "svg"] {
            plot::save(&curves, &dir.join(format!("{stem}.{extension}")))?;
        }
    }
    if let Some(panels) = gradient_panels(title, histories) {
        for extension in ["png", "svg"] {
            plot::save(&panels, &dir.join(format!("grad_magnitudes.{extension}")))?;
        }
    }
    Ok(())
}

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.4}"))
}

/// The comparison as a Markdown table.
pub fn markdown_table(rows: &[Row]) -> String {
    let mut text = String::from(
        "| variant | rule | test accuracy | test loss | best epoch | train s | samples/s | wall s |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let s = &row.summary;
        let _ = writeln!(
            text,
            "| {} | {} | {} | {:.4} | {} | {:.1} | {:.0} | {:.1} |",
            row.variant,
            s.rule,
            cell(s.test_accuracy),
            s.test_loss,
            s.best_epoch,
            s.train_seconds,
            s.samples_per_second,
            s.wall_seconds
        );
    }
    text
}

/// The comparison as CSV.
pub fn csv_table(rows: &[Row]) -> String {
    let mut text = String::from(
        "variant,rule,test_accuracy,test_loss,best_epoch,train_seconds,samples_per_second,wall_seconds,shared_init\n",
    );
    for row in rows {
        let s = &row.summary;
        let _ = writeln!(
            text,
            "{},{},{},{},{},{:.3},{:.1},{:.3},{}",
            row.variant,
            s.rule,
            s.test_accuracy.map_or(String::new(), |a| a.to_string()),
            s.test_loss,
            s.best_epoch,
            s.train_seconds,
            s.samples_per_second,
            s.wall_seconds,
            s.shared_init
        );
    }
    text
}
