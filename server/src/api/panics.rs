//! The last line against a bug: a handler that panics is answered INTERNAL "internal error"
//! (gRPC and grpc-web) or 500 (plain HTTP) instead of a reset stream, logged once and counted
//! in `/metrics` as `owl_panics_total`.

use std::any::Any;

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode};
use tower_http::catch_panic::CatchPanicLayer;

/// Counter of handler panics in `/metrics`.
pub const PANICS: &str = "owl_panics_total";

fn record(panic: &(dyn Any + Send)) {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %what, "a handler panicked");
    metrics::counter!(PANICS).increment(1);
}

fn grpc_internal(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    record(panic.as_ref());
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from_static("13"));
    headers.insert("grpc-message", HeaderValue::from_static("internal error"));
    response
}

fn http_internal(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    record(panic.as_ref());
    let mut response = Response::new(Body::from("internal error"));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// What answers a caught panic.
type Answer = fn(Box<dyn Any + Send + 'static>) -> Response<Body>;

/// For the gRPC services: a trailers-only INTERNAL response.
pub fn grpc() -> CatchPanicLayer<Answer> {
    CatchPanicLayer::custom(grpc_internal as Answer)
}

/// For plain HTTP routes: 500 "internal error".
pub fn http() -> CatchPanicLayer<Answer> {
    CatchPanicLayer::custom(http_internal as Answer)
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::http::Request;
    use tower::{Layer, Service};

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_is_answered_internal_not_reset() {
        let handler = tower::service_fn(|_: Request<Body>| async {
            if true {
                panic!("a bug");
            }
            Ok::<_, Infallible>(Response::new(Body::empty()))
        });
        let mut service = grpc().layer(handler);
        let response = service.call(Request::new(Body::empty())).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["grpc-status"], "13");
        assert_eq!(response.headers()["grpc-message"], "internal error");

        let mut service = http().layer(tower::service_fn(|_: Request<Body>| async {
            if true {
                panic!("another bug");
            }
            Ok::<_, Infallible>(Response::new(Body::empty()))
        }));
        let response = service.call(Request::new(Body::empty())).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
