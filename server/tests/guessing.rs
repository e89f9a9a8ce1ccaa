//! Guessing is throttled: after five failed sign-ins an account backs off for a time that
//! doubles with every further failure; during it even the right password is refused with
//! RESOURCE_EXHAUSTED and a RetryInfo, and an email without an account is answered the same.
#![allow(clippy::unwrap_used)]

mod common;

use common::{PASSWORD, TestServer, assert_error};
use owl::{Code, pb};

fn login(email: &str, password: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        email: email.into(),
        password: password.into(),
    }
}

#[tokio::test]
async fn failed_sign_ins_back_off_and_the_right_password_waits_too() {
    let server = TestServer::start().await;
    server.developer().await;
    let client = &server.client;
    for email in ["admin@example.com", "Nobody@Example.com"] {
        for _ in 1..=5 {
            let wrong = client.login(login(email, "wrong password")).await;
            assert_error(wrong, Code::Unauthenticated, "INVALID_CREDENTIALS");
        }
        // The fifth failure started a one-second back-off: every answer is the same, whether
        // the account exists or not, and whatever the password.
        let refused = client.login(login(email, PASSWORD)).await;
        let error = assert_error(refused, Code::ResourceExhausted, "RATE_LIMITED");
        let retry = error.retry_after().expect("a RetryInfo");
        assert!(retry <= std::time::Duration::from_secs(1), "{retry:?}");
    }
    server.clock.advance(chrono::Duration::seconds(2));
    client
        .login(login("admin@example.com", PASSWORD))
        .await
        .unwrap();
    // A sixth failure doubles the back-off to two seconds.
    let wrong = client
        .login(login("admin@example.com", "again wrong"))
        .await;
    assert_error(wrong, Code::Unauthenticated, "INVALID_CREDENTIALS");
    server.clock.advance(chrono::Duration::seconds(1));
    let refused = client.login(login("admin@example.com", PASSWORD)).await;
    assert_error(refused, Code::ResourceExhausted, "RATE_LIMITED");
    server.clock.advance(chrono::Duration::seconds(2));
    client
        .login(login("admin@example.com", PASSWORD))
        .await
        .unwrap();
}
