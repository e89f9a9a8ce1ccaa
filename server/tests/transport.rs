//! One port, several protocols: HTTP health, gRPC health, reflection, grpc-web with CORS.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestServer;
use owl::pb;
use prost::Message;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

#[tokio::test]
async fn the_health_route_reports_version_database_and_cache() {
    let server = TestServer::start().await;
    let response = reqwest::get(format!("{}/api/v1/health", server.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none(),
        "HSTS only in production"
    );
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["cache"], "embedded");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn grpc_health_reports_every_owl_service_serving() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.client.channel());
    for service in [
        "owl.v1.DeveloperService",
        "owl.v1.ApplicationService",
        "owl.v1.UserService",
        "owl.v1.SdkTokenService",
    ] {
        let request = tonic_health::pb::HealthCheckRequest {
            service: service.into(),
        };
        let status = health.check(request).await.unwrap().into_inner().status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service}");
    }
}

#[tokio::test]
async fn reflection_lists_every_service() {
    let server = TestServer::start().await;
    let mut reflection = ServerReflectionClient::new(server.client.channel());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "owl.v1.DeveloperService",
        "owl.v1.ApplicationService",
        "owl.v1.UserService",
        "owl.v1.SdkTokenService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
}

/// A grpc-web frame around `message`.
fn grpc_web_frame(message: &impl Message) -> Vec<u8> {
    let payload = message.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    frame
}

async fn grpc_web_onboard(server: &TestServer, origin: &str) -> reqwest::Response {
    let http = reqwest::Client::builder().http1_only().build().unwrap();
    http.post(format!("{}/owl.v1.DeveloperService/Onboard", server.url))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("origin", origin)
        .body(grpc_web_frame(&pb::OnboardRequest {
            email: "web@example.com".into(),
            password: common::PASSWORD.into(),
        }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn grpc_web_over_http1_works_from_an_allowed_origin() {
    let server = TestServer::start().await;
    let response = grpc_web_onboard(&server, "http://app.example.com").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://app.example.com"
    );
    let body = response.bytes().await.unwrap();
    // First frame: the Session message; then the trailer frame with grpc-status 0.
    assert_eq!(body[0], 0);
    let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
    let session = pb::Session::decode(&body[5..5 + length]).unwrap();
    assert!(!session.access_token.is_empty());
    let trailers = String::from_utf8_lossy(&body[5 + length + 5..]);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
}

#[tokio::test]
async fn grpc_web_from_another_origin_is_refused() {
    let server = TestServer::start().await;
    let response = grpc_web_onboard(&server, "http://evil.example.org").await;
    assert_eq!(response.status(), 403);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // Nothing happened: onboarding is still open.
    server.developer().await;

    let http = reqwest::Client::builder().http1_only().build().unwrap();
    let preflight = |origin: &'static str| {
        http.request(
            reqwest::Method::OPTIONS,
            format!("{}/owl.v1.UserService/GetUser", server.url),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-grpc-web,authorization",
        )
        .send()
    };
    let allowed = preflight("http://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://app.example.com"
    );
    assert_eq!(
        preflight("http://evil.example.org").await.unwrap().status(),
        403
    );
}

#[tokio::test]
async fn production_adds_hsts() {
    let server = TestServer::start_with(&[
        ("ENVIRONMENT", "production"),
        (
            "OWL_ENCRYPTION_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
    ])
    .await;
    let response = reqwest::get(format!("{}/api/v1/health", server.url))
        .await
        .unwrap();
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
}

#[tokio::test]
async fn the_health_route_reports_an_unreachable_cache_as_degraded() {
    let server = TestServer::start_with(&[("REDIS_URL", "redis://127.0.0.1:1/0")]).await;
    let response = reqwest::get(format!("{}/api/v1/health", server.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(
        (body["status"].as_str(), body["cache"].as_str()),
        (Some("degraded"), Some("unreachable"))
    );
}

#[tokio::test]
async fn the_health_route_reports_redis_when_configured() {
    let Some(url) = std::env::var("OWL_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("skipped: OWL_TEST_REDIS_URL is not set (.ci/run sets it)");
        return;
    };
    let server = TestServer::start_with(&[("REDIS_URL", url.as_str())]).await;
    let response = reqwest::get(format!("{}/api/v1/health", server.url))
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["cache"], "ok", "redis at {url} must be reachable");
}
