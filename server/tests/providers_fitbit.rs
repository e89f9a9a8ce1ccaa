//! Fitbit (through the Google Health API) via owl's public surface against a fake Google
//! (wiremock serving the payload shapes of `tests/fixtures/fitbit/`): consent with PKCE and
//! offline access, callback, encrypted tokens, the paged sync into workouts, sleep and
//! samples, failures of every kind, refresh without rotation, and revocation.
#![allow(clippy::unwrap_used)]

mod common;
mod provider_flow;

use base64::Engine;
use owl::pb;
use provider_flow::{Flow, assert_ciphertexts, fixture, query};
use sha2::{Digest, Sha256};
use wiremock::matchers::{body_string_contains, header, method, path, path_regex, query_param};
use wiremock::{Mock, ResponseTemplate};

const TOKEN_PATH: &str = "/token";
const DATA_PATHS: &str = "^/v4/users/me/dataTypes/[a-z-]+/dataPoints$";
const DATA_TYPES: [(&str, &str); 6] = [
    ("exercise", "exercise.json"),
    ("sleep", "sleep.json"),
    ("steps", "steps.json"),
    ("heart-rate", "heart_rate.json"),
    ("daily-resting-heart-rate", "resting_heart_rate.json"),
    ("heart-rate-variability", "heart_rate_variability.json"),
];
const GOOGLE_SCOPES: &str = "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly \
     https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly \
     https://www.googleapis.com/auth/googlehealth.sleep.readonly";

fn points(data_type: &str) -> String {
    format!("/v4/users/me/dataTypes/{data_type}/dataPoints")
}

async fn fitbit() -> Flow {
    Flow::start("fitbit", TOKEN_PATH, &[]).await
}

/// Google's refresh answer: a new access token and no refresh token (Google does not rotate).
fn refreshed(access: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "access_token": access,
        "expires_in": 3599,
        "token_type": "Bearer",
        "scope": GOOGLE_SCOPES,
    }))
}

/// Mounts the exchange, the identity and every data type, served to `access`.
async fn mount_google(f: &Flow, access: &str) {
    f.mount_exchange().await;
    let bearer = format!("Bearer {access}");
    Mock::given(method("GET"))
        .and(path("/v4/users/me/identity"))
        .and(header("authorization", bearer.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("fitbit", "identity.json")))
        .mount(&f.fake)
        .await;
    Mock::given(method("GET"))
        .and(path(points("exercise")))
        .and(query_param("pageToken", "ex-page-2"))
        .and(header("authorization", bearer.as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("fitbit", "exercise_page2.json")),
        )
        .with_priority(1)
        .mount(&f.fake)
        .await;
    for (data_type, file) in DATA_TYPES {
        Mock::given(method("GET"))
            .and(path(points(data_type)))
            .and(header("authorization", bearer.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("fitbit", file)))
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

#[tokio::test]
async fn connecting_fitbit_asks_google_for_offline_consent_with_pkce_and_encrypts_the_tokens() {
    // An Open Wearables `.env` names the legacy Fitbit scopes: owl asks for Google's instead.
    let f = Flow::start(
        "fitbit",
        TOKEN_PATH,
        &[("FITBIT_DEFAULT_SCOPE", "activity heartrate sleep profile")],
    )
    .await;
    mount_google(&f, "access-1").await;
    let consent = f.consent_url().await;
    assert_eq!(consent.path(), "/o/oauth2/v2/auth");
    assert_eq!(
        query(&consent, "client_id").as_deref(),
        Some("fitbit-client-id")
    );
    assert_eq!(query(&consent, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query(&consent, "redirect_uri"),
        Some(format!("{}/api/v1/oauth/fitbit/callback", f.server.url))
    );
    assert_eq!(query(&consent, "scope").as_deref(), Some(GOOGLE_SCOPES));
    assert_eq!(query(&consent, "access_type").as_deref(), Some("offline"));
    assert_eq!(query(&consent, "prompt").as_deref(), Some("consent"));
    assert_eq!(
        query(&consent, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let challenge = query(&consent, "code_challenge").unwrap();
    let state = query(&consent, "state").unwrap();
    assert!(state.len() >= 32);

    let (status, location) = f.callback(provider_flow::CODE, &state).await;
    assert_eq!(status, 303);
    assert_eq!(query(&location, "status").as_deref(), Some("success"));
    let connection = f.connection(&query(&location, "connection").unwrap()).await;
    assert_eq!(connection.provider, "fitbit");
    assert_eq!(connection.state, pb::ConnectionState::Active as i32);
    assert_eq!(connection.provider_user_id, "GHU-4711", "the healthUserId");
    assert_ciphertexts(&f.stored_tokens().await, &["access-1", "refresh-1"]);

    // The exchange proved the PKCE verifier behind the challenge.
    let exchange = f.received(TOKEN_PATH).await;
    assert_eq!(exchange.len(), 1);
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&exchange[0].body)
        .into_owned()
        .collect();
    let verifier = &form.iter().find(|(k, _)| k == "code_verifier").unwrap().1;
    let digest = Sha256::digest(verifier.as_bytes());
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
        challenge
    );
}

#[tokio::test]
async fn a_fitbit_sync_pages_through_google_and_stores_workouts_sleep_and_samples_once() {
    let f = fitbit().await;
    mount_google(&f, "access-1").await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(run.source, pb::SyncSource::Backfill as i32);
    // 2 workouts (the exercise before the window is left out), 2 sleeps and 8 samples.
    assert_eq!(run.items_processed, 12, "{run:?}");

    // Exercise is listed without a filter, page by page; the rest are bounded to 30 days.
    let exercise = f.received(&points("exercise")).await;
    assert_eq!(exercise.len(), 2);
    assert_eq!(query(&exercise[0].url, "pageSize").as_deref(), Some("1000"));
    assert_eq!(query(&exercise[0].url, "filter"), None);
    assert_eq!(query(&exercise[0].url, "pageToken"), None);
    assert_eq!(
        query(&exercise[1].url, "pageToken").as_deref(),
        Some("ex-page-2")
    );
    let sleep = f.received(&points("sleep")).await;
    assert_eq!(
        query(&sleep[0].url, "filter").as_deref(),
        Some("sleep.interval.end_time >= \"2026-10-23T12:00:00Z\"")
    );
    let heart = f.received(&points("heart-rate")).await;
    assert_eq!(
        query(&heart[0].url, "filter").as_deref(),
        Some(
            "heart_rate.sample_time.physical_time >= \"2026-10-23T12:00:00Z\" \
             AND heart_rate.sample_time.physical_time < \"2026-11-22T12:00:00Z\""
        )
    );

    let workouts = f.workouts().await;
    assert_eq!(workouts.len(), 2);
    // Listed oldest first: the unknown type (19 Nov), then the run (20 Nov).
    assert_eq!(workouts[0].workout_type, "other", "unknown exercise types");
    assert_eq!(workouts[0].distance_meters, None);
    assert_eq!(workouts[0].active_energy_kcal, Some(120.0));
    assert_eq!(workouts[0].moving_seconds, Some(1800));
    let run = &workouts[1];
    assert_eq!(run.workout_type, "running");
    assert_eq!(run.zone_offset, 3600);
    assert_eq!(run.start_time.unwrap().seconds, 1_795_155_000); // 2026-11-20T06:10:00Z
    assert_eq!(run.end_time.unwrap().seconds, 1_795_157_700);
    assert_eq!(
        run.distance_meters,
        Some(6120.0),
        "millimetres become metres"
    );
    assert_eq!(run.active_energy_kcal, Some(412.5));
    assert_eq!(run.moving_seconds, Some(2640), "activeDuration \"2640s\"");

    let nights = f.sleep_sessions().await;
    assert_eq!(nights.len(), 2);
    assert!(nights[0].nap, "metadata.nap: the afternoon nap comes first");
    assert!(nights[0].stages.is_empty());
    let night = &nights[1];
    assert!(!night.nap);
    assert_eq!(night.zone_offset, 3600);
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
        stages,
        [
            (pb::SleepStage::Awake as i32, 0, 10),
            (pb::SleepStage::Light as i32, 10, 30),
            (pb::SleepStage::Deep as i32, 30, 90),
            (pb::SleepStage::Rem as i32, 90, 120),
            (pb::SleepStage::Light as i32, 120, 450),
        ]
    );

    let heart = f.series("heart_rate").await.unwrap();
    assert_eq!(heart.unit, "bpm");
    assert_eq!(heart.values, [61.0, 64.0, 118.0], "int64 strings read");
    assert_eq!(heart.zone_offsets, [3600, 3600, 3600]);
    let steps = f.series("steps").await.unwrap();
    assert_eq!(
        (steps.unit.as_str(), steps.values.as_slice()),
        ("count", &[120.0, 95.0][..])
    );
    assert_eq!(
        steps.durations,
        [60_000, 60_000],
        "each count covers its interval.startTime to interval.endTime"
    );
    for (series, unit, value) in [
        ("resting_heart_rate", "bpm", 52.0),
        ("heart_rate_variability_rmssd", "ms", 48.5),
        ("heart_rate_variability_sdnn", "ms", 61.2),
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
        assert_eq!(s.zone_offsets, [3600], "{series}");
    }
    let resting = f.series("resting_heart_rate").await.unwrap();
    // A daily value sits at noon UTC of its date; the user's zone (Berlin) gives its offset.
    assert_eq!(resting.times, [1_795_262_400_000], "2026-11-21T12:00:00Z");

    let sources = f.data_sources().await;
    assert_eq!(sources.len(), 1, "{sources:?}");
    assert_eq!(sources[0].provider, "fitbit");
    assert_eq!(sources[0].device_model, "Pixel Watch 3");
    assert_eq!(sources[0].manufacturer, "Google", "the device's maker");
    assert_eq!(
        sources[0].recording_method,
        pb::RecordingMethod::AutomaticallyRecorded as i32
    );
    assert_eq!(sources[0].device_type, pb::DeviceType::Watch as i32);

    // Again: the same points change nothing, and the window starts two days before the last.
    let again = f.sync(&name).await;
    assert_eq!(again.state, pb::SyncState::Succeeded as i32, "{again:?}");
    assert_eq!(again.items_processed, 0);
    assert_eq!(f.workouts().await.len(), 2);
    assert_eq!(f.sleep_sessions().await.len(), 2);
    assert_eq!(f.series("heart_rate").await.unwrap().values.len(), 3);
    let sleep = f.received(&points("sleep")).await;
    assert_eq!(
        query(&sleep[1].url, "filter").as_deref(),
        Some("sleep.interval.end_time >= \"2026-11-20T12:00:00Z\"")
    );
    assert!(f.connection(&name).await.last_sync_time.is_some());
}

#[tokio::test]
async fn google_rate_limits_and_outages_fail_the_run_keep_the_connection_and_lose_nothing() {
    let f = fitbit().await;
    f.mount_exchange().await;
    Mock::given(method("GET"))
        .and(path("/v4/users/me/identity"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("fitbit", "identity.json")))
        .mount(&f.fake)
        .await;
    Mock::given(method("GET"))
        .and(path(points("exercise")))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(
                    serde_json::json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}),
                ),
        )
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    assert_eq!(run.attempts, 2, "retried");
    // The retry honours Retry-After: every worker holds off Fitbit for 7 s, so it asks no more.
    assert!(
        run.error.contains("Fitbit asked owl to wait until"),
        "{run:?}"
    );
    assert_eq!(f.received(&points("exercise")).await.len(), 1);
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
    assert!(f.workouts().await.is_empty());

    // Google is back after its 7 s, but heart rate fails: what came before is kept.
    f.server.clock.advance(chrono::Duration::seconds(8));
    f.fake.reset().await;
    mount_google(&f, "access-1").await;
    Mock::given(method("GET"))
        .and(path(points("heart-rate")))
        .respond_with(ResponseTemplate::new(500).set_body_string("backend error"))
        .with_priority(1)
        .mount(&f.fake)
        .await;
    let run = f.sync(&name).await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    assert!(run.error.contains("fitbit unavailable"), "{run:?}");
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
    assert_eq!(f.workouts().await.len(), 2);
    assert_eq!(f.sleep_sessions().await.len(), 2);
    assert!(f.series("heart_rate").await.is_none());

    // Everything answers: the sync goes on where it stopped, without duplicates.
    f.fake.reset().await;
    mount_google(&f, "access-1").await;
    let run = f.sync(&name).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(
        f.received(&points("exercise")).await.len(),
        0,
        "continued at heart rate"
    );
    assert_eq!(f.series("heart_rate").await.unwrap().values.len(), 3);
    assert_eq!(f.workouts().await.len(), 2);
}

#[tokio::test]
async fn malformed_google_json_fails_the_run_and_keeps_the_connection_active() {
    let f = fitbit().await;
    mount_google(&f, "access-1").await;
    Mock::given(method("GET"))
        .and(path(points("exercise")))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"dataPoints\": [tru"))
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
async fn an_expired_google_token_is_refreshed_and_the_unrotated_refresh_token_kept() {
    let f = fitbit().await;
    mount_google(&f, "access-2").await;
    // Google no longer takes access-1; refresh-1 gives access-2 and no new refresh token.
    Mock::given(method("GET"))
        .and(path_regex(DATA_PATHS))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount(&f.fake)
        .await;
    Mock::given(method("GET"))
        .and(path("/v4/users/me/identity"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("fitbit", "identity.json")))
        .mount(&f.fake)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=refresh-1"))
        .and(body_string_contains("client_secret="))
        .respond_with(refreshed("access-2"))
        .mount(&f.fake)
        .await;
    let _worker = f.worker();
    let (name, run) = connected(&f).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(f.workouts().await.len(), 2);
    assert_ciphertexts(&f.stored_tokens().await, &["access-2", "refresh-1"]);

    // access-2 is refused in turn: the same refresh-1 still gets a new access token.
    f.fake.reset().await;
    mount_google(&f, "access-3").await;
    Mock::given(method("GET"))
        .and(path_regex(DATA_PATHS))
        .and(header("authorization", "Bearer access-2"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(1)
        .mount(&f.fake)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("refresh_token=refresh-1"))
        .respond_with(refreshed("access-3"))
        .mount(&f.fake)
        .await;
    let run = f.sync(&name).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(f.received(TOKEN_PATH).await.len(), 1);
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
}

#[tokio::test]
async fn a_refused_google_refresh_expires_the_fitbit_connection_with_a_reason() {
    let f = fitbit().await;
    f.mount_exchange().await;
    Mock::given(method("GET"))
        .and(path("/v4/users/me/identity"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("fitbit", "identity.json")))
        .mount(&f.fake)
        .await;
    Mock::given(method("GET"))
        .and(path(points("exercise")))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}}),
        ))
        .mount(&f.fake)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant",
            "error_description": "Token has been expired or revoked."
        })))
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
async fn deleting_a_fitbit_connection_revokes_the_grant_at_google() {
    let f = fitbit().await;
    mount_google(&f, "access-1").await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .and(query_param("token", "refresh-1"))
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
    assert_eq!(f.received("/revoke").await.len(), 1);
    let gone = f
        .backend
        .get_connection(pb::GetConnectionRequest { name })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), owl::Code::NotFound);
}

#[tokio::test]
async fn a_data_type_whose_scope_the_user_withheld_is_skipped_and_the_rest_synced() {
    let f = fitbit().await;
    mount_google(&f, "access-1").await;
    Mock::given(method("GET"))
        .and(path(points("heart-rate")))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            serde_json::json!({"error": {"code": 403, "status": "PERMISSION_DENIED"}}),
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
        pb::ConnectionState::Active as i32
    );
    assert_eq!(f.received(TOKEN_PATH).await.len(), 1, "only the exchange");
}

#[tokio::test]
async fn fitbit_sends_no_webhooks_so_deliveries_are_refused() {
    let f = fitbit().await;
    let status = f.deliver(&[], b"[]".to_vec()).await;
    assert_eq!(status, 401, "a known provider that sends no webhooks");
    assert!(f.runs().await.is_empty());
}
