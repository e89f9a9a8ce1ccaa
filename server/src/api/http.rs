//! Plain HTTP on the gRPC port: `GET /api/v1/health`, and the layers every response passes
//! through (CORS with an origin guard, security headers).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;
use crate::config::Environment;

/// The plain HTTP routes.
pub fn routes(state: &AppState) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .with_state(state.clone())
}

async fn health(State(state): State<AppState>) -> Response {
    let database = match state.health.ping().await {
        Ok(()) => "ok",
        Err(error) => {
            tracing::warn!(%error, "health: database unreachable");
            "unreachable"
        }
    };
    let cache = match &state.cache {
        None => "embedded",
        Some(pool) => match ping_redis(pool).await {
            Ok(()) => "ok",
            Err(error) => {
                tracing::warn!(%error, "health: redis unreachable");
                "unreachable"
            }
        },
    };
    let healthy = database == "ok" && cache != "unreachable";
    let body = Json(serde_json::json!({
        "status": if healthy { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "database": database,
        "cache": cache,
    }));
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, body).into_response()
}

async fn ping_redis(pool: &deadpool_redis::Pool) -> anyhow::Result<()> {
    let mut connection = tokio::time::timeout(Duration::from_secs(2), pool.get()).await??;
    let _: String = deadpool_redis::redis::cmd("PING")
        .query_async(&mut connection)
        .await?;
    Ok(())
}

/// Wraps `router` in CORS, the origin guard and security headers.
pub fn layered(router: Router, state: &AppState) -> Router {
    let origins = state.cors_origins.clone();
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let cors = CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(
            [
                "content-type",
                "authorization",
                "x-api-key",
                "x-grpc-web",
                "x-user-agent",
                "grpc-timeout",
            ]
            .map(HeaderName::from_static),
        )
        .expose_headers(
            ["grpc-status", "grpc-message", "grpc-status-details-bin"].map(HeaderName::from_static),
        )
        .max_age(Duration::from_secs(24 * 60 * 60));
    let mut router = router
        .layer(cors)
        .layer(middleware::from_fn_with_state(state.clone(), origin_guard))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // No page of owl's may be framed (the demo consent page, the OAuth callback's pages)
        // or leak its URL, with its code or state, as a referrer; a page may set a stricter
        // policy of its own.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ));
    if state.environment == Environment::Production {
        router = router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=2592000; includeSubDomains; preload"),
        ));
    }
    router
}

/// Refuses browser requests from origins outside CORS_ORIGINS with 403, so that a foreign page
/// cannot use the API even where a browser would not enforce CORS. Requests without `Origin`
/// (native gRPC clients, curl) pass.
async fn origin_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let allowed = state
            .cors_origins
            .iter()
            .any(|o| o == "*" || o.as_bytes() == origin.as_bytes());
        if !allowed {
            tracing::info!(origin = ?origin, "request from an origin outside CORS_ORIGINS refused");
            return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
        }
    }
    next.run(request).await
}
