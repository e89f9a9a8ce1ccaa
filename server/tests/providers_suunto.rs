//! Suunto (Cloud API) through owl's public surface against a fake Suunto (wiremock serving the
//! payload shapes of `tests/fixtures/suunto/`): consent, callback with Basic client
//! credentials, the username from the JWT, encrypted tokens, the incremental workout sync with
//! the subscription key, failures of every kind, refresh, deauthorization on delete and signed
//! webhook notifications.
#![allow(clippy::unwrap_used)]

mod common;
mod provider_flow;

use base64::Engine;
use hmac::{Hmac, Mac};
use owl::pb;
use provider_flow::{CLIENT_SECRET, CODE, Flow, assert_ciphertexts, fixture, fixture_bytes, query};
use sha2::Sha256;
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

const TOKEN_PATH: &str = "/oauth/token";
const SUBSCRIPTION_KEY: &str = "suunto-apim-key-5e1";
const WEBHOOK_SECRET: &str = "suunto-notification-secret";
const USERNAME: &str = "johndoe123";
/// The newest workout start of the fixtures, 2026-11-21T17:30:00Z, in ms.
const NEWEST: i64 = 1_795_282_200_000;

fn basic() -> String {
    let pair = format!("suunto-client-id:{CLIENT_SECRET}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn access(file: &str) -> String {
    fixture("suunto", file)["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn suunto() -> Flow {
    let f = Flow::start(
        "suunto",
        TOKEN_PATH,
        &[
            ("SUUNTO_SUBSCRIPTION_KEY", SUBSCRIPTION_KEY),
            ("SUUNTO_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    )
    .await;
    // Client credentials by HTTP Basic, not in the body.
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(header("authorization", basic().as_str()))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains(format!("code={CODE}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("suunto", "token.json")))
        .mount(&f.fake)
        .await;
    f
}

fn backfill_since(f: &Flow) -> String {
    ((f.server.clock_now() - 90 * 86_400) * 1000).to_string()
}

/// Mounts the workout list for `token`: the fixtures after the backfill start, nothing after
/// the newest workout.
async fn serve_workouts(f: &Flow, token: &str) {
    let bearer = format!("Bearer {token}");
    for (since, body) in [
        (
            backfill_since(f),
            serde_json::to_string(&fixture("suunto", "workouts.json")).unwrap(),
        ),
        (
            (NEWEST + 1).to_string(),
            r#"{"error":null,"payload":[],"metadata":{}}"#.to_owned(),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path("/v3/workouts/"))
            .and(query_param("since", since.as_str()))
            .and(query_param("limit", "100"))
            .and(query_param("offset", "0"))
            .and(header("authorization", bearer.as_str()))
            .and(header("ocp-apim-subscription-key", SUBSCRIPTION_KEY))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .with_priority(10)
            .mount(&f.fake)
            .await;
    }
}

fn sign_hex(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn time_ms(t: &Option<prost_types::Timestamp>) -> i64 {
    let t = t.as_ref().unwrap();
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

fn ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

async fn sorted_workouts(f: &Flow) -> Vec<pb::Workout> {
    let mut w = f.workouts().await;
    w.sort_by_key(|w| time_ms(&w.start_time));
    w
}

#[tokio::test]
async fn connecting_suunto_asks_the_documented_consent_names_the_user_from_the_jwt_and_stores_tokens_only_encrypted()
 {
    let f = suunto().await;
    let consent = f.consent_url().await;
    assert_eq!(
        consent.as_str().split('?').next().unwrap(),
        format!("{}/oauth/authorize", f.fake.uri())
    );
    assert_eq!(query(&consent, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query(&consent, "client_id").as_deref(),
        Some("suunto-client-id")
    );
    assert_eq!(
        query(&consent, "redirect_uri"),
        Some(format!("{}/api/v1/oauth/suunto/callback", f.server.url))
    );
    assert_eq!(query(&consent, "code_challenge"), None, "no PKCE");
    let state = query(&consent, "state").unwrap();
    let (status, location) = f.callback(CODE, &state).await;
    assert_eq!(status, 303);
    assert_eq!(
        query(&location, "status").as_deref(),
        Some("success"),
        "{location}"
    );
    let name = query(&location, "connection").unwrap();
    let connection = f.connection(&name).await;
    assert_eq!(connection.provider, "suunto");
    assert_eq!(connection.state, pb::ConnectionState::Active as i32);
    assert_eq!(
        connection.provider_user_id, USERNAME,
        "the JWT's user claim"
    );
    let exchange = f.received(TOKEN_PATH).await;
    let body = String::from_utf8_lossy(&exchange[0].body).into_owned();
    assert!(!body.contains("client_secret"), "{body}");
    assert_ciphertexts(
        &f.stored_tokens().await,
        &[&access("token.json"), "suunto-refresh-1", USERNAME],
    );
}

#[tokio::test]
async fn a_suunto_sync_reads_workouts_with_types_units_offsets_and_source_and_a_resync_changes_nothing()
 {
    let f = suunto().await;
    serve_workouts(&f, &access("token.json")).await;
    let _worker = f.worker();
    let name = f.connect().await;
    let run = f.finished(None).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(run.source, pb::SyncSource::Backfill as i32);
    assert_eq!(run.items_processed, 3, "{run:?}");

    let workouts = sorted_workouts(&f).await;
    let types: Vec<_> = workouts.iter().map(|w| w.workout_type.as_str()).collect();
    assert_eq!(types, ["running", "cross_country_skiing", "other"]);
    let run = &workouts[0];
    assert_eq!(time_ms(&run.start_time), ms("2026-11-18T06:45:00Z"));
    assert_eq!(
        time_ms(&run.end_time),
        ms("2026-11-18T06:45:00Z") + 3_612_100,
        "no stopTime: start plus totalTime"
    );
    assert_eq!(run.zone_offset, 3600, "timeOffsetInMinutes");
    assert_eq!(run.distance_meters, Some(10053.0));
    assert_eq!(run.active_energy_kcal, Some(640.0));
    assert_eq!(run.steps, Some(9120));
    assert_eq!(run.heart_rate_avg, Some(148.0));
    assert_eq!(
        run.heart_rate_max,
        Some(176.0),
        "the workout's, not the user's"
    );
    assert_eq!(run.elevation_gain_meters, Some(82.4));
    let ski = &workouts[1];
    assert_eq!(time_ms(&ski.end_time), ms("2026-11-20T10:30:00Z"));
    assert_eq!(ski.distance_meters, Some(21000.5));
    assert_eq!(workouts[2].heart_rate_avg, None);

    let sources = f.data_sources().await;
    let mut kinds: Vec<_> = sources
        .iter()
        .map(|s| (s.device_model.as_str(), s.device_type))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("", pb::DeviceType::Unspecified as i32),
            ("Suunto Race", pb::DeviceType::Watch as i32)
        ]
    );
    assert!(
        sources
            .iter()
            .all(|s| s.provider == "suunto" && s.app_name == "Suunto")
    );

    // Again: the sweep continues 1 ms after the newest workout and finds nothing.
    let again = f.sync(&name).await;
    assert_eq!(again.state, pb::SyncState::Succeeded as i32, "{again:?}");
    assert_eq!(again.items_processed, 0);
    assert_eq!(f.workouts().await.len(), 3);
    let sinces: Vec<String> = f
        .received("/v3/workouts/")
        .await
        .iter()
        .map(|r| query(&r.url, "since").unwrap())
        .collect();
    assert_eq!(sinces, [backfill_since(&f), (NEWEST + 1).to_string()]);
}

#[tokio::test]
async fn suunto_rate_limits_and_outages_fail_the_run_lose_nothing_and_keep_the_connection_active() {
    let f = suunto().await;
    serve_workouts(&f, &access("token.json")).await;
    Mock::given(method("GET"))
        .and(path("/v3/workouts/"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let name = f.connect().await;
    let limited = f.finished(None).await;
    assert_eq!(limited.state, pb::SyncState::Failed as i32, "{limited:?}");
    assert_eq!(limited.attempts, 2, "retried: {limited:?}");
    assert!(
        limited.error.contains("Suunto asked owl to wait until"),
        "{limited:?}"
    );
    assert_eq!(
        f.received("/v3/workouts/").await.len(),
        1,
        "no call while paused"
    );
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );

    f.server.clock.advance(chrono::Duration::seconds(121));
    // No cursor was saved: the backfill starts again from the (later) clock.
    serve_workouts(&f, &access("token.json")).await;
    Mock::given(method("GET"))
        .and(path("/v3/workouts/"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&f.fake)
        .await;
    let down = f.sync(&name).await;
    assert_eq!(down.state, pb::SyncState::Failed as i32, "{down:?}");
    assert!(down.error.contains("unavailable"), "{down:?}");
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
    assert!(f.workouts().await.is_empty());

    // Once Suunto answers, the whole backfill arrives: the cursor did not move.
    let ok = f.sync(&name).await;
    assert_eq!(ok.state, pb::SyncState::Succeeded as i32, "{ok:?}");
    assert_eq!(f.workouts().await.len(), 3);
}

#[tokio::test]
async fn a_suunto_run_fails_on_malformed_json_and_the_connection_stays_active() {
    let f = suunto().await;
    Mock::given(method("GET"))
        .and(path("/v3/workouts/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"error":null,"payload":[{"startTime":"yesterday"}]}"#,
            "application/json",
        ))
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let name = f.connect().await;
    let run = f.finished(None).await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    assert!(run.error.contains("cannot read"), "{run:?}");
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
    assert!(f.workouts().await.is_empty());
}

#[tokio::test]
async fn a_refused_suunto_token_is_refreshed_with_basic_credentials_and_the_new_tokens_are_used() {
    let f = suunto().await;
    let refreshed = access("refreshed.json");
    serve_workouts(&f, &refreshed).await;
    Mock::given(method("GET"))
        .and(path("/v3/workouts/"))
        .and(header(
            "authorization",
            format!("Bearer {}", access("token.json")).as_str(),
        ))
        .respond_with(ResponseTemplate::new(401))
        .mount(&f.fake)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(header("authorization", basic().as_str()))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=suunto-refresh-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("suunto", "refreshed.json")))
        .expect(1)
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let name = f.connect().await;
    let run = f.finished(None).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(f.workouts().await.len(), 3);
    assert_ciphertexts(&f.stored_tokens().await, &[&refreshed, "suunto-refresh-2"]);
    // The new tokens are the ones in use: a second sync needs no refresh.
    let again = f.sync(&name).await;
    assert_eq!(again.state, pb::SyncState::Succeeded as i32, "{again:?}");
    f.fake.verify().await;
}

#[tokio::test]
async fn a_refused_suunto_refresh_expires_the_connection_with_the_reason() {
    let f = suunto().await;
    Mock::given(method("GET"))
        .and(path("/v3/workouts/"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&f.fake)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            r#"{"error":"invalid_grant","error_description":"Invalid refresh token"}"#,
            "application/json",
        ))
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let name = f.connect().await;
    let run = f.finished(None).await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    let connection = f.connection(&name).await;
    assert_eq!(connection.state, pb::ConnectionState::Expired as i32);
    assert!(
        connection.state_reason.contains("invalid_grant"),
        "{connection:?}"
    );
}

#[tokio::test]
async fn deleting_a_suunto_connection_deauthorizes_at_suunto() {
    let f = suunto().await;
    Mock::given(method("GET"))
        .and(path("/oauth/deauthorize"))
        .and(query_param("client_id", "suunto-client-id"))
        .and(header(
            "authorization",
            format!("Bearer {}", access("token.json")).as_str(),
        ))
        .respond_with(ResponseTemplate::new(200))
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
    let gone = f
        .backend
        .get_connection(pb::GetConnectionRequest { name })
        .await;
    assert_eq!(gone.unwrap_err().code(), owl::Code::NotFound);
    f.fake.verify().await;
}

#[tokio::test]
async fn a_signed_suunto_workout_notification_syncs_the_connection_and_a_replay_is_harmless() {
    let f = suunto().await;
    serve_workouts(&f, &access("token.json")).await;
    let _worker = f.worker();
    let name = f.connect().await;
    assert_eq!(
        f.finished(None).await.state,
        pb::SyncState::Succeeded as i32
    );
    let body = fixture_bytes("suunto", "webhook_workout_created.json");
    let signed = vec![("x-hmac-sha256-signature", sign_hex(&body))];
    assert_eq!(f.deliver(&signed, body.clone()).await, 200);
    let run = f.finished(None).await;
    assert_eq!(run.source, pb::SyncSource::Webhook as i32, "{run:?}");
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(run.connection, name);
    // Suunto may deliver again; base64 is accepted as well as hex.
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let b64 = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let before = f.runs().await.len();
    assert_eq!(
        f.deliver(&[("x-hmac-sha256-signature", b64)], body).await,
        200
    );
    let replay = f.finished(None).await;
    assert_eq!(f.runs().await.len(), before + 1);
    assert_eq!(replay.state, pb::SyncState::Succeeded as i32);
    assert_eq!(replay.items_processed, 0);
    assert_eq!(f.workouts().await.len(), 3);
}

#[tokio::test]
async fn a_suunto_notification_with_a_bad_or_missing_signature_is_refused_and_changes_nothing() {
    let f = suunto().await;
    let name = f.connect().await;
    let before = f.runs().await.len();
    let body = fixture_bytes("suunto", "webhook_workout_created.json");
    let mut forged = body.clone();
    forged.extend_from_slice(b" ");
    assert_eq!(f.deliver(&[], body.clone()).await, 401);
    assert_eq!(
        f.deliver(&[("x-hmac-sha256-signature", sign_hex(&body))], forged)
            .await,
        401
    );
    assert_eq!(
        f.deliver(&[("x-hmac-sha256-signature", "00ff".into())], body)
            .await,
        401
    );
    assert_eq!(f.runs().await.len(), before);
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
}

#[tokio::test]
async fn a_suunto_notification_for_an_unknown_user_is_accepted_and_does_nothing() {
    let f = suunto().await;
    f.connect().await;
    let before = f.runs().await.len();
    let body = String::from_utf8(fixture_bytes("suunto", "webhook_workout_created.json"))
        .unwrap()
        .replace(USERNAME, "somebody_else")
        .into_bytes();
    assert_eq!(
        f.deliver(&[("x-hmac-sha256-signature", sign_hex(&body))], body)
            .await,
        200
    );
    assert_eq!(f.runs().await.len(), before);
}

#[tokio::test]
async fn an_oversized_suunto_notification_is_refused_with_413() {
    let f = suunto().await;
    f.connect().await;
    let before = f.runs().await.len();
    let mut body = fixture_bytes("suunto", "webhook_workout_created.json");
    body.resize(1024 * 1024 + 1, b' ');
    assert_eq!(
        f.deliver(&[("x-hmac-sha256-signature", sign_hex(&body))], body)
            .await,
        413
    );
    assert_eq!(f.runs().await.len(), before);
}
