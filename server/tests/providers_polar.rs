//! Polar (AccessLink v3) end to end, against a local fake Polar (wiremock) serving the OAuth
//! token endpoint and the data API from `fixtures/polar/`: the connect flow with user
//! registration, encrypted tokens, sync into the health model, failures of every kind,
//! deregistration on delete, and signed webhooks.
#![allow(clippy::unwrap_used)]

mod common;

use common::{APP_REDIRECT, TestServer};
use hmac::{Hmac, Mac};
use owl::{Client, pb};
use sea_orm::{ConnectionTrait, Statement};
use wiremock::matchers::{
    body_partial_json, body_string_contains, header, method, path, path_regex,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const WEBHOOK_SECRET: &str = "4c1f7e2a-polar-signature-key";
const ACCESS_TOKEN: &str = "polar-access-7f3a9c2e";
const POLAR_USER: &str = "2278512";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/polar/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn json(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(name), "application/json")
}

/// An HTTP client that shows redirects instead of following them, as a test of a browser.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

struct Flow {
    server: TestServer,
    fake: MockServer,
    backend: Client,
    user: pb::User,
}

/// A server configured for a fake Polar, with the token endpoint and registration mounted.
async fn flow() -> Flow {
    let fake = MockServer::start().await;
    let uri = fake.uri();
    let mut vars: Vec<(&str, String)> = vec![
        ("POLAR_CLIENT_ID", "polar-client".to_owned()),
        ("POLAR_CLIENT_SECRET", "polar-secret".to_owned()),
        ("POLAR_AUTH_BASE_URL", uri.clone()),
        ("POLAR_API_BASE_URL", uri.clone()),
        ("POLAR_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ("OWL_JOB_MAX_ATTEMPTS", "2".to_owned()),
        ("OWL_JOB_RETRY_BASE_MS", "20".to_owned()),
    ];
    // The Redis queue too, when OWL_TEST_REDIS_URL names one (a key prefix per test).
    if let Some(redis) = std::env::var("OWL_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        vars.push(("REDIS_URL", redis));
        vars.push((
            "OWL_REDIS_KEY_PREFIX",
            format!("owl-prov-test:{}:", uuid::Uuid::now_v7().simple()),
        ));
    }
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = TestServer::start_with(&vars).await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    // HTTP Basic with the client credentials; the code from the consent page.
    Mock::given(method("POST"))
        .and(path("/v2/oauth2/token"))
        .and(header(
            "authorization",
            "Basic cG9sYXItY2xpZW50OnBvbGFyLXNlY3JldA==",
        ))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=polar-code"))
        .respond_with(json("token.json"))
        .mount(&fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/users"))
        .and(header(
            "authorization",
            format!("Bearer {ACCESS_TOKEN}").as_str(),
        ))
        .and(body_partial_json(
            serde_json::json!({"member-id": "owl-2278512"}),
        ))
        .respond_with(json("user.json"))
        .mount(&fake)
        .await;
    Flow {
        server,
        fake,
        backend,
        user,
    }
}

/// Mounts the data API serving the fixtures (at a lower priority than test-specific mocks).
async fn serve_data(fake: &MockServer) {
    for (route, file) in [
        ("/v3/exercises", "exercises.json"),
        ("/v3/users/sleep", "sleep.json"),
        ("/v3/users/nightly-recharge", "nightly_recharge.json"),
        ("/v3/users/activities", "activities.json"),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .and(header(
                "authorization",
                format!("Bearer {ACCESS_TOKEN}").as_str(),
            ))
            .respond_with(json(file))
            .with_priority(10)
            .mount(fake)
            .await;
    }
    // Continuous heart rate, one day per request: only 2026-11-21 has samples.
    Mock::given(method("GET"))
        .and(path_regex(
            r"^/v3/users/continuous-heart-rate/\d{4}-\d{2}-\d{2}$",
        ))
        .respond_with(ResponseTemplate::new(404))
        .with_priority(10)
        .mount(fake)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/users/continuous-heart-rate/2026-11-21"))
        .and(header(
            "authorization",
            format!("Bearer {ACCESS_TOKEN}").as_str(),
        ))
        .respond_with(json("continuous_heart_rate_2026-11-21.json"))
        .with_priority(5)
        .mount(fake)
        .await;
}

impl Flow {
    /// Connects the user through the consent URL and owl's callback; returns the connection name.
    async fn connect(&self) -> String {
        let started = self
            .backend
            .start_connection(pb::StartConnectionRequest {
                parent: self.user.name.clone(),
                provider: "polar".into(),
                redirect_uri: APP_REDIRECT.into(),
            })
            .await
            .unwrap();
        let consent = url::Url::parse(&started.authorization_url).unwrap();
        assert_eq!(
            consent.as_str().split('?').next().unwrap(),
            format!("{}/oauth2/authorization", self.fake.uri())
        );
        assert_eq!(
            query(&consent, "client_id").as_deref(),
            Some("polar-client")
        );
        assert_eq!(query(&consent, "response_type").as_deref(), Some("code"));
        assert_eq!(
            query(&consent, "scope").as_deref(),
            Some("accesslink.read_all")
        );
        assert_eq!(
            query(&consent, "redirect_uri"),
            Some(format!("{}/api/v1/oauth/polar/callback", self.server.url))
        );
        assert!(
            query(&consent, "code_challenge").is_none(),
            "Polar takes no PKCE"
        );
        let state = query(&consent, "state").unwrap();
        assert!(state.len() >= 32);
        // Polar sends the browser back with a code.
        let response = browser()
            .get(format!(
                "{}/api/v1/oauth/polar/callback?code=polar-code&state={state}",
                self.server.url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
        assert!(location.as_str().starts_with(APP_REDIRECT), "{location}");
        assert_eq!(
            query(&location, "status").as_deref(),
            Some("success"),
            "{location}"
        );
        query(&location, "connection").unwrap()
    }

    async fn connection(&self, name: &str) -> pb::Connection {
        self.backend
            .get_connection(pb::GetConnectionRequest { name: name.into() })
            .await
            .unwrap()
    }

    async fn runs(&self) -> Vec<pb::SyncRun> {
        self.backend
            .list_sync_runs(pb::ListSyncRunsRequest {
                parent: self.user.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .sync_runs
    }

    /// Waits until the user's newest sync run ends; returns it.
    async fn finished_run(&self) -> pb::SyncRun {
        for _ in 0..300 {
            if let Some(run) = self.runs().await.first()
                && [
                    pb::SyncState::Succeeded as i32,
                    pb::SyncState::Failed as i32,
                ]
                .contains(&run.state)
            {
                return run.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no sync run finished");
    }

    async fn sync(&self, name: &str) -> pb::SyncRun {
        self.backend
            .sync_connection(pb::SyncConnectionRequest {
                name: name.into(),
                backfill_range: None,
            })
            .await
            .unwrap();
        self.finished_run().await
    }

    async fn workouts(&self) -> Vec<pb::Workout> {
        self.backend
            .list_workouts(pb::ListWorkoutsRequest {
                parent: self.user.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .workouts
    }

    async fn samples(&self, series_type: &str) -> Vec<pb::SampleSeries> {
        self.backend
            .list_samples(pb::ListSamplesRequest {
                parent: self.user.name.clone(),
                series_types: vec![series_type.into()],
                ..Default::default()
            })
            .await
            .unwrap()
            .series
    }

    async fn sources(&self) -> Vec<pb::DataSource> {
        self.backend
            .list_data_sources(pb::ListDataSourcesRequest {
                parent: self.user.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .data_sources
    }

    async fn webhook(&self, body: &[u8], signature: Option<&str>) -> u16 {
        let mut request = reqwest::Client::new()
            .post(format!(
                "{}/api/v1/providers/polar/webhooks",
                self.server.url
            ))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("Polar-Webhook-Signature", signature);
        }
        request.send().await.unwrap().status().as_u16()
    }
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

fn time_ms(t: &Option<prost_types::Timestamp>) -> i64 {
    let t = t.as_ref().unwrap();
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

#[tokio::test]
async fn connecting_polar_registers_the_user_and_stores_the_token_only_encrypted() {
    let f = flow().await;
    let name = f.connect().await;
    let connection = f.connection(&name).await;
    assert_eq!(connection.provider, "polar");
    assert_eq!(connection.state, pb::ConnectionState::Active as i32);
    assert_eq!(connection.provider_user_id, POLAR_USER);
    let registrations = f
        .fake
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v3/users" && r.method.as_str() == "POST")
        .count();
    assert_eq!(
        registrations, 1,
        "the user is registered after the token exchange"
    );

    let db = f.server.db.raw().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT access_token, refresh_token FROM user_connection",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let access: Vec<u8> = rows[0].try_get_by_index(0).unwrap();
    let refresh: Option<Vec<u8>> = rows[0].try_get_by_index(1).unwrap();
    assert!(refresh.is_none(), "Polar issues no refresh token");
    assert!(access.len() > ACCESS_TOKEN.len());
    assert!(
        !access
            .windows(ACCESS_TOKEN.len())
            .any(|w| w == ACCESS_TOKEN.as_bytes()),
        "the access token is stored in plaintext"
    );
    assert!(!String::from_utf8_lossy(&access).contains("polar-access"));

    // Registering again at a reconnect answers 409, which is no failure.
    Mock::given(method("POST"))
        .and(path("/v3/users"))
        .respond_with(ResponseTemplate::new(409))
        .with_priority(1)
        .mount(&f.fake)
        .await;
    assert_eq!(f.connect().await, name);
}

#[tokio::test]
async fn a_polar_sync_normalizes_workouts_sleep_recharge_and_daily_activity_and_a_resync_changes_nothing()
 {
    let f = flow().await;
    serve_data(&f.fake).await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let name = f.connect().await;
    let run = f.finished_run().await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(run.source, pb::SyncSource::Backfill as i32);
    assert!(run.items_processed > 0);

    // Workouts: types mapped from (sport, detailed_sport_info), local start times placed
    // with start_time_utc_offset (minutes), durations read from ISO 8601.
    let mut workouts = f.workouts().await;
    workouts.sort_by_key(|w| time_ms(&w.start_time));
    let types: Vec<_> = workouts.iter().map(|w| w.workout_type.as_str()).collect();
    assert_eq!(types, ["running", "rowing_machine", "other"]);
    let run = &workouts[0];
    assert_eq!(time_ms(&run.start_time), ms("2026-11-20T16:05:00Z"));
    assert_eq!(time_ms(&run.end_time), ms("2026-11-20T16:57:30Z"));
    assert_eq!(run.zone_offset, 3600);
    assert_eq!(run.distance_meters, Some(10150.0));
    assert_eq!(run.active_energy_kcal, Some(612.0));
    assert_eq!(run.heart_rate_avg, Some(148.0));
    assert_eq!(run.heart_rate_max, Some(176.0));
    assert_eq!(workouts[1].distance_meters, None);

    // Sources: the exercise devices by model and kind, and the wrist device's 24/7 data.
    let sources = f.sources().await;
    let kind = |model: &str| {
        sources
            .iter()
            .find(|s| s.device_model == model)
            .map(|s| (s.provider.clone(), s.device_type, s.app_name.clone()))
    };
    assert_eq!(
        kind("Polar Vantage V3"),
        Some((
            "polar".into(),
            pb::DeviceType::Watch as i32,
            "Polar Flow".into()
        ))
    );
    assert_eq!(
        kind("Polar H10").map(|k| k.1),
        Some(pb::DeviceType::ChestStrap as i32)
    );
    assert!(sources.iter().all(|s| s.provider == "polar"));

    // The night: offset from sleep_start_time, stages from the hypnogram rolled past
    // midnight, the unknown stage (code 5) left out.
    let nights = f
        .backend
        .list_sleep_sessions(pb::ListSleepSessionsRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .sleep_sessions;
    assert_eq!(nights.len(), 1);
    let night = &nights[0];
    let start = ms("2026-11-20T23:41:07+01:00");
    assert_eq!(time_ms(&night.start_time), start);
    assert_eq!(time_ms(&night.end_time), ms("2026-11-21T07:19:37+01:00"));
    assert_eq!(night.zone_offset, 3600);
    assert_eq!(night.efficiency_percent, Some(94.9));
    use pb::SleepStage::{Awake, Deep, Light, Rem};
    let stages: Vec<(i32, i64, i64)> = night
        .stages
        .iter()
        .map(|s| (s.stage, time_ms(&s.start_time), time_ms(&s.end_time)))
        .collect();
    let at = |local: &str| ms(local);
    assert_eq!(
        stages[0],
        (Light as i32, start, at("2026-11-20T23:55:00+01:00"))
    );
    assert_eq!(
        stages[2],
        (
            Deep as i32,
            at("2026-11-21T00:32:00+01:00"),
            at("2026-11-21T01:10:00+01:00")
        )
    );
    assert!(stages.iter().any(|s| s.0 == Rem as i32) && stages.iter().any(|s| s.0 == Awake as i32));
    assert!(
        !stages
            .iter()
            .any(|s| s.1 < at("2026-11-21T03:20:00+01:00") && s.2 > at("2026-11-21T03:00:00+01:00")),
        "the unknown stage is no stage: {stages:?}"
    );

    // Heart rate: the exercise's 5-second samples ("null" skipped); on the wrist device, the
    // night's samples and the day's continuous heart rate (device-local times, placed with
    // the newest offset seen).
    let heart = f.samples("heart_rate").await;
    assert_eq!(heart.len(), 2, "one series per source");
    assert!(heart.iter().all(|s| s.unit == "bpm"));
    let exercise = heart.iter().find(|s| s.values.len() == 5).unwrap();
    assert_eq!(exercise.values, [92.0, 101.0, 118.0, 131.0, 140.0]);
    assert_eq!(exercise.times[0], ms("2026-11-20T16:05:00Z"));
    assert_eq!(exercise.times[4], ms("2026-11-20T16:05:25Z"));
    let wrist = heart.iter().find(|s| s.values.len() == 7).unwrap();
    assert_eq!(wrist.values, [62.0, 60.0, 58.0, 57.0, 71.0, 74.0, 69.0]);
    assert_eq!(wrist.times[3], ms("2026-11-21T00:00:00+01:00"));
    assert_eq!(wrist.times[4], ms("2026-11-21T12:00:08+01:00"));
    assert!(
        heart
            .iter()
            .all(|s| s.zone_offsets.iter().all(|&o| o == 3600))
    );
    let days_asked = f
        .fake
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().starts_with("/v3/users/continuous-heart-rate/"))
        .count();
    assert_eq!(
        days_asked, 7,
        "a backfill reads the last week of continuous heart rate"
    );

    // Nightly Recharge: HRV (RMSSD, ms) and breathing rate anchored on the night.
    let hrv = f.samples("heart_rate_variability_rmssd").await;
    assert_eq!(hrv[0].unit, "ms");
    assert_eq!(hrv[0].values, [38.0, 41.0, 44.0]);
    assert_eq!(hrv[0].times[2], ms("2026-11-21T00:01:00+01:00"));
    let breathing = f.samples("respiratory_rate").await;
    assert_eq!(breathing[0].unit, "breaths/min");
    assert_eq!(breathing[0].values, [14.6, 14.1]);

    // Daily activity: a total per local day, at local midnight of the newest offset seen.
    let steps = f.samples("steps").await;
    assert_eq!(steps[0].unit, "count");
    assert_eq!(steps[0].values, [8823.0, 10412.0]);
    assert_eq!(steps[0].times[0], ms("2026-11-20T00:00:00+01:00"));
    assert_eq!(steps[0].zone_offsets, [3600, 3600]);
    assert_eq!(f.samples("energy").await[0].values, [1500.0, 980.0]);
    assert_eq!(f.samples("basal_energy").await[0].values, [1000.0, 1230.0]);
    assert_eq!(
        f.samples("distance_walking_running").await[0].values,
        [4590.53, 6120.0]
    );

    // The window asked for is Polar's 28 days before the test clock.
    let asked = f
        .fake
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/v3/users/activities")
        .unwrap();
    assert_eq!(
        asked.url.query(),
        Some("from=2026-10-26&to=2026-11-22"),
        "{}",
        asked.url
    );

    // Again: Polar serves the same lists, and nothing changes.
    let again = f.sync(&name).await;
    assert_eq!(again.state, pb::SyncState::Succeeded as i32, "{again:?}");
    assert_eq!(again.items_processed, 0, "{again:?}");
    assert_eq!(f.workouts().await.len(), 3);
    let connection = f.connection(&name).await;
    assert!(connection.last_sync_time.is_some());
    worker.abort();
}

#[tokio::test]
async fn polar_rate_limits_and_outages_fail_the_run_lose_nothing_and_keep_the_connection_active() {
    let f = flow().await;
    serve_data(&f.fake).await;
    // Every attempt of the first sync meets a 429 storm.
    Mock::given(method("GET"))
        .and(path("/v3/exercises"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.fake)
        .await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let name = f.connect().await;
    let limited = f.finished_run().await;
    assert_eq!(limited.state, pb::SyncState::Failed as i32, "{limited:?}");
    assert_eq!(limited.attempts, 2, "retried: {limited:?}");
    // The retry honours Retry-After: every worker holds off Polar for its 120 s.
    assert!(
        limited
            .error
            .contains("Polar asked owl to wait until 2026-11-22 12:02:00"),
        "Retry-After is kept: {limited:?}"
    );
    let asked = f.fake.received_requests().await.unwrap_or_default();
    let exercises = asked
        .iter()
        .filter(|r| r.url.path() == "/v3/exercises")
        .count();
    assert_eq!(exercises, 1, "no call while paused");
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );

    // Then, its 120 s later, Polar fails with 500 on every attempt.
    f.server.clock.advance(chrono::Duration::seconds(121));
    Mock::given(method("GET"))
        .and(path("/v3/users/sleep"))
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
    assert!(f.workouts().await.is_empty(), "nothing half-stored");

    // Once Polar answers, everything arrives.
    let ok = f.sync(&name).await;
    assert_eq!(ok.state, pb::SyncState::Succeeded as i32, "{ok:?}");
    assert_eq!(f.workouts().await.len(), 3);
    assert_eq!(f.samples("steps").await[0].values.len(), 2);
    worker.abort();
}

#[tokio::test]
async fn a_polar_run_fails_on_malformed_json_and_the_connection_stays_active() {
    let f = flow().await;
    serve_data(&f.fake).await;
    Mock::given(method("GET"))
        .and(path("/v3/users/sleep"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("{\"nights\": [ {", "application/json"),
        )
        .with_priority(1)
        .mount(&f.fake)
        .await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let name = f.connect().await;
    let run = f.finished_run().await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    assert!(run.error.contains("cannot read"), "{run:?}");
    let connection = f.connection(&name).await;
    assert_eq!(connection.state, pb::ConnectionState::Active as i32);
    assert!(
        f.workouts().await.is_empty(),
        "a page is stored whole or not at all"
    );
    worker.abort();
}

#[tokio::test]
async fn a_token_polar_refuses_expires_the_connection_since_there_is_no_refresh_token() {
    let f = flow().await;
    Mock::given(method("GET"))
        .and(path("/v3/exercises"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&f.fake)
        .await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let name = f.connect().await;
    let run = f.finished_run().await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    let connection = f.connection(&name).await;
    assert_eq!(connection.state, pb::ConnectionState::Expired as i32);
    assert!(
        connection.state_reason.contains("no refresh token"),
        "{connection:?}"
    );
    worker.abort();
}

#[tokio::test]
async fn deleting_a_polar_connection_deregisters_the_user_at_polar() {
    let f = flow().await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v3/users/{POLAR_USER}")))
        .and(header(
            "authorization",
            format!("Bearer {ACCESS_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(204))
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
    let gone = f
        .backend
        .get_connection(pb::GetConnectionRequest { name })
        .await;
    assert_eq!(gone.unwrap_err().code(), owl::Code::NotFound);
    f.fake.verify().await;
}

#[tokio::test]
async fn a_signed_polar_webhook_syncs_the_connection_and_a_replay_is_harmless() {
    let f = flow().await;
    serve_data(&f.fake).await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let name = f.connect().await;
    assert_eq!(
        f.finished_run().await.state,
        pb::SyncState::Succeeded as i32
    );

    let body = fixture("webhook_exercise.json");
    assert_eq!(
        f.webhook(body.as_bytes(), Some(&sign(body.as_bytes())))
            .await,
        200
    );
    let run = f.finished_run().await;
    assert_eq!(run.source, pb::SyncSource::Webhook as i32, "{run:?}");
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(run.connection, name);

    // The same delivery again (uppercase hex is the same signature): accepted, nothing new.
    let signature = sign(body.as_bytes()).to_uppercase();
    assert_eq!(f.webhook(body.as_bytes(), Some(&signature)).await, 200);
    let replay = f.finished_run().await;
    assert_eq!(replay.state, pb::SyncState::Succeeded as i32);
    assert_eq!(replay.items_processed, 0);
    assert_eq!(f.workouts().await.len(), 3);
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
    worker.abort();
}

#[tokio::test]
async fn a_polar_webhook_with_a_bad_or_missing_signature_is_refused_and_changes_nothing() {
    let f = flow().await;
    let name = f.connect().await;
    let before = f.runs().await.len();
    let body = fixture("webhook_exercise.json");
    let forged = body.replace("9QZ41BB", "FORGED1");
    assert_eq!(
        f.webhook(forged.as_bytes(), Some(&sign(body.as_bytes())))
            .await,
        401
    );
    assert_eq!(f.webhook(body.as_bytes(), Some("not-hex")).await, 401);
    assert_eq!(f.webhook(body.as_bytes(), None).await, 401);
    assert_eq!(f.runs().await.len(), before, "no sync was enqueued");
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
    // Polar's PING at webhook creation may come unsigned: answered 200, nothing else.
    let ping = fixture("webhook_ping.json");
    assert_eq!(f.webhook(ping.as_bytes(), None).await, 200);
    assert_eq!(f.runs().await.len(), before);
}

#[tokio::test]
async fn a_polar_webhook_for_an_unknown_user_is_accepted_and_does_nothing() {
    let f = flow().await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let name = f.connect().await;
    f.finished_run().await;
    let before = f.runs().await.len();
    let body = fixture("webhook_exercise.json").replace(POLAR_USER, "999");
    assert_eq!(
        f.webhook(body.as_bytes(), Some(&sign(body.as_bytes())))
            .await,
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(f.runs().await.len(), before);
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
    worker.abort();
}

#[tokio::test]
async fn an_oversized_polar_webhook_is_refused_with_413() {
    let f = flow().await;
    f.connect().await;
    let before = f.runs().await.len();
    let mut body = fixture("webhook_exercise.json").into_bytes();
    body.resize(1024 * 1024 + 1, b' ');
    assert_eq!(f.webhook(&body, Some(&sign(&body))).await, 413);
    assert_eq!(f.runs().await.len(), before);
}
