//! Retry timing and dedup keys of background work: a provider's 429 with Retry-After holds the
//! retry back until then; a job gives its dedup key up when it starts, so a webhook arriving
//! while its connection's sync runs makes one follow-up sync (and a waiting sync is still not
//! doubled).
//!
//! Every test runs on the embedded queue, and on Redis too when OWL_TEST_REDIS_URL is set
//! (each with its own key prefix).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod provider_flow;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use owl::pb;
use owl_server::domain::clock::SystemClock;
use owl_server::jobs::{Enqueued, Jobs, JobsSettings, Nacked, NewJob, QueueSettings};
use owl_server::store::connect;
use provider_flow::{CLIENT_SECRET, Flow, fixture};
use sha2::Sha256;
use uuid::Uuid;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, Respond, ResponseTemplate};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// `None` for the embedded queue, and a Redis URL with a fresh key prefix when
/// OWL_TEST_REDIS_URL is set.
fn backends() -> Vec<Option<(String, String)>> {
    let mut all = vec![None];
    if let Some(url) = common::redis_url() {
        all.push(Some((
            url,
            format!("owl-retry-test:{}:", Uuid::now_v7().simple()),
        )));
    }
    all
}

fn redis_pool(url: &str) -> deadpool_redis::Pool {
    deadpool_redis::Config::from_url(url)
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap()
}

/// Removes the keys under a test's Redis prefix.
async fn cleanup(redis: &Option<(String, String)>) {
    if let Some((url, prefix)) = redis {
        common::remove_redis_keys(url, prefix).await;
    }
}

/// Background work of one more process on `db_url` (and Redis when given).
async fn jobs_on(db_url: &str, redis: &Option<(String, String)>, queue: QueueSettings) -> Jobs {
    let store = Arc::new(connect(db_url).await.unwrap());
    store.migrate().await.unwrap();
    let settings = JobsSettings {
        queue,
        worker: Default::default(),
        sync_interval: Duration::from_secs(3600),
    };
    match redis {
        None => Jobs::embedded(store, Arc::new(SystemClock), settings),
        Some((url, prefix)) => Jobs::redis(
            redis_pool(url),
            url,
            prefix,
            store,
            Arc::new(SystemClock),
            settings,
        ),
    }
}

const TOKEN_PATH: &str = "/oauth/token";
const WORKOUT: &str = "/v2/usercollection/workout";
/// The collections an Oura sync reads besides workouts.
const OTHERS: [(&str, &str); 4] = [
    ("/v2/usercollection/sleep", "sleep.json"),
    ("/v2/usercollection/daily_activity", "daily_activity.json"),
    ("/v2/usercollection/daily_readiness", "daily_readiness.json"),
    ("/v2/usercollection/heartrate", "heartrate.json"),
];

/// owl against a fake Oura, on the embedded queue or on Redis, with `extra` configuration.
async fn oura(redis: &Option<(String, String)>, extra: &[(&str, &str)]) -> Flow {
    let mut vars: Vec<(&str, &str)> = vec![("OURA_WEBHOOK_VERIFICATION_TOKEN", "owl-oura")];
    if let Some((url, prefix)) = redis {
        vars.push(("REDIS_URL", url));
        vars.push(("OWL_REDIS_KEY_PREFIX", prefix));
    }
    vars.extend_from_slice(extra);
    Flow::start("oura", TOKEN_PATH, &vars).await
}

/// Mounts the exchange, `personal_info`, the second workout page and every other collection;
/// the first workout page is the test's.
async fn mount_oura(f: &Flow, workouts: impl Respond + 'static) {
    f.mount_exchange().await;
    let bearer = "Bearer access-1";
    Mock::given(method("GET"))
        .and(path("/v2/usercollection/personal_info"))
        .and(header("authorization", bearer))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("oura", "personal_info.json")),
        )
        .mount(&f.fake)
        .await;
    Mock::given(method("GET"))
        .and(path(WORKOUT))
        .and(query_param("next_token", "wk-page-2"))
        .and(header("authorization", bearer))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("oura", "workout_page2.json")),
        )
        .with_priority(1)
        .mount(&f.fake)
        .await;
    Mock::given(method("GET"))
        .and(path(WORKOUT))
        .and(header("authorization", bearer))
        .respond_with(workouts)
        .mount(&f.fake)
        .await;
    for (at, file) in OTHERS {
        Mock::given(method("GET"))
            .and(path(at))
            .and(header("authorization", bearer))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("oura", file)))
            .mount(&f.fake)
            .await;
    }
}

/// The first workout page: 429 with `Retry-After: 2` the first time, the fixture afterwards.
/// Records when each request arrived.
struct LimitedOnce {
    calls: Arc<Mutex<Vec<Instant>>>,
}

impl Respond for LimitedOnce {
    fn respond(&self, _request: &wiremock::Request) -> ResponseTemplate {
        let mut calls = self.calls.lock().unwrap();
        calls.push(Instant::now());
        if calls.len() == 1 {
            ResponseTemplate::new(429).insert_header("retry-after", "2")
        } else {
            ResponseTemplate::new(200).set_body_json(fixture("oura", "workout.json"))
        }
    }
}

/// Polls `f`'s runs every 25 ms until one satisfies `test`; panics after 10 s naming `what`.
async fn run_where(f: &Flow, what: &str, test: impl Fn(&pb::SyncRun) -> bool) -> pb::SyncRun {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let runs = f.runs().await;
        if let Some(run) = runs.iter().find(|r| test(r)) {
            return run.clone();
        }
        assert!(Instant::now() < deadline, "no run {what}: {runs:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Retry-After
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_failure_asking_to_wait_is_not_delivered_again_before_then() {
    for redis in backends() {
        let db = common::TestDb::new().await;
        let settings = QueueSettings {
            visibility_timeout: Duration::from_secs(30),
            max_attempts: 5,
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_secs(60),
        };
        let jobs = jobs_on(&db.url, &redis, settings).await;
        let queue = jobs.queue.clone();
        let id = queue.enqueue(NewJob::new("test", "x")).await.unwrap().id();
        let first = queue.reserve("w", 1, Duration::ZERO).await.unwrap();
        let nacked = queue
            .nack(&first[0], "rate limited", Some(Duration::from_millis(900)))
            .await
            .unwrap();
        let failed_at = Instant::now();
        let Nacked::Retry(delay) = nacked else {
            panic!("expected a retry, got {nacked:?} on {redis:?}");
        };
        assert!(
            delay >= Duration::from_millis(900) && delay <= Duration::from_millis(990),
            "the wait plus at most a tenth of jitter: {delay:?}"
        );
        let again = loop {
            let got = queue
                .reserve("w", 1, Duration::from_millis(100))
                .await
                .unwrap();
            if let Some(d) = got.into_iter().next() {
                break d;
            }
            assert!(failed_at.elapsed() < Duration::from_secs(5), "{redis:?}");
        };
        assert_eq!((again.id, again.attempt), (id, 2), "{redis:?}");
        assert!(
            failed_at.elapsed() >= Duration::from_millis(880),
            "delivered again after {:?} on {redis:?}",
            failed_at.elapsed()
        );
        queue.ack(&again).await.unwrap();
        cleanup(&redis).await;
    }
}

#[tokio::test]
async fn a_provider_429_with_retry_after_is_retried_no_earlier_than_it_asked() {
    for redis in backends() {
        let f = oura(
            &redis,
            &[
                ("OWL_JOB_MAX_ATTEMPTS", "3"),
                ("OWL_JOB_RETRY_MAX_MS", "60000"),
            ],
        )
        .await;
        let calls = Arc::new(Mutex::new(Vec::new()));
        mount_oura(
            &f,
            LimitedOnce {
                calls: calls.clone(),
            },
        )
        .await;
        let _worker = f.worker();
        f.connect().await;
        let failed = run_where(&f, "retrying after the 429", |r| r.stage == "retrying").await;
        assert!(
            failed.error.contains("rate limited by oura"),
            "{failed:?} on {redis:?}"
        );
        // The provider's 2 s pass on owl's clock too (its limiter holds Oura off until then).
        f.server.clock.advance(chrono::Duration::minutes(1));
        let run = f.finished(Some(&failed.name)).await;
        assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
        assert_eq!(run.attempts, 2, "one retry: {run:?}");
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 2, "{redis:?}");
        let waited = calls[1] - calls[0];
        assert!(
            waited >= Duration::from_secs(2),
            "the retry asked Oura again after {waited:?}, before its Retry-After of 2 s, on {redis:?}"
        );
        assert_eq!(f.workouts().await.len(), 2, "both pages stored");
        cleanup(&redis).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Dedup keys and follow-ups
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_job_retried_takes_its_key_back_unless_a_follow_up_holds_it() {
    for redis in backends() {
        let db = common::TestDb::new().await;
        let settings = QueueSettings {
            visibility_timeout: Duration::from_secs(30),
            max_attempts: 5,
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(40),
        };
        let jobs = jobs_on(&db.url, &redis, settings).await;
        let queue = jobs.queue.clone();
        let keyed = |payload: &str| NewJob::new("test", payload).dedup("sync:c");

        // No follow-up: the retried job waits holding its key again.
        let first = queue.enqueue(keyed("a")).await.unwrap().id();
        let leased = queue.reserve("w", 1, Duration::ZERO).await.unwrap();
        assert!(matches!(
            queue.nack(&leased[0], "boom", None).await.unwrap(),
            Nacked::Retry(_)
        ));
        assert_eq!(
            queue.enqueue(keyed("b")).await.unwrap(),
            Enqueued::Duplicate(first),
            "a retrying job is still pending on {redis:?}"
        );

        // A follow-up enqueued while it ran keeps the key; the retry runs without it.
        tokio::time::sleep(Duration::from_millis(60)).await;
        let leased = queue.reserve("w", 1, Duration::ZERO).await.unwrap();
        assert_eq!(leased[0].id, first, "{redis:?}");
        let follow_up = queue.enqueue(keyed("c")).await.unwrap();
        assert!(
            matches!(follow_up, Enqueued::New(id) if id != first),
            "{redis:?}"
        );
        assert!(matches!(
            queue.nack(&leased[0], "boom", None).await.unwrap(),
            Nacked::Retry(_)
        ));
        assert_eq!(
            queue.enqueue(keyed("d")).await.unwrap(),
            Enqueued::Duplicate(follow_up.id()),
            "{redis:?}"
        );
        // Both run.
        tokio::time::sleep(Duration::from_millis(60)).await;
        let mut ran = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while ran.len() < 2 {
            for d in queue
                .reserve("w", 10, Duration::from_millis(100))
                .await
                .unwrap()
            {
                ran.push(d.id);
                queue.ack(&d).await.unwrap();
            }
            assert!(Instant::now() < deadline, "{ran:?} on {redis:?}");
        }
        ran.sort();
        let mut expected = vec![first, follow_up.id()];
        expected.sort();
        assert_eq!(ran, expected, "{redis:?}");
        assert_eq!(queue.stats().await.unwrap().pending, 0);
        cleanup(&redis).await;
    }
}

fn signed_headers(body: &[u8]) -> Vec<(&'static str, String)> {
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(CLIENT_SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(body);
    vec![
        (
            "x-oura-signature",
            hex::encode_upper(mac.finalize().into_bytes()),
        ),
        ("x-oura-timestamp", timestamp),
        ("content-type", "application/json".into()),
    ]
}

/// The first workout page, answered slowly, so that a sync is running for a while.
struct Slow {
    calls: Arc<Mutex<Vec<Instant>>>,
}

impl Respond for Slow {
    fn respond(&self, _request: &wiremock::Request) -> ResponseTemplate {
        self.calls.lock().unwrap().push(Instant::now());
        ResponseTemplate::new(200)
            .set_body_json(fixture("oura", "workout.json"))
            .set_delay(Duration::from_millis(1500))
    }
}

#[tokio::test]
async fn a_webhook_arriving_while_its_connections_sync_runs_makes_one_follow_up_sync() {
    for redis in backends() {
        // One job at a time: the follow-up waits while the first sync runs.
        let f = oura(&redis, &[("OWL_WORKER_CONCURRENCY", "1")]).await;
        let calls = Arc::new(Mutex::new(Vec::new()));
        mount_oura(
            &f,
            Slow {
                calls: calls.clone(),
            },
        )
        .await;
        let _worker = f.worker();
        f.connect().await;
        let backfill = run_where(&f, "running", |r| {
            r.state == pb::SyncState::Running as i32 && r.source == pb::SyncSource::Backfill as i32
        })
        .await;
        // Oura tells owl about new data while the backfill is waiting for its workouts.
        let body = provider_flow::fixture_bytes("oura", "notification.json");
        assert_eq!(f.deliver(&signed_headers(&body), body.clone()).await, 200);
        assert_eq!(f.deliver(&signed_headers(&body), body).await, 200);
        let runs = f.runs().await;
        let webhook: Vec<_> = runs
            .iter()
            .filter(|r| r.source == pb::SyncSource::Webhook as i32)
            .collect();
        assert_eq!(
            webhook.len(),
            1,
            "one follow-up, and the second notification joins it while it waits: {runs:?}"
        );
        assert_eq!(webhook[0].state, pb::SyncState::Queued as i32, "{runs:?}");
        let follow_up = webhook[0].name.clone();

        let backfill = f.finished(Some(&backfill.name)).await;
        assert_eq!(
            backfill.state,
            pb::SyncState::Succeeded as i32,
            "{backfill:?}"
        );
        let run = f.finished(Some(&follow_up)).await;
        assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
        assert_eq!(run.attempts, 1);
        // The follow-up asked Oura again, and only once the backfill was done: one job at a
        // time, so its request came after the backfill's slow answer (1.5 s) had arrived.
        let calls = calls.lock().unwrap().clone();
        assert_eq!(
            calls.len(),
            2,
            "the backfill's and the follow-up's on {redis:?}"
        );
        assert!(
            calls[1] - calls[0] >= Duration::from_millis(1500),
            "the follow-up ran while the backfill did on {redis:?}"
        );
        assert_eq!(
            f.runs().await.len(),
            2,
            "the backfill and one follow-up on {redis:?}"
        );
        cleanup(&redis).await;
    }
}
