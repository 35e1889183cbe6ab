//! Reports: the figures of a run (or of a comparison's runs, overlaid) as PNG and SVG, and a
//! self-contained `report.html` (inline SVG, no network) with the config, the final table and
//! every figure. Everything is drawn from the saved files, so `plasticity plot DIR` redraws it.
//!
//! The page carries a small script that, once loaded, records on `<body>` how many figures it
//! has (`data-plots`), how many rendered with a non-empty size (`data-shown`) and how many
//! script errors occurred (`data-errors`), so a headless browser can check it.

pub mod figures;
pub mod interactive;
mod record;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub use figures::{NamedPlot, Plot, figures};
pub use record::{RunRecord, read_metrics};

use crate::error::{Error, Result};
use crate::io::write_atomic;
use crate::plot;

/// `&`, `<`, `>` and `"` escaped for HTML text and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1700px;padding:0 1em;\
color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;\
padding:.3em .6em;text-align:right}td:first-child,th:first-child{text-align:left}\
th{background:#eee}figure{margin:2em 0}figure svg{max-width:100%;height:auto;\
border:1px solid #ddd}figcaption{color:#555;margin-top:.4em}pre{background:#f6f6f6;\
padding:1em;overflow-x:auto}.chart{position:relative}.chart-tip{display:none;position:absolute;\
background:#fff;border:1px solid #999;padding:.3em .5em;font-size:13px;pointer-events:none;\
white-space:nowrap;box-shadow:0 1px 4px rgba(0,0,0,.2);z-index:2}.chart-controls button{\
margin:0 .4em .4em 0;font-size:13px}.legend-entry:hover text{text-decoration:underline}";

const CHECK_SCRIPT: &str = "<script>\
var errors=0;window.addEventListener('error',function(){errors++;});\
window.addEventListener('load',function(){var figures=document.querySelectorAll('figure[data-plot]');\
var shown=0;figures.forEach(function(f){var s=f.querySelector('svg');if(!s)return;\
var r=s.getBoundingClientRect();if(r.width>0&&r.height>0&&s.childElementCount>0)shown++;});\
document.body.setAttribute('data-plots',figures.length);\
document.body.setAttribute('data-shown',shown);\
document.body.setAttribute('data-errors',errors);});</script>";

fn cell(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}

/// The final table: one row per run.
fn table(runs: &[RunRecord], link_reports: bool) -> String {
    let mut html = String::from(
        "<table><tr><th>run</th><th>rule</th><th>sizes</th><th>test accuracy</th>\
         <th>test loss</th><th>best epoch</th><th>train s</th><th>samples/s</th></tr>\n",
    );
    for run in runs {
        let name = if link_reports && run.dir.join("report.html").is_file() {
            format!("<a href=\"{0}/report.html\">{0}</a>", escape(&run.name))
        } else {
            escape(&run.name)
        };
        let last = run.metrics.last();
        let _ = match &run.summary {
            Some(s) => writeln!(
                html,
                "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{:.1}</td><td>{:.0}</td></tr>",
                escape(&s.rule),
                escape(&s.sizes),
                escape(&crate::experiment::compare::accuracy_cell(s)),
                cell(s.test_loss, 4),
                s.best_epoch,
                s.train_seconds,
                s.samples_per_second
            ),
            None => writeln!(
                html,
                "<tr><td>{name} (unfinished)</td><td>–</td><td>–</td><td>{}</td><td>{}</td>\
                 <td>–</td><td>–</td><td>–</td></tr>",
                cell(last.and_then(|m| m.test_accuracy), 4),
                cell(last.map(|m| m.test_loss), 4)
            ),
        };
    }
    html.push_str("</table>\n");
    html
}

/// SVG text ready to inline: any XML prologue dropped.
fn inline_svg(svg: &str) -> &str {
    svg.find("<svg").map_or(svg, |start| &svg[start..])
}

/// Writes every figure of `runs` (PNG and SVG) and `report.html` to `dir`; returns the
/// report's path. With one run it is that run's report; with several, a comparison's.
pub fn write(dir: &Path, title: &str, runs: &[RunRecord]) -> Result<PathBuf> {
    let figures = figures(title, runs);
    let mut body = String::new();
    let _ = writeln!(body, "<h1>{}</h1>", escape(title));
    body.push_str("<h2>Results</h2>\n");
    body.push_str(&table(runs, runs.len() > 1));
    body.push_str("<h2>Figures</h2>\n");
    for figure in &figures {
        let svg = plot::render_svg(&figure.plot).map_err(|m| Error::plot(dir, m))?;
        for extension in ["png", "svg"] {
            plot::save(
                &figure.plot,
                &dir.join(format!("{}.{extension}", figure.stem)),
            )?;
        }
        let stem = escape(&figure.stem);
        // Line charts: the static SVG, which the script replaces by an interactive one.
        let chart = interactive::chart_json(&figure.plot).map_or_else(String::new, |json| {
            format!("<script type=\"application/json\" class=\"chart-data\">{json}</script>")
        });
        let _ = writeln!(
            body,
            "<figure data-plot=\"{stem}\"><div class=\"chart\">{}</div>{chart}<figcaption>{}{} \
             (<a href=\"{stem}.png\">PNG</a>, <a href=\"{stem}.svg\">SVG</a>)</figcaption>\
             </figure>",
            inline_svg(&svg),
            escape(&figure.caption),
            if chart.is_empty() {
                ""
            } else {
                " Hover for values; click a legend entry to hide or show its series."
            },
        );
    }
    body.push_str("<h2>Configuration</h2>\n");
    for run in runs {
        if let Some(config) = &run.config {
            let _ = writeln!(
                body,
                "<details{}><summary>{}</summary><pre>{}</pre></details>",
                if runs.len() == 1 { " open" } else { "" },
                escape(&run.name),
                escape(config)
            );
        }
    }
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{STYLE}</style>{CHECK_SCRIPT}</head>\n<body>\n{body}\
         <script>{}</script>\n</body></html>\n",
        escape(title),
        interactive::SCRIPT
    );
    let path = dir.join("report.html");
    write_atomic(&path, html.as_bytes())?;
    Ok(path)
}
