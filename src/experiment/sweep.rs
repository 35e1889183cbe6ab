//! Sweeps: an experiment file plus a `[sweep]` table whose keys are dotted config paths with
//! lists of values. Every combination is a *trial*; each trial runs `repeats` times with seeds
//! `seed, seed + 1, …`. Each run is an ordinary run directory (`<out>/<name>/runs/t003_r1/`)
//! with its whole history and an epoch checkpoint, so a sweep killed at any moment and started
//! again skips finished runs and continues unfinished ones from their last epoch.
//!
//! ```toml
//! [sweep]
//! "train.rule" = ["backprop", "dfa"]
//! "train.lr" = [1e-4, 3e-4, 1e-3]
//! repeats = 3
//! objective = "val_loss"        # val_loss, val_error, train_loss, train_error, test_loss, test_error
//! group_by = ["train.rule"]     # best trial per rule (default: the first key, with two or more)
//! ```
//!
//! The table (`table.md`, `trials.csv`, `runs.csv`) holds no wall-clock times, so the same sweep
//! gives byte-identical tables however often it was interrupted. `--shard i/n` runs runs
//! `i, i + n, …` (0 ≤ i < n) so that n machines can share a sweep directory; `--merge` builds
//! the table from every run found there.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::experiment::compare::finished;
use crate::experiment::config::{apply_overrides, parse_table, set_path};
use crate::experiment::jobs::for_each_job;
use crate::experiment::located;
use crate::experiment::{ExperimentConfig, RunOptions, RunStatus, Summary, train};
use crate::io::write_atomic;
use crate::report::{RunRecord, read_metrics};
use crate::task::Problem;

/// What a sweep minimises, read from each run's last epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Validation loss.
    ValLoss,
    /// Validation error (1 − accuracy).
    ValError,
    /// Mean training loss.
    TrainLoss,
    /// Training error (training mode).
    TrainError,
    /// Test loss.
    TestLoss,
    /// Test error.
    TestError,
}

impl Objective {
    /// Every accepted name.
    pub const NAMES: [&'static str; 6] = [
        "val_loss",
        "val_error",
        "train_loss",
        "train_error",
        "test_loss",
        "test_error",
    ];

    /// The objective a name denotes.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "val_loss" => Self::ValLoss,
            "val_error" => Self::ValError,
            "train_loss" => Self::TrainLoss,
            "train_error" => Self::TrainError,
            "test_loss" => Self::TestLoss,
            "test_error" => Self::TestError,
            _ => return None,
        })
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ValLoss => "val_loss",
            Self::ValError => "val_error",
            Self::TrainLoss => "train_loss",
            Self::TrainError => "train_error",
            Self::TestLoss => "test_loss",
            Self::TestError => "test_error",
        }
    }

    /// Why `config`'s runs cannot produce it, if they cannot.
    fn unavailable(&self, config: &ExperimentConfig) -> Option<String> {
        let validation = matches!(self, Self::ValLoss | Self::ValError);
        let error = matches!(self, Self::ValError | Self::TrainError | Self::TestError);
        if validation && config.data.validation_fraction <= 0.0 {
            return Some("needs a validation split (data.validation_fraction > 0)".into());
        }
        if error && config.train.problem != Problem::Classification {
            return Some("an error rate needs classification, not reconstruction".into());
        }
        if *self == Self::TrainError && config.embeds_label() {
            return Some("forward-forward makes no training-mode prediction".into());
        }
        None
    }

    /// Its value at a run's last epoch.
    fn read(&self, metrics: &crate::experiment::EpochMetrics) -> Option<f64> {
        let error = |a: Option<f64>| a.map(|a| 1.0 - a);
        match self {
            Self::ValLoss => metrics.val_loss,
            Self::ValError => error(metrics.val_accuracy),
            Self::TrainLoss => Some(metrics.train_loss),
            Self::TrainError => error(metrics.train_accuracy),
            Self::TestLoss => Some(metrics.test_loss),
            Self::TestError => error(metrics.test_accuracy),
        }
    }
}

/// One combination of swept values and its repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// `t000`, `t001`, … in grid order (the last key varies fastest).
    pub name: String,
    /// One value per swept key.
    pub values: Vec<toml::Value>,
    /// One resolved config per repeat (named `<trial>_r<k>`, seed `seed + k`).
    pub runs: Vec<ExperimentConfig>,
}

/// A sweep file, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The sweep's name (`name` of the base config): results go to `<out>/<name>/`.
    pub name: String,
    /// The swept keys, in file order.
    pub keys: Vec<String>,
    /// Seeds per trial.
    pub repeats: usize,
    /// What is minimised.
    pub objective: Objective,
    /// The keys whose values form groups for "best trial per group".
    pub group_by: Vec<String>,
    /// The grid.
    pub trials: Vec<Trial>,
}

/// A `--shard i/n` selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0 ≤ index < count`.
    pub index: usize,
    /// Shards in all.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let bad = || format!("`{text}`: expected i/n with 0 ≤ i < n, e.g. 0/4");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

/// Options of [`run`].
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Parent of the sweep's directory.
    pub out: PathBuf,
    /// Runs trained at once.
    pub jobs: usize,
    /// Only this share of the runs (and no table).
    pub shard: Option<Shard>,
    /// Train nothing: build the table from the runs already in the directory.
    pub merge: bool,
    /// No progress output.
    pub quiet: bool,
}

/// One finished run, as the table reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// The trial.
    pub trial: String,
    /// The repeat, from 0.
    pub repeat: usize,
    /// Its seed.
    pub seed: u64,
    /// The objective at its last epoch (`None` for a run that diverged).
    pub objective: Option<f64>,
    /// Its summary.
    pub summary: Summary,
}

/// What [`run`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepReport {
    /// The sweep's directory.
    pub dir: PathBuf,
    /// Runs trained now.
    pub trained: usize,
    /// Runs found finished.
    pub reused: usize,
    /// The Markdown table (absent for a shard).
    pub markdown: Option<String>,
}

/// A value as a table cell: strings bare, everything else as TOML writes it.
fn show(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Sweep {
    /// Reads a sweep file; `overrides` apply to the base config.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_table(parse_table(&text, path)?, path, overrides)
            .map_err(|e| located::in_file(e, path, &text, overrides, &[]))
    }

    fn from_table(mut table: toml::Table, path: &Path, overrides: &[String]) -> Result<Self> {
        let file = path.display().to_string();
        let Some(toml::Value::Table(sweep)) = table.remove("sweep") else {
            return Err(Error::config(
                "sweep",
                format!("{file}: a sweep file has a [sweep] table of keys with lists of values"),
            ));
        };
        apply_overrides(&mut table, overrides)?;
        let base = ExperimentConfig::from_table(table.clone())?;
        let grid = Grid::parse(sweep, &file)?;
        let keys: Vec<String> = grid.axes.iter().map(|(k, _)| k.clone()).collect();
        let count: usize = grid.axes.iter().map(|(_, v)| v.len()).product();
        let trials = (0..count)
            .map(|index| grid.trial(index, &table, &base, &file))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            name: base.name.clone(),
            keys,
            repeats: grid.repeats,
            objective: grid.objective,
            group_by: grid.group_by,
            trials,
        })
    }

    /// Every run in order: `(trial index, repeat)`.
    fn units(&self) -> Vec<(usize, usize)> {
        (0..self.trials.len())
            .flat_map(|t| (0..self.repeats).map(move |r| (t, r)))
            .collect()
    }
}

/// A `[sweep]` table, parsed: the swept keys with their values and the sweep's settings.
struct Grid {
    axes: Vec<(String, Vec<toml::Value>)>,
    repeats: usize,
    objective: Objective,
    group_by: Vec<String>,
}

impl Grid {
    /// Parses the `[sweep]` table of `file`.
    fn parse(sweep: toml::Table, file: &str) -> Result<Self> {
        let mut grid = Grid {
            axes: Vec::new(),
            repeats: 1,
            objective: Objective::ValLoss,
            group_by: Vec::new(),
        };
        let mut group_by: Option<Vec<String>> = None;
        for (key, value) in sweep {
            let field = format!("sweep.{key}");
            let bad = |message: &str| Err(Error::config(&field, format!("{file}: {message}")));
            match (key.as_str(), value) {
                ("repeats", toml::Value::Integer(n)) if n >= 1 => grid.repeats = n as usize,
                ("repeats", _) => return bad("must be an integer ≥ 1"),
                ("objective", toml::Value::String(name)) => {
                    grid.objective = match Objective::parse(&name) {
                        Some(objective) => objective,
                        None => {
                            let names = Objective::NAMES.join(", ");
                            let hint = crate::suggest::did_you_mean(
                                &name,
                                Objective::NAMES.iter().copied(),
                            );
                            return bad(&format!(
                                "unknown objective `{name}`{hint}; one of {names}"
                            ));
                        }
                    };
                }
                ("objective", _) => return bad("must be a string"),
                ("group_by", toml::Value::Array(keys)) => {
                    let keys: Option<Vec<String>> = keys
                        .into_iter()
                        .map(|k| k.as_str().map(String::from))
                        .collect();
                    match keys {
                        Some(keys) => group_by = Some(keys),
                        None => return bad("must be a list of swept keys"),
                    }
                }
                (_, toml::Value::Array(values)) if values.is_empty() => {
                    return bad("an empty list leaves nothing to run");
                }
                (_, toml::Value::Array(values)) => grid.axes.push((key, values)),
                (_, toml::Value::Table(_)) => {
                    return bad("write swept keys dotted and quoted, e.g. \"train.lr\"");
                }
                _ => return bad("must be a list of values"),
            }
        }
        grid.group_by = grid.resolve_group_by(group_by, file)?;
        Ok(grid)
    }

    /// The keys the best trials are grouped by: those given (each must be swept), else the
    /// first key when two or more are swept.
    fn resolve_group_by(&self, given: Option<Vec<String>>, file: &str) -> Result<Vec<String>> {
        if self.axes.is_empty() {
            return Err(Error::config(
                "sweep",
                format!("{file}: the grid is empty (no key with a list of values)"),
            ));
        }
        let keys: Vec<&String> = self.axes.iter().map(|(k, _)| k).collect();
        let group_by = given.unwrap_or_else(|| {
            if keys.len() > 1 {
                vec![keys[0].clone()]
            } else {
                Vec::new()
            }
        });
        if let Some(unknown) = group_by.iter().find(|k| !keys.contains(k)) {
            return Err(Error::config(
                "sweep.group_by",
                format!("{file}: `{unknown}` is not a swept key"),
            ));
        }
        Ok(group_by)
    }

    /// Trial `index` of the grid (the last key varies fastest): its values and one resolved
    /// config per repeat (seeds `base.seed + repeat`).
    fn trial(
        &self,
        index: usize,
        table: &toml::Table,
        base: &ExperimentConfig,
        file: &str,
    ) -> Result<Trial> {
        let mut rest = index;
        let mut values = vec![toml::Value::Boolean(false); self.axes.len()];
        for (slot, (_, options)) in values.iter_mut().zip(&self.axes).rev() {
            *slot = options[rest % options.len()].clone();
            rest /= options.len();
        }
        let name = format!("t{index:03}");
        let settings: Vec<String> = self
            .axes
            .iter()
            .zip(&values)
            .map(|((k, _), v)| format!("{k} = {v}"))
            .collect();
        let mut runs = Vec::with_capacity(self.repeats);
        for repeat in 0..self.repeats {
            let mut run_table = table.clone();
            for ((key, _), value) in self.axes.iter().zip(&values) {
                set_path(&mut run_table, key, value.clone())
                    .map_err(|e| Error::config(format!("sweep.{key}"), e.to_string()))?;
            }
            let seed = base.seed + repeat as u64;
            let run_name = toml::Value::String(format!("{name}_r{repeat}"));
            run_table.insert("name".into(), run_name);
            run_table.insert("seed".into(), toml::Value::Integer(seed as i64));
            let config = ExperimentConfig::from_table(run_table).map_err(|e| {
                Error::config(
                    format!("sweep trial {name} ({})", settings.join(", ")),
                    e.to_string(),
                )
            })?;
            if let Some(reason) = self.objective.unavailable(&config) {
                return Err(Error::config(
                    "sweep.objective",
                    format!("{file}: `{}` {reason}", self.objective.name()),
                ));
            }
            runs.push(config);
        }
        Ok(Trial { name, values, runs })
    }
}

impl Sweep {
    /// Trial `t`'s swept keys and values.
    pub fn hyperparameters(&self, t: usize) -> Vec<(String, toml::Value)> {
        (self.keys.iter().cloned())
            .zip(self.trials[t].values.iter().cloned())
            .collect()
    }
}

/// The run directory of a run config inside the sweep directory.
fn run_dir(dir: &Path, config: &ExperimentConfig) -> PathBuf {
    dir.join("runs").join(&config.name)
}

/// Trains the sweep's runs (or this shard's share), skipping finished ones and continuing
/// unfinished ones from their checkpoints, then writes the tables (unless sharded).
pub fn run(sweep: &Sweep, options: &SweepOptions) -> Result<SweepReport> {
    let dir = options.out.join(&sweep.name);
    let units = sweep.units();
    let mine: Vec<(usize, usize)> = match options.shard {
        Some(shard) => units
            .iter()
            .enumerate()
            .filter(|(k, _)| k % shard.count == shard.index)
            .map(|(_, u)| *u)
            .collect(),
        None => units.clone(),
    };
    let mut trained = 0;
    let mut reused = 0;
    if !options.merge {
        std::fs::create_dir_all(dir.join("runs")).map_err(|e| Error::io(&dir, e))?;
        let pending: Vec<(&ExperimentConfig, Vec<(String, toml::Value)>)> = mine
            .iter()
            .map(|&(t, r)| (&sweep.trials[t].runs[r], sweep.hyperparameters(t)))
            .filter(|(config, _)| finished(&run_dir(&dir, config), config).is_none())
            .collect();
        reused = mine.len() - pending.len();
        trained = pending.len();
        train_all(&pending, &dir.join("runs"), options)?;
    }
    if options.shard.is_some() && !options.merge {
        return Ok(SweepReport {
            dir,
            trained,
            reused,
            markdown: None,
        });
    }
    let results = collect_results(sweep, &dir, &units)?;
    let markdown = markdown_table(sweep, &results);
    write_atomic(&dir.join("table.md"), markdown.as_bytes())?;
    write_atomic(
        &dir.join("trials.csv"),
        trials_csv(sweep, &results).as_bytes(),
    )?;
    write_atomic(&dir.join("runs.csv"), runs_csv(sweep, &results).as_bytes())?;
    write_report(sweep, &dir, &results)?;
    Ok(SweepReport {
        dir,
        trained,
        reused,
        markdown: Some(markdown),
    })
}

/// Trains `pending` runs (each with its trial's hyperparameters), `options.jobs` at a time.
fn train_all(
    pending: &[(&ExperimentConfig, Vec<(String, toml::Value)>)],
    out: &Path,
    options: &SweepOptions,
) -> Result<()> {
    let total = pending.len();
    for_each_job(total, options.jobs, |k| {
        let (config, hyperparameters) = &pending[k];
        if !options.quiet {
            eprintln!("== [{}/{total}] {}", k + 1, config.name);
        }
        let run = RunOptions {
            out: out.to_path_buf(),
            quiet: true,
            report: false,
            hyperparameters: hyperparameters.clone(),
            ..RunOptions::default()
        };
        train(config, &run).map(|_| ())
    })
}

/// `(mean, sample standard deviation)`.
pub(crate) fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// Per trial: `(trial, objective mean, std, test accuracy mean/std if any)` over its runs
/// that did not diverge, and how many did.
struct TrialRow<'a> {
    trial: &'a Trial,
    /// `None` when every run diverged.
    objective: Option<(f64, f64)>,
    accuracy: Option<(f64, f64)>,
    diverged: usize,
}

impl TrialRow<'_> {
    /// The objective's mean for ranking: a trial whose runs all diverged ranks last.
    fn rank(&self) -> f64 {
        self.objective.map_or(f64::INFINITY, |(mean, _)| mean)
    }

    /// The objective as `mean ± std`, or `diverged`.
    fn shown(&self) -> String {
        self.objective.map_or_else(|| "diverged".into(), pm)
    }

    /// The runs column: the repeats, and how many diverged.
    fn runs(&self, repeats: usize) -> String {
        match self.diverged {
            0 => repeats.to_string(),
            d => format!("{repeats} ({d} diverged)"),
        }
    }
}

fn trial_rows<'a>(sweep: &'a Sweep, results: &[RunResult]) -> Vec<TrialRow<'a>> {
    sweep
        .trials
        .iter()
        .map(|trial| {
            let all: Vec<&RunResult> = results.iter().filter(|r| r.trial == trial.name).collect();
            let runs: Vec<&RunResult> = all
                .iter()
                .copied()
                .filter(|r| r.objective.is_some())
                .collect();
            let objectives: Vec<f64> = runs.iter().filter_map(|r| r.objective).collect();
            let accuracies: Option<Vec<f64>> =
                runs.iter().map(|r| r.summary.test_accuracy).collect();
            TrialRow {
                trial,
                objective: (!runs.is_empty()).then(|| mean_std(&objectives)),
                accuracy: accuracies.filter(|a| !a.is_empty()).map(|a| mean_std(&a)),
                diverged: all.len() - runs.len(),
            }
        })
        .collect()
}

/// `mean ± std` to four places.
pub(crate) fn pm((mean, std): (f64, f64)) -> String {
    format!("{mean:.4} ± {std:.4}")
}

/// Each group's key (the `group_by` values shown) and its best trial, groups in order of
/// their first trial.
fn best_per_group<'r, 'a>(
    sweep: &Sweep,
    rows: &'r [TrialRow<'a>],
) -> Vec<(Vec<String>, &'r TrialRow<'a>)> {
    let group_index: Vec<usize> = sweep
        .group_by
        .iter()
        .filter_map(|g| sweep.keys.iter().position(|k| k == g))
        .collect();
    let mut groups: Vec<(Vec<String>, &TrialRow<'_>)> = Vec::new();
    for row in rows {
        let key: Vec<String> = group_index
            .iter()
            .map(|&i| show(&row.trial.values[i]))
            .collect();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, best)) if row.rank() < best.rank() => *best = row,
            Some(_) => {}
            None => groups.push((key, row)),
        }
    }
    groups
}

/// The sweep's `report.html` and figures: the first run of each group's best trial, named
/// after its group, overlaid (each group keeps one colour in every figure).
fn write_report(sweep: &Sweep, dir: &Path, results: &[RunResult]) -> Result<()> {
    let rows = trial_rows(sweep, results);
    let records = best_per_group(sweep, &rows)
        .into_iter()
        .enumerate()
        .filter_map(|(k, (key, row))| {
            let config = row.trial.runs.first()?;
            let run = run_dir(dir, config);
            run.join("metrics.jsonl").is_file().then(|| {
                RunRecord::read(&run).map(|mut r| {
                    r.name = if key.is_empty() {
                        row.trial.name.clone()
                    } else {
                        format!("{} ({})", key.join(", "), row.trial.name)
                    };
                    r.with_series(k)
                })
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if !records.is_empty() {
        crate::report::write(
            dir,
            &format!("{}: best trial per group", sweep.name),
            &records,
        )?;
    }
    Ok(())
}

/// The Markdown table: one row per trial, then the best trial of each group.
pub fn markdown_table(sweep: &Sweep, results: &[RunResult]) -> String {
    let rows = trial_rows(sweep, results);
    let objective = sweep.objective.name();
    let mut text = format!(
        "| trial | {} | {objective} (mean ± std) | test accuracy (mean ± std) | runs |\n|---|{}---:|---:|---:|\n",
        sweep.keys.join(" | "),
        "---|".repeat(sweep.keys.len())
    );
    for row in &rows {
        let values: Vec<String> = row.trial.values.iter().map(show).collect();
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} |",
            row.trial.name,
            values.join(" | "),
            row.shown(),
            row.accuracy.map_or_else(|| "–".into(), pm),
            row.runs(sweep.repeats)
        );
    }
    let groups = best_per_group(sweep, &rows);
    let title = if sweep.group_by.is_empty() {
        "Best trial".to_string()
    } else {
        format!("Best trial per {}", sweep.group_by.join(", "))
    };
    let _ = write!(
        text,
        "\n{title} (lowest mean {objective}):\n\n| group | trial | {} | {objective} | test accuracy |\n|---|---|{}---:|---:|\n",
        sweep.keys.join(" | "),
        "---|".repeat(sweep.keys.len())
    );
    for (key, row) in groups {
        let values: Vec<String> = row.trial.values.iter().map(show).collect();
        let group = if key.is_empty() {
            "all".to_string()
        } else {
            key.join(", ")
        };
        let _ = writeln!(
            text,
            "| {group} | {} | {} | {} | {} |",
            row.trial.name,
            values.join(" | "),
            row.shown(),
            row.accuracy.map_or_else(|| "–".into(), pm)
        );
    }
    text
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// One CSV row per trial: its values, objective and test accuracy mean and std.
fn trials_csv(sweep: &Sweep, results: &[RunResult]) -> String {
    let keys: Vec<String> = sweep.keys.iter().map(|k| csv_field(k)).collect();
    let mut text = format!(
        "trial,{},objective_mean,objective_std,test_accuracy_mean,test_accuracy_std,runs,diverged\n",
        keys.join(",")
    );
    for row in trial_rows(sweep, results) {
        let values: Vec<String> = row
            .trial
            .values
            .iter()
            .map(|v| csv_field(&show(v)))
            .collect();
        let (acc_mean, acc_std) = row
            .accuracy
            .map_or((String::new(), String::new()), |(m, s)| {
                (m.to_string(), s.to_string())
            });
        let (mean, std) = row
            .objective
            .map_or((String::new(), String::new()), |(m, s)| {
                (m.to_string(), s.to_string())
            });
        let _ = writeln!(
            text,
            "{},{},{mean},{std},{acc_mean},{acc_std},{},{}",
            row.trial.name,
            values.join(","),
            sweep.repeats,
            row.diverged
        );
    }
    text
}

/// One CSV row per run.
fn runs_csv(sweep: &Sweep, results: &[RunResult]) -> String {
    let keys: Vec<String> = sweep.keys.iter().map(|k| csv_field(k)).collect();
    let mut text = format!(
        "trial,repeat,seed,{},{},test_accuracy,test_loss,best_epoch,status\n",
        keys.join(","),
        sweep.objective.name()
    );
    for result in results {
        let trial = sweep
            .trials
            .iter()
            .find(|t| t.name == result.trial)
            .expect("results come from the sweep's trials");
        let values: Vec<String> = trial.values.iter().map(|v| csv_field(&show(v))).collect();
        let s = &result.summary;
        let _ = writeln!(
            text,
            "{},{},{},{},{},{},{},{},{}",
            result.trial,
            result.repeat,
            result.seed,
            values.join(","),
            result.objective.map_or(String::new(), |o| o.to_string()),
            s.test_accuracy.map_or(String::new(), |a| a.to_string()),
            s.test_loss.map_or(String::new(), |l| l.to_string()),
            s.best_epoch,
            if s.diverged.is_some() {
                "diverged"
            } else {
                "finished"
            }
        );
    }
    text
}

/// Every run's result, from the run directories under `dir`; an error names the unfinished
/// ones.
fn collect_results(sweep: &Sweep, dir: &Path, units: &[(usize, usize)]) -> Result<Vec<RunResult>> {
    let mut results = Vec::with_capacity(units.len());
    let mut missing = Vec::new();
    for &(t, r) in units {
        let config = &sweep.trials[t].runs[r];
        let run = run_dir(dir, config);
        let Some(summary) = finished(&run, config) else {
            missing.push(config.name.clone());
            continue;
        };
        let objective = match summary.status {
            RunStatus::Diverged => None,
            RunStatus::Finished => Some(
                read_metrics(&run)?
                    .last()
                    .and_then(|m| sweep.objective.read(m))
                    .ok_or_else(|| {
                        Error::data(
                            run.join("metrics.jsonl"),
                            format!("no `{}` at the last epoch", sweep.objective.name()),
                        )
                    })?,
            ),
        };
        results.push(RunResult {
            trial: sweep.trials[t].name.clone(),
            repeat: r,
            seed: config.seed,
            objective,
            summary,
        });
    }
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(5).map(String::as_str).collect();
        return Err(Error::data(
            dir,
            format!(
                "{} of {} runs unfinished ({}{}): run the remaining shards first",
                missing.len(),
                units.len(),
                shown.join(", "),
                if missing.len() > 5 { ", …" } else { "" }
            ),
        ));
    }
    Ok(results)
}
