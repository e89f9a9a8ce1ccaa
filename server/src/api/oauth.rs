//! The browser's side of connecting a wearable: the providers' OAuth callback
//! (`GET /api/v1/oauth/{provider}/callback`, the seed's path, so redirect URIs registered for
//! Open Wearables keep working) and the demo provider's consent page (`GET /api/v1/demo/authorize`).

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::AppState;
use crate::domain::connections::{Callback, Connections, WebhookReply};
use crate::domain::error::Error;
use crate::providers::demo;

/// The routes of the connect flow.
pub fn routes(state: &AppState) -> Router {
    Router::new()
        .route("/api/v1/oauth/{provider}/callback", get(callback))
        .route("/api/v1/demo/authorize", get(demo_consent))
        .route(
            "/api/v1/providers/{provider}/webhooks",
            get(webhook).post(webhook),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_WEBHOOK_BYTES))
        .with_state(state.clone())
}

/// Largest webhook body; providers send notifications, not bulk data.
const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

/// A provider's webhook: verified by the provider's module, answered fast; syncs it asks for
/// run as jobs.
async fn webhook(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    method: axum::http::Method,
    headers: axum::http::HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let request = crate::providers::WebhookRequest {
        method,
        headers,
        query,
        body: body.to_vec(),
    };
    match Connections(&state.ctx).webhook(&provider, &request).await {
        Ok(WebhookReply::Challenge(body)) => {
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Ok(WebhookReply::Accepted { sync, drain }) => {
            for c in &sync {
                crate::enqueue_sync(&state, c, crate::jobs::runs::SyncSource::Webhook).await;
            }
            for (c, key) in &drain {
                crate::jobs::sync::enqueue_drain(&state.jobs.sync_jobs(), c, key).await;
            }
            StatusCode::OK.into_response()
        }
        Err(Error::Unauthenticated { .. }) => StatusCode::UNAUTHORIZED.into_response(),
        Err(Error::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(Error::InvalidArgument(_)) => StatusCode::BAD_REQUEST.into_response(),
        Err(error) => {
            tracing::error!(%error, provider, "webhook failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A plain page saying why the flow cannot go on (there is no app to send the browser to).
fn failure(code: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>owl</title></head>\
         <body><h1>The connection could not be made</h1><p>{}</p></body></html>",
        html_escape(message)
    );
    (code, [(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

fn html_escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let params = Callback {
        state: query.get("state").cloned(),
        code: query.get("code").cloned(),
        error: query.get("error").cloned(),
    };
    match Connections(&state.ctx).complete(&provider, params).await {
        Ok(done) => {
            if let Ok(connection) = &done.outcome {
                crate::after_connect(&state, connection).await;
            }
            Redirect::to(&done.location()).into_response()
        }
        Err(Error::InvalidArgument(violations)) => {
            let message = violations
                .iter()
                .map(|v| format!("{} {}", v.field, v.description))
                .collect::<Vec<_>>()
                .join("; ");
            failure(StatusCode::BAD_REQUEST, &message)
        }
        Err(error) => {
            tracing::error!(%error, provider, "oauth callback failed");
            failure(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

async fn demo_consent(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let demo = state.ctx.providers.demo();
    let get = |k: &str| query.get(k).map(String::as_str).unwrap_or_default();
    if get("client_id") != demo::CLIENT_ID || get("redirect_uri") != demo.callback() {
        return failure(
            StatusCode::BAD_REQUEST,
            "unknown client or redirect_uri for the demo provider",
        );
    }
    if get("state").is_empty() {
        return failure(StatusCode::BAD_REQUEST, "state is missing");
    }
    let page = demo::consent_page(demo, get("state"));
    ([(header::CACHE_CONTROL, "no-store")], Html(page)).into_response()
}
