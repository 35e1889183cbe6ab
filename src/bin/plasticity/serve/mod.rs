//! `plasticity serve`: the live lab in the browser. A local web app (loopback unless
//! `--host` says otherwise, offline: every page and script is compiled into the binary) with
//! two pages: the playground (`/playground`: small nets on 2-D data stepped natively through
//! the `Trainer`, see `playground.rs`) and the runs page (`/`: every run, comparison and sweep
//! under `--runs`, updating live while they train, see `runs.rs`).

mod playground;
mod runs;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;

/// Largest request body accepted (a playground spec is a few hundred bytes).
const BODY_LIMIT: usize = 16 * 1024;

/// `plasticity serve` options.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Directory of runs, comparisons and sweeps the runs page shows (nothing outside it is
    /// ever served).
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to bind: loopback unless you mean to share the lab on a network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
}

/// What every handler shares.
pub struct AppState {
    /// `--runs`, canonical.
    pub runs: PathBuf,
    /// The playground's sessions.
    pub sessions: playground::Sessions,
}

/// Serves until Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.runs)
        .with_context(|| format!("--runs {}", args.runs.display()))?;
    let runs = args
        .runs
        .canonicalize()
        .with_context(|| format!("--runs {}", args.runs.display()))?;
    let state = Arc::new(AppState {
        runs,
        sessions: playground::Sessions::default(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    runtime.block_on(async move {
        let address = SocketAddr::new(args.host, args.port);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("--host {} --port {}", args.host, args.port))?;
        let bound = listener.local_addr()?;
        println!(
            "plasticity serve: http://{bound}/ (runs from {}; Ctrl-C stops)",
            state.runs.display()
        );
        use std::io::Write as _;
        std::io::stdout().flush()?;
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("serving")
    })
}

/// Every route of the app.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(|| page(RUNS_PAGE)))
        .route("/runs", get(|| page(RUNS_PAGE)))
        .route("/playground", get(|| page(PLAYGROUND_PAGE)))
        .route("/assets/{name}", get(asset))
        .route("/api/catalogue", get(playground::catalogue))
        .route("/api/playground", post(playground::create))
        .route("/api/playground/{id}/step", post(playground::step))
        .route(
            "/api/playground/{id}",
            axum::routing::delete(playground::remove),
        )
        .route("/api/runs", get(runs::list))
        .route("/api/run", get(runs::detail))
        .route("/files/{*path}", get(runs::file))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such page") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

const RUNS_PAGE: &str = include_str!("../../../../assets/serve/runs.html");
const PLAYGROUND_PAGE: &str = include_str!("../../../../assets/serve/playground.html");

/// The scripts and the style sheet the pages load, compiled in.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "lab.css",
        "text/css; charset=utf-8",
        include_str!("../../../../assets/serve/lab.css"),
    ),
    (
        "playground.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../../assets/serve/playground.js"),
    ),
    (
        "runs.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../../assets/serve/runs.js"),
    ),
    (
        "plot.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../../assets/serve/plot.js"),
    ),
];

async fn page(html: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response()
}

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "no such asset"),
    }
}

/// A JSON error body `{"error": message}` with `status`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": message.into() })),
    )
        .into_response()
}

/// One rule's playground figures: native steps per second, and frames per second of the
/// page's loop (a step request of `steps_per_frame` steps answered with the frame's heatmaps,
/// over HTTP on loopback).
#[derive(Debug, serde::Serialize)]
pub struct PlaygroundBench {
    /// The lane's rule (`a vs b` in compare mode).
    pub rule: String,
    /// The net.
    pub net: String,
    /// Median training steps per second of `Session::step`.
    pub steps_per_second: f64,
    /// Median frames per second of the page's loop.
    pub frames_per_second: f64,
    /// Steps per frame in that loop.
    pub steps_per_frame: usize,
}

/// Times the playground's default net under each of `rules` (a `a,b` pair: compare mode).
pub fn bench(
    rules: &[String],
    steps: usize,
    frames: usize,
    repeats: usize,
) -> anyhow::Result<Vec<PlaygroundBench>> {
    let state = Arc::new(AppState {
        runs: std::env::temp_dir(),
        sessions: playground::Sessions::default(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let address = listener.local_addr()?;
    runtime.spawn(async move { axum::serve(listener, router(state)).await });
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut out = Vec::new();
    for rule in rules {
        let (lane, compare) = match rule.split_once(" vs ") {
            Some((a, b)) => (a.to_string(), Some(b.to_string())),
            None => (rule.clone(), None),
        };
        let spec = plasticity::playground::PlaygroundSpec {
            rule: lane,
            compare,
            ..Default::default()
        };
        let mut session = plasticity::playground::Session::new(spec.clone())?;
        session.step(20);
        let net = session.info().nets[0].clone();
        let mut rates = Vec::new();
        for _ in 0..repeats {
            let start = std::time::Instant::now();
            session.step(steps);
            rates.push(steps as f64 / start.elapsed().as_secs_f64());
        }
        let steps_per_frame = 10;
        let created = http(
            address,
            "POST",
            "/api/playground",
            &serde_json::to_string(&spec)?,
        )?;
        let id = serde_json::from_str::<serde_json::Value>(&created)?["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let path = format!("/api/playground/{id}/step");
        let body = format!("{{\"steps\": {steps_per_frame}}}");
        let mut frame_rates = Vec::new();
        for _ in 0..repeats {
            let start = std::time::Instant::now();
            for _ in 0..frames {
                http(address, "POST", &path, &body)?;
            }
            frame_rates.push(frames as f64 / start.elapsed().as_secs_f64());
        }
        out.push(PlaygroundBench {
            rule: rule.clone(),
            net,
            steps_per_second: median(rates),
            frames_per_second: median(frame_rates),
            steps_per_frame,
        });
    }
    Ok(out)
}

/// One HTTP/1.1 request on a fresh connection, as a page's `fetch` makes it; the body.
fn http(address: SocketAddr, method: &str, path: &str, body: &str) -> anyhow::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    if !response.starts_with("HTTP/1.1 200") {
        anyhow::bail!("{method} {path}: {}", response.lines().next().unwrap_or(""));
    }
    Ok(response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string()))
}
