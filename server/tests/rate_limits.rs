//! Per-API-key request limits: RESOURCE_EXHAUSTED with RATE_LIMITED and a RetryInfo once a key
//! spends its budget, per key, renewed each minute; unlimited by default in development.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, assert_error};
use owl::{Client, Code, pb};
use tonic_types::StatusExt;

async fn get(client: &Client, user: &pb::User) -> Result<pb::User, owl::Error> {
    client
        .get_user(pb::GetUserRequest {
            name: user.name.clone(),
        })
        .await
}

/// In-process counters, and Redis's when OWL_TEST_REDIS_URL is set.
fn backends() -> Vec<Vec<(String, String)>> {
    let mut all = vec![vec![]];
    if let Some(url) = std::env::var("OWL_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let prefix = format!("owl:test:{}:", uuid::Uuid::now_v7().simple());
        all.push(vec![
            ("REDIS_URL".into(), url),
            ("OWL_REDIS_KEY_PREFIX".into(), prefix),
        ]);
    }
    all
}

#[tokio::test]
async fn an_api_key_over_its_budget_is_told_when_to_retry_and_others_are_not_slowed() {
    for backend in backends() {
        budget_is_enforced(&backend).await;
    }
}

async fn budget_is_enforced(vars: &[(String, String)]) {
    let mut vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    vars.push(("OWL_API_RATE_LIMIT_PER_MINUTE", "3"));
    let server = TestServer::start_with(&vars).await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let (_, other) = server.application(&developer, "Other").await;
    let user = server.user(&backend, "u").await; // the first request of the minute
    get(&backend, &user).await.unwrap();
    get(&backend, &user).await.unwrap();
    let refused = get(&backend, &user).await;
    let error = refused.as_ref().unwrap_err();
    let retry = error
        .status()
        .unwrap()
        .get_details_retry_info()
        .and_then(|r| r.retry_delay)
        .unwrap();
    assert!(retry.as_secs() <= 60 && retry.as_secs() > 0, "{retry:?}");
    assert_error(refused, Code::ResourceExhausted, "RATE_LIMITED");
    // Another application's key and developers have budgets of their own.
    let someone = server.user(&other, "v").await;
    get(&other, &someone).await.unwrap();
    get(&developer, &user).await.unwrap();
    // The next minute renews the budget.
    server.clock.advance(chrono::Duration::seconds(61));
    get(&backend, &user).await.unwrap();
}

#[tokio::test]
async fn api_keys_are_unlimited_by_default_in_development() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    for _ in 0..50 {
        get(&backend, &user).await.unwrap();
    }
}
