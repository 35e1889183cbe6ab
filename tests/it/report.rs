//! Figures and HTML reports: what they contain, and that a headless browser renders them.

use std::path::{Path, PathBuf};
use std::process::Command;

use plasticity::experiment::compare::{CompareOptions, Comparison, compare};
use plasticity::experiment::config::parse_table;
use plasticity::experiment::snapshot::{Activations, Boundary};
use plasticity::experiment::{ExperimentConfig, RunOptions, train};
use plasticity::report::{self, RunRecord};

use crate::write;

/// A linear-decoder run on the 2-D signed XOR, with alignment measured: every kind of figure.
fn decoder_run(out: &Path) -> PathBuf {
    let text = "name = \"xor\"\n[data]\ndataset = \"signed_xor\"\nsamples = 400\n\
                [model]\nhidden = [16, 16]\nactivation = \"tanh\"\n\
                [train]\nrule = \"linear_decoder\"\nepochs = 3\nbatch_size = 50\n\
                align_every = 4\nalign_batch = 100\n";
    let config =
        ExperimentConfig::from_table(parse_table(text, Path::new("xor.toml")).unwrap()).unwrap();
    let options = RunOptions {
        out: out.to_path_buf(),
        ..RunOptions::default()
    };
    train(&config, &options).unwrap();
    out.join("xor")
}

/// The `<figure data-plot=…>` stems of a report, in order.
fn plot_stems(html: &str) -> Vec<String> {
    html.split("<figure data-plot=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_string())
        .collect()
}

/// A headless Chromium, if installed (`PLASTICITY_BROWSER` names another binary). With
/// `PLASTICITY_REQUIRE_BROWSER` set (CI), a missing browser fails the test.
pub(crate) fn browser() -> Option<String> {
    let candidates = std::env::var("PLASTICITY_BROWSER")
        .map(|b| vec![b])
        .unwrap_or_else(|_| {
            ["chromium", "chromium-browser", "google-chrome"]
                .map(String::from)
                .to_vec()
        });
    let found = candidates.into_iter().find(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("PLASTICITY_REQUIRE_BROWSER").is_none(),
            "PLASTICITY_REQUIRE_BROWSER is set but no chromium was found"
        );
        eprintln!("no headless chromium found: browser check skipped");
    }
    found
}

/// Loads `page` in headless Chromium and returns `(plots, shown, errors)` as the page's own
/// script recorded them on `<body>` after loading.
fn render(browser: &str, page: &Path) -> (usize, usize, usize) {
    let dom = dump_dom(browser, page);
    let body = dom
        .split("<body")
        .nth(1)
        .unwrap_or_else(|| panic!("no <body> in the rendered page: {dom}"));
    let number = |name: &str| -> usize {
        attribute(body, name)
            .unwrap_or_else(|| panic!("the page's check did not run: no {name}"))
            .parse()
            .unwrap()
    };
    (
        number("data-plots"),
        number("data-shown"),
        number("data-errors"),
    )
}

/// The value of the first `name="…"` attribute in `tag` (a tag's text, or a longer text).
pub(crate) fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// The attributes of every `<{element} …>` opening tag in `html` whose class is `class`, each
/// as its text with a leading space.
pub(crate) fn tags(html: &str, element: &str, class: &str) -> Vec<String> {
    html.split(&format!("<{element} "))
        .skip(1)
        .map(|rest| format!(" {}", &rest[..rest.find('>').unwrap()]))
        .filter(|tag| attribute(tag, "class") == Some(class))
        .collect()
}

/// The page's DOM after its scripts ran in headless Chromium.
fn dump_dom(browser: &str, page: &Path) -> String {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    dump_url(browser, &url, 10_000)
}

/// The DOM of the page at `url` after its scripts ran for up to `budget_ms` of the browser's
/// virtual time (network waits do not use it up).
pub(crate) fn dump_url(browser: &str, url: &str, budget_ms: u64) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            &format!("--virtual-time-budget={budget_ms}"),
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
        ])
        .arg(url)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_run_report_holds_every_figure_and_renders_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let run = decoder_run(dir.path());
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    let stems = plot_stems(&html);
    assert_eq!(
        stems,
        [
            "train_loss",
            "test_accuracy",
            "grad_magnitudes",
            "grad_magnitudes_by_block",
            "alignment",
            "activations",
            "boundary"
        ]
    );
    for stem in &stems {
        for extension in ["png", "svg"] {
            let file = run.join(format!("{stem}.{extension}"));
            assert!(std::fs::metadata(&file).unwrap().len() > 1000, "{file:?}");
        }
    }
    assert_eq!(html.matches("<svg").count(), stems.len());
    assert!(!html.contains("<script src") && !html.contains("<link"));
    assert!(html.contains("rule = &quot;linear_decoder&quot;") || html.contains("linear_decoder"));

    let activations: Activations =
        serde_json::from_str(&std::fs::read_to_string(run.join("activations.json")).unwrap())
            .unwrap();
    let widths = [16u64, 16, 2];
    for (histogram, width) in activations.blocks.iter().zip(widths) {
        let total: u64 = histogram.counts.iter().sum();
        assert_eq!(total, activations.samples as u64 * width);
    }
    let boundary: Boundary =
        serde_json::from_str(&std::fs::read_to_string(run.join("boundary.json")).unwrap()).unwrap();
    let sources: Vec<&str> = boundary.maps.iter().map(|m| m.source.as_str()).collect();
    assert_eq!(sources, ["net", "block 0", "block 1"]);
    for map in &boundary.maps {
        assert_eq!(map.classes.len(), boundary.resolution * boundary.resolution);
        assert!(
            map.classes.contains(&0) && map.classes.contains(&1),
            "{}",
            map.source
        );
    }

    if let Some(browser) = browser() {
        let (plots, shown, errors) = render(&browser, &run.join("report.html"));
        assert_eq!((plots, shown, errors), (stems.len(), stems.len(), 0));
    }
}

#[test]
fn redrawing_from_saved_files_gives_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let run = decoder_run(dir.path());
    let first = std::fs::read_to_string(run.join("report.html")).unwrap();
    std::fs::remove_file(run.join("report.html")).unwrap();
    std::fs::remove_file(run.join("boundary.png")).unwrap();
    report::write(&run, "xor", &[RunRecord::read(&run).unwrap()]).unwrap();
    assert_eq!(
        std::fs::read_to_string(run.join("report.html")).unwrap(),
        first
    );
    assert!(run.join("boundary.png").is_file());
}

const COMPARISON: &str = r#"
name = "cmp"
[data]
dataset = "digits"
[model]
hidden = [16]
[train]
epochs = 2
align_every = 10

[[variant]]
name = "bp"

[[variant]]
name = "dfa"
"train.rule" = "dfa"
"#;

#[test]
fn a_comparison_report_links_its_runs_and_renders_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "cmp.toml", COMPARISON.as_bytes());
    let comparison = Comparison::load(&path, &[]).unwrap();
    let options = CompareOptions {
        out: dir.path().join("runs"),
        quiet: true,
        jobs: 1,
    };
    compare(&comparison, &options).unwrap();
    let root = dir.path().join("runs/cmp");
    let html = std::fs::read_to_string(root.join("report.html")).unwrap();
    assert_eq!(
        plot_stems(&html),
        [
            "train_loss",
            "test_accuracy",
            "grad_magnitudes",
            "grad_magnitudes_by_block",
            "alignment",
            "weight_alignment"
        ]
    );
    for variant in ["bp", "dfa"] {
        assert!(html.contains(&format!("<a href=\"{variant}/report.html\">")));
        assert!(root.join(variant).join("report.html").is_file());
    }
    if let Some(browser) = browser() {
        assert_eq!(render(&browser, &root.join("report.html")), (6, 6, 0));
    }
}

/// The absolute `(x, y)` points of an SVG path's `M x y L x y …` data.
fn path_points(d: &str) -> Vec<(f64, f64)> {
    let numbers: Vec<f64> = d
        .split(['M', 'L', ' '])
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().unwrap())
        .collect();
    numbers.chunks(2).map(|p| (p[0], p[1])).collect()
}

/// The main job's comparison (every rule on digits, shortened to 8 epochs): in the browser its
/// test-accuracy figure has one distinct colour per variant and no legend box over a point.
#[test]
fn the_main_jobs_report_gives_each_rule_its_colour_and_keeps_legends_off_the_data() {
    let Some(browser) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/rules_on_digits.toml");
    let overrides = [
        "train.epochs=8".to_string(),
        "train.align_every=0".to_string(),
    ];
    let comparison = Comparison::load(&file, &overrides).unwrap();
    let variants = comparison.variants.len();
    let options = CompareOptions {
        out: dir.path().to_path_buf(),
        quiet: true,
        jobs: 1,
    };
    compare(&comparison, &options).unwrap();
    let dom = dump_dom(&browser, &dir.path().join("rules_on_digits/report.html"));
    let figure = dom
        .split("<figure data-plot=\"test_accuracy\"")
        .nth(1)
        .expect("a test_accuracy figure");
    let figure = &figure[..figure.find("</figure>").unwrap()];
    let svg = &figure[figure.find("class=\"chart-svg\"").expect("the drawn chart")..];

    let series = tags(svg, "path", "series");
    assert_eq!(series.len(), variants);
    let mut colours: Vec<&str> = series
        .iter()
        .map(|tag| attribute(tag, "stroke").unwrap())
        .collect();
    colours.sort_unstable();
    colours.dedup();
    let boxes = tags(svg, "rect", "legend-box");
    let points: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|tag| path_points(attribute(tag, "d").unwrap()))
        .collect();
    println!(
        "test_accuracy: {} series, {} distinct colours, {} legend box, {} points",
        series.len(),
        colours.len(),
        boxes.len(),
        points.len()
    );
    assert_eq!(colours.len(), variants, "{colours:?}");
    assert_eq!(boxes.len(), 1);
    let number = |tag: &str, name: &str| -> f64 { attribute(tag, name).unwrap().parse().unwrap() };
    for tag in &boxes {
        let (x, y) = (number(tag, "x"), number(tag, "y"));
        let (w, h) = (number(tag, "width"), number(tag, "height"));
        assert!(w > 0.0 && h > 0.0);
        for &(px, py) in &points {
            let inside = px >= x && px <= x + w && py >= y && py <= y + h;
            assert!(!inside, "point ({px}, {py}) lies in the legend box {tag}");
        }
    }
}
