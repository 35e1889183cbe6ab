//! A run's saved files, read back for figures and reports.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::engine::alignment::AlignmentLine;
use crate::error::{Error, Result};
use crate::experiment::EpochMetrics;
use crate::experiment::Summary;
use crate::experiment::snapshot::{Activations, Boundary};

/// Everything a run directory holds that a report shows.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// The run's name (its directory's).
    pub name: String,
    /// The run directory.
    pub dir: PathBuf,
    /// Its place in its comparison (`summary.json`'s `series`; 0 for a run on its own or
    /// unfinished), which fixes its colour and line style in every figure
    /// ([`crate::plot::style::SeriesStyle::of`]).
    pub series: usize,
    /// `config.toml`, as written.
    pub config: Option<String>,
    /// `summary.json` (absent while the run is unfinished).
    pub summary: Option<Summary>,
    /// `metrics.jsonl`.
    pub metrics: Vec<EpochMetrics>,
    /// `alignment.jsonl` (empty without `train.align_every`).
    pub alignment: Vec<AlignmentLine>,
    /// `activations.json`.
    pub activations: Option<Activations>,
    /// `boundary.json` (2-D data only).
    pub boundary: Option<Boundary>,
}

/// Reads a JSON-lines file; a missing file reads as empty.
fn read_lines<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line)
                .map_err(|e| Error::data(path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

/// Reads a JSON file if it exists.
fn read_optional<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::data(path, e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Reads a run's `metrics.jsonl`: its epochs (a diverged run's last line, which says where it
/// diverged, is not an epoch; [`Summary::diverged`] holds it).
pub fn read_metrics(run_dir: &Path) -> Result<Vec<EpochMetrics>> {
    let path = run_dir.join("metrics.jsonl");
    if !path.is_file() {
        return Err(Error::data(&path, "no such file"));
    }
    let lines: Vec<serde_json::Value> = read_lines(&path)?;
    lines
        .into_iter()
        .enumerate()
        .filter(|(_, line)| line.get("status").is_none())
        .map(|(i, line)| {
            serde_json::from_value(line)
                .map_err(|e| Error::data(&path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

impl RunRecord {
    /// Reads the run in `dir` (which must hold `metrics.jsonl`).
    pub fn read(dir: &Path) -> Result<Self> {
        let name = dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into());
        let summary: Option<Summary> = read_optional(&dir.join("summary.json"))?;
        Ok(Self {
            name,
            dir: dir.to_path_buf(),
            series: summary.as_ref().map_or(0, |s| s.series),
            config: std::fs::read_to_string(dir.join("config.toml")).ok(),
            summary,
            metrics: read_metrics(dir)?,
            alignment: read_lines(&dir.join("alignment.jsonl"))?,
            activations: read_optional(&dir.join("activations.json"))?,
            boundary: read_optional(&dir.join("boundary.json"))?,
        })
    }

    /// The same record with its comparison place `series`.
    pub fn with_series(mut self, series: usize) -> Self {
        self.series = series;
        self
    }

    /// Every run directly inside `dir` (subdirectories holding `metrics.jsonl`), in their
    /// comparison's order (by name where that is a tie).
    pub fn read_all(dir: &Path) -> Result<Vec<Self>> {
        let mut runs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.join("metrics.jsonl").is_file())
            .collect();
        runs.sort();
        let mut records = runs
            .iter()
            .map(|run| Self::read(run))
            .collect::<Result<Vec<_>>>()?;
        records.sort_by_key(|r| r.series);
        Ok(records)
    }
}
