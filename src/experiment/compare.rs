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
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::engine::Trainer;
use crate::error::{Error, Result};
use crate::experiment::config::{apply_overrides, parse_table, set_path};
use crate::experiment::jobs::for_each_job;
use crate::experiment::located;
use crate::experiment::{ExperimentConfig, RunOptions, Summary, train};
use crate::io::write_atomic;
use crate::net::weights::{self, WeightsFile};
use crate::report::{self, RunRecord};

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

impl Variant {
    /// Whether the variant sets how its weights are drawn (`model.init`, `model.init_scale`):
    /// it then starts from its own seeded draw, not the comparison's shared start.
    pub fn draws_own_start(&self) -> bool {
        (self.overrides.iter())
            .any(|(key, _)| matches!(key.as_str(), "model.init" | "model.init_scale"))
    }
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
    /// Its place in the comparison file (its colour in every figure).
    pub series: usize,
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
    /// Runs trained at once, each on its share of the cores (1: one after another, each on
    /// every core); [`compare_seeds`] queues the runs of all its seeds together. The results
    /// do not depend on it.
    pub jobs: usize,
}

impl Comparison {
    /// Reads a comparison file; `overrides` (`key=value`) apply to the base and so to every
    /// variant.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path, overrides)
    }

    /// Reads the comparison file `path` with only the variants named in `names` (all when
    /// empty): the others are never resolved, so settings they alone cannot run on (a conv
    /// net for forward-forward) do not stop the rest.
    pub fn load_variants(path: &Path, overrides: &[String], names: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut table = parse_table(&text, path)?;
        if !names.is_empty()
            && let Some(toml::Value::Array(items)) = table.get_mut("variant")
        {
            let name = |item: &toml::Value| {
                item.get("name")
                    .and_then(toml::Value::as_str)
                    .map(String::from)
            };
            let present: Vec<String> = items.iter().filter_map(name).collect();
            if let Some(unknown) = names.iter().find(|n| !present.contains(n)) {
                return Err(Error::config(
                    "variant",
                    format!("{}: no variant is named `{unknown}`", path.display()),
                ));
            }
            items.retain(|item| name(item).is_some_and(|n| names.contains(&n)));
        }
        Self::from_table(table, path, &text, overrides)
            .map_err(|e| located::in_file(e, path, &text, overrides, &[]))
    }

    /// The names of the variants of the comparison file `path`, in its order (none resolved).
    pub fn variant_names(path: &Path) -> Result<Vec<String>> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let table = parse_table(&text, path)?;
        let items = match table.get("variant") {
            Some(toml::Value::Array(items)) => items.as_slice(),
            _ => &[],
        };
        Ok(items
            .iter()
            .filter_map(|item| item.get("name")?.as_str().map(String::from))
            .collect())
    }

    /// Resolves a comparison from TOML text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path, overrides: &[String]) -> Result<Self> {
        Self::from_table(parse_table(text, path)?, path, text, overrides)
            .map_err(|e| located::in_file(e, path, text, overrides, &[]))
    }

    /// The comparison of the parsed `table` read from `text` in the file `path`.
    fn from_table(
        mut table: toml::Table,
        path: &Path,
        text: &str,
        overrides: &[String],
    ) -> Result<Self> {
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
                Some(toml::Value::String(name)) if super::config::valid_name(&name) => name,
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
            let config = ExperimentConfig::from_table(variant_table).map_err(|e| {
                let inner = match &e {
                    Error::Config { key, .. } => format!("variant[{k}].{key}"),
                    _ => format!("variant[{k}]"),
                };
                let error = Error::config(format!("variant `{name}`"), e.to_string());
                let whole = format!("variant[{k}]");
                located::in_file(error, path, text, &[], &[&inner, &whole])
            })?;
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

/// A finished run's summary, if its directory holds one for exactly `config`.
pub(crate) fn finished(run_dir: &Path, config: &ExperimentConfig) -> Option<Summary> {
    let saved = std::fs::read_to_string(run_dir.join("config.toml")).ok()?;
    if saved != config.to_toml() {
        return None;
    }
    let text = std::fs::read_to_string(run_dir.join("summary.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Trains every variant (or reuses a finished one) and writes `table.md`, `table.csv`, the
/// overlaid figures (PNG and SVG) and `report.html` to `<out>/<name>/`.
pub fn compare(comparison: &Comparison, options: &CompareOptions) -> Result<Report> {
    let started = Instant::now();
    let study = Study::prepare(comparison, options)?;
    let rows = train_studies(std::slice::from_ref(&study), options)?;
    let rows = rows.into_iter().next().unwrap_or_default();
    study.finish(rows, started)
}

/// One comparison about to run: its directory and its shared start, drawn.
struct Study<'a> {
    comparison: &'a Comparison,
    dir: PathBuf,
    init: PathBuf,
    /// Each variant's earlier summary, where its run directory holds one of the same config.
    done: Vec<Option<Summary>>,
}

impl<'a> Study<'a> {
    /// Creates `<out>/<name>/` and draws the shared start there unless the one there was
    /// drawn from this base config.
    fn prepare(comparison: &'a Comparison, options: &CompareOptions) -> Result<Self> {
        let dir = options.out.join(&comparison.name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let init = dir.join("init.safetensors");
        // The shared start records the base config it was drawn from; one drawn from another
        // (another seed, another net) is drawn anew rather than reused.
        let start = comparison.base.to_toml();
        let current = WeightsFile::read(&init)
            .ok()
            .is_some_and(|file| file.metadata("start") == Some(start.as_str()));
        if !current {
            if init.exists() && !options.quiet {
                eprintln!(
                    "{}: drawn from another base config; drawing it anew",
                    init.display()
                );
            }
            let data = crate::data::load(&comparison.base.data)?;
            let trainer = Trainer::new(&comparison.base, &data)?;
            let metadata = std::collections::BTreeMap::from([("start".to_string(), start)]);
            weights::save(&init, &[trainer.net()], &metadata)?;
        }
        let done = (comparison.variants.iter())
            .map(|v| finished(&dir.join(&v.name), &v.config))
            .collect();
        Ok(Self {
            comparison,
            dir,
            init,
            done,
        })
    }

    /// Trains the variant at `series` from the shared start (or its own draw).
    fn train(&self, series: usize, options: &CompareOptions, quiet: bool) -> Result<Summary> {
        let variant = &self.comparison.variants[series];
        if !options.quiet {
            eprintln!("== {} / {}", self.comparison.name, variant.name);
        }
        let run = RunOptions {
            out: self.dir.clone(),
            quiet,
            shared_init: (!variant.draws_own_start()).then(|| self.init.clone()),
            report: true,
            checkpoint: true,
            series,
            hyperparameters: variant.overrides.clone(),
            ..RunOptions::default()
        };
        train(&variant.config, &run)
    }

    /// Writes the tables, figures and report of the finished `rows` (file order).
    fn finish(self, mut rows: Vec<Row>, started: Instant) -> Result<Report> {
        let dir = self.dir;
        // Diverged variants go last, the others keep the file's order.
        rows.sort_by_key(|row| row.summary.diverged.is_some());
        let markdown = markdown_table(&rows);
        write_atomic(&dir.join("table.md"), markdown.as_bytes())?;
        write_atomic(&dir.join("table.csv"), csv_table(&rows).as_bytes())?;
        let records = rows
            .iter()
            .map(|row| RunRecord::read(&dir.join(&row.variant)).map(|r| r.with_series(row.series)))
            .collect::<Result<Vec<_>>>()?;
        report::write(&dir, &self.comparison.name, &records)?;
        Ok(Report {
            dir,
            rows,
            markdown,
            wall_seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// Every study's rows, in file order: finished runs' summaries reused, the other runs of all
/// the studies trained from one queue, `options.jobs` at a time (so the seeds of a
/// one-variant study run side by side too).
fn train_studies(studies: &[Study], options: &CompareOptions) -> Result<Vec<Vec<Row>>> {
    let pending: Vec<(usize, usize)> = (studies.iter().enumerate())
        .flat_map(|(s, study)| {
            (study.done.iter().enumerate())
                .filter(|(_, done)| done.is_none())
                .map(move |(series, _)| (s, series))
        })
        .collect();
    let trained: Mutex<Vec<Vec<Option<Summary>>>> = Mutex::new(
        (studies.iter())
            .map(|study| vec![None; study.done.len()])
            .collect(),
    );
    // Concurrent runs' epoch lines would interleave: only the start of each is shown.
    let quiet = options.quiet || (options.jobs > 1 && pending.len() > 1);
    for_each_job(pending.len(), options.jobs, |k| {
        let (s, series) = pending[k];
        let summary = studies[s].train(series, options, quiet)?;
        if let Ok(mut slots) = trained.lock() {
            slots[s][series] = Some(summary);
        }
        Ok(())
    })?;
    let trained = trained.into_inner().unwrap_or_default();
    Ok((studies.iter().zip(trained))
        .map(|(study, trained)| {
            (study.done.iter().cloned().zip(trained).enumerate())
                .filter_map(|(series, (done, trained))| {
                    Some(Row {
                        variant: study.comparison.variants[series].name.clone(),
                        trained: done.is_none(),
                        summary: done.or(trained)?,
                        series,
                    })
                })
                .collect()
        })
        .collect())
}

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.4}"))
}

/// A run's test accuracy cell: the figure, `–` where there is none, or where it diverged.
pub(crate) fn accuracy_cell(s: &Summary) -> String {
    match &s.diverged {
        Some(d) => format!("diverged (epoch {}, iteration {})", d.epoch, d.iteration),
        None => cell(s.test_accuracy),
    }
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
            "| {} | {} | {} | {} | {} | {:.1} | {:.0} | {:.1} |",
            row.variant,
            s.rule,
            accuracy_cell(s),
            cell(s.test_loss),
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
        "variant,rule,test_accuracy,test_loss,best_epoch,train_seconds,samples_per_second,wall_seconds,shared_init,status\n",
    );
    for row in rows {
        let s = &row.summary;
        let _ = writeln!(
            text,
            "{},{},{},{},{},{:.3},{:.1},{:.3},{},{}",
            row.variant,
            s.rule,
            s.test_accuracy.map_or(String::new(), |a| a.to_string()),
            s.test_loss.map_or(String::new(), |l| l.to_string()),
            s.best_epoch,
            s.train_seconds,
            s.samples_per_second,
            s.wall_seconds,
            s.shared_init,
            if s.diverged.is_some() {
                "diverged"
            } else {
                "finished"
            }
        );
    }
    text
}

/// What [`compare_seeds`] produced: one comparison per seed and the table over them.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedsReport {
    /// The directory holding `seed_<s>/` per seed and `seeds.md`, `seeds.csv`.
    pub dir: PathBuf,
    /// The seeds, in order.
    pub seeds: Vec<u64>,
    /// Each seed's comparison.
    pub reports: Vec<Report>,
    /// The Markdown table: per variant, test accuracy and loss as mean ± std over the seeds.
    pub markdown: String,
    /// Seconds for all of it.
    pub wall_seconds: f64,
}

/// Runs the comparison once per seed (`base seed`, `base seed + 1`, …, `count` of them; every
/// variant's own seed shifted alike), each from its own shared start in
/// `<out>/<name>/seed_<s>/`, and writes `seeds.md` and `seeds.csv` beside them: per variant
/// the mean ± sample std of its test accuracy and loss over the seeds that did not diverge.
/// Finished runs are reused, as by [`compare`].
pub fn compare_seeds(
    comparison: &Comparison,
    options: &CompareOptions,
    count: usize,
) -> Result<SeedsReport> {
    let started = Instant::now();
    if count == 0 {
        return Err(Error::config("--seeds", "must be at least 1"));
    }
    let dir = options.out.join(&comparison.name);
    let seeds: Vec<u64> = (0..count as u64)
        .map(|k| comparison.base.seed + k)
        .collect();
    let shifted: Vec<Comparison> = (seeds.iter().enumerate())
        .map(|(k, seed)| {
            let mut shifted = comparison.clone();
            shifted.name = format!("seed_{seed}");
            shifted.base.seed = *seed;
            for variant in &mut shifted.variants {
                variant.config.seed += k as u64;
            }
            shifted
        })
        .collect();
    let at = CompareOptions {
        out: dir.clone(),
        ..options.clone()
    };
    let studies = (shifted.iter())
        .map(|c| Study::prepare(c, &at))
        .collect::<Result<Vec<_>>>()?;
    let rows = train_studies(&studies, &at)?;
    let reports = (studies.into_iter().zip(rows))
        .map(|(study, rows)| study.finish(rows, started))
        .collect::<Result<Vec<_>>>()?;
    let rows = seed_rows(comparison, &reports);
    let markdown = seeds_markdown(&rows, &seeds);
    write_atomic(&dir.join("seeds.md"), markdown.as_bytes())?;
    write_atomic(&dir.join("seeds.csv"), seeds_csv(&rows).as_bytes())?;
    Ok(SeedsReport {
        dir,
        seeds,
        reports,
        markdown,
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

/// One variant over the seeds: accuracy and loss `(mean, std)` of the runs that finished,
/// and how many diverged.
struct SeedRow {
    variant: String,
    rule: String,
    accuracy: Option<(f64, f64)>,
    loss: Option<(f64, f64)>,
    finished: usize,
    diverged: usize,
}

fn seed_rows(comparison: &Comparison, reports: &[Report]) -> Vec<SeedRow> {
    comparison
        .variants
        .iter()
        .map(|variant| {
            let summaries: Vec<&Summary> = reports
                .iter()
                .filter_map(|r| r.rows.iter().find(|row| row.variant == variant.name))
                .map(|row| &row.summary)
                .collect();
            let finished: Vec<&&Summary> =
                summaries.iter().filter(|s| s.diverged.is_none()).collect();
            let of = |get: fn(&Summary) -> Option<f64>| {
                let values: Option<Vec<f64>> = finished.iter().map(|s| get(s)).collect();
                values
                    .filter(|v| !v.is_empty())
                    .map(|v| super::sweep::mean_std(&v))
            };
            SeedRow {
                variant: variant.name.clone(),
                rule: summaries.first().map_or(String::new(), |s| s.rule.clone()),
                accuracy: of(|s| s.test_accuracy),
                loss: of(|s| s.test_loss),
                finished: finished.len(),
                diverged: summaries.len() - finished.len(),
            }
        })
        .collect()
}

/// The table over seeds as Markdown.
fn seeds_markdown(rows: &[SeedRow], seeds: &[u64]) -> String {
    let shown: Vec<String> = seeds.iter().map(u64::to_string).collect();
    let mut text = String::from(
        "| variant | rule | test accuracy (mean ± std) | test loss (mean ± std) | seeds |\n\
         |---|---|---:|---:|---|\n",
    );
    for row in rows {
        let runs = match row.diverged {
            0 => shown.join(", "),
            d => format!("{} ({d} diverged)", shown.join(", ")),
        };
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {runs} |",
            row.variant,
            row.rule,
            row.accuracy
                .map_or_else(|| "diverged".into(), super::sweep::pm),
            row.loss.map_or_else(|| "–".into(), super::sweep::pm),
        );
    }
    text
}

/// The table over seeds as CSV.
fn seeds_csv(rows: &[SeedRow]) -> String {
    let mut text = String::from(
        "variant,rule,test_accuracy_mean,test_accuracy_std,test_loss_mean,test_loss_std,finished,diverged\n",
    );
    let two = |v: Option<(f64, f64)>| v.map_or(",".into(), |(m, s)| format!("{m},{s}"));
    for row in rows {
        let _ = writeln!(
            text,
            "{},{},{},{},{},{}",
            row.variant,
            row.rule,
            two(row.accuracy),
            two(row.loss),
            row.finished,
            row.diverged
        );
    }
    text
}
