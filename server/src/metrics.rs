//! Prometheus metrics: the process-wide recorder, the gRPC request layer (calls by method and
//! code, with latency histograms), and `GET /metrics`, which also samples the job queue.
//!
//! Counters elsewhere in the server use the `metrics` macros with the names defined here, so
//! the exposition format and every metric's name live in one file.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Router, body::Bytes};
use futures::future::BoxFuture;
use http_body::Frame;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use prost::Message;

use crate::AppState;

/// gRPC calls finished, by `method` (`/owl.v1.UserService/ListUsers`) and `code` (`OK` …).
pub const GRPC_REQUESTS: &str = "owl_grpc_requests_total";
/// Seconds from a gRPC call's arrival to its status (the whole stream for streaming calls).
pub const GRPC_DURATION: &str = "owl_grpc_request_duration_seconds";
/// Jobs waiting, delayed, leased or retrying, sampled at each scrape.
pub const QUEUE_PENDING: &str = "owl_job_queue_pending";
/// Dead-lettered jobs, sampled at each scrape.
pub const QUEUE_DEAD: &str = "owl_job_queue_dead";
/// Seconds the longest-waiting ready job has waited for a worker (0 when none waits), sampled
/// at each scrape.
pub const QUEUE_OLDEST_WAIT: &str = "owl_job_queue_oldest_wait_seconds";
/// Job attempts a worker finished, by `kind` and `outcome` (`ok`, `error`, `panic`).
pub const JOBS: &str = "owl_jobs_total";
/// Seconds a job's handler ran, by `kind`.
pub const JOB_DURATION: &str = "owl_job_duration_seconds";
/// Sync attempts finished, by `provider` and `outcome` (`succeeded`, `retrying`, `failed`).
pub const SYNC_RUNS: &str = "owl_sync_runs_total";
/// Apple Health import records, by `outcome` (`stored` samples and events, `skipped`).
pub const IMPORT_RECORDS: &str = "owl_import_records_total";
/// Apple Health import bytes received.
pub const IMPORT_BYTES: &str = "owl_import_bytes_total";

/// Latency buckets (seconds) of every histogram: 1 ms to 60 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The label of a path that names no known method, so that arbitrary paths cannot grow the
/// number of series.
const UNKNOWN_METHOD: &str = "unknown";

/// The process-wide recorder, installed once; every server in the process renders from it.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // A recorder set by the embedding program first wins; ours then renders nothing.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("metrics: another global recorder is installed");
        }
        handle
    })
}

/// `GET /metrics` in the Prometheus text format.
pub fn routes(state: &AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state.clone())
}

async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    match state.jobs.queue.stats().await {
        Ok(stats) => {
            metrics::gauge!(QUEUE_PENDING).set(stats.pending as f64);
            metrics::gauge!(QUEUE_DEAD).set(stats.dead as f64);
        }
        Err(error) => tracing::warn!(%error, "metrics: queue statistics unavailable"),
    }
    match state.jobs.queue.oldest_waiting().await {
        Ok(since) => {
            let age = since.map_or(0, |t| (crate::jobs::queue::now_ms() - t).max(0));
            metrics::gauge!(QUEUE_OLDEST_WAIT).set(age as f64 / 1000.0);
        }
        Err(error) => tracing::warn!(%error, "metrics: queue age unavailable"),
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle().render(),
    )
}

/// Every gRPC method the server knows, as request paths (`/package.Service/Method`).
fn known_methods() -> HashSet<String> {
    let mut methods = HashSet::new();
    for encoded in [
        owl::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ] {
        let Ok(set) = prost_types::FileDescriptorSet::decode(encoded) else {
            continue;
        };
        for file in set.file {
            let package = file.package.unwrap_or_default();
            for service in file.service {
                let service_name = service.name.unwrap_or_default();
                for method in service.method {
                    methods.insert(format!(
                        "/{package}.{service_name}/{}",
                        method.name.unwrap_or_default()
                    ));
                }
            }
        }
    }
    methods
}

/// Records every gRPC call: its method, final status code and duration.
#[derive(Clone)]
pub struct GrpcMetricsLayer {
    methods: Arc<HashSet<String>>,
}

impl GrpcMetricsLayer {
    /// A layer that knows the server's methods.
    pub fn new() -> Self {
        handle();
        GrpcMetricsLayer {
            methods: Arc::new(known_methods()),
        }
    }
}

impl Default for GrpcMetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics {
            inner,
            methods: self.methods.clone(),
        }
    }
}

/// The service `GrpcMetricsLayer` wraps around the gRPC routes.
#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    methods: Arc<HashSet<String>>,
}

impl<S> tower::Service<Request<Body>> for GrpcMetrics<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let path = request.uri().path();
        let method = if self.methods.contains(path) {
            path.to_owned()
        } else {
            UNKNOWN_METHOD.to_owned()
        };
        let call = Call {
            method,
            start: Instant::now(),
            recorded: false,
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            let (parts, body) = response.into_parts();
            let mut call = call;
            // A trailers-only response (most errors) carries its status in the headers.
            if let Some(code) = grpc_code(&parts.headers) {
                call.record(code);
            }
            let body = Body::new(ObservedBody { inner: body, call });
            Ok(Response::from_parts(parts, body))
        })
    }
}

/// One call in flight; recorded once, when its status is known or its body is dropped.
struct Call {
    method: String,
    start: Instant,
    recorded: bool,
}

impl Call {
    fn record(&mut self, code: &'static str) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let method = self.method.clone();
        metrics::counter!(GRPC_REQUESTS, "method" => method.clone(), "code" => code).increment(1);
        metrics::histogram!(GRPC_DURATION, "method" => method, "code" => code)
            .record(self.start.elapsed().as_secs_f64());
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        // The client went away before the status was sent.
        self.record("CANCELLED");
    }
}

/// The response body, watched for the `grpc-status` trailer.
struct ObservedBody {
    inner: Body,
    call: Call,
}

impl http_body::Body for ObservedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_code) {
                    this.call.record(code);
                }
            }
            Poll::Ready(Some(Err(_))) => this.call.record("INTERNAL"),
            Poll::Ready(None) => this.call.record("UNKNOWN"),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The name of the gRPC status code in `grpc-status`, if present.
fn grpc_code(headers: &HeaderMap) -> Option<&'static str> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    let code = value.parse::<i32>().ok()?;
    Some(code_name(tonic::Code::from_i32(code)))
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
