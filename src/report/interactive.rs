//! The data behind a report's interactive charts: each line-chart figure's series as JSON,
//! which the page's script (`assets/report/chart.js`, inlined) draws with hover values,
//! series toggles, a log/linear switch and a zoomed/full-range switch.

use serde_json::{Value, json};

use crate::plot::curves::Curves;
use crate::plot::style::Dash;
use crate::report::Plot;

/// The script that draws the charts, inlined into every report.
pub const SCRIPT: &str = include_str!("../../assets/report/chart.js");

fn dash(d: Dash) -> &'static str {
    match d {
        Dash::Solid => "solid",
        Dash::Dashed => "dashed",
        Dash::Dotted => "dotted",
    }
}

fn panel(curves: &Curves) -> Value {
    json!({
        "title": curves.title,
        "x_label": curves.x_label,
        "y_label": curves.y_label,
        "series": curves.series.iter().map(|s| json!({
            "name": s.name,
            "colour": s.style.hex(),
            "dash": dash(s.style.dash),
            "points": s.points.iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|&(x, y)| [x, y])
                .collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The chart data of a line-chart figure (`None` for histograms and boundaries), ready to
/// embed in a `<script type="application/json">` (`</` escaped).
///
/// Fields: `kind` (`curves` or `panels`), `log`, `columns`, `legend` (whether a legend is
/// drawn), `shared` (one y scale for every panel), `zoom` (the zoomed y range, data units, or
/// null), `panels` (title, axis labels, series with name, colour, dash and `[x, y]` points).
pub fn chart_json(plot: &Plot) -> Option<String> {
    let value = match plot {
        Plot::Curves(c) => json!({
            "kind": "curves",
            "log": c.log_y,
            "columns": 1,
            "legend": c.own_legend().is_some(),
            "shared": false,
            "zoom": c.y_range.map(|(l, h)| [l, h]),
            "panels": [panel(c)],
        }),
        Plot::Panels(p) => {
            let first = p.panels.first().and_then(|c| c.y_range);
            let shared = first.is_some() && p.panels.iter().all(|c| c.y_range == first);
            json!({
                "kind": "panels",
                "log": p.panels.iter().any(|c| c.log_y),
                "columns": p.columns,
                "legend": p.legend().is_some(),
                "shared": shared,
                "zoom": Value::Null,
                "panels": p.panels.iter().map(panel).collect::<Vec<_>>(),
            })
        }
        Plot::Histograms(_) | Plot::Boundaries(_) => return None,
    };
    Some(value.to_string().replace("</", "<\\/"))
}
