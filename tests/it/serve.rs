//! `plasticity serve` end to end: the binary on a free loopback port, spoken to over raw
//! HTTP (so that `..`, encoded slashes and oversized bodies reach it exactly as written), and
//! its two pages driven in headless Chromium.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::{attribute, browser, dump_url, tags};

/// A running `plasticity serve`, killed when dropped.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(runs: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_plasticity"))
            .args(["serve", "--port", "0", "--runs"])
            .arg(runs)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        assert!(
            address.starts_with("127.0.0.1:"),
            "loopback by default: {address}"
        );
        Self { child, address }
    }

    /// Sends `method path` (exactly as written) with `body`; the status and the body.
    fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.address,
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        // A body the server refuses part-way may close the connection under us.
        let _ = stream.write_all(body.as_bytes());
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string();
        (status, body)
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, "")
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A finished run named `name` under `runs`, trained by the binary.
fn train(runs: &Path, name: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plasticity"));
    command
        .args(["train", "-q", "--out"])
        .arg(runs)
        .args([
            "--set",
            &format!("name={name}"),
            "--set",
            "data.dataset=iris",
        ])
        .args(extra.iter().flat_map(|e| ["--set", e]));
    command
}

#[test]
fn no_path_outside_runs_is_served_and_bad_requests_are_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    let status = train(&runs, "iris", &["train.epochs=2"]).status().unwrap();
    assert!(status.success());
    std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), runs.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(dir.path(), runs.join("up")).unwrap();
    let server = Server::start(&runs);

    let (code, body) = server.get("/files/iris/config.toml");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("[train]"));
    for path in [
        "/files/../secret.txt",
        "/files/iris/../../secret.txt",
        "/files/..%2fsecret.txt",
        "/files/iris%2f..%2f..%2fsecret.txt",
        "/files/%2e%2e/secret.txt",
        "/files//etc/passwd",
        "/files/%2fetc%2fpasswd",
        "/files/link.txt",
        "/files/up/secret.txt",
        "/files/iris/.lock",
        "/files/iris\\..\\..\\secret.txt",
        "/api/run?path=..",
        "/api/run?path=%2Fetc",
        "/api/run?path=up",
    ] {
        let (code, body) = server.get(path);
        assert!(
            (400..500).contains(&code),
            "{path}: status {code}, body {body}"
        );
        assert!(
            !body.contains("outside") && !body.contains("root:"),
            "{path}: {body}"
        );
    }
    let too_big = format!("{{\"rule\": \"{}\"}}", "x".repeat(64 * 1024));
    let refused = [
        ("POST", "/api/playground", too_big.as_str(), 413),
        ("POST", "/api/playground", "{not json", 400),
        ("POST", "/api/playground", "{\"hidden\": [100000]}", 400),
        ("POST", "/api/playground", "{\"rule\": \"dfaa\"}", 400),
        ("POST", "/api/playground/nope/step", "{\"steps\": 1}", 404),
        ("GET", "/api/run", "", 400),
        ("GET", "/no/such/page", "", 404),
    ];
    for (method, path, body, expected) in refused {
        let (code, answer) = server.request(method, path, body);
        assert_eq!(code, expected, "{method} {path}: {answer}");
        assert!(answer.contains("\"error\""), "{method} {path}: {answer}");
    }
    let (code, answer) = server.request("POST", "/api/playground", "{\"rule\": \"dfaa\"}");
    assert_eq!(code, 400);
    assert!(
        answer.contains("unknown rule `dfaa` (did you mean `dfa`?)"),
        "{answer}"
    );
    let (code, created) = server.request("POST", "/api/playground", "{}");
    assert_eq!(code, 200, "{created}");
    let id = id_of(&created);
    let (code, answer) = server.request(
        "POST",
        &format!("/api/playground/{id}/step"),
        "{\"steps\": 1000000}",
    );
    assert_eq!(code, 400, "{answer}");
    // Still serving after all of that.
    let (code, _) = server.get("/api/runs");
    assert_eq!(code, 200);
}

fn id_of(created: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(created).unwrap();
    value["id"].as_str().unwrap().to_string()
}

#[test]
fn many_stepping_pages_do_not_stall_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = std::sync::Arc::new(Server::start(dir.path()));
    let ids: Vec<String> = (0..6)
        .map(|seed| {
            let spec = format!("{{\"rule\": \"dfa\", \"seed\": {seed}}}");
            let (code, created) = server.request("POST", "/api/playground", &spec);
            assert_eq!(code, 200, "{created}");
            id_of(&created)
        })
        .collect();
    let start = Instant::now();
    let steppers: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let server = server.clone();
            std::thread::spawn(move || {
                let path = format!("/api/playground/{id}/step");
                let (code, frame) = server.request("POST", &path, "{\"steps\": 2000}");
                assert_eq!(code, 200, "{frame}");
                let frame: serde_json::Value = serde_json::from_str(&frame).unwrap();
                assert_eq!(frame["step"], 2000);
                start.elapsed()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let asked = start.elapsed();
    let (code, _) = server.get("/api/catalogue");
    let answered = start.elapsed();
    assert_eq!(code, 200);
    let finished: Vec<Duration> = steppers.into_iter().map(|s| s.join().unwrap()).collect();
    let last = finished.iter().max().unwrap();
    assert!(
        answered < *last,
        "the catalogue (asked at {asked:?}) was answered at {answered:?}, after the last of six \
         2000-step requests ({last:?})"
    );
}

/// The lanes (`<div class="lane" …>`) of a rendered playground, with their test accuracies.
fn lanes(dom: &str) -> Vec<(String, f64, usize)> {
    dom.split("<div class=\"lane\"")
        .skip(1)
        .map(|lane| {
            let rule = attribute(lane, "data-rule").unwrap().to_string();
            let accuracy = lane
                .split("class=\"test-accuracy\">")
                .nth(1)
                .and_then(|rest| rest.split('<').next())
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no test accuracy in lane {rule}"));
            let drawn = tags(
                lane.split("class=\"decoders\"").next().unwrap(),
                "canvas",
                "boundary",
            )
            .iter()
            .filter_map(|tag| attribute(tag, "data-drawn")?.parse::<usize>().ok())
            .max()
            .unwrap_or(0);
            (rule, accuracy, drawn)
        })
        .collect()
}

#[test]
fn the_playground_trains_dfa_on_signed_xor_and_compares_two_rules_in_a_browser() {
    let Some(browser) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (code, page) = server.get("/playground");
    assert_eq!(code, 200);
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "offline page"
    );

    let dom = dump_url(
        &browser,
        &server.url("/playground#dataset=signed_xor&rule=dfa&run=300"),
        60_000,
    );
    assert!(
        dom.contains("data-done=\"1\""),
        "the page did not reach step 300: {dom}"
    );
    let step = dom
        .split("id=\"step_count\">")
        .nth(1)
        .and_then(|r| r.split('<').next());
    assert_eq!(step, Some("300"));
    let found = lanes(&dom);
    assert_eq!(found.len(), 1);
    let (rule, accuracy, drawn) = &found[0];
    println!("playground: {rule} on signed_xor, 300 steps: test accuracy {accuracy}");
    assert_eq!(rule, "dfa");
    assert!(*accuracy >= 0.9, "test accuracy {accuracy} after 300 steps");
    assert!(*drawn >= 2, "the boundary was redrawn while it trained");

    let dom = dump_url(
        &browser,
        &server.url("/playground#rule=dfa&compare=backprop&run=100"),
        60_000,
    );
    let found = lanes(&dom);
    let rules: Vec<&str> = found.iter().map(|(r, _, _)| r.as_str()).collect();
    assert_eq!(rules, ["dfa", "backprop"], "compare mode shows two lanes");
    for (rule, accuracy, drawn) in &found {
        println!("compare: {rule} at step 100: test accuracy {accuracy}, {drawn} redraws");
        assert!(*drawn >= 2, "{rule}'s boundary");
    }
    assert_eq!(
        dom.matches("data-source=\"net\"").count(),
        2,
        "two output boundaries"
    );
}

/// The accuracy curve's lengths the runs page recorded at each of its renders
/// (`<body data-points="…">`).
fn recorded_points(dom: &str) -> Vec<usize> {
    let body = dom.split("<body").nth(1).unwrap_or("");
    attribute(&body[..body.find('>').unwrap_or(0)], "data-points")
        .unwrap_or("")
        .split(',')
        .filter_map(|n| n.parse().ok())
        .collect()
}

#[test]
fn the_runs_page_shows_a_run_in_progress_and_its_curve_grows() {
    let Some(browser) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    let server = Server::start(&runs);
    let mut training = train(&runs, "live", &["train.epochs=1000000", "model.hidden=[8]"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let metrics = runs.join("live/metrics.jsonl");
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::read_to_string(&metrics).map_or(0, |t| t.lines().count()) < 3 {
        assert!(Instant::now() < deadline, "the run wrote no epochs");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, list) = server.get("/api/runs");
    assert_eq!(code, 200);
    assert!(
        list.contains("\"name\":\"live\"") && list.contains("\"status\":\"running\""),
        "{list}"
    );
    // One page load: the page polls while the run trains, and redraws as epochs arrive.
    let dom = dump_url(&browser, &server.url("/runs#path=live"), 20_000);
    let _ = training.kill();
    let _ = training.wait();
    assert!(
        dom.contains("data-path=\"live\""),
        "the run is listed: {dom}"
    );
    assert!(dom.contains("badge running"), "shown as running");
    let seen = recorded_points(&dom);
    println!("runs page: the live run's accuracy curve, render by render: {seen:?} points");
    assert!(
        seen.len() >= 2,
        "the curve never grew without a reload: {seen:?}"
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert!(seen[0] >= 1, "the first render drew the curve");
}
