//! Strava (API v3) end to end, against a local fake Strava (wiremock) serving the OAuth token
//! endpoint and the data API from `fixtures/strava/`: the connect flow, encrypted tokens,
//! paged sync of activities, rotating refresh tokens, failures of every kind, deauthorization
//! on delete, the webhook subscription challenge and events.
#![allow(clippy::unwrap_used)]

mod common;

use common::{APP_REDIRECT, TestServer};
use owl::{Client, pb};
use sea_orm::{ConnectionTrait, Statement};
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VERIFY_TOKEN: &str = "verify-7781-strava";
const ACCESS_TOKEN: &str = "strava-access-a4b945";
const REFRESH_TOKEN: &str = "strava-refresh-e5n567";
const ROTATED_ACCESS: &str = "strava-access-rotated-77c1";
const ROTATED_REFRESH: &str = "strava-refresh-rotated-91d2";
const ATHLETE: &str = "134815";
/// The newest activity start of the fixtures, 2026-11-21T17:30:00Z.
const NEWEST: i64 = 1_795_282_200;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/strava/{name}",
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

/// A server configured for a fake Strava, with the token endpoint's code exchange mounted.
async fn flow() -> Flow {
    let fake = MockServer::start().await;
    let uri = fake.uri();
    let mut vars: Vec<(&str, String)> = vec![
        ("STRAVA_CLIENT_ID", "strava-client".to_owned()),
        ("STRAVA_CLIENT_SECRET", "strava-secret".to_owned()),
        ("STRAVA_AUTH_BASE_URL", uri.clone()),
        ("STRAVA_API_BASE_URL", uri.clone()),
        ("STRAVA_WEBHOOK_VERIFY_TOKEN", VERIFY_TOKEN.to_owned()),
        ("STRAVA_EVENTS_PER_PAGE", "2".to_owned()),
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
    // Client credentials in the form body.
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=strava-code"))
        .and(body_string_contains("client_id=strava-client"))
        .and(body_string_contains("client_secret=strava-secret"))
        .respond_with(json("token.json"))
        .mount(&fake)
        .await;
    Flow {
        server,
        fake,
        backend,
        user,
    }
}

impl Flow {
    /// The `after` of the backfill: 90 days before the test clock.
    fn backfill_after(&self) -> String {
        (self.server.clock_now() - 90 * 86_400).to_string()
    }

    /// Mounts the activity list for `token`: two pages after the backfill start, nothing after
    /// the newest activity.
    async fn serve_activities(&self, token: &str) {
        let bearer = format!("Bearer {token}");
        for (after, page, file) in [
            (self.backfill_after(), "1", Some("activities_page1.json")),
            (self.backfill_after(), "2", Some("activities_page2.json")),
            (NEWEST.to_string(), "1", None),
        ] {
            let response = match file {
                Some(file) => json(file),
                None => ResponseTemplate::new(200).set_body_raw("[]", "application/json"),
            };
            Mock::given(method("GET"))
                .and(path("/api/v3/athlete/activities"))
                .and(query_param("after", after.as_str()))
                .and(query_param("page", page))
                .and(query_param("per_page", "2"))
                .and(header("authorization", bearer.as_str()))
                .respond_with(response)
                .with_priority(10)
                .mount(&self.fake)
                .await;
        }
    }

    /// Connects the user through the consent URL and owl's callback; returns the connection name.
    async fn connect(&self) -> String {
        let started = self
            .backend
            .start_connection(pb::StartConnectionRequest {
                parent: self.user.name.clone(),
                provider: "strava".into(),
                redirect_uri: APP_REDIRECT.into(),
            })
            .await
            .unwrap();
        let consent = url::Url::parse(&started.authorization_url).unwrap();
        assert_eq!(
            consent.as_str().split('?').next().unwrap(),
            format!("{}/oauth/authorize", self.fake.uri())
        );
        assert_eq!(
            query(&consent, "client_id").as_deref(),
            Some("strava-client")
        );
        assert_eq!(query(&consent, "response_type").as_deref(), Some("code"));
        assert_eq!(
            query(&consent, "scope").as_deref(),
            Some("activity:read_all,profile:read_all"),
            "Strava's scopes are comma-separated"
        );
        assert_eq!(
            query(&consent, "redirect_uri"),
            Some(format!("{}/api/v1/oauth/strava/callback", self.server.url))
        );
        let state = query(&consent, "state").unwrap();
        assert!(state.len() >= 32);
        let response = browser()
            .get(format!(
                "{}/api/v1/oauth/strava/callback?state={state}&code=strava-code&scope=read,activity:read_all,profile:read_all",
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
        let mut workouts = self
            .backend
            .list_workouts(pb::ListWorkoutsRequest {
                parent: self.user.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .workouts;
        workouts.sort_by_key(|w| time_ms(&w.start_time));
        workouts
    }

    async fn stored_tokens(&self) -> (Vec<u8>, Vec<u8>) {
        let db = self.server.db.raw().await;
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT access_token, refresh_token FROM user_connection",
            ))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        (
            rows[0].try_get_by_index(0).unwrap(),
            rows[0].try_get_by_index(1).unwrap(),
        )
    }

    async fn event(&self, body: &[u8], token: Option<&str>) -> u16 {
        let mut url = format!("{}/api/v1/providers/strava/webhooks", self.server.url);
        if let Some(token) = token {
            url.push_str(&format!("?token={token}"));
        }
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
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
async fn connecting_strava_names_the_athlete_from_the_token_response_and_stores_tokens_only_encrypted()
 {
    let f = flow().await;
    let name = f.connect().await;
    let connection = f.connection(&name).await;
    assert_eq!(connection.provider, "strava");
    assert_eq!(connection.state, pb::ConnectionState::Active as i32);
    assert_eq!(connection.provider_user_id, ATHLETE);
    let asked_athlete = f
        .fake
        .received_requests()
        .await
        .unwrap()
        .iter()
        .any(|r| r.url.path() == "/api/v3/athlete");
    assert!(!asked_athlete, "the token response names the athlete");
    let (access, refresh) = f.stored_tokens().await;
    for (token, stored) in [(ACCESS_TOKEN, &access), (REFRESH_TOKEN, &refresh)] {
        assert!(!contains(stored, token), "{token} stored in plaintext");
        assert!(!String::from_utf8_lossy(stored).contains("strava-"));
        assert!(stored.len() > token.len());
    }
}

#[tokio::test]
async fn a_strava_sync_pages_through_activities_into_workouts_and_a_resync_changes_nothing() {
    let f = flow().await;
    f.serve_activities(ACCESS_TOKEN).await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let name = f.connect().await;
    let run = f.finished_run().await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(run.source, pb::SyncSource::Backfill as i32);
    assert_eq!(run.items_processed, 3, "{run:?}");

    let workouts = f.workouts().await;
    let types: Vec<_> = workouts.iter().map(|w| w.workout_type.as_str()).collect();
    assert_eq!(
        types,
        ["running", "cycling", "other"],
        "GravelRide is cycling"
    );
    let run = &workouts[0];
    assert_eq!(time_ms(&run.start_time), ms("2026-11-18T06:45:02Z"));
    assert_eq!(
        time_ms(&run.end_time),
        ms("2026-11-18T06:45:02Z") + 3305 * 1000,
        "elapsed time"
    );
    assert_eq!(run.zone_offset, 3600, "utc_offset, not start_date_local");
    assert_eq!(run.distance_meters, Some(10012.4));
    assert_eq!(run.heart_rate_avg, Some(148.3));
    assert_eq!(run.heart_rate_max, Some(176.0));
    assert_eq!(run.elevation_gain_meters, Some(82.0));
    assert_eq!(run.moving_seconds, Some(3120), "moving_time");
    assert_eq!(run.active_energy_kcal, None, "kilojoules: null");
    let ride = &workouts[1];
    assert_eq!(ride.moving_seconds, Some(6400));
    assert_eq!(ride.active_energy_kcal, Some(1167.4));
    assert_eq!(ride.distance_meters, Some(42350.0));
    assert_eq!(workouts[2].heart_rate_avg, None);

    let sources = f
        .backend
        .list_data_sources(pb::ListDataSourcesRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .data_sources;
    let mut models: Vec<_> = sources.iter().map(|s| s.device_model.as_str()).collect();
    models.sort();
    assert_eq!(models, ["", "Garmin Forerunner 265", "Wahoo ELEMNT BOLT"]);
    assert!(
        sources
            .iter()
            .all(|s| s.provider == "strava" && s.app_name == "Strava")
    );

    // Again: the sweep continues after the newest activity and finds nothing.
    let again = f.sync(&name).await;
    assert_eq!(again.state, pb::SyncState::Succeeded as i32, "{again:?}");
    assert_eq!(again.items_processed, 0);
    assert_eq!(f.workouts().await.len(), 3);
    let pages: Vec<String> = f
        .fake
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/api/v3/athlete/activities")
        .map(|r| r.url.query().unwrap_or_default().to_owned())
        .collect();
    let after = f.backfill_after();
    assert_eq!(
        pages,
        [
            format!("after={after}&page=1&per_page=2"),
            format!("after={after}&page=2&per_page=2"),
            format!("after={NEWEST}&page=1&per_page=2"),
        ]
    );
    worker.abort();
}

#[tokio::test]
async fn strava_rate_limits_and_outages_fail_the_run_lose_nothing_and_keep_the_connection_active() {
    let f = flow().await;
    f.serve_activities(ACCESS_TOKEN).await;
    // A 429 storm, with Strava's usage headers and no Retry-After.
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-RateLimit-Limit", "200,2000")
                .insert_header("X-RateLimit-Usage", "201,1200")
                .set_body_raw(
                    r#"{"message":"Rate Limit Exceeded","errors":[{"resource":"Application","field":"rate limit","code":"exceeded"}]}"#,
                    "application/json",
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&f.fake)
        .await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let name = f.connect().await;
    let limited = f.finished_run().await;
    assert_eq!(limited.state, pb::SyncState::Failed as i32, "{limited:?}");
    assert_eq!(limited.attempts, 2, "{limited:?}");
    // The retry waits with every worker for Strava's next 15-minute window.
    assert!(
        limited.error.contains("Strava asked owl to wait until"),
        "{limited:?}"
    );
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );

    // In the next window, the second page fails with 503 on every attempt: the first is kept.
    f.server.clock.advance(chrono::Duration::minutes(16));
    f.serve_activities(ACCESS_TOKEN).await;
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(503))
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
    assert_eq!(f.workouts().await.len(), 2, "the first page was stored");

    // The next sync continues at page 2, and nothing is missing or doubled.
    let ok = f.sync(&name).await;
    assert_eq!(ok.state, pb::SyncState::Succeeded as i32, "{ok:?}");
    assert_eq!(f.workouts().await.len(), 3);
    worker.abort();
}

#[tokio::test]
async fn a_strava_run_fails_on_malformed_json_and_the_connection_stays_active() {
    let f = flow().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"[{"id": 1, "start_date": "yesterday"}]"#,
            "application/json",
        ))
        .mount(&f.fake)
        .await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let name = f.connect().await;
    let run = f.finished_run().await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    assert!(run.error.contains("cannot read"), "{run:?}");
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
    assert!(f.workouts().await.is_empty());
    worker.abort();
}

#[tokio::test]
async fn a_refused_strava_token_is_refreshed_and_the_rotated_tokens_replace_the_old() {
    let f = flow().await;
    f.serve_activities(ROTATED_ACCESS).await;
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .and(header("authorization", format!("Bearer {ACCESS_TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            r#"{"message":"Authorization Error","errors":[{"resource":"Athlete","field":"access_token","code":"invalid"}]}"#,
            "application/json",
        ))
        .mount(&f.fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains(format!(
            "refresh_token={REFRESH_TOKEN}"
        )))
        .and(body_string_contains("client_secret=strava-secret"))
        .respond_with(json("refreshed.json"))
        .expect(1)
        .mount(&f.fake)
        .await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let name = f.connect().await;
    let run = f.finished_run().await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(f.workouts().await.len(), 3);
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
    let (access, refresh) = f.stored_tokens().await;
    assert!(!contains(&access, ROTATED_ACCESS) && !contains(&refresh, ROTATED_REFRESH));
    // The rotated tokens are the ones in use: a second sync needs no refresh.
    let again = f.sync(&name).await;
    assert_eq!(again.state, pb::SyncState::Succeeded as i32, "{again:?}");
    f.fake.verify().await;
    worker.abort();
}

#[tokio::test]
async fn a_refused_strava_refresh_expires_the_connection_with_the_reason() {
    let f = flow().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&f.fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            r#"{"error":"invalid_grant","error_description":"refresh token revoked"}"#,
            "application/json",
        ))
        .mount(&f.fake)
        .await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let name = f.connect().await;
    let run = f.finished_run().await;
    assert_eq!(run.state, pb::SyncState::Failed as i32, "{run:?}");
    let connection = f.connection(&name).await;
    assert_eq!(connection.state, pb::ConnectionState::Expired as i32);
    assert!(
        connection.state_reason.contains("refused the refresh")
            && connection.state_reason.contains("invalid_grant"),
        "{connection:?}"
    );
    worker.abort();
}

#[tokio::test]
async fn deleting_a_strava_connection_deauthorizes_at_strava() {
    let f = flow().await;
    Mock::given(method("POST"))
        .and(path("/oauth/deauthorize"))
        .and(body_string_contains(format!("access_token={ACCESS_TOKEN}")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!(r#"{{"access_token":"{ACCESS_TOKEN}"}}"#),
            "application/json",
        ))
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
async fn the_strava_subscription_challenge_is_answered_only_with_the_verify_token() {
    let f = flow().await;
    let challenge = |token: &str| {
        format!(
            "{}/api/v1/providers/strava/webhooks?hub.mode=subscribe&hub.challenge=15f7d1a91c1f40f8a748fd134752feb3&hub.verify_token={token}",
            f.server.url
        )
    };
    let answer = reqwest::get(challenge(VERIFY_TOKEN)).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"hub.challenge": "15f7d1a91c1f40f8a748fd134752feb3"})
    );
    let wrong = reqwest::get(challenge("guessed")).await.unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn a_strava_activity_event_syncs_the_connection_and_a_replay_is_harmless() {
    let f = flow().await;
    f.serve_activities(ACCESS_TOKEN).await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let name = f.connect().await;
    assert_eq!(
        f.finished_run().await.state,
        pb::SyncState::Succeeded as i32
    );
    let body = fixture("webhook_activity_create.json");
    assert_eq!(f.event(body.as_bytes(), Some(VERIFY_TOKEN)).await, 200);
    let run = f.finished_run().await;
    assert_eq!(run.source, pb::SyncSource::Webhook as i32, "{run:?}");
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(run.connection, name);
    // Strava retries deliveries: the same event again changes nothing.
    assert_eq!(f.event(body.as_bytes(), Some(VERIFY_TOKEN)).await, 200);
    let replay = f.finished_run().await;
    assert_eq!(replay.state, pb::SyncState::Succeeded as i32);
    assert_eq!(replay.items_processed, 0);
    assert_eq!(f.workouts().await.len(), 3);
    worker.abort();
}

#[tokio::test]
async fn a_strava_event_without_the_deployment_token_is_refused_and_changes_nothing() {
    let f = flow().await;
    let name = f.connect().await;
    let before = f.runs().await.len();
    for body in [
        fixture("webhook_activity_create.json"),
        fixture("webhook_deauthorize.json"),
    ] {
        assert_eq!(f.event(body.as_bytes(), None).await, 401);
        assert_eq!(f.event(body.as_bytes(), Some("guessed")).await, 401);
    }
    assert_eq!(f.runs().await.len(), before);
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
}

#[tokio::test]
async fn a_strava_event_for_an_unknown_athlete_is_accepted_and_does_nothing() {
    let f = flow().await;
    let name = f.connect().await;
    let before = f.runs().await.len();
    for body in [
        fixture("webhook_activity_create.json"),
        fixture("webhook_deauthorize.json"),
    ] {
        let stranger = body.replace(ATHLETE, "999");
        assert_eq!(f.event(stranger.as_bytes(), Some(VERIFY_TOKEN)).await, 200);
    }
    assert_eq!(f.runs().await.len(), before);
    assert_eq!(
        f.connection(&name).await.state,
        pb::ConnectionState::Active as i32
    );
}

#[tokio::test]
async fn an_oversized_strava_event_is_refused_with_413() {
    let f = flow().await;
    f.connect().await;
    let before = f.runs().await.len();
    let mut body = fixture("webhook_activity_create.json").into_bytes();
    body.resize(1024 * 1024 + 1, b' ');
    assert_eq!(f.event(&body, Some(VERIFY_TOKEN)).await, 413);
    assert_eq!(f.runs().await.len(), before);
}

#[tokio::test]
async fn a_strava_deauthorization_event_revokes_the_connection() {
    let f = flow().await;
    let name = f.connect().await;
    let body = fixture("webhook_deauthorize.json");
    assert_eq!(f.event(body.as_bytes(), Some(VERIFY_TOKEN)).await, 200);
    let connection = f.connection(&name).await;
    assert_eq!(connection.state, pb::ConnectionState::Revoked as i32);
    assert!(!connection.state_reason.is_empty());
    // A revoked connection does not sync.
    let refused = f
        .backend
        .sync_connection(pb::SyncConnectionRequest {
            name,
            backfill_range: None,
        })
        .await;
    let error = refused.unwrap_err();
    assert_eq!(error.code(), owl::Code::FailedPrecondition);
    assert_eq!(error.reason().as_deref(), Some("CONNECTION_NOT_ACTIVE"));
}

#[tokio::test]
async fn a_strava_sync_stops_paging_when_the_short_window_is_spent_and_the_next_continues() {
    let f = flow().await;
    f.serve_activities(ACCESS_TOKEN).await;
    // Page 1 reports the 15-minute read window used up.
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .and(query_param("page", "1"))
        .and(query_param("after", f.backfill_after().as_str()))
        .respond_with(
            json("activities_page1.json")
                .insert_header("X-ReadRateLimit-Limit", "100,1000")
                .insert_header("X-ReadRateLimit-Usage", "100,420"),
        )
        .with_priority(1)
        .mount(&f.fake)
        .await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let name = f.connect().await;
    let first = f.finished_run().await;
    assert_eq!(first.state, pb::SyncState::Succeeded as i32, "{first:?}");
    assert_eq!(
        f.workouts().await.len(),
        2,
        "page 2 waits for the next sync"
    );
    let next = f.sync(&name).await;
    assert_eq!(next.state, pb::SyncState::Succeeded as i32, "{next:?}");
    assert_eq!(next.items_processed, 1);
    assert_eq!(f.workouts().await.len(), 3);
    worker.abort();
}
