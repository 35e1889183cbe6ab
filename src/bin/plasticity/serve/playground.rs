//! The playground's API: a page creates a session from its state (`POST /api/playground`,
//! a `PlaygroundSpec` as JSON), then asks for chunks of steps (`POST
//! /api/playground/{id}/step` with `{"steps": n}`), each answered with the frame to draw.
//! Steps run on the blocking pool, one session at a time per lock, so many open pages share
//! the cores without stalling the server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use plasticity::playground::{PlaygroundSpec, Session};
use serde::Deserialize;

use super::{AppState, error};

/// Sessions kept at once; the least recently used goes first.
const MAX_SESSIONS: usize = 64;
/// Steps one request may ask for.
pub const MAX_STEPS: usize = 2_000;

/// The live sessions by id.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    created: u64,
    map: HashMap<String, (Arc<Mutex<Session>>, Instant)>,
}

impl Sessions {
    fn insert(&self, session: Session) -> String {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.created += 1;
        let salt = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let id = format!("{:x}{:08x}", inner.created, salt);
        if inner.map.len() >= MAX_SESSIONS
            && let Some(oldest) = inner
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| id.clone())
        {
            inner.map.remove(&oldest);
        }
        let entry = (Arc::new(Mutex::new(session)), Instant::now());
        inner.map.insert(id.clone(), entry);
        id
    }

    fn get(&self, id: &str) -> Option<Arc<Mutex<Session>>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (session, used) = inner.map.get_mut(id)?;
        *used = Instant::now();
        Some(session.clone())
    }

    fn remove(&self, id: &str) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.map.remove(id).is_some()
    }
}

/// A bad JSON body as a 4xx with one line.
fn rejected(rejection: JsonRejection) -> Response {
    error(rejection.status(), rejection.body_text().replace('\n', " "))
}

/// `POST /api/playground`: a new session at step 0 → `{id, info, frame}`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    body: Result<Json<PlaygroundSpec>, JsonRejection>,
) -> Response {
    let Json(spec) = match body {
        Ok(body) => body,
        Err(rejection) => return rejected(rejection),
    };
    let built = tokio::task::spawn_blocking(move || {
        let mut session = Session::new(spec)?;
        let frame = session.frame();
        Ok::<_, plasticity::Error>((session.info(), frame, session))
    })
    .await;
    match built {
        Ok(Ok((info, frame, session))) => {
            let id = state.sessions.insert(session);
            Json(serde_json::json!({ "id": id, "info": info, "frame": frame })).into_response()
        }
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the session failed to start",
        ),
    }
}

/// `GET /api/catalogue`: the registered rules and the activations a page may offer (those
/// named without a parameter).
pub async fn catalogue() -> Response {
    let rules: Vec<String> = plasticity::rule::registry::registered()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let activations: Vec<&str> = plasticity::activation::ACTIVATION_NAMES
        .iter()
        .copied()
        .filter(|a| *a != "softmax" && a.parse::<plasticity::activation::Activation>().is_ok())
        .collect();
    Json(serde_json::json!({ "rules": rules, "activations": activations })).into_response()
}

/// The body of a step request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    steps: usize,
}

/// `POST /api/playground/{id}/step`: `steps` more steps → the frame, with the seconds the
/// steps took (`step_seconds`) and the frame's (`frame_seconds`).
pub async fn step(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<Json<StepRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => return rejected(rejection),
    };
    if request.steps > MAX_STEPS {
        return error(
            StatusCode::BAD_REQUEST,
            format!("steps: {} is more than {MAX_STEPS}", request.steps),
        );
    }
    let Some(session) = state.sessions.get(&id) else {
        return error(StatusCode::NOT_FOUND, format!("no session `{id}`"));
    };
    let stepped = tokio::task::spawn_blocking(move || {
        let mut session = session.lock().unwrap_or_else(|e| e.into_inner());
        let start = Instant::now();
        session.step(request.steps);
        let stepped = start.elapsed().as_secs_f64();
        let frame = session.frame();
        let framed = start.elapsed().as_secs_f64() - stepped;
        (frame, stepped, framed)
    })
    .await;
    match stepped {
        Ok((frame, stepped, framed)) => {
            let mut body = serde_json::to_value(frame).unwrap_or_default();
            body["step_seconds"] = stepped.into();
            body["frame_seconds"] = framed.into();
            Json(body).into_response()
        }
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the step failed"),
    }
}

/// `DELETE /api/playground/{id}`: the session is dropped (a page's reset).
pub async fn remove(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    if state.sessions.remove(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, format!("no session `{id}`"))
    }
}
