//! WHOOP through owl's public surface against a fake WHOOP (wiremock serving the documented v2
//! payload shapes from `tests/fixtures/whoop/`): consent, callback, encrypted tokens, the sync
//! into workouts, sleep and recovery samples, failures of every kind, rotating refresh tokens
//! with the `offline` scope, revocation and signed webhooks.
#![allow(clippy::unwrap_used)]

mod common;
mod provider_flow;

use base64::Engine;
use hmac::{Hmac, Mac};
use owl::pb;
use provider_flow::{CLIENT_SECRET, Flow, assert_ciphertexts, fixture, query, tokens};
use sha2::Sha256;
use wiremock::matchers::{body_string_contains, header, method, path, path_regex, query_param};
use wiremock::{Mock, ResponseTemplate};

const TOKEN_PATH: &str = "/oauth/oauth2/token";
/// Every collection a sync reads.
const DATA_PATHS: &str = "^/v2/(activity/workout|activity/sleep|recovery)$";
const COLLECTIONS: [(&str, &str); 3] = [
    ("/v2/activity/workout", "workout.json"),
    ("/v2/activity/sleep", "sleep.json"),
    ("/v2/recovery", "recovery.json"),
];

async fn whoop() -> Flow {
    Flow::start("whoop", TOKEN_PATH, &[]).await
}

async fn mount_profile(f: &Flow) {
    Mock::given(method("GET"))
        .and(path("/v2/user/profile/basic"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("whoop", "profile.json")))
        .mount(&f.fake)
        .await;
}

/// Mounts the exchange, the profile and every collection, served to `access`.
async fn mount_whoop(f: &Flow, access: &str) {
    f.mount_exchange().await;
    mount_profile(f).await;
    let bearer = format!("Bearer {access}");
    Mock::given(method("GET"))
        .and(path("/v2/activity/workout"))
        .and(query_param("nextToken", "MTIzOjEyMzEyMw"))
        .and(header("authorization", bearer.as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("whoop", "workout_page2.json")),
        )
        .with_priority(1)
        .mount(&f.fake)
        .await;
    for (at, file) in COLLECTIONS {
        Mock::given(method("GET"))
            .and(path(at))
            .and(header("authorization", bearer.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("whoop", file)))
            .mount(&f.fake)
            .await;
    }
}

/// Connects with a worker running and waits for the backfill.
async fn connected(f: &Flow) -> (String, pb::SyncRun) {
    let name = f.connect().await;
    let run = f.finished(None).await;
    (name, run)
}

fn signed_headers_at(body: &[u8], timestamp_ms: i64) -> Vec<(&'static str, String)> {
    let timestamp = timestamp_ms.to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(CLIENT_SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(body);
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    vec![
        ("x-whoop-signature", signature),
        ("x-whoop-signature-timestamp", timestamp),
        ("content-type", "application/json".into()),
    ]
}

fn signed_headers(body: &[u8]) -> Vec<(&'static str, String)> {
    signed_headers_at(body, chrono::Utc::now().timestamp_millis())
}

#[tokio::test]
async fn connecting_whoop_asks_for_offline_consent_and_stores_the_account_with_encrypted_tokens() {
    let f = whoop().await;
    mount_whoop(&f, "access-1").await;
    let consent = f.consent_url().await;
    assert_eq!(consent.path(), "/oauth/oauth2/auth");
    assert_eq!(
        query(&consent, "client_id").as_deref(),
        Some("whoop-client-id")
    );
    assert_eq!(query(&consent, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query(&consent, "redirect_uri"),
        Some(format!("{}/api/v1/oauth/whoop/callback", f.server.url))
    );
    assert_eq!(
        query(&consent, "scope").as_deref(),
        Some("offline read:profile read:cycles read:sleep read:recovery read:workout")
    );
    let state = query(&consent, "state").unwrap();
    assert!(state.len() >= 8, "WHOOP wants at least 8 characters");

    let (status, location) = f.callback(provider_flow::CODE, &state).await;
    assert_eq!(status, 303);
    assert_eq!(query(&location, "status").as_deref(), Some("success"));
    let connection = f.connection(&query(&location, "connection").unwrap()).await;
    assert_eq!(connection.provider, "whoop");
    assert_eq!(connection.state, pb::ConnectionState::Active as i32);
    assert_eq!(connection.provider_user_id, "10129");
    assert_ciphertexts(&f.stored_tokens().await, &["access-1", "refresh-1"]);
    let profile = f.received("/v2/user/profile/basic").await;
    assert_eq!(
        profile[0].headers["authorization"].to_str().unwrap(),
        "Bearer access-1"
    );
}

#[tokio::test]
async fn a_whoop_sync_stores_workouts_in_kcal_sleep_and_recovery_once() {
    let f = whoop().await;
    mount_whoop(&f, "access-1").await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    // 2 workouts, 2 sleeps, 1 respiratory rate and 4 recovery samples.
    assert_eq!(run.items_processed, 9, "{run:?}");

    let calls = f.received("/v2/activity/workout").await;
    assert_eq!(calls.len(), 2, "two pages");
    assert_eq!(
        query(&calls[0].url, "start").as_deref(),
        Some("2026-10-23T12:00:00.000Z")
    );
    assert_eq!(
        query(&calls[0].url, "end").as_deref(),
        Some("2026-11-22T12:00:00.000Z")
    );
    assert_eq!(query(&calls[0].url, "limit").as_deref(), Some("25"));
    assert_eq!(query(&calls[0].url, "nextToken"), None);
    assert_eq!(
        query(&calls[1].url, "nextToken").as_deref(),
        Some("MTIzOjEyMzEyMw")
    );

    let workouts = f.workouts().await;
    assert_eq!(workouts.len(), 2);
    let run = &workouts[0];
    assert_eq!(run.workout_type, "running");
    assert_eq!(run.zone_offset, 3600);
    assert_eq!(run.distance_meters, Some(10012.7));
    let kcal = run.active_energy_kcal.unwrap();
    assert!((kcal - 2569.34 / 4.184).abs() < 1e-6, "{kcal}");
    assert_eq!(run.heart_rate_avg, Some(148.0));
    assert_eq!(run.heart_rate_max, Some(176.0));
    assert_eq!(run.elevation_gain_meters, Some(46.6));
    let pending = &workouts[1];
    assert_eq!(pending.workout_type, "other", "unknown sports");
    assert_eq!(pending.zone_offset, -5 * 3600);
    assert_eq!(pending.active_energy_kcal, None, "not scored yet");

    let sleeps = f.sleep_sessions().await;
    assert_eq!(sleeps.len(), 2);
    assert!(!sleeps[0].nap);
    assert_eq!(sleeps[0].zone_offset, 3600);
    assert_eq!(sleeps[0].efficiency_percent, Some(91.69533848));
    assert!(sleeps[0].stages.is_empty(), "WHOOP gives no hypnogram");
    assert!(sleeps[1].nap);
    assert_eq!(sleeps[1].efficiency_percent, None, "unscorable");

    for (series, unit, value) in [
        ("resting_heart_rate", "bpm", 52.0),
        ("heart_rate_variability_rmssd", "ms", 38.5),
        ("oxygen_saturation", "%", 95.6875),
        ("skin_temperature", "degC", 33.7),
        ("respiratory_rate", "breaths/min", 16.11328125),
    ] {
        let s = f
            .series(series)
            .await
            .unwrap_or_else(|| panic!("no {series}"));
        assert_eq!(
            (s.unit.as_str(), s.values.as_slice()),
            (unit, &[value][..]),
            "{series}"
        );
    }
    let resting = f.series("resting_heart_rate").await.unwrap();
    assert_eq!(resting.times, [1_795_245_960_000], "when WHOOP scored it");
    assert_eq!(resting.zone_offsets, [3600], "from the user's zone");
    let breathing = f.series("respiratory_rate").await.unwrap();
    assert_eq!(breathing.zone_offsets, [3600]);
    assert_eq!(breathing.times, [1_795_243_812_100], "at the sleep's end");
    let sources = f.data_sources().await;
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].provider, "whoop");
    assert_eq!(sources[0].device_model, "WHOOP");
    assert_eq!(sources[0].manufacturer, "WHOOP");
    assert_eq!(
        sources[0].recording_method,
        pb::RecordingMethod::AutomaticallyRecorded as i32
    );
    assert_eq!(sources[0].device_type, pb::DeviceType::Band as i32);

    let again = f.sync(&name).await;
    assert_eq!(again.state, pb::SyncState::Succeeded as i32, "{again:?}");
    assert_eq!(again.items_processed, 0, "idempotent");
    assert_eq!(f.workouts().await.len(), 2);
    let calls = f.received("/v2/recovery").await;
    assert_eq!(
        query(&calls[1].url, "start").as_deref(),
        Some("2026-11-20T12:00:00.000Z"),
        "two days of overlap"
    );
}

#[tokio::test]
async fn whoop_rate_limits_and_outages_fail_the_run_keep_the_connection_and_lose_nothing() {
    let f = whoop().await;
    f.mount_exchange().await;
    mount_profile(&f).await;
    Mock::given(method("GET"))
        .and(path_regex(DATA_PATHS))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header(
                    "x-ratelimit-limit",
                    "100, 100;window=60, 10000;window=86400",
                )
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "3"),
        )
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    assert_eq!(run.attempts, 2);
    // The retry honours X-RateLimit-Reset: every worker holds off WHOOP for 3 s.
    assert!(
        run.error.contains("WHOOP asked owl to wait until"),
        "{run:?}"
    );
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );

    f.server.clock.advance(chrono::Duration::seconds(4));
    f.fake.reset().await;
    mount_whoop(&f, "access-1").await;
    Mock::given(method("GET"))
        .and(path("/v2/recovery"))
        .respond_with(ResponseTemplate::new(503))
        .with_priority(1)
        .mount(&f.fake)
        .await;
    let run = f.sync(&name).await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    assert!(run.error.contains("whoop unavailable"), "{run:?}");
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
    assert_eq!(
        f.workouts().await.len(),
        2,
        "pages before the outage are kept"
    );
    assert!(f.series("resting_heart_rate").await.is_none());

    f.fake.reset().await;
    mount_whoop(&f, "access-1").await;
    let run = f.sync(&name).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert!(
        f.received("/v2/activity/workout").await.is_empty(),
        "resumed at recovery"
    );
    assert_eq!(f.series("resting_heart_rate").await.unwrap().values, [52.0]);
    assert_eq!(f.workouts().await.len(), 2);
}

#[tokio::test]
async fn malformed_whoop_json_fails_the_run_and_keeps_the_connection_active() {
    let f = whoop().await;
    mount_whoop(&f, "access-1").await;
    Mock::given(method("GET"))
        .and(path("/v2/activity/workout"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .with_priority(1)
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    assert!(run.error.contains("cannot read"), "{run:?}");
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
    assert!(f.workouts().await.is_empty());
}

#[tokio::test]
async fn an_expired_whoop_token_is_refreshed_offline_and_the_rotated_refresh_token_stored() {
    let f = whoop().await;
    mount_whoop(&f, "access-2").await;
    Mock::given(method("GET"))
        .and(path_regex(DATA_PATHS))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount(&f.fake)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=refresh-1"))
        .and(body_string_contains("scope=offline"))
        .and(body_string_contains("client_secret=fake-client-secret"))
        .respond_with(tokens("access-2", "refresh-2"))
        .up_to_n_times(1)
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(f.workouts().await.len(), 2);
    assert_ciphertexts(&f.stored_tokens().await, &["access-2", "refresh-2"]);

    f.fake.reset().await;
    mount_whoop(&f, "access-3").await;
    Mock::given(method("GET"))
        .and(path_regex(DATA_PATHS))
        .and(header("authorization", "Bearer access-2"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount(&f.fake)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("refresh_token=refresh-2"))
        .respond_with(tokens("access-3", "refresh-3"))
        .mount(&f.fake)
        .await;
    let run = f.sync(&name).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    let refreshes = f.received(TOKEN_PATH).await;
    assert_eq!(refreshes.len(), 1);
    assert!(String::from_utf8_lossy(&refreshes[0].body).contains("refresh_token=refresh-2"));
}

#[tokio::test]
async fn a_refused_whoop_refresh_expires_the_connection_with_a_reason() {
    let f = whoop().await;
    f.mount_exchange().await;
    mount_profile(&f).await;
    Mock::given(method("GET"))
        .and(path_regex(DATA_PATHS))
        .respond_with(ResponseTemplate::new(401))
        .mount(&f.fake)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_grant"})),
        )
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    let connection = f.connection(&name).await;
    assert_eq!(connection.state, pb::ConnectionState::Expired as i32);
    assert!(
        connection.state_reason.contains("refused the refresh"),
        "{}",
        connection.state_reason
    );
}

#[tokio::test]
async fn deleting_a_whoop_connection_revokes_access_at_whoop() {
    let f = whoop().await;
    mount_whoop(&f, "access-1").await;
    Mock::given(method("DELETE"))
        .and(path("/v2/user/access"))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&f.fake)
        .await;
    let name = f.connect().await;
    f.backend
        .delete_connection(pb::DeleteConnectionRequest {
            name: name.clone(),
            delete_data: false,
        })
        .await
        .unwrap();
    assert_eq!(f.received("/v2/user/access").await.len(), 1);
    let gone = f
        .backend
        .get_connection(pb::GetConnectionRequest { name })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), owl::Code::NotFound);
}

#[tokio::test]
async fn a_signed_whoop_notification_enqueues_one_webhook_sync_even_when_replayed() {
    let f = whoop().await;
    mount_whoop(&f, "access-1").await;
    let worker = f.worker();
    let (name, _) = connected(&f).await;
    f.stop(worker).await;
    let body = provider_flow::fixture_bytes("whoop", "notification.json");
    let headers = signed_headers(&body);
    assert_eq!(f.deliver(&headers, body.clone()).await, 200);
    assert_eq!(f.deliver(&headers, body).await, 200, "a replay is accepted");
    let runs = f.runs().await;
    let webhook: Vec<_> = runs
        .iter()
        .filter(|r| r.source == pb::SyncSource::Webhook as i32)
        .collect();
    assert_eq!(webhook.len(), 1, "{runs:?}");
    assert_eq!(webhook[0].connection, name);
    let _worker = f.worker();
    let run = f.finished(Some(&webhook[0].name)).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
}

#[tokio::test]
async fn whoop_notifications_with_bad_or_stale_signatures_are_refused_and_change_nothing() {
    let f = whoop().await;
    mount_whoop(&f, "access-1").await;
    let worker = f.worker();
    connected(&f).await;
    f.stop(worker).await;
    let body = provider_flow::fixture_bytes("whoop", "notification.json");
    let forged = signed_headers(b"{\"user_id\":10129,\"type\":\"workout.updated\"}");
    assert_eq!(f.deliver(&forged, body.clone()).await, 401);
    let stale = signed_headers_at(&body, chrono::Utc::now().timestamp_millis() - 10 * 60_000);
    assert_eq!(
        f.deliver(&stale, body.clone()).await,
        401,
        "too old to trust"
    );
    assert_eq!(f.deliver(&[], body).await, 401, "unsigned");
    assert_eq!(f.runs().await.len(), 1, "only the backfill");
}

#[tokio::test]
async fn whoop_notifications_for_unknown_users_or_deletions_are_accepted_and_ignored() {
    let f = whoop().await;
    mount_whoop(&f, "access-1").await;
    let worker = f.worker();
    connected(&f).await;
    f.stop(worker).await;
    let mut note = fixture("whoop", "notification.json");
    note["user_id"] = 424242.into();
    let body = serde_json::to_vec(&note).unwrap();
    assert_eq!(f.deliver(&signed_headers(&body), body).await, 200);
    let mut note = fixture("whoop", "notification.json");
    note["type"] = "workout.deleted".into();
    let body = serde_json::to_vec(&note).unwrap();
    assert_eq!(f.deliver(&signed_headers(&body), body).await, 200);
    assert_eq!(f.runs().await.len(), 1, "only the backfill");
}

#[tokio::test]
async fn an_oversized_whoop_delivery_is_refused_with_413() {
    let f = whoop().await;
    let body = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(f.deliver(&signed_headers(&body), body).await, 413);
}
