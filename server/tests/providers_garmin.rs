//! Garmin through owl's public surface against a fake Garmin (wiremock serving payloads shaped
//! as Garmin's Health API documents them, from `tests/fixtures/garmin/`): consent with PKCE,
//! callback, encrypted tokens, the 30-day backfill request, push and ping webhooks stashed and
//! written by jobs, the `garmin-client-id` check, unknown users, replays, oversized bodies,
//! deregistration, permission changes, a webhook during a running sync, refresh, failing
//! callbacks, and no pull on a scheduled sync.
#![allow(clippy::unwrap_used)]

mod common;
mod provider_flow;

use base64::Engine;
use owl::pb;
use owl_server::domain::Clock;
use provider_flow::{Flow, assert_ciphertexts, fixture, fixture_bytes, query, tokens};
use sea_orm::{ConnectionTrait, Statement};
use sha2::{Digest, Sha256};
use wiremock::matchers::{body_string_contains, header, method, path, path_regex};
use wiremock::{Mock, ResponseTemplate};

const TOKEN_PATH: &str = "/di-oauth2-service/oauth/token";
const CLIENT_ID: &str = "garmin-client-id";
const BACKFILLS: &str = "^/wellness-api/rest/backfill/(activities|dailies|sleeps)$";
const CALLBACK: &str = "/wellness-api/rest/dailies";

async fn garmin() -> Flow {
    Flow::start("garmin", TOKEN_PATH, &[]).await
}

/// Mounts the exchange, the user id and the backfill requests (202).
async fn mount_garmin(f: &Flow) {
    f.mount_exchange().await;
    Mock::given(method("GET"))
        .and(path("/partner-gateway/rest/user/id"))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("garmin", "user_id.json")))
        .mount(&f.fake)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(BACKFILLS))
        .respond_with(ResponseTemplate::new(202))
        .mount(&f.fake)
        .await;
}

/// Mounts the ping callback of the dailies, served to `access`.
async fn mount_callback(f: &Flow, access: &str, answer: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(CALLBACK))
        .and(header("authorization", format!("Bearer {access}").as_str()))
        .respond_with(answer)
        .mount(&f.fake)
        .await;
}

fn callback_answer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(fixture("garmin", "callback_dailies.json"))
}

/// Connects with a worker running and waits for the first sync (the backfill request).
async fn connected(f: &Flow) -> String {
    let worker = f.worker();
    let name = f.connect().await;
    let run = f.finished(None).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    f.stop(worker).await;
    name
}

fn headers() -> Vec<(&'static str, String)> {
    vec![
        ("garmin-client-id", CLIENT_ID.into()),
        ("content-type", "application/json".into()),
    ]
}

/// A ping of the dailies whose callback is at `base`.
fn ping(base: &str, token: &str) -> Vec<u8> {
    let account = fixture("garmin", "user_id.json")["userId"].clone();
    serde_json::to_vec(&serde_json::json!({"dailies": [{
        "userId": account,
        "callbackURL": format!("{base}{CALLBACK}?uploadStartTimeInSeconds=1795215600&uploadEndTimeInSeconds=1795302000&token={token}"),
    }]}))
    .unwrap()
}

/// Rows in the stash of webhook items.
async fn stashed(f: &Flow) -> i64 {
    let db = f.server.db.raw().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM webhook_item",
        ))
        .await
        .unwrap();
    rows[0].try_get_by_index::<i64>(0).unwrap()
}

/// Every webhook-started run has finished; returns them.
async fn webhook_runs_done(f: &Flow) -> Vec<pb::SyncRun> {
    for _ in 0..400 {
        let runs: Vec<_> = f
            .runs()
            .await
            .into_iter()
            .filter(|r| r.source == pb::SyncSource::Webhook as i32)
            .collect();
        let done = [
            pb::SyncState::Succeeded as i32,
            pb::SyncState::Failed as i32,
        ];
        if !runs.is_empty() && runs.iter().all(|r| done.contains(&r.state)) {
            return runs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("webhook runs unfinished: {:?}", f.runs().await);
}

#[tokio::test]
async fn connecting_garmin_uses_pkce_stores_the_user_id_encrypted_tokens_and_asks_for_30_days() {
    let f = garmin().await;
    mount_garmin(&f).await;
    let consent = f.consent_url().await;
    assert_eq!(consent.path(), "/oauth2Confirm");
    assert_eq!(query(&consent, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(query(&consent, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query(&consent, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query(&consent, "scope").is_none(), "Garmin takes no scopes");
    let challenge = query(&consent, "code_challenge").unwrap();
    let state = query(&consent, "state").unwrap();

    let worker = f.worker();
    let (status, location) = f.callback(provider_flow::CODE, &state).await;
    assert_eq!(status, 303);
    assert_eq!(
        query(&location, "status").as_deref(),
        Some("success"),
        "{location}"
    );
    // The verifier sent with the code is the one the challenge was made from.
    let exchange = &f.received(TOKEN_PATH).await[0];
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&exchange.body)
        .into_owned()
        .collect();
    let verifier = &form.iter().find(|(k, _)| k == "code_verifier").unwrap().1;
    let digest = Sha256::digest(verifier.as_bytes());
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
        challenge
    );
    let connection = f.connection(&query(&location, "connection").unwrap()).await;
    assert_eq!(connection.provider, "garmin");
    assert_eq!(connection.state, pb::ConnectionState::Active as i32);
    assert_eq!(
        connection.provider_user_id,
        "4aacafe82427c251df9c9592d0c06768"
    );
    assert_ciphertexts(&f.stored_tokens().await, &["access-1", "refresh-1"]);

    // The first sync asks Garmin to push 30 days of each kind owl reads, and pulls nothing.
    let run = f.finished(None).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    f.stop(worker).await;
    let requests = f.fake.received_requests().await.unwrap();
    let backfills: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path().starts_with("/wellness-api/rest/backfill/"))
        .collect();
    assert_eq!(backfills.len(), 3, "{backfills:?}");
    for b in &backfills {
        let end: i64 = query(&b.url, "summaryEndTimeInSeconds")
            .unwrap()
            .parse()
            .unwrap();
        let start: i64 = query(&b.url, "summaryStartTimeInSeconds")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(end, 1_795_348_800, "the test clock's now"); // 2026-11-22T12:00:00Z
        assert_eq!(end - start, 30 * 86_400);
        assert_eq!(b.headers["authorization"], "Bearer access-1");
    }
    assert!(
        requests
            .iter()
            .all(|r| !r.url.path().starts_with("/wellness-api/rest/")
                || r.url.path().contains("/backfill/")),
        "no data endpoint was called"
    );
}

#[tokio::test]
async fn a_push_is_answered_at_once_and_a_job_writes_it_with_types_units_offsets_and_sources() {
    let f = garmin().await;
    mount_garmin(&f).await;
    let name = connected(&f).await;
    let body = fixture_bytes("garmin", "push.json");
    // No worker runs: the answer comes before any of the work, which waits in the stash.
    assert_eq!(f.deliver(&headers(), body.clone()).await, 200);
    assert_eq!(
        stashed(&f).await,
        4,
        "2 activities, a sleep, a daily; epochs are not read"
    );
    assert!(f.workouts().await.is_empty());
    // A replay while the first copy waits stashes nothing more.
    assert_eq!(f.deliver(&headers(), body.clone()).await, 200);
    assert_eq!(stashed(&f).await, 4);

    let worker = f.worker();
    let runs = webhook_runs_done(&f).await;
    f.stop(worker).await;
    assert!(
        runs.iter()
            .all(|r| r.state == pb::SyncState::Succeeded as i32),
        "{runs:?}"
    );
    assert_eq!(runs[0].connection, name);
    assert_eq!(stashed(&f).await, 0, "written items leave the stash");

    let workouts = f.workouts().await;
    assert_eq!(workouts.len(), 2);
    let run = &workouts[0];
    assert_eq!(run.workout_type, "running");
    assert_eq!(run.start_time.unwrap().seconds, 1_795_155_000);
    assert_eq!(run.end_time.unwrap().seconds, 1_795_158_600);
    assert_eq!(run.zone_offset, 3600);
    assert_eq!(run.distance_meters, Some(10012.4));
    assert_eq!(run.active_energy_kcal, Some(712.0));
    assert_eq!(run.steps, Some(10120));
    assert_eq!(
        (run.heart_rate_avg, run.heart_rate_max),
        (Some(151.0), Some(178.0))
    );
    assert_eq!(run.moving_seconds, Some(3480), "movingDurationInSeconds");
    assert_eq!(
        workouts[1].workout_type, "stand_up_paddleboarding",
        "_V2 types"
    );
    assert_eq!(workouts[1].moving_seconds, None);

    let nights = f.sleep_sessions().await;
    assert_eq!(nights.len(), 1);
    let night = &nights[0];
    assert_eq!(night.zone_offset, 3600);
    let start = night.start_time.unwrap().seconds;
    assert_eq!(start, 1_795_127_400);
    assert_eq!((night.end_time.unwrap().seconds - start) / 60, 450);
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
            (pb::SleepStage::Light as i32, 0, 30),
            (pb::SleepStage::Deep as i32, 30, 90),
            (pb::SleepStage::Rem as i32, 90, 120),
            (pb::SleepStage::Awake as i32, 120, 125),
            (pb::SleepStage::Light as i32, 125, 450),
        ]
    );

    let heart = f.series("heart_rate").await.unwrap();
    assert_eq!(heart.unit, "bpm");
    assert_eq!(heart.values, [58.0, 57.0, 59.0]);
    let day = 1_795_129_200_000;
    assert_eq!(heart.times, [day, day + 15_000, day + 30_000]);
    assert_eq!(heart.zone_offsets, [3600, 3600, 3600]);
    for (series, unit, value) in [
        ("steps", "count", 9412.0),
        ("energy", "kcal", 612.0),
        ("basal_energy", "kcal", 1730.0),
        ("distance_walking_running", "m", 7320.5),
        ("flights_climbed", "count", 8.0),
        ("resting_heart_rate", "bpm", 52.0),
        ("garmin_stress_level", "score", 31.0),
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
        assert_eq!((s.times[0], s.zone_offsets[0]), (day, 3600), "{series}");
    }
    let all = f.data_sources().await;
    assert!(
        all.iter().all(|s| s.manufacturer == "Garmin"
            && s.recording_method == pb::RecordingMethod::AutomaticallyRecorded as i32),
        "{all:?}"
    );
    let mut sources: Vec<(String, String, i32)> = all
        .into_iter()
        .map(|s| (s.provider, s.device_model, s.device_type))
        .collect();
    sources.sort();
    assert_eq!(
        sources,
        [
            (
                "garmin".into(),
                "Forerunner 965".into(),
                pb::DeviceType::Watch as i32
            ),
            (
                "garmin".into(),
                "Garmin device".into(),
                pb::DeviceType::Watch as i32
            ),
        ]
    );

    // Garmin redelivers (it retries what it thinks failed): accepted, and nothing changes.
    assert_eq!(f.deliver(&headers(), body).await, 200);
    let worker = f.worker();
    for _ in 0..400 {
        if stashed(&f).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let runs = webhook_runs_done(&f).await;
    f.stop(worker).await;
    assert_eq!(runs[0].items_processed, 0, "{runs:?}");
    assert_eq!(f.workouts().await.len(), 2);
    assert_eq!(f.sleep_sessions().await.len(), 1);
    assert_eq!(f.series("heart_rate").await.unwrap().values.len(), 3);
}

#[tokio::test]
async fn a_later_summary_without_the_moving_time_completes_the_workout_and_erases_nothing() {
    let f = garmin().await;
    mount_garmin(&f).await;
    connected(&f).await;
    assert_eq!(
        f.deliver(&headers(), fixture_bytes("garmin", "push.json"))
            .await,
        200
    );
    let worker = f.worker();
    let first = webhook_runs_done(&f).await.len();
    // The same run again, as a summary without movingDurationInSeconds and the heart rate but
    // with corrected steps: Garmin sends an activity in more than one payload.
    let summary = serde_json::json!({"activities": [{
        "userId": "4aacafe82427c251df9c9592d0c06768", "summaryId": "21045330143",
        "activityId": 21_045_330_143_u64, "activityType": "RUNNING", "deviceName": "Forerunner 965",
        "startTimeInSeconds": 1795155000, "startTimeOffsetInSeconds": 3600,
        "durationInSeconds": 3600, "distanceInMeters": 10012.4, "activeKilocalories": 712,
        "steps": 10200
    }]});
    assert_eq!(
        f.deliver(&headers(), serde_json::to_vec(&summary).unwrap())
            .await,
        200
    );
    for _ in 0..400 {
        if stashed(&f).await == 0 && webhook_runs_done(&f).await.len() > first {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    f.stop(worker).await;
    assert_eq!(stashed(&f).await, 0);
    let workouts = f.workouts().await;
    assert_eq!(workouts.len(), 2, "the same run, not a second one");
    let run = &workouts[0];
    assert_eq!(run.steps, Some(10120 + 80), "the new payload's value wins");
    assert_eq!(
        run.moving_seconds,
        Some(3480),
        "kept from the first payload"
    );
    assert_eq!(
        (run.heart_rate_avg, run.heart_rate_max),
        (Some(151.0), Some(178.0)),
        "kept from the first payload"
    );
}

#[tokio::test]
async fn a_ping_is_fetched_from_its_callback_on_garmins_api_host_only() {
    let f = garmin().await;
    mount_garmin(&f).await;
    mount_callback(&f, "access-1", callback_answer()).await;
    connected(&f).await;
    // A callback elsewhere is never fetched, and not even stashed.
    assert_eq!(
        f.deliver(&headers(), ping("http://127.0.0.2:9", "t")).await,
        200
    );
    assert_eq!(stashed(&f).await, 0);
    assert_eq!(
        f.deliver(&headers(), ping(&f.fake.uri(), "cb-token")).await,
        200
    );
    assert_eq!(stashed(&f).await, 1);
    // The stash is sealed: neither the callback's token nor its URL is stored in the clear.
    let db = f.server.db.raw().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT payload FROM webhook_item",
        ))
        .await
        .unwrap();
    let payload: String = rows[0].try_get_by_index(0).unwrap();
    assert!(
        !payload.contains("cb-token") && !payload.contains("callbackURL"),
        "{payload}"
    );
    let worker = f.worker();
    let runs = webhook_runs_done(&f).await;
    f.stop(worker).await;
    assert_eq!(runs[0].state, pb::SyncState::Succeeded as i32, "{runs:?}");
    let calls = f.received(CALLBACK).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(query(&calls[0].url, "token").as_deref(), Some("cb-token"));
    let steps = f.series("steps").await.unwrap();
    assert_eq!(steps.values, [11004.0]);
    assert_eq!(steps.zone_offsets, [3600]);
    assert_eq!(
        steps.durations,
        [86_400_000],
        "the daily's durationInSeconds"
    );
    let heart = f.series("heart_rate").await.unwrap();
    assert_eq!(heart.values, [61.0, 63.0]);
    assert_eq!(heart.times, [1_795_215_600_000, 1_795_215_660_000]);
    assert!(heart.durations.is_empty(), "instantaneous");
    assert!(
        f.series("garmin_stress_level").await.is_none(),
        "-1 is no stress level"
    );
    assert_eq!(stashed(&f).await, 0);
}

#[tokio::test]
async fn a_delivery_without_the_configured_garmin_client_id_is_401_and_stores_nothing() {
    let f = garmin().await;
    mount_garmin(&f).await;
    connected(&f).await;
    let body = fixture_bytes("garmin", "push.json");
    let wrong = vec![("garmin-client-id", "someone-else".to_owned())];
    assert_eq!(f.deliver(&wrong, body.clone()).await, 401);
    assert_eq!(f.deliver(&[], body.clone()).await, 401, "missing");
    let deregister = fixture_bytes("garmin", "deregistration.json");
    assert_eq!(f.deliver(&wrong, deregister).await, 401);
    assert_eq!(stashed(&f).await, 0);
    assert_eq!(f.runs().await.len(), 1, "only the backfill");
    let c = f
        .backend
        .list_connections(pb::ListConnectionsRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .connections;
    assert_eq!(c[0].state, pb::ConnectionState::Active as i32);
    // Malformed JSON with the right id is a 400.
    assert_eq!(
        f.deliver(&headers(), b"{\"dailies\": [tru".to_vec()).await,
        400
    );
}

#[tokio::test]
async fn items_of_unknown_garmin_users_are_accepted_and_ignored() {
    let f = garmin().await;
    mount_garmin(&f).await;
    connected(&f).await;
    let mut push = fixture("garmin", "push.json");
    for kind in ["activities", "sleeps", "dailies"] {
        for item in push[kind].as_array_mut().unwrap() {
            item["userId"] = "someone-else".into();
        }
    }
    let body = serde_json::to_vec(&push).unwrap();
    assert_eq!(f.deliver(&headers(), body).await, 200);
    assert_eq!(stashed(&f).await, 0);
    assert_eq!(f.runs().await.len(), 1, "no sync for nobody");
}

#[tokio::test]
async fn an_oversized_garmin_delivery_is_refused_with_413() {
    let f = garmin().await;
    let body = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(f.deliver(&headers(), body).await, 413);
}

#[tokio::test]
async fn a_deregistration_revokes_and_a_permission_change_updates_the_connection() {
    let f = garmin().await;
    mount_garmin(&f).await;
    let name = connected(&f).await;
    let permissions = fixture_bytes("garmin", "permissions.json");
    assert_eq!(f.deliver(&headers(), permissions).await, 200);
    let c = f.connection(&name).await;
    assert_eq!(c.scope, "ACTIVITY_EXPORT WELLNESS_EXPORT");
    assert_eq!(c.state, pb::ConnectionState::Active as i32);

    let deregister = fixture_bytes("garmin", "deregistration.json");
    assert_eq!(f.deliver(&headers(), deregister).await, 200);
    let c = f.connection(&name).await;
    assert_eq!(c.state, pb::ConnectionState::Revoked as i32);
    assert!(
        c.state_reason.contains("revoked at Garmin"),
        "{}",
        c.state_reason
    );
    // Data for a revoked connection is not stashed.
    assert_eq!(
        f.deliver(&headers(), fixture_bytes("garmin", "push.json"))
            .await,
        200
    );
    assert_eq!(stashed(&f).await, 0);
}

#[tokio::test]
async fn deleting_a_garmin_connection_deregisters_the_user_at_garmin() {
    let f = garmin().await;
    mount_garmin(&f).await;
    Mock::given(method("DELETE"))
        .and(path("/partner-gateway/rest/user/registration"))
        .and(header("authorization", "Bearer access-1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&f.fake)
        .await;
    let name = connected(&f).await;
    f.backend
        .delete_connection(pb::DeleteConnectionRequest {
            name: name.clone(),
            delete_data: true,
        })
        .await
        .unwrap();
    assert_eq!(
        f.received("/partner-gateway/rest/user/registration")
            .await
            .len(),
        1
    );
    let gone = f
        .backend
        .get_connection(pb::GetConnectionRequest { name })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), owl::Code::NotFound);
}

#[tokio::test]
async fn a_webhook_arriving_while_a_sync_of_the_connection_runs_loses_nothing() {
    let f = garmin().await;
    mount_garmin(&f).await;
    // The ping's callback answers slowly: its sync is still running when the push arrives.
    mount_callback(
        &f,
        "access-1",
        callback_answer().set_delay(std::time::Duration::from_millis(800)),
    )
    .await;
    connected(&f).await;
    let worker = f.worker();
    assert_eq!(f.deliver(&headers(), ping(&f.fake.uri(), "t")).await, 200);
    for _ in 0..200 {
        if !f.received(CALLBACK).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(f.received(CALLBACK).await.len(), 1, "the sync is fetching");
    assert_eq!(
        f.deliver(&headers(), fixture_bytes("garmin", "push.json"))
            .await,
        200
    );
    let runs = webhook_runs_done(&f).await;
    f.stop(worker).await;
    assert!(
        runs.iter()
            .all(|r| r.state == pb::SyncState::Succeeded as i32),
        "{runs:?}"
    );
    assert_eq!(stashed(&f).await, 0);
    // The ping's day and the push's day and events are all there.
    assert_eq!(f.series("steps").await.unwrap().values, [9412.0, 11004.0]);
    assert_eq!(f.workouts().await.len(), 2);
    assert_eq!(f.sleep_sessions().await.len(), 1);
}

#[tokio::test]
async fn a_refused_garmin_token_is_refreshed_and_the_callback_fetched_again() {
    let f = garmin().await;
    mount_garmin(&f).await;
    mount_callback(&f, "access-1", ResponseTemplate::new(401)).await;
    mount_callback(&f, "access-2", callback_answer()).await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=refresh-1"))
        .and(body_string_contains(format!("client_id={CLIENT_ID}")))
        .and(body_string_contains("client_secret="))
        .respond_with(tokens("access-2", "refresh-2"))
        .expect(1)
        .mount(&f.fake)
        .await;
    let name = connected(&f).await;
    assert_eq!(f.deliver(&headers(), ping(&f.fake.uri(), "t")).await, 200);
    let worker = f.worker();
    let runs = webhook_runs_done(&f).await;
    f.stop(worker).await;
    assert_eq!(runs[0].state, pb::SyncState::Succeeded as i32, "{runs:?}");
    assert_eq!(f.series("steps").await.unwrap().values, [11004.0]);
    assert_ciphertexts(&f.stored_tokens().await, &["access-2", "refresh-2"]);
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
}

#[tokio::test]
async fn a_callback_answering_429_500_or_malformed_json_fails_the_run_and_keeps_the_item() {
    let f = garmin().await;
    mount_garmin(&f).await;
    let name = connected(&f).await;
    mount_callback(
        &f,
        "access-1",
        ResponseTemplate::new(429).insert_header("retry-after", "5"),
    )
    .await;
    assert_eq!(f.deliver(&headers(), ping(&f.fake.uri(), "t")).await, 200);
    let _worker = f.worker();
    let runs = webhook_runs_done(&f).await;
    assert_eq!(runs[0].state, pb::SyncState::Failed as i32, "{runs:?}");
    // The retry honours Retry-After: every worker holds off Garmin, so it asks no more.
    assert!(
        runs[0].error.contains("Garmin asked owl to wait"),
        "{runs:?}"
    );
    assert_eq!(f.received(CALLBACK).await.len(), 1);
    assert_eq!(stashed(&f).await, 1, "the item waits for the next sync");
    f.server.clock.advance(chrono::Duration::seconds(6));
    for (answer, error) in [
        (ResponseTemplate::new(500), "garmin unavailable"),
        (
            ResponseTemplate::new(200).set_body_string("[{\"userId\": tru"),
            "cannot read",
        ),
    ] {
        f.fake.reset().await;
        mount_garmin(&f).await;
        mount_callback(&f, "access-1", answer).await;
        let run = f.sync(&name).await;
        assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
        assert!(run.error.contains(error), "{error}: {run:?}");
        assert_eq!(stashed(&f).await, 1, "the item waits for the next sync");
        assert_eq!(
            f.connection(&name).await.state,
            pb::ConnectionState::Active as i32
        );
        assert!(f.series("steps").await.is_none());
    }
    // Garmin answers again: the kept item is written.
    f.fake.reset().await;
    mount_garmin(&f).await;
    mount_callback(&f, "access-1", callback_answer()).await;
    let run = f.sync(&name).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(f.series("steps").await.unwrap().values, [11004.0]);
    assert_eq!(stashed(&f).await, 0);
}

#[tokio::test]
async fn a_scheduled_garmin_sync_makes_no_call_to_garmin() {
    let f = garmin().await;
    mount_garmin(&f).await;
    let name = connected(&f).await;
    f.fake.reset().await;
    let tick = f
        .server
        .jobs
        .scheduler("test")
        .tick(f.server.clock.now().timestamp_millis())
        .await
        .unwrap();
    assert_eq!(tick.enqueued, 1, "{tick:?}");
    let worker = f.worker();
    let run = f.finished(None).await;
    f.stop(worker).await;
    assert_eq!(run.source, pb::SyncSource::Pull as i32);
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(run.connection, name);
    let calls = f.fake.received_requests().await.unwrap();
    assert!(calls.is_empty(), "{calls:?}");
    // A sync a developer asks for pulls nothing either.
    let _worker = f.worker();
    let run = f.sync(&name).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert!(f.fake.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn encryption_rotate_re_encrypts_stashed_webhook_items() {
    let key = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    let (old, new) = (key(1), key(2));
    let f = Flow::start(
        "garmin",
        TOKEN_PATH,
        &[("OWL_ENCRYPTION_KEY", old.as_str())],
    )
    .await;
    mount_garmin(&f).await;
    connected(&f).await;
    assert_eq!(
        f.deliver(&headers(), ping(&f.fake.uri(), "cb-token")).await,
        200
    );
    assert_eq!(stashed(&f).await, 1);
    let payload = || async {
        let db = f.server.db.raw().await;
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT payload FROM webhook_item",
            ))
            .await
            .unwrap();
        let payload: String = rows[0].try_get_by_index(0).unwrap();
        base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap()
    };
    let before = payload().await;

    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_owl"))
        .current_dir(dir.path())
        .env_clear()
        .env("ENVIRONMENT", "test")
        .env("SECRET_KEY", "test-secret-key-that-is-long-enough-0123")
        .env("DATABASE_URL", &f.server.db.url)
        .env("OWL_ENCRYPTION_KEY", &new)
        .env("OWL_ENCRYPTION_KEY_PREVIOUS", &old)
        .args(["encryption", "rotate"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("re-encrypted 1 webhook items; 0 already"),
        "{stdout}"
    );

    let cipher = |k: &str| {
        let bytes = base64::engine::general_purpose::STANDARD.decode(k).unwrap();
        owl_server::crypto::Cipher::new(secrecy::SecretSlice::from(bytes)).unwrap()
    };
    let after = payload().await;
    let plain = cipher(&new).decrypt(&after).unwrap();
    assert_eq!(plain, cipher(&old).decrypt(&before).unwrap());
    assert!(String::from_utf8_lossy(&plain).contains("cb-token"));
    assert!(cipher(&old).decrypt(&after).is_err());
}
