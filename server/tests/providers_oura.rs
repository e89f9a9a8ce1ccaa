//! Oura through owl's public surface against a fake Oura (wiremock serving the documented
//! payload shapes from `tests/fixtures/oura/`): consent, callback, encrypted tokens, the sync
//! into workouts, sleep and samples, failures of every kind, rotating refresh tokens,
//! revocation and signed webhooks with their subscription challenge.
#![allow(clippy::unwrap_used)]

mod common;
mod provider_flow;

use hmac::{Hmac, Mac};
use owl::pb;
use provider_flow::{CLIENT_SECRET, Flow, assert_ciphertexts, fixture, query, tokens};
use sha2::Sha256;
use wiremock::matchers::{body_string_contains, header, method, path, path_regex, query_param};
use wiremock::{Mock, ResponseTemplate};

const TOKEN_PATH: &str = "/oauth/token";
const VERIFICATION_TOKEN: &str = "owl-oura-verification";
/// Every collection a sync reads.
const DATA_PATHS: &str =
    "^/v2/usercollection/(workout|sleep|daily_activity|daily_readiness|heartrate)$";
const COLLECTIONS: [(&str, &str); 5] = [
    ("/v2/usercollection/workout", "workout.json"),
    ("/v2/usercollection/sleep", "sleep.json"),
    ("/v2/usercollection/daily_activity", "daily_activity.json"),
    ("/v2/usercollection/daily_readiness", "daily_readiness.json"),
    ("/v2/usercollection/heartrate", "heartrate.json"),
];

async fn oura() -> Flow {
    Flow::start(
        "oura",
        TOKEN_PATH,
        &[("OURA_WEBHOOK_VERIFICATION_TOKEN", VERIFICATION_TOKEN)],
    )
    .await
}

/// Mounts the exchange, `personal_info` and every collection, served to `access`.
async fn mount_oura(f: &Flow, access: &str) {
    f.mount_exchange().await;
    let bearer = format!("Bearer {access}");
    Mock::given(method("GET"))
        .and(path("/v2/usercollection/personal_info"))
        .and(header("authorization", bearer.as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("oura", "personal_info.json")),
        )
        .mount(&f.fake)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/usercollection/workout"))
        .and(query_param("next_token", "wk-page-2"))
        .and(header("authorization", bearer.as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("oura", "workout_page2.json")),
        )
        .with_priority(1)
        .mount(&f.fake)
        .await;
    for (at, file) in COLLECTIONS {
        Mock::given(method("GET"))
            .and(path(at))
            .and(header("authorization", bearer.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("oura", file)))
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

fn sign(timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(CLIENT_SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(body);
    hex::encode_upper(mac.finalize().into_bytes())
}

fn signed_headers(body: &[u8]) -> Vec<(&'static str, String)> {
    let timestamp = chrono::Utc::now().timestamp().to_string();
    vec![
        ("x-oura-signature", sign(&timestamp, body)),
        ("x-oura-timestamp", timestamp),
        ("content-type", "application/json".into()),
    ]
}

#[tokio::test]
async fn connecting_oura_asks_for_consent_and_stores_the_account_with_encrypted_tokens() {
    let f = oura().await;
    mount_oura(&f, "access-1").await;
    let consent = f.consent_url().await;
    assert_eq!(consent.path(), "/oauth/authorize");
    assert_eq!(
        query(&consent, "client_id").as_deref(),
        Some("oura-client-id")
    );
    assert_eq!(query(&consent, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query(&consent, "redirect_uri"),
        Some(format!("{}/api/v1/oauth/oura/callback", f.server.url))
    );
    assert_eq!(
        query(&consent, "scope").as_deref(),
        Some("personal daily heartrate workout session")
    );
    assert!(
        query(&consent, "code_challenge").is_none(),
        "Oura takes no PKCE"
    );
    let state = query(&consent, "state").unwrap();
    assert!(state.len() >= 32);

    let (status, location) = f.callback(provider_flow::CODE, &state).await;
    assert_eq!(status, 303);
    assert_eq!(query(&location, "status").as_deref(), Some("success"));
    let connection = f.connection(&query(&location, "connection").unwrap()).await;
    assert_eq!(connection.provider, "oura");
    assert_eq!(connection.state, pb::ConnectionState::Active as i32);
    assert_eq!(connection.provider_user_id, "OURA-USER-1");
    assert_ciphertexts(&f.stored_tokens().await, &["access-1", "refresh-1"]);
}

#[tokio::test]
async fn an_oura_sync_stores_workouts_sleep_with_stages_and_samples_once() {
    let f = oura().await;
    mount_oura(&f, "access-1").await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(run.source, pb::SyncSource::Backfill as i32);
    // 2 workouts, 2 sleep periods and 12 samples.
    assert_eq!(run.items_processed, 16, "{run:?}");

    // The backfill asked for a 30-day day window, and the second workout page by its token.
    let workout_calls = f.received("/v2/usercollection/workout").await;
    assert_eq!(workout_calls.len(), 2);
    let first = &workout_calls[0].url;
    assert_eq!(query(first, "start_date").as_deref(), Some("2026-10-22"));
    assert_eq!(query(first, "end_date").as_deref(), Some("2026-11-23"));
    let heart_calls = f.received("/v2/usercollection/heartrate").await;
    assert_eq!(
        query(&heart_calls[0].url, "end_datetime").as_deref(),
        Some("2026-11-22T12:00:00Z")
    );

    let workouts = f.workouts().await;
    assert_eq!(workouts.len(), 2);
    let run = &workouts[0];
    assert_eq!(run.workout_type, "running");
    assert_eq!(run.zone_offset, 3600);
    assert_eq!(run.start_time.unwrap().seconds, 1_795_155_000); // 2026-11-20T06:10:00Z
    assert_eq!(run.distance_meters, Some(6120.0));
    assert_eq!(run.active_energy_kcal, Some(412.5));
    assert_eq!(workouts[1].workout_type, "other", "unknown activities");
    assert_eq!(workouts[1].distance_meters, None);

    let nights = f.sleep_sessions().await;
    assert_eq!(nights.len(), 2, "the deleted period is left out");
    let night = &nights[0];
    assert!(!night.nap);
    assert_eq!(night.zone_offset, 3600);
    assert_eq!(night.efficiency_percent, Some(89.0));
    let start = night.start_time.unwrap().seconds;
    let stages: Vec<(i32, i64, i64)> = night
        .stages
        .iter()
        .map(|s| {
            (
                s.stage,
                (s.start_time.unwrap().seconds - start) / 60,
                (s.end_time.unwrap().seconds - start) / 60,
            )
        })
        .collect();
    assert_eq!(
        stages[..3],
        [
            (pb::SleepStage::Awake as i32, 0, 10),
            (pb::SleepStage::Light as i32, 10, 30),
            (pb::SleepStage::Deep as i32, 30, 60),
        ]
    );
    assert_eq!(
        stages.last().unwrap().2,
        450,
        "the hypnogram covers the night"
    );
    let deep: i64 = stages
        .iter()
        .filter(|s| s.0 == pb::SleepStage::Deep as i32)
        .map(|s| s.2 - s.1)
        .sum();
    assert_eq!(deep, 65);
    assert!(nights[1].nap, "a late nap");

    let heart = f.series("heart_rate").await.unwrap();
    assert_eq!(heart.unit, "bpm");
    assert_eq!(heart.values, [61.0, 64.0, 118.0]);
    assert_eq!(
        heart.zone_offsets,
        [3600, 3600, 3600],
        "UTC rows get the user's zone"
    );
    for (series, unit, value, offset) in [
        ("steps", "count", 9411.0, 3600),
        ("energy", "kcal", 512.0, 3600),
        ("basal_energy", "kcal", 2118.0, 3600),
        ("distance_walking_running", "m", 8120.0, 3600),
        ("resting_heart_rate", "bpm", 49.0, 3600),
        ("heart_rate_variability_rmssd", "ms", 48.0, 3600),
        ("respiratory_rate", "breaths/min", 14.6, 3600),
        ("skin_temperature_deviation", "degC", -0.12, 3600),
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
        assert_eq!(s.zone_offsets, [offset], "{series}");
    }
    let sources = f.data_sources().await;
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].provider, "oura");
    assert_eq!(sources[0].device_model, "Oura Ring");
    assert_eq!(sources[0].manufacturer, "Oura");
    assert_eq!(
        sources[0].recording_method,
        pb::RecordingMethod::AutomaticallyRecorded as i32
    );
    assert_eq!(sources[0].device_type, pb::DeviceType::Ring as i32);

    // Again: the same documents change nothing, and the window starts two days before the last.
    let again = f.sync(&name).await;
    assert_eq!(again.state, pb::SyncState::Succeeded as i32, "{again:?}");
    assert_eq!(again.items_processed, 0);
    assert_eq!(f.workouts().await.len(), 2);
    assert_eq!(f.sleep_sessions().await.len(), 2);
    let calls = f.received("/v2/usercollection/sleep").await;
    assert_eq!(
        query(&calls[1].url, "start_date").as_deref(),
        Some("2026-11-19")
    );
    assert!(f.connection(&name).await.last_sync_time.is_some());
}

#[tokio::test]
async fn rate_limits_and_outages_fail_the_run_keep_the_connection_and_lose_nothing() {
    let f = oura().await;
    f.mount_exchange().await;
    Mock::given(method("GET"))
        .and(path("/v2/usercollection/personal_info"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("oura", "personal_info.json")),
        )
        .mount(&f.fake)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/usercollection/workout"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    assert_eq!(run.attempts, 2, "retried");
    // The retry honours Retry-After: every worker holds off Oura for 7 s, so it asks no more.
    assert!(
        run.error.contains("Oura asked owl to wait until"),
        "{run:?}"
    );
    assert_eq!(f.received("/v2/usercollection/workout").await.len(), 1);
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
    assert!(f.workouts().await.is_empty());

    // Oura is back after its 7 s, but its heart rate fails: what came before is kept.
    f.server.clock.advance(chrono::Duration::seconds(8));
    f.fake.reset().await;
    mount_oura(&f, "access-1").await;
    Mock::given(method("GET"))
        .and(path("/v2/usercollection/heartrate"))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .with_priority(1)
        .mount(&f.fake)
        .await;
    let run = f.sync(&name).await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    assert!(run.error.contains("oura unavailable"), "{run:?}");
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
    assert_eq!(f.workouts().await.len(), 2);
    assert!(f.series("heart_rate").await.is_none());

    // Everything answers: the sync goes on where it stopped, without duplicates.
    f.fake.reset().await;
    mount_oura(&f, "access-1").await;
    let run = f.sync(&name).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(
        f.received("/v2/usercollection/workout").await.len(),
        0,
        "continued at heart rate"
    );
    assert_eq!(f.series("heart_rate").await.unwrap().values.len(), 3);
    assert_eq!(f.workouts().await.len(), 2);
}

#[tokio::test]
async fn malformed_oura_json_fails_the_run_and_keeps_the_connection_active() {
    let f = oura().await;
    mount_oura(&f, "access-1").await;
    Mock::given(method("GET"))
        .and(path("/v2/usercollection/workout"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"data\": [tru"))
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
async fn an_expired_oura_token_is_refreshed_and_each_rotated_refresh_token_used_once() {
    let f = oura().await;
    mount_oura(&f, "access-2").await;
    // Oura no longer takes access-1; refresh-1 gives access-2 and refresh-2, once.
    Mock::given(method("GET"))
        .and(path_regex(DATA_PATHS))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount(&f.fake)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/usercollection/personal_info"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("oura", "personal_info.json")),
        )
        .mount(&f.fake)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=refresh-1"))
        .respond_with(tokens("access-2", "refresh-2"))
        .up_to_n_times(1)
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(f.workouts().await.len(), 2);
    assert_ciphertexts(&f.stored_tokens().await, &["access-2", "refresh-2"]);

    // access-2 is refused in turn: only refresh-2, the stored rotation, is accepted now.
    f.fake.reset().await;
    mount_oura(&f, "access-3").await;
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
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("refresh_token=refresh-1"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_grant"})),
        )
        .mount(&f.fake)
        .await;
    let run = f.sync(&name).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    let refreshes = f.received(TOKEN_PATH).await;
    assert_eq!(refreshes.len(), 1);
    assert!(String::from_utf8_lossy(&refreshes[0].body).contains("refresh_token=refresh-2"));
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
}

#[tokio::test]
async fn a_refused_oura_refresh_expires_the_connection_with_a_reason() {
    let f = oura().await;
    f.mount_exchange().await;
    Mock::given(method("GET"))
        .and(path("/v2/usercollection/personal_info"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("oura", "personal_info.json")),
        )
        .mount(&f.fake)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/usercollection/workout"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"status": 401, "title": "Unauthorized"})),
        )
        .mount(&f.fake)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_grant", "error_description": "Token already used or revoked"})))
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    let connection = f.connection(&name).await;
    assert_eq!(connection.state, pb::ConnectionState::Expired as i32);
    assert!(
        connection.state_reason.contains("refused the refresh")
            && connection.state_reason.contains("invalid_grant"),
        "{}",
        connection.state_reason
    );
}

#[tokio::test]
async fn deleting_an_oura_connection_revokes_the_token_at_oura() {
    let f = oura().await;
    mount_oura(&f, "access-1").await;
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .and(query_param("access_token", "access-1"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&f.fake)
        .await;
    let name = f.connect().await;
    f.backend
        .delete_connection(pb::DeleteConnectionRequest {
            name: name.clone(),
            delete_data: true,
        })
        .await
        .unwrap();
    assert_eq!(f.received("/oauth/revoke").await.len(), 1);
    let gone = f
        .backend
        .get_connection(pb::GetConnectionRequest { name })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), owl::Code::NotFound);
}

#[tokio::test]
async fn a_signed_oura_notification_enqueues_one_webhook_sync_even_when_replayed() {
    let f = oura().await;
    mount_oura(&f, "access-1").await;
    let worker = f.worker();
    let (name, _) = connected(&f).await;
    f.stop(worker).await;
    let body = provider_flow::fixture_bytes("oura", "notification.json");
    let headers = signed_headers(&body);
    assert_eq!(f.deliver(&headers, body.clone()).await, 200);
    assert_eq!(f.deliver(&headers, body).await, 200, "a replay is accepted");
    let runs = f.runs().await;
    let webhook: Vec<_> = runs
        .iter()
        .filter(|r| r.source == pb::SyncSource::Webhook as i32)
        .collect();
    assert_eq!(
        webhook.len(),
        1,
        "the replay joins the pending sync: {runs:?}"
    );
    assert_eq!(webhook[0].connection, name);
    let _worker = f.worker();
    let run = f.finished(Some(&webhook[0].name)).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(run.items_processed, 0, "nothing new");
}

#[tokio::test]
async fn an_oura_notification_with_a_bad_signature_is_refused_and_changes_nothing() {
    let f = oura().await;
    mount_oura(&f, "access-1").await;
    let worker = f.worker();
    connected(&f).await;
    f.stop(worker).await;
    let body = provider_flow::fixture_bytes("oura", "notification.json");
    let mut forged = signed_headers(b"{\"other\":\"body\"}");
    assert_eq!(f.deliver(&forged, body.clone()).await, 401);
    forged.retain(|(name, _)| *name != "x-oura-signature");
    assert_eq!(f.deliver(&forged, body).await, 401, "unsigned");
    assert_eq!(f.runs().await.len(), 1, "only the backfill");
}

#[tokio::test]
async fn an_oura_notification_for_an_unknown_user_is_accepted_and_ignored() {
    let f = oura().await;
    let mut note = fixture("oura", "notification.json");
    note["user_id"] = "SOMEONE-ELSE".into();
    let body = serde_json::to_vec(&note).unwrap();
    assert_eq!(f.deliver(&signed_headers(&body), body).await, 200);
    assert!(f.runs().await.is_empty());
    // A delete event is accepted and not acted on either.
    mount_oura(&f, "access-1").await;
    let worker = f.worker();
    connected(&f).await;
    f.stop(worker).await;
    let mut note = fixture("oura", "notification.json");
    note["event_type"] = "delete".into();
    let body = serde_json::to_vec(&note).unwrap();
    assert_eq!(f.deliver(&signed_headers(&body), body).await, 200);
    assert_eq!(f.runs().await.len(), 1);
}

#[tokio::test]
async fn an_oversized_oura_delivery_is_refused_with_413() {
    let f = oura().await;
    let body = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(f.deliver(&signed_headers(&body), body).await, 413);
}

#[tokio::test]
async fn the_oura_subscription_challenge_is_answered_only_for_the_verification_token() {
    let f = oura().await;
    let url = format!("{}/api/v1/providers/oura/webhooks", f.server.url);
    let answer = provider_flow::browser()
        .get(format!(
            "{url}?verification_token={VERIFICATION_TOKEN}&challenge=abc123"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let json: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(json, serde_json::json!({"challenge": "abc123"}));
    for bad in [
        "verification_token=guess&challenge=abc123",
        "challenge=abc123",
    ] {
        let answer = provider_flow::browser()
            .get(format!("{url}?{bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401, "{bad}");
    }
}

#[tokio::test]
async fn a_collection_whose_scope_the_user_withheld_is_skipped_and_the_rest_synced() {
    let f = oura().await;
    mount_oura(&f, "access-1").await;
    Mock::given(method("GET"))
        .and(path("/v2/usercollection/heartrate"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            serde_json::json!({"status": 403, "title": "Forbidden", "detail": "missing scope heartrate"}),
        ))
        .with_priority(1)
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert!(f.series("heart_rate").await.is_none());
    assert_eq!(f.workouts().await.len(), 2);
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32,
        "a 403 is no refused token"
    );
    assert_eq!(
        f.received(TOKEN_PATH).await.len(),
        1,
        "no refresh, only the exchange"
    );
}

#[tokio::test]
async fn concurrent_syncs_of_a_connection_with_a_refused_token_refresh_it_once() {
    let f = oura().await;
    mount_oura(&f, "access-1").await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    // From now on access-1 is refused; the refresh answers slowly, so both syncs need it at once.
    f.fake.reset().await;
    mount_oura(&f, "access-2").await;
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
        .respond_with(
            tokens("access-2", "refresh-2").set_delay(std::time::Duration::from_millis(300)),
        )
        .mount(&f.fake)
        .await;
    let ctx = f.server.jobs.ctx.clone().unwrap();
    let user = uuid::Uuid::parse_str(f.user.name.trim_start_matches("users/")).unwrap();
    let connection = uuid::Uuid::parse_str(name.rsplit('/').next().unwrap()).unwrap();
    let sync = |holder: &'static str| {
        let ctx = ctx.clone();
        let lease = f.server.jobs.lease.clone();
        async move {
            owl_server::domain::provider_sync::ProviderSync {
                ctx: &ctx,
                lease: Some(lease.as_ref()),
                holder,
            }
            .run(user, connection)
            .await
        }
    };
    let (a, b) = tokio::join!(sync("worker-a"), sync("worker-b"));
    assert!(matches!(a, Ok(Ok(_))), "{a:?}");
    assert!(matches!(b, Ok(Ok(_))), "{b:?}");
    let refreshes: Vec<_> = f
        .received(TOKEN_PATH)
        .await
        .into_iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("grant_type=refresh_token"))
        .collect();
    assert_eq!(refreshes.len(), 1, "one refresh for both syncs");
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
}
