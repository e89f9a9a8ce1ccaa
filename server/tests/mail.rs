//! Invitation email through Resend's HTTP API, faked by a local server shaped like Resend.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::TestServer;
use owl::pb;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn invitations_are_mailed_through_resend_when_its_key_is_set() {
    let resend = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .and(header("authorization", "Bearer re_test_key"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"})),
        )
        .expect(1)
        .mount(&resend)
        .await;
    let server = TestServer::start_with_configured_mailer(&[
        ("RESEND_API_KEY", "re_test_key"),
        ("RESEND_API_URL", &resend.uri()),
        ("EMAIL_FROM_ADDRESS", "team@example.com"),
        ("EMAIL_FROM_NAME", "Example Team"),
        ("FRONTEND_URL", "https://portal.example.com"),
    ])
    .await;
    let developer = server.developer().await;
    developer
        .create_invitation(pb::CreateInvitationRequest {
            invitation: Some(pb::Invitation {
                email: "colleague@example.com".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();

    let mut requests = Vec::new();
    for _ in 0..100 {
        requests = resend.received_requests().await.unwrap_or_default();
        if !requests.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(requests.len(), 1, "one email sent");
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["to"], serde_json::json!(["colleague@example.com"]));
    assert_eq!(body["from"], "Example Team <team@example.com>");
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("https://portal.example.com/accept-invitation?token=")
    );
}

#[tokio::test]
async fn a_failing_resend_is_retried() {
    let resend = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&resend)
        .await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&resend)
        .await;
    let server = TestServer::start_with_configured_mailer(&[
        ("RESEND_API_KEY", "re_k"),
        ("RESEND_API_URL", &resend.uri()),
    ])
    .await;
    let developer = server.developer().await;
    developer
        .create_invitation(pb::CreateInvitationRequest {
            invitation: Some(pb::Invitation {
                email: "c@example.com".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let mut attempts = 0;
    for _ in 0..60 {
        attempts = resend.received_requests().await.unwrap_or_default().len();
        if attempts >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(attempts, 2, "retried once after the 500");
}
