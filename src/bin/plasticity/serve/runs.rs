//! The runs page's API: the runs, comparisons and sweeps under `--runs` (`GET /api/runs`),
//! one of them with its metrics so far (`GET /api/run?path=…&since=…`, polled by the page so
//! new epochs appear while a run trains), and their files (`GET /files/…`: reports, figures,
//! tables). No path outside `--runs` is ever served: a request path must be made of plain
//! names (no `..`, no root, no backslash, no hidden files), and what it names, symlinks
//! resolved, must still lie inside `--runs`.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AppState, error};

/// Folders below `--runs` searched for runs (a sweep's trial's seed is three down).
const MAX_DEPTH: usize = 4;
/// At most this many entries listed under one folder.
const MAX_ENTRIES: usize = 2_000;

/// A run, or a folder of runs (a comparison or a sweep), as the runs page lists it.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// Path under `--runs`, `/`-separated.
    path: String,
    /// The directory's name.
    name: String,
    /// `run`, `comparison` or `sweep`.
    kind: &'static str,
    /// `running`, `finished`, `diverged` or `stopped` (no summary and no live writer).
    status: String,
    /// Epochs written so far (runs).
    epochs: usize,
    /// The last test accuracy written (runs).
    test_accuracy: Option<f64>,
    /// The rule (runs, from the summary or config).
    rule: Option<String>,
    /// Unix time of the last change.
    modified: f64,
    /// Whether a `report.html` is there.
    report: bool,
    /// The runs inside (comparisons and sweeps).
    children: Vec<Entry>,
}

/// `GET /api/runs`: every run, comparison and sweep, newest first.
pub async fn list(State(state): State<Arc<AppState>>) -> Response {
    let root = state.runs.clone();
    match tokio::task::spawn_blocking(move || entries(&root, &root, 0)).await {
        Ok(mut list) => {
            list.sort_by(|a, b| b.modified.total_cmp(&a.modified));
            Json(list).into_response()
        }
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "listing failed"),
    }
}

/// The query of `GET /api/run`.
#[derive(Deserialize)]
pub struct DetailQuery {
    path: String,
    #[serde(default)]
    since: usize,
}

/// `GET /api/run?path=P&since=N`: the run (or group) at `P` with its metrics lines from the
/// `N`-th on (groups: each member's).
pub async fn detail(
    State(state): State<Arc<AppState>>,
    query: Result<Query<DetailQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected ?path=<run>&since=<lines>",
        );
    };
    let dir = match resolve(&state.runs, &query.path) {
        Ok(dir) => dir,
        Err((status, message)) => return error(status, message),
    };
    let root = state.runs.clone();
    let body = tokio::task::spawn_blocking(move || {
        dir.is_dir().then(|| describe(&root, &dir, query.since))
    })
    .await;
    match body {
        Ok(Some(body)) => Json(body).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "not a run"),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "reading the run failed"),
    }
}

/// `GET /files/<path>`: a file of a run (its report, figures, tables, metrics).
pub async fn file(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Response {
    let full = match resolve(&state.runs, &path) {
        Ok(full) => full,
        Err((status, message)) => return error(status, message),
    };
    if !full.is_file() {
        return error(StatusCode::NOT_FOUND, "no such file");
    }
    match tokio::fs::read(&full).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(&full)),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => error(StatusCode::NOT_FOUND, "no such file"),
    }
}

/// `rel` under `root`, or the 4xx to answer: only plain, visible names; the target, with
/// symlinks resolved, inside `root`.
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, (StatusCode, &'static str)> {
    let outside = || (StatusCode::FORBIDDEN, "paths must stay inside --runs");
    if rel.contains(['\\', '\0']) {
        return Err(outside());
    }
    let rel = rel.trim_end_matches('/');
    let path = Path::new(rel);
    for component in path.components() {
        match component {
            Component::Normal(name) if !name.to_string_lossy().starts_with('.') => {}
            Component::CurDir if rel == "." => {}
            _ => return Err(outside()),
        }
    }
    let full = root
        .join(path)
        .canonicalize()
        .map_err(|_| (StatusCode::NOT_FOUND, "no such run or file"))?;
    if full.starts_with(root) {
        Ok(full)
    } else {
        Err(outside())
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "csv" | "md" | "toml" | "jsonl" | "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn is_run(dir: &Path) -> bool {
    dir.join("config.toml").is_file() && !dir.join("table.md").is_file()
}

/// The runs and groups directly under `dir`, searching down to [`MAX_DEPTH`].
fn entries(root: &Path, dir: &Path, depth: usize) -> Vec<Entry> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut children: Vec<PathBuf> = read
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .take(MAX_ENTRIES)
        .collect();
    children.sort();
    let mut found = Vec::new();
    for child in children {
        if is_run(&child) {
            found.push(run_entry(root, &child));
        } else if depth + 1 < MAX_DEPTH {
            let inner = entries(root, &child, depth + 1);
            if !inner.is_empty() {
                found.push(group_entry(root, &child, inner));
            }
        }
    }
    found
}

fn relative(root: &Path, dir: &Path) -> String {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn name_of(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

fn modified(path: &Path) -> f64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Whether the process named in the run's `.lock` is alive (Linux: `/proc/<pid>`).
fn writer_alive(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join(".lock")) else {
        return false;
    };
    let pid = text
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) if Path::new("/proc").is_dir() => Path::new(&format!("/proc/{pid}")).exists(),
        // Elsewhere: written to within the last minute.
        Some(_) => {
            let now = std::time::SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            now - modified(&dir.join("metrics.jsonl")) < 60.0
        }
        None => false,
    }
}

/// The run's metrics lines (status lines included, so a divergence shows).
fn metrics_lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

fn summary(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    serde_json::from_str(&text).ok()
}

fn run_status(dir: &Path, summary: Option<&Value>) -> String {
    match summary
        .and_then(|s| s.get("status"))
        .and_then(Value::as_str)
    {
        Some(status) => status.to_string(),
        None if writer_alive(dir) => "running".into(),
        None => "stopped".into(),
    }
}

fn config_rule(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("config.toml")).ok()?;
    let table: toml::Table = text.parse().ok()?;
    let train = table.get("train")?.as_table()?;
    match train.get("rules").and_then(|r| r.as_array()) {
        Some(rules) => Some(
            rules
                .iter()
                .filter_map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        None => train.get("rule")?.as_str().map(str::to_string),
    }
}

fn run_entry(root: &Path, dir: &Path) -> Entry {
    let summary = summary(dir);
    let lines = metrics_lines(dir);
    let epochs: Vec<&Value> = lines.iter().filter(|l| l.get("epoch").is_some()).collect();
    Entry {
        path: relative(root, dir),
        name: name_of(dir),
        kind: "run",
        status: run_status(dir, summary.as_ref()),
        epochs: epochs.len(),
        test_accuracy: epochs
            .last()
            .and_then(|l| l.get("test_accuracy"))
            .and_then(Value::as_f64),
        rule: config_rule(dir),
        modified: modified(&dir.join("metrics.jsonl")).max(modified(dir)),
        report: dir.join("report.html").is_file(),
        children: Vec::new(),
    }
}

fn group_entry(root: &Path, dir: &Path, mut children: Vec<Entry>) -> Entry {
    // A sweep keeps its trials in one folder (`runs/`): list them directly.
    if children.len() == 1 && children[0].kind != "run" {
        children = std::mem::take(&mut children[0].children);
    }
    let nested = children.iter().any(|c| c.kind != "run");
    let sweep = nested || dir.join("trials.csv").is_file() || dir.join("runs.csv").is_file();
    let running = children.iter().any(|c| c.status == "running");
    let diverged = children.iter().any(|c| c.status == "diverged");
    let status = if running {
        "running"
    } else if children.iter().all(|c| c.status == "finished") {
        "finished"
    } else if diverged {
        "diverged"
    } else {
        "stopped"
    };
    Entry {
        path: relative(root, dir),
        name: name_of(dir),
        kind: if sweep { "sweep" } else { "comparison" },
        status: status.into(),
        epochs: 0,
        test_accuracy: None,
        rule: None,
        modified: children
            .iter()
            .map(|c| c.modified)
            .fold(modified(dir), f64::max),
        report: dir.join("report.html").is_file(),
        children,
    }
}

/// Every run below a group, depth first.
fn runs_below(entry: &Entry, out: &mut Vec<String>) {
    if entry.kind == "run" {
        out.push(entry.path.clone());
    }
    for child in &entry.children {
        runs_below(child, out);
    }
}

/// A run with its config, summary and metrics from line `since`; a group with its table and
/// every member run's metrics from line `since`.
fn describe(root: &Path, dir: &Path, since: usize) -> Value {
    let path = relative(root, dir);
    if is_run(dir) {
        let summary = summary(dir);
        let lines = metrics_lines(dir);
        return serde_json::json!({
            "kind": "run",
            "path": path,
            "name": name_of(dir),
            "status": run_status(dir, summary.as_ref()),
            "rule": config_rule(dir),
            "config": std::fs::read_to_string(dir.join("config.toml")).ok(),
            "summary": summary,
            "total": lines.len(),
            "metrics": lines.into_iter().skip(since).collect::<Vec<_>>(),
            "report": dir.join("report.html").is_file(),
        });
    }
    let group = group_entry(root, dir, entries(root, dir, 0));
    let mut members = Vec::new();
    runs_below(&group, &mut members);
    let mut runs: Vec<Value> = members
        .iter()
        .map(|member| {
            let run = root.join(member);
            let lines = metrics_lines(&run);
            let summary = summary(&run);
            let series = summary.as_ref().and_then(|s| s.get("series")?.as_u64());
            serde_json::json!({
                "series": series,
                "path": member,
                "name": member.strip_prefix(&format!("{path}/")).unwrap_or(member),
                "status": run_status(&run, summary.as_ref()),
                "rule": config_rule(&run),
                "total": lines.len(),
                "metrics": lines.into_iter().skip(since).collect::<Vec<_>>(),
            })
        })
        .collect();
    // In their comparison's order, so each keeps its colour from the report's figures.
    runs.sort_by_key(|run| run["series"].as_u64().unwrap_or(u64::MAX));
    serde_json::json!({
        "kind": group.kind,
        "path": path,
        "name": group.name,
        "status": group.status,
        "table": std::fs::read_to_string(dir.join("table.md")).ok(),
        "runs": runs,
        "report": group.report,
    })
}
