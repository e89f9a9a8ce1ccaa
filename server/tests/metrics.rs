//! `GET /metrics`: gRPC calls counted by method and code with latency histograms, and the job
//! queue sampled at each scrape.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, assert_error, metric_value};
use owl::{Code, pb};

async fn scrape(server: &TestServer) -> String {
    let response = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn calls_are_counted_by_method_and_code_with_their_latency() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, app) = server.application(&developer, "metrics").await;
    let list = "/owl.v1.UserService/ListUsers";
    let before = scrape(&server).await;

    for _ in 0..3 {
        app.list_users(pb::ListUsersRequest::default())
            .await
            .unwrap();
    }
    assert_error(
        server
            .client
            .list_users(pb::ListUsersRequest::default())
            .await,
        Code::Unauthenticated,
        "MISSING_CREDENTIALS",
    );
    let after = scrape(&server).await;

    let ok = [("method", list), ("code", "OK")];
    let refused = [("method", list), ("code", "UNAUTHENTICATED")];
    assert_eq!(
        metric_value(&after, "owl_grpc_requests_total", &ok)
            - metric_value(&before, "owl_grpc_requests_total", &ok),
        3.0,
        "{after}"
    );
    assert_eq!(
        metric_value(&after, "owl_grpc_requests_total", &refused)
            - metric_value(&before, "owl_grpc_requests_total", &refused),
        1.0
    );
    // Every call lands in the histogram: its count moves with the counter and a bucket of at
    // most 60 s holds it.
    assert_eq!(
        metric_value(&after, "owl_grpc_request_duration_seconds_count", &ok)
            - metric_value(&before, "owl_grpc_request_duration_seconds_count", &ok),
        3.0
    );
    let slowest_bucket = [("method", list), ("code", "OK"), ("le", "60")];
    assert!(
        metric_value(
            &after,
            "owl_grpc_request_duration_seconds_bucket",
            &slowest_bucket
        ) >= 3.0
    );
    assert!(metric_value(&after, "owl_grpc_request_duration_seconds_sum", &ok) > 0.0);
}

#[tokio::test]
async fn unknown_paths_share_one_label_and_the_queue_is_sampled() {
    let server = TestServer::start().await;
    let before = scrape(&server).await;
    // Arbitrary method names must not create series of their own.
    let http = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for name in ["Nope1", "Nope2"] {
        let response = http
            .post(format!("{}/owl.v1.UserService/{name}", server.url))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(vec![0u8, 0, 0, 0, 0])
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["grpc-status"], "12");
    }
    let after = scrape(&server).await;
    let unknown = [("method", "unknown"), ("code", "UNIMPLEMENTED")];
    assert_eq!(
        metric_value(&after, "owl_grpc_requests_total", &unknown)
            - metric_value(&before, "owl_grpc_requests_total", &unknown),
        2.0,
        "{after}"
    );
    assert!(!after.contains("Nope1"));
    assert!(after.contains("owl_job_queue_pending "), "{after}");
    assert!(after.contains("owl_job_queue_dead "), "{after}");
    assert!(
        after.contains("owl_job_queue_oldest_wait_seconds "),
        "{after}"
    );
    assert_eq!(
        metric_value(&after, "owl_job_queue_oldest_wait_seconds", &[]),
        0.0,
        "no job waits: {after}"
    );
}
