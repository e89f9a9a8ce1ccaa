//! Background work: queue semantics (leases, reclaim, retries, dead letters, dedup, delay),
//! workers aborted mid-job, scheduler replicas, concurrent first syncs, sync runs, restarts
//! (of owl, and of a Redis the test runs itself), and the `owl worker` / `owl serve
//! --no-worker` processes.
//!
//! Every test runs on the embedded queue, and on Redis too when OWL_TEST_REDIS_URL is set
//! (each with its own key prefix, so tests run in parallel on one Redis).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use common::{TestServer, redis_url, remove_redis_keys};
use owl::pb;
use owl_server::domain::clock::SystemClock;
use owl_server::jobs::queue::now_ms;
use owl_server::jobs::runs::{ConnectionRef, SyncRunFilter, SyncSource, SyncStatus};
use owl_server::jobs::{
    Delivery, Enqueued, Handler, Jobs, JobsSettings, Nacked, NewJob, Queue, QueueSettings,
    QueueStats, Registry, Worker, WorkerSettings,
};
use owl_server::store::entity::user_connection;
use owl_server::store::jobs::SyncStore;
use owl_server::store::{SeaStore, connect};
use sea_orm::{ActiveModelTrait, Set};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Embedded,
    Redis,
}

/// The embedded queue, and Redis when OWL_TEST_REDIS_URL is set.
fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Embedded];
    if redis_url().is_some() {
        all.push(Backend::Redis);
    }
    all
}

/// Short timings, so leases expire and retries happen within a test.
fn settings() -> JobsSettings {
    JobsSettings {
        queue: QueueSettings {
            visibility_timeout: Duration::from_millis(600),
            max_attempts: 3,
            backoff_base: Duration::from_millis(40),
            backoff_max: Duration::from_millis(400),
        },
        worker: WorkerSettings {
            concurrency: 4,
            poll_wait: Duration::from_millis(200),
            shutdown_grace: Duration::from_secs(2),
        },
        sync_interval: Duration::from_secs(3600),
    }
}

/// One process's view of a queue: its own database pool and its own queue object.
struct Rig {
    backend: Backend,
    db_url: String,
    redis: Option<(String, String)>,
    store: Arc<SeaStore>,
    jobs: Jobs,
}

impl Rig {
    /// A queue on `backend` over the (migrated) database at `db_url`, with a fresh Redis prefix.
    async fn new(backend: Backend, db_url: &str, settings: JobsSettings) -> Rig {
        let redis = match backend {
            Backend::Embedded => None,
            Backend::Redis => Some((
                redis_url().unwrap(),
                format!("owl-test:{}:", Uuid::now_v7().simple()),
            )),
        };
        Rig::open(backend, db_url, redis, settings).await
    }

    /// A queue on Redis at `url` (a server the test runs) over the database at `db_url`.
    async fn on_redis(url: &str, db_url: &str, settings: JobsSettings) -> Rig {
        let redis = Some((
            url.to_owned(),
            format!("owl-test:{}:", Uuid::now_v7().simple()),
        ));
        Rig::open(Backend::Redis, db_url, redis, settings).await
    }

    async fn open(
        backend: Backend,
        db_url: &str,
        redis: Option<(String, String)>,
        settings: JobsSettings,
    ) -> Rig {
        let store = Arc::new(connect(db_url).await.unwrap());
        store.migrate().await.unwrap();
        let jobs = match &redis {
            None => Jobs::embedded(store.clone(), Arc::new(SystemClock), settings),
            Some((url, prefix)) => Jobs::redis(
                redis_pool(url),
                url,
                prefix,
                store.clone(),
                Arc::new(SystemClock),
                settings,
            ),
        };
        Rig {
            backend,
            db_url: db_url.to_owned(),
            redis,
            store,
            jobs,
        }
    }

    /// Another process on the same queue and database (a replica, or owl after a restart).
    async fn replica(&self) -> Rig {
        Rig::open(
            self.backend,
            &self.db_url,
            self.redis.clone(),
            self.jobs.settings.clone(),
        )
        .await
    }

    fn queue(&self) -> Arc<dyn Queue> {
        self.jobs.queue.clone()
    }

    async fn stats(&self) -> QueueStats {
        self.jobs.queue.stats().await.unwrap()
    }

    /// Removes this rig's Redis keys.
    async fn cleanup(&self) {
        if let Some((url, prefix)) = &self.redis {
            remove_redis_keys(url, prefix).await;
        }
    }
}

fn redis_pool(url: &str) -> deadpool_redis::Pool {
    deadpool_redis::Config::from_url(url)
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap()
}

/// Polls `condition` every 20 ms until it holds; panics after `timeout` naming `what`.
async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A worker running `registry` on `rig`'s queue, in its own task.
fn spawn_worker(rig: &Rig, registry: Registry) -> tokio::task::JoinHandle<()> {
    let worker = Worker::new(rig.queue(), Arc::new(registry), rig.jobs.settings.worker);
    tokio::spawn(worker.run(std::future::pending()))
}

/// One handler invocation as a test handler saw it.
#[derive(Debug, Clone)]
struct Call {
    job: Uuid,
    attempt: u32,
    worker: &'static str,
    at: Instant,
}

/// What test handlers did: every call, and the effects they committed (idempotently, by job).
#[derive(Default)]
struct Journal {
    calls: Mutex<Vec<Call>>,
    effects: Mutex<HashMap<Uuid, u32>>,
    /// Commits attempted, duplicates included.
    commits: Mutex<u32>,
}

impl Journal {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn calls_of(&self, job: Uuid) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.job == job).collect()
    }

    /// The idempotent effect of a job: applied once whatever the number of deliveries.
    fn commit(&self, job: Uuid) {
        *self.commits.lock().unwrap() += 1;
        self.effects.lock().unwrap().entry(job).or_insert(1);
    }

    fn effects(&self) -> HashMap<Uuid, u32> {
        self.effects.lock().unwrap().clone()
    }
}

/// What a test handler does with a job.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Commits the effect and returns.
    Complete,
    /// Hangs before committing (a crash in the middle of the work).
    HangBeforeCommit,
    /// Commits, then hangs (a crash between the commit and the acknowledgement).
    HangAfterCommit,
    /// Fails with an error naming the attempt.
    Fail,
}

struct Scripted {
    worker: &'static str,
    journal: Arc<Journal>,
    /// Behaviour by job payload; `Complete` for others.
    script: HashMap<String, Behaviour>,
    /// Once set, every job completes.
    heal: Arc<AtomicBool>,
    /// Set when a hanging handler's future is dropped (its worker was aborted).
    dropped: Arc<AtomicBool>,
}

struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl Handler for Scripted {
    async fn handle(&self, job: &Delivery, _last_attempt: bool) -> anyhow::Result<()> {
        self.journal.calls.lock().unwrap().push(Call {
            job: job.id,
            attempt: job.attempt,
            worker: self.worker,
            at: Instant::now(),
        });
        let behaviour = if self.heal.load(Ordering::SeqCst) {
            Behaviour::Complete
        } else {
            self.script
                .get(&job.payload)
                .copied()
                .unwrap_or(Behaviour::Complete)
        };
        match behaviour {
            Behaviour::Complete => {
                self.journal.commit(job.id);
                Ok(())
            }
            Behaviour::HangBeforeCommit => {
                let _flag = DropFlag(self.dropped.clone());
                std::future::pending::<()>().await;
                Ok(())
            }
            Behaviour::HangAfterCommit => {
                self.journal.commit(job.id);
                let _flag = DropFlag(self.dropped.clone());
                std::future::pending::<()>().await;
                Ok(())
            }
            Behaviour::Fail => anyhow::bail!("boom on attempt {}", job.attempt),
        }
    }
}

fn scripted(
    worker: &'static str,
    journal: &Arc<Journal>,
    script: &[(&str, Behaviour)],
) -> (Registry, Arc<AtomicBool>, Arc<AtomicBool>) {
    let heal = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicBool::new(false));
    let handler = Scripted {
        worker,
        journal: journal.clone(),
        script: script
            .iter()
            .map(|(payload, b)| ((*payload).to_owned(), *b))
            .collect(),
        heal: heal.clone(),
        dropped: dropped.clone(),
    };
    let mut registry = Registry::new();
    registry.register("test", Arc::new(handler));
    (registry, heal, dropped)
}

async fn enqueue(queue: &dyn Queue, payload: &str) -> Uuid {
    match queue.enqueue(NewJob::new("test", payload)).await.unwrap() {
        Enqueued::New(id) => id,
        other => panic!("expected a new job, got {other:?}"),
    }
}

fn user_id(user: &pb::User) -> Uuid {
    Uuid::parse_str(user.name.trim_start_matches("users/")).unwrap()
}

/// Inserts a provider connection (the providers issue adds the API that creates them).
async fn insert_connection(db_url: &str, user: Uuid, provider: &str, status: &str) -> Uuid {
    let db = sea_orm::Database::connect(db_url).await.unwrap();
    let id = Uuid::now_v7();
    user_connection::ActiveModel {
        id: Set(id),
        user_id: Set(user),
        provider: Set(provider.into()),
        provider_user_id: Set(None),
        status: Set(status.into()),
        access_token: Set(None),
        refresh_token: Set(None),
        token_expires_at: Set(None),
        scope: Set(None),
        last_synced_at: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        state_reason: Set(None),
        sync_cursor: Set(None),
    }
    .insert(&db)
    .await
    .unwrap();
    id
}

// ---------------------------------------------------------------------------------------------
// Queue semantics
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn enqueued_jobs_each_run_and_are_acknowledged() {
    for backend in backends() {
        let server = TestServer::start().await;
        let rig = Rig::new(backend, &server.db.url, settings()).await;
        let journal = Arc::new(Journal::default());
        let mut ids = HashSet::new();
        for n in 0..25 {
            ids.insert(enqueue(rig.queue().as_ref(), &format!("job {n}")).await);
        }
        assert_eq!(
            rig.stats().await,
            QueueStats {
                pending: 25,
                dead: 0
            },
            "{backend:?}"
        );
        let (registry, _, _) = scripted("w", &journal, &[]);
        let worker = spawn_worker(&rig, registry);
        wait_until(
            Duration::from_secs(10),
            "every job is acknowledged",
            || async { rig.stats().await.pending == 0 },
        )
        .await;
        worker.abort();
        let effects = journal.effects();
        assert_eq!(
            effects.keys().copied().collect::<HashSet<_>>(),
            ids,
            "{backend:?}"
        );
        assert_eq!(journal.calls().len(), 25, "each ran once on {backend:?}");
        assert!(journal.calls().iter().all(|c| c.attempt == 1));
        rig.cleanup().await;
    }
}

#[tokio::test]
async fn a_pending_dedup_key_enqueues_nothing_and_a_delayed_job_waits_for_its_time() {
    for backend in backends() {
        let server = TestServer::start().await;
        let rig = Rig::new(backend, &server.db.url, settings()).await;
        let queue = rig.queue();
        let first = queue
            .enqueue(NewJob::new("test", "a").dedup("key"))
            .await
            .unwrap();
        let second = queue
            .enqueue(NewJob::new("test", "b").dedup("key"))
            .await
            .unwrap();
        assert!(matches!(first, Enqueued::New(_)), "{backend:?}");
        assert_eq!(second, Enqueued::Duplicate(first.id()), "{backend:?}");
        let delayed = queue
            .enqueue(NewJob::new("test", "later").delayed(Duration::from_millis(500)))
            .await
            .unwrap()
            .id();
        let now = queue.reserve("c", 10, Duration::ZERO).await.unwrap();
        assert_eq!(
            now.iter().map(|d| d.id).collect::<Vec<_>>(),
            [first.id()],
            "only the undelayed job is visible on {backend:?}"
        );
        assert_eq!(now[0].payload, "a");
        // Started, the job gave its key up: an enqueue now makes one follow-up, which holds it.
        let after_start = queue
            .enqueue(NewJob::new("test", "c").dedup("key"))
            .await
            .unwrap();
        assert!(
            matches!(after_start, Enqueued::New(id) if id != first.id()),
            "a running job does not hold its key on {backend:?}"
        );
        let again = queue
            .enqueue(NewJob::new("test", "d").dedup("key"))
            .await
            .unwrap();
        assert_eq!(again, Enqueued::Duplicate(after_start.id()), "{backend:?}");
        queue.ack(&now[0]).await.unwrap();
        let after_ack = queue
            .enqueue(NewJob::new("test", "e").dedup("key"))
            .await
            .unwrap();
        assert_eq!(
            after_ack,
            Enqueued::Duplicate(after_start.id()),
            "acknowledging the first job leaves the follow-up's key on {backend:?}"
        );
        let started = Instant::now();
        let mut seen = HashSet::new();
        while !seen.contains(&delayed) {
            for d in queue
                .reserve("c", 10, Duration::from_millis(200))
                .await
                .unwrap()
            {
                if d.id == delayed {
                    assert!(
                        started.elapsed() >= Duration::from_millis(350),
                        "delayed job ran early on {backend:?}"
                    );
                }
                seen.insert(d.id);
                queue.ack(&d).await.unwrap();
            }
            assert!(started.elapsed() < Duration::from_secs(5), "{backend:?}");
        }
        assert!(seen.contains(&after_ack.id()));
        rig.cleanup().await;
    }
}

#[tokio::test]
async fn the_oldest_waiting_job_is_reported_until_a_worker_takes_it() {
    for backend in backends() {
        let server = TestServer::start().await;
        let rig = Rig::new(backend, &server.db.url, settings()).await;
        let queue = rig.queue();
        assert_eq!(queue.oldest_waiting().await.unwrap(), None, "{backend:?}");
        let before_delayed = now_ms();
        let delayed = queue
            .enqueue(NewJob::new("test", "later").delayed(Duration::from_millis(400)))
            .await
            .unwrap()
            .id();
        assert_eq!(
            queue.oldest_waiting().await.unwrap(),
            None,
            "a delayed job does not wait for a worker yet on {backend:?}"
        );
        let before_a = now_ms();
        let a = enqueue(queue.as_ref(), "a").await;
        let after_a = now_ms();
        tokio::time::sleep(Duration::from_millis(60)).await;
        let before_b = now_ms();
        let b = enqueue(queue.as_ref(), "b").await;
        let since = queue.oldest_waiting().await.unwrap().expect("a waits");
        assert!(
            (before_a - 5..=after_a + 5).contains(&since),
            "a waits since it was enqueued on {backend:?}: {since} not in {before_a}..{after_a}"
        );
        let first = queue.reserve("c", 1, Duration::ZERO).await.unwrap();
        assert_eq!(first.iter().map(|d| d.id).collect::<Vec<_>>(), [a]);
        let since = queue.oldest_waiting().await.unwrap().expect("b waits");
        assert!(
            since >= before_b - 5,
            "a leased job no longer waits, b does, on {backend:?}"
        );
        let second = queue.reserve("c", 1, Duration::ZERO).await.unwrap();
        assert_eq!(second.iter().map(|d| d.id).collect::<Vec<_>>(), [b]);
        assert_eq!(queue.oldest_waiting().await.unwrap(), None, "{backend:?}");
        wait_until(
            Duration::from_secs(3),
            "the delayed job is due and waits",
            || async { queue.oldest_waiting().await.unwrap().is_some() },
        )
        .await;
        let due = queue.oldest_waiting().await.unwrap().unwrap();
        // Due 400 ms after its enqueue (less a few ms of clock granularity on Redis).
        assert!(due >= before_delayed + 395, "{backend:?}: due at {due}");
        let third = queue
            .reserve("c", 1, Duration::from_millis(200))
            .await
            .unwrap();
        assert_eq!(third.iter().map(|d| d.id).collect::<Vec<_>>(), [delayed]);
        assert_eq!(queue.oldest_waiting().await.unwrap(), None, "{backend:?}");
        for d in first.iter().chain(&second).chain(&third) {
            queue.ack(d).await.unwrap();
        }
        rig.cleanup().await;
    }
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_cannot_nack_and_a_job_lost_on_its_last_attempt_is_dead() {
    for backend in backends() {
        let server = TestServer::start().await;
        let mut s = settings();
        s.queue.max_attempts = 2;
        let rig = Rig::new(backend, &server.db.url, s.clone()).await;
        let queue = rig.queue();
        let id = enqueue(queue.as_ref(), "x").await;
        let first = queue.reserve("a", 1, Duration::ZERO).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].attempt, 1);
        assert!(
            queue
                .reserve("b", 1, Duration::ZERO)
                .await
                .unwrap()
                .is_empty(),
            "a leased job is invisible on {backend:?}"
        );
        tokio::time::sleep(s.queue.visibility_timeout + Duration::from_millis(200)).await;
        let second = queue.reserve("b", 1, Duration::ZERO).await.unwrap();
        assert_eq!(
            second.iter().map(|d| (d.id, d.attempt)).collect::<Vec<_>>(),
            [(id, 2)],
            "the expired lease is reclaimed on {backend:?}"
        );
        assert_eq!(
            queue.nack(&first[0], "late failure", None).await.unwrap(),
            Nacked::Stale,
            "{backend:?}"
        );
        assert!(!queue.heartbeat(&first[0]).await.unwrap(), "{backend:?}");
        assert!(queue.heartbeat(&second[0]).await.unwrap(), "{backend:?}");
        // The second holder dies too, on the last allowed attempt.
        tokio::time::sleep(s.queue.visibility_timeout + Duration::from_millis(200)).await;
        assert!(
            queue
                .reserve("c", 1, Duration::ZERO)
                .await
                .unwrap()
                .is_empty(),
            "{backend:?}"
        );
        let dead = queue.dead_letters(10).await.unwrap();
        assert_eq!(dead.len(), 1, "{backend:?}");
        assert_eq!(dead[0].id, id);
        assert_eq!(dead[0].attempts, 2);
        assert!(
            dead[0].last_error.contains("worker lost"),
            "{backend:?}: {}",
            dead[0].last_error
        );
        assert_eq!(
            rig.stats().await,
            QueueStats {
                pending: 0,
                dead: 1
            }
        );
        rig.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Reliability
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_job_of_an_aborted_worker_is_reclaimed_by_another_and_takes_effect_once() {
    for backend in backends() {
        let server = TestServer::start().await;
        let s = settings();
        let rig = Rig::new(backend, &server.db.url, s.clone()).await;
        let journal = Arc::new(Journal::default());
        let before = enqueue(rig.queue().as_ref(), "crash before commit").await;
        let after = enqueue(rig.queue().as_ref(), "crash after commit").await;
        let (registry_a, _, dropped_a) = scripted(
            "a",
            &journal,
            &[
                ("crash before commit", Behaviour::HangBeforeCommit),
                ("crash after commit", Behaviour::HangAfterCommit),
            ],
        );
        let worker_a = spawn_worker(&rig, registry_a);
        wait_until(
            Duration::from_secs(5),
            "worker a holds both jobs",
            || async { journal.calls().len() == 2 },
        )
        .await;
        // A second worker (another process) runs beside the live one: heartbeats keep the
        // jobs from it, well past the visibility timeout.
        let other = rig.replica().await;
        let (registry_b, _, _) = scripted("b", &journal, &[]);
        let worker_b = spawn_worker(&other, registry_b);
        tokio::time::sleep(s.queue.visibility_timeout * 3).await;
        assert_eq!(
            journal.calls().len(),
            2,
            "a live worker's jobs are not reclaimed on {backend:?}"
        );
        worker_a.abort();
        let _ = worker_a.await;
        let aborted = Instant::now();
        wait_until(
            Duration::from_secs(2),
            "aborting the worker stops its handlers",
            || async { dropped_a.load(Ordering::SeqCst) },
        )
        .await;
        wait_until(
            Duration::from_secs(10),
            "both jobs are acknowledged",
            || async { other.stats().await.pending == 0 },
        )
        .await;
        worker_b.abort();
        for job in [before, after] {
            let calls = journal.calls_of(job);
            assert_eq!(
                calls
                    .iter()
                    .map(|c| (c.worker, c.attempt))
                    .collect::<Vec<_>>(),
                [("a", 1), ("b", 2)],
                "{backend:?}"
            );
            assert!(
                calls[1].at >= aborted + s.queue.visibility_timeout / 3,
                "reclaimed only once the lease ran out on {backend:?}"
            );
        }
        assert_eq!(journal.effects(), HashMap::from([(before, 1), (after, 1)]));
        // The job that had committed before the crash committed again, idempotently.
        assert_eq!(*journal.commits.lock().unwrap(), 3);
        assert_eq!(other.stats().await, QueueStats::default(), "{backend:?}");
        rig.cleanup().await;
    }
}

#[tokio::test]
async fn an_always_failing_job_is_dead_lettered_with_its_error_and_can_be_requeued() {
    for backend in backends() {
        let server = TestServer::start().await;
        let s = settings();
        let rig = Rig::new(backend, &server.db.url, s.clone()).await;
        let journal = Arc::new(Journal::default());
        let id = enqueue(rig.queue().as_ref(), "fails").await;
        let (registry, heal, _) = scripted("w", &journal, &[("fails", Behaviour::Fail)]);
        let worker = spawn_worker(&rig, registry);
        wait_until(Duration::from_secs(10), "the job is dead", || async {
            rig.stats().await.dead == 1
        })
        .await;
        let dead = rig.queue().dead_letters(10).await.unwrap();
        assert_eq!(dead.len(), 1, "{backend:?}");
        assert_eq!(dead[0].id, id);
        assert_eq!(dead[0].kind, "test");
        assert_eq!(dead[0].payload, "fails");
        assert_eq!(dead[0].attempts, 3);
        assert_eq!(dead[0].last_error, "boom on attempt 3");
        let calls = journal.calls_of(id);
        assert_eq!(
            calls.iter().map(|c| c.attempt).collect::<Vec<_>>(),
            [1, 2, 3],
            "{backend:?}"
        );
        // Exponential backoff with jitter: at least half of 40 ms, then of 80 ms.
        assert!(calls[1].at - calls[0].at >= Duration::from_millis(20));
        assert!(calls[2].at - calls[1].at >= Duration::from_millis(40));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            journal.calls_of(id).len(),
            3,
            "a dead job does not run on {backend:?}"
        );
        assert_eq!(rig.stats().await.pending, 0);

        heal.store(true, Ordering::SeqCst);
        assert!(rig.queue().requeue(id).await.unwrap(), "{backend:?}");
        assert!(!rig.queue().requeue(id).await.unwrap(), "requeued once");
        assert!(!rig.queue().requeue(Uuid::now_v7()).await.unwrap());
        wait_until(
            Duration::from_secs(5),
            "the requeued job is done",
            || async { rig.stats().await == QueueStats::default() },
        )
        .await;
        worker.abort();
        let calls = journal.calls_of(id);
        assert_eq!(calls.len(), 4);
        assert_eq!(calls[3].attempt, 1, "requeued with fresh attempts");
        assert_eq!(journal.effects(), HashMap::from([(id, 1)]));
        assert!(rig.queue().dead_letters(10).await.unwrap().is_empty());
        rig.cleanup().await;
    }
}

/// Writes samples through the API, for the concurrent first-sync test.
struct Ingest {
    client: owl::Client,
    user: String,
    barrier: Arc<tokio::sync::Barrier>,
}

const T0: i64 = 1_763_596_800_000;
const MINUTE: i64 = 60_000;

#[async_trait]
impl Handler for Ingest {
    async fn handle(&self, job: &Delivery, _last_attempt: bool) -> anyhow::Result<()> {
        let (from, to, series): (i64, i64, String) = serde_json::from_str(&job.payload)?;
        // The first attempts of both jobs start together, to race on the user's first source.
        if job.attempt == 1 {
            self.barrier.wait().await;
        }
        let times: Vec<i64> = (from..to).map(|m| T0 + m * MINUTE).collect();
        let values: Vec<f64> = (from..to).map(|m| 60.0 + (m % 40) as f64).collect();
        self.client
            .write_samples(pb::WriteSamplesRequest {
                parent: self.user.clone(),
                batches: vec![pb::SampleBatch {
                    source: Some(pb::SourceDescriptor {
                        provider: "garmin".into(),
                        device_model: "Forerunner 965".into(),
                        device_type: pb::DeviceType::Watch as i32,
                        ..Default::default()
                    }),
                    series_type: series,
                    unit: String::new(),
                    zone_offsets: vec![3600; times.len()],
                    times,
                    values,
                    durations: vec![],
                }],
            })
            .await?;
        Ok(())
    }
}

async fn sample_times(client: &owl::Client, user: &str, series: &str) -> Vec<i64> {
    let mut times = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_samples(pb::ListSamplesRequest {
                parent: user.into(),
                series_types: vec![series.into()],
                page_size: 1000,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        for s in page.series {
            times.extend(s.times);
        }
        if page.next_page_token.is_empty() {
            return times;
        }
        token = page.next_page_token;
    }
}

#[tokio::test]
async fn two_concurrent_jobs_for_a_users_first_sync_both_complete_and_lose_nothing() {
    for backend in backends() {
        let server = TestServer::start().await;
        let developer = server.developer().await;
        let (_, api) = server.application(&developer, "App").await;
        let user = server.user(&api, "first-sync").await;
        let rig = Rig::new(backend, &server.db.url, settings()).await;
        // A webhook push and a backfill of the same source, overlapping by 500 minutes.
        let push = enqueue(rig.queue().as_ref(), r#"[0, 1000, "heart_rate"]"#).await;
        let backfill = enqueue(rig.queue().as_ref(), r#"[500, 1500, "heart_rate"]"#).await;
        let steps = enqueue(rig.queue().as_ref(), r#"[0, 1000, "steps"]"#).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(3));
        let mut registry = Registry::new();
        registry.register(
            "test",
            Arc::new(Ingest {
                client: api.clone(),
                user: user.name.clone(),
                barrier,
            }),
        );
        let worker = spawn_worker(&rig, registry);
        wait_until(
            Duration::from_secs(20),
            "all three jobs are acknowledged",
            || async { rig.stats().await.pending == 0 },
        )
        .await;
        worker.abort();
        assert!(
            rig.queue().dead_letters(10).await.unwrap().is_empty(),
            "no job gave up on {backend:?} ({push}, {backfill}, {steps})"
        );
        let heart_rate = sample_times(&api, &user.name, "heart_rate").await;
        let distinct: HashSet<i64> = heart_rate.iter().copied().collect();
        assert_eq!(heart_rate.len(), 1500, "{backend:?}");
        assert_eq!(distinct.len(), 1500);
        assert_eq!(sample_times(&api, &user.name, "steps").await.len(), 1000);
        let sources = api
            .list_data_sources(pb::ListDataSourcesRequest {
                parent: user.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(sources.data_sources.len(), 1, "one source, created once");
        rig.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Scheduler and sync runs
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn two_scheduler_replicas_enqueue_each_active_connection_once_per_interval() {
    for backend in backends() {
        let server = TestServer::start().await;
        let developer = server.developer().await;
        let (_, api) = server.application(&developer, "App").await;
        let ann = user_id(&server.user(&api, "ann").await);
        let bob = user_id(&server.user(&api, "bob").await);
        let url = &server.db.url;
        let active: HashSet<Uuid> = HashSet::from([
            insert_connection(url, ann, "garmin", "active").await,
            insert_connection(url, ann, "polar", "active").await,
            insert_connection(url, bob, "oura", "active").await,
        ]);
        let revoked = insert_connection(url, bob, "whoop", "revoked").await;
        let mut s = settings();
        s.sync_interval = Duration::from_secs(60);
        let rig_a = Rig::new(backend, url, s).await;
        let rig_b = rig_a.replica().await;
        let replica_a = rig_a.jobs.scheduler("replica-a");
        let replica_b = rig_b.jobs.scheduler("replica-b");
        // A second into a slot, so that +30 s stays in it.
        let start = owl_server::jobs::queue::now_ms() / 60_000 * 60_000 + 1_000;
        let mut claimed_slots = HashSet::new();
        for interval in 0..3_i64 {
            let at = start + interval * 60_000;
            let (a, b) = tokio::join!(replica_a.tick(at), replica_b.tick(at));
            let (a, b) = (a.unwrap(), b.unwrap());
            assert_eq!(a.slot, b.slot);
            assert!(
                a.claimed ^ b.claimed,
                "exactly one replica claims slot {} on {backend:?}: {a:?} {b:?}",
                a.slot
            );
            claimed_slots.insert(a.slot);
            assert_eq!(a.enqueued + b.enqueued, 3, "{backend:?}");
            // A replica that wakes late in the same interval enqueues nothing more.
            let late = replica_b.tick(at + 30_000).await.unwrap();
            assert!(!late.claimed && late.enqueued == 0, "{backend:?}: {late:?}");
            let mut synced = Vec::new();
            for d in rig_a
                .queue()
                .reserve("drain", 10, Duration::ZERO)
                .await
                .unwrap()
            {
                let payload: owl_server::jobs::SyncPayload =
                    serde_json::from_str(&d.payload).unwrap();
                assert_eq!(payload.source, SyncSource::Pull);
                synced.push(payload.connection_id);
                rig_a.queue().ack(&d).await.unwrap();
            }
            assert_eq!(synced.len(), 3, "{backend:?}");
            assert_eq!(synced.into_iter().collect::<HashSet<_>>(), active);
        }
        assert_eq!(claimed_slots.len(), 3);
        for (user, connections) in [(ann, 2), (bob, 1)] {
            let runs = rig_a
                .store
                .list_sync_runs(
                    &SyncRunFilter {
                        user_id: user,
                        connection_id: None,
                    },
                    &owl_server::domain::page::PageRequest::first(100),
                )
                .await
                .unwrap();
            assert_eq!(
                runs.len(),
                3 * connections,
                "one run per connection and interval"
            );
            assert!(runs.iter().all(|r| r.connection_id != Some(revoked)));
            assert!(runs.iter().all(|r| r.status == SyncStatus::Queued));
        }
        rig_a.cleanup().await;
    }
}

#[tokio::test]
async fn a_sync_job_records_its_run_from_queued_to_succeeded_and_a_pending_sync_is_not_doubled() {
    for backend in backends() {
        let server = TestServer::start().await;
        let developer = server.developer().await;
        let (_, api) = server.application(&developer, "App").await;
        let user = user_id(&server.user(&api, "ann").await);
        let connection_id = insert_connection(&server.db.url, user, "garmin", "active").await;
        let rig = Rig::new(backend, &server.db.url, settings()).await;
        let connection = ConnectionRef {
            id: connection_id,
            user_id: user,
            provider: "garmin".into(),
        };
        let syncs = rig.jobs.sync_jobs();
        let (first, run) = syncs
            .enqueue(&connection, SyncSource::Webhook, None)
            .await
            .unwrap();
        let run = run.expect("a new job has a run");
        let stored = rig.store.sync_run(run.id).await.unwrap().unwrap();
        assert_eq!(stored.status, SyncStatus::Queued, "{backend:?}");
        assert_eq!(stored.source, SyncSource::Webhook);
        assert_eq!(stored.connection_id, Some(connection_id));
        let (second, none) = syncs
            .enqueue(&connection, SyncSource::Pull, None)
            .await
            .unwrap();
        assert_eq!(second, Enqueued::Duplicate(first.id()), "{backend:?}");
        assert!(none.is_none());
        // A backfill of a day range is its own job.
        let (backfill, backfill_run) = syncs
            .enqueue(
                &connection,
                SyncSource::Backfill,
                Some((T0, T0 + 86_400_000)),
            )
            .await
            .unwrap();
        assert!(matches!(backfill, Enqueued::New(_)));
        let worker = tokio::spawn(rig.jobs.worker().run(std::future::pending()));
        wait_until(Duration::from_secs(10), "both runs succeed", || async {
            rig.stats().await.pending == 0
        })
        .await;
        worker.abort();
        let done = rig.store.sync_run(run.id).await.unwrap().unwrap();
        assert_eq!(done.status, SyncStatus::Succeeded, "{backend:?}");
        assert_eq!(done.stage, "done");
        assert_eq!(done.attempts, 1);
        assert_eq!(done.progress_percent, 100.0);
        assert!(done.error.is_none());
        assert!(done.started_at.is_some() && done.finished_at.is_some());
        let backfill_done = rig
            .store
            .sync_run(backfill_run.unwrap().id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(backfill_done.status, SyncStatus::Succeeded);
        assert_eq!(backfill_done.range, Some((T0, T0 + 86_400_000)));
        let runs = rig
            .store
            .list_sync_runs(
                &SyncRunFilter {
                    user_id: user,
                    connection_id: Some(connection_id),
                },
                &owl_server::domain::page::PageRequest::first(100),
            )
            .await
            .unwrap();
        assert_eq!(runs.len(), 2, "{backend:?}");
        rig.cleanup().await;
    }
}

#[tokio::test]
async fn a_sync_of_a_connection_revoked_or_deleted_while_queued_ends_without_retries() {
    for backend in backends() {
        let server = TestServer::start().await;
        let developer = server.developer().await;
        let (_, api) = server.application(&developer, "App").await;
        let user = user_id(&server.user(&api, "ann").await);
        let revoked = insert_connection(&server.db.url, user, "garmin", "active").await;
        let deleted = insert_connection(&server.db.url, user, "polar", "active").await;
        let rig = Rig::new(backend, &server.db.url, settings()).await;
        let syncs = rig.jobs.sync_jobs();
        let mut runs = Vec::new();
        for (id, provider) in [(revoked, "garmin"), (deleted, "polar")] {
            let connection = ConnectionRef {
                id,
                user_id: user,
                provider: provider.into(),
            };
            let (_, run) = syncs
                .enqueue(&connection, SyncSource::Pull, None)
                .await
                .unwrap();
            runs.push(run.unwrap().id);
        }
        let db = sea_orm::Database::connect(server.db.url.as_str())
            .await
            .unwrap();
        use sea_orm::EntityTrait;
        let mut model: user_connection::ActiveModel = user_connection::Entity::find_by_id(revoked)
            .one(&db)
            .await
            .unwrap()
            .unwrap()
            .into();
        model.status = Set("revoked".into());
        model.update(&db).await.unwrap();
        user_connection::Entity::delete_by_id(deleted)
            .exec(&db)
            .await
            .unwrap();
        let worker = tokio::spawn(rig.jobs.worker().run(std::future::pending()));
        wait_until(Duration::from_secs(10), "both jobs are done", || async {
            rig.stats().await.pending == 0
        })
        .await;
        worker.abort();
        assert_eq!(
            rig.stats().await,
            QueueStats::default(),
            "no dead letters on {backend:?}"
        );
        let failed = rig.store.sync_run(runs[0]).await.unwrap().unwrap();
        assert_eq!(failed.status, SyncStatus::Failed, "{backend:?}");
        assert_eq!(failed.attempts, 1);
        assert_eq!(
            failed.error.as_deref(),
            Some("connection is revoked, not active")
        );
        assert!(
            rig.store.sync_run(runs[1]).await.unwrap().is_none(),
            "the run went with its connection"
        );
        rig.cleanup().await;
    }
}

#[tokio::test]
async fn a_sync_whose_worker_dies_on_its_last_attempt_is_recorded_as_failed() {
    for backend in backends() {
        let server = TestServer::start().await;
        let developer = server.developer().await;
        let (_, api) = server.application(&developer, "App").await;
        let user = user_id(&server.user(&api, "ann").await);
        let id = insert_connection(&server.db.url, user, "garmin", "active").await;
        let mut s = settings();
        s.queue.max_attempts = 1;
        let rig = Rig::new(backend, &server.db.url, s.clone()).await;
        let connection = ConnectionRef {
            id,
            user_id: user,
            provider: "garmin".into(),
        };
        let (_, run) = rig
            .jobs
            .sync_jobs()
            .enqueue(&connection, SyncSource::Pull, None)
            .await
            .unwrap();
        let run = run.unwrap();
        // A worker leases the job and dies before finishing it, on its only attempt.
        let ghost = rig.replica().await;
        let leased = ghost
            .queue()
            .reserve("ghost", 1, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(leased.len(), 1, "{backend:?}");
        drop(ghost);
        tokio::time::sleep(s.queue.visibility_timeout + Duration::from_millis(100)).await;
        let worker = tokio::spawn(rig.jobs.worker().run(std::future::pending()));
        wait_until(Duration::from_secs(10), "the run is failed", || async {
            rig.store.sync_run(run.id).await.unwrap().unwrap().status == SyncStatus::Failed
        })
        .await;
        worker.abort();
        let failed = rig.store.sync_run(run.id).await.unwrap().unwrap();
        assert!(
            failed
                .error
                .as_deref()
                .is_some_and(|e| e.contains("worker lost")),
            "{backend:?}: {failed:?}"
        );
        assert!(failed.finished_at.is_some());
        assert_eq!(
            rig.stats().await,
            QueueStats {
                pending: 0,
                dead: 1
            }
        );
        rig.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Restarts
// ---------------------------------------------------------------------------------------------

/// Records which jobs ran, slowly enough that a restart lands in the middle.
struct Slow(Arc<Mutex<Vec<Uuid>>>);

#[async_trait]
impl Handler for Slow {
    async fn handle(&self, job: &Delivery, _last_attempt: bool) -> anyhow::Result<()> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.0.lock().unwrap().push(job.id);
        Ok(())
    }
}

fn slow_registry(done: &Arc<Mutex<Vec<Uuid>>>) -> Registry {
    let mut registry = Registry::new();
    registry.register("test", Arc::new(Slow(done.clone())));
    registry
}

#[tokio::test]
async fn no_acknowledged_enqueue_is_lost_when_owl_restarts_on_the_embedded_queue() {
    let server = TestServer::start().await;
    let rig = Rig::new(Backend::Embedded, &server.db.url, settings()).await;
    let done = Arc::new(Mutex::new(Vec::new()));
    let mut acknowledged = HashSet::new();
    for n in 0..40 {
        acknowledged.insert(enqueue(rig.queue().as_ref(), &format!("{n}")).await);
    }
    let worker = spawn_worker(&rig, slow_registry(&done));
    wait_until(Duration::from_secs(10), "some jobs ran", || async {
        done.lock().unwrap().len() >= 5
    })
    .await;
    // A crash: the worker stops mid-job and the process's pool and queue go away.
    worker.abort();
    let _ = worker.await;
    let settings = rig.jobs.settings.clone();
    drop(rig);
    let restarted = Rig::new(Backend::Embedded, &server.db.url, settings).await;
    for n in 40..50 {
        acknowledged.insert(enqueue(restarted.queue().as_ref(), &format!("{n}")).await);
    }
    let worker = spawn_worker(&restarted, slow_registry(&done));
    wait_until(
        Duration::from_secs(20),
        "every job ran after the restart",
        || async { restarted.stats().await.pending == 0 },
    )
    .await;
    worker.abort();
    let ran: HashSet<Uuid> = done.lock().unwrap().iter().copied().collect();
    assert_eq!(ran, acknowledged);
    // Only jobs in flight at the crash may have run twice.
    let runs = done.lock().unwrap().len();
    assert!(runs <= 50 + 4, "{runs} runs");
}

/// A redis-server of the test's own, with append-only persistence in a temp dir.
struct OwnRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnRedis {
    fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = OwnRedis {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        redis.spawn();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--appendonly",
                "yes",
                "--save",
                "",
                "--dir",
            ])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server as an operator or a container runtime does (SIGTERM).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn health(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("{url}/api/v1/health")).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn no_acknowledged_enqueue_is_lost_when_redis_stops_and_starts_again() {
    if redis_url().is_none() {
        eprintln!("skipped: OWL_TEST_REDIS_URL is not set");
        return;
    }
    let mut redis = OwnRedis::start();
    let server = TestServer::start_with(&[("REDIS_URL", &redis.url())]).await;
    let developer = server.developer().await;
    let (_, api) = server.application(&developer, "App").await;
    let user = server.user(&api, "ann").await;
    let rig = Rig::on_redis(&redis.url(), &server.db.url, settings()).await;
    let done = Arc::new(Mutex::new(Vec::new()));
    let mut acknowledged = HashSet::new();
    for n in 0..40 {
        acknowledged.insert(enqueue(rig.queue().as_ref(), &format!("{n}")).await);
    }
    let worker = spawn_worker(&rig, slow_registry(&done));
    wait_until(Duration::from_secs(10), "some jobs ran", || async {
        done.lock().unwrap().len() >= 5
    })
    .await;
    redis.stop();
    let mut refused = 0;
    for n in 0..5 {
        match rig
            .queue()
            .enqueue(NewJob::new("test", format!("down {n}")))
            .await
        {
            Ok(Enqueued::New(id)) => {
                acknowledged.insert(id);
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => refused += 1,
        }
    }
    assert_eq!(refused, 5, "enqueues fail while Redis is down");
    // The API keeps serving and says it is degraded.
    let (status, body) = health(&server.url).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["cache"], "unreachable");
    let got = api
        .get_user(pb::GetUserRequest {
            name: user.name.clone(),
        })
        .await
        .unwrap();
    assert_eq!(got.name, user.name);

    redis.spawn();
    for n in 40..50 {
        acknowledged.insert(enqueue(rig.queue().as_ref(), &format!("{n}")).await);
    }
    wait_until(
        Duration::from_secs(30),
        "every acknowledged job ran after Redis came back",
        || async {
            let ran: HashSet<Uuid> = done.lock().unwrap().iter().copied().collect();
            acknowledged.is_subset(&ran)
        },
    )
    .await;
    wait_until(Duration::from_secs(10), "the queue is empty", || async {
        rig.queue()
            .stats()
            .await
            .is_ok_and(|s| s == QueueStats::default())
    })
    .await;
    worker.abort();
    let (status, body) = health(&server.url).await;
    assert_eq!((status, &body["cache"]), (200, &serde_json::json!("ok")));
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

fn owl(dir: &std::path::Path, db_url: &str, redis: Option<(&str, &str)>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_owl"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ENVIRONMENT", "test")
        .env("SECRET_KEY", "test-secret-key-that-is-long-enough-0123")
        .env("OWL_DATA_DIR", dir.join("owl_data"))
        .env("DATABASE_URL", db_url)
        .env("OWL_JOB_VISIBILITY_TIMEOUT_SECONDS", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some((url, prefix)) = redis {
        command
            .env("REDIS_URL", url)
            .env("OWL_REDIS_KEY_PREFIX", prefix);
    }
    command
}

/// Sends SIGTERM and waits for the exit without blocking the runtime (the server's graceful
/// shutdown waits for this process's HTTP/2 connections to close).
async fn terminate(mut child: Child) -> std::process::ExitStatus {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("owl did not stop on SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn owl_worker_and_owl_serve_run_queued_syncs_and_serve_no_worker_leaves_them_queued() {
    for backend in backends() {
        let server = TestServer::start().await;
        let developer = server.developer().await;
        let (_, api) = server.application(&developer, "App").await;
        let user = user_id(&server.user(&api, "ann").await);
        let connection_id = insert_connection(&server.db.url, user, "garmin", "active").await;
        let rig = Rig::new(backend, &server.db.url, settings()).await;
        let connection = ConnectionRef {
            id: connection_id,
            user_id: user,
            provider: "garmin".into(),
        };
        let (_, run) = rig
            .jobs
            .sync_jobs()
            .enqueue(&connection, SyncSource::Pull, None)
            .await
            .unwrap();
        let run = run.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let redis = rig.redis.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let api_only = owl(dir.path(), &server.db.url, redis)
            .args([
                "serve",
                "--no-worker",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .spawn()
            .unwrap();
        let mut up = false;
        for _ in 0..100 {
            if reqwest::get(format!("http://127.0.0.1:{port}/api/v1/health"))
                .await
                .is_ok()
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "owl serve --no-worker answers");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let status = rig.store.sync_run(run.id).await.unwrap().unwrap().status;
        assert_eq!(
            status,
            SyncStatus::Queued,
            "serve --no-worker runs no jobs on {backend:?}"
        );
        assert!(terminate(api_only).await.success());

        let worker = owl(dir.path(), &server.db.url, redis)
            .arg("worker")
            .spawn()
            .unwrap();
        wait_until(
            Duration::from_secs(20),
            "owl worker ran the sync",
            || async {
                rig.store.sync_run(run.id).await.unwrap().unwrap().status == SyncStatus::Succeeded
            },
        )
        .await;
        // Its scheduler may have enqueued the connection's periodic sync meanwhile; that runs too.
        wait_until(Duration::from_secs(10), "the queue is empty", || async {
            rig.stats().await == QueueStats::default()
        })
        .await;
        assert!(
            terminate(worker).await.success(),
            "owl worker stops gracefully on {backend:?}"
        );

        // Plain `owl serve` runs workers in its own process.
        let (_, backfill) = rig
            .jobs
            .sync_jobs()
            .enqueue(
                &connection,
                SyncSource::Backfill,
                Some((T0, T0 + 86_400_000)),
            )
            .await
            .unwrap();
        let backfill = backfill.unwrap();
        let serve = owl(dir.path(), &server.db.url, redis)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .spawn()
            .unwrap();
        wait_until(
            Duration::from_secs(20),
            "owl serve ran the backfill in-process",
            || async {
                rig.store
                    .sync_run(backfill.id)
                    .await
                    .unwrap()
                    .unwrap()
                    .status
                    == SyncStatus::Succeeded
            },
        )
        .await;
        assert!(terminate(serve).await.success(), "{backend:?}");
        rig.cleanup().await;
    }
}

// ---------------------------------------------------------------------------------------------
// SyncService
// ---------------------------------------------------------------------------------------------

/// A server on `backend` and a worker-side rig on the same database and queue. On Redis the
/// rig is another replica (its own pool, queue and status subscription).
async fn served(backend: Backend) -> (TestServer, Option<Rig>) {
    match backend {
        Backend::Embedded => (TestServer::start().await, None),
        Backend::Redis => {
            let url = redis_url().unwrap();
            let prefix = format!("owl-test:{}:", Uuid::now_v7().simple());
            let server = TestServer::start_with(&[
                ("REDIS_URL", url.as_str()),
                ("OWL_REDIS_KEY_PREFIX", prefix.as_str()),
            ])
            .await;
            let rig = Rig::open(
                Backend::Redis,
                &server.db.url,
                Some((url, prefix)),
                settings(),
            )
            .await;
            (server, Some(rig))
        }
    }
}

fn connection_name(user: Uuid, connection: Uuid) -> String {
    format!("users/{user}/connections/{connection}")
}

#[tokio::test]
async fn sync_service_enqueues_lists_and_streams_runs_as_a_worker_completes_them() {
    for backend in backends() {
        let (server, rig) = served(backend).await;
        let developer = server.developer().await;
        let (_, api) = server.application(&developer, "App").await;
        let (_, other_app) = server.application(&developer, "Other").await;
        let user = server.user(&api, "ann").await;
        let ann = user_id(&user);
        let bob = user_id(&server.user(&api, "bob").await);
        let url = &server.db.url;
        let garmin = insert_connection(url, ann, "garmin", "active").await;
        let polar = insert_connection(url, ann, "polar", "active").await;
        let whoop = insert_connection(url, ann, "whoop", "revoked").await;
        let bobs = insert_connection(url, bob, "oura", "active").await;

        let mut watch = api
            .watch_sync_status(pb::WatchSyncStatusRequest {
                parent: user.name.clone(),
                replay: 0,
            })
            .await
            .unwrap();
        let run = api
            .sync_connection(pb::SyncConnectionRequest {
                name: connection_name(ann, garmin),
                backfill_range: None,
            })
            .await
            .unwrap();
        assert_eq!(run.state, pb::SyncState::Queued as i32, "{backend:?}");
        assert_eq!(run.source, pb::SyncSource::Pull as i32);
        assert_eq!(run.connection, connection_name(ann, garmin));
        assert_eq!(run.provider, "garmin");
        assert!(run.name.starts_with(&format!("{}/syncRuns/", user.name)));
        let again = api
            .sync_connection(pb::SyncConnectionRequest {
                name: connection_name(ann, garmin),
                backfill_range: None,
            })
            .await
            .unwrap();
        assert_eq!(again.name, run.name, "a pending sync is not doubled");
        common::assert_error(
            api.sync_connection(pb::SyncConnectionRequest {
                name: connection_name(ann, whoop),
                backfill_range: None,
            })
            .await,
            owl::Code::FailedPrecondition,
            "CONNECTION_NOT_ACTIVE",
        );
        common::assert_error(
            api.sync_connection(pb::SyncConnectionRequest {
                name: connection_name(ann, bobs),
                backfill_range: None,
            })
            .await,
            owl::Code::NotFound,
            "NOT_FOUND",
        );
        common::assert_error(
            other_app
                .list_sync_runs(pb::ListSyncRunsRequest {
                    parent: user.name.clone(),
                    ..Default::default()
                })
                .await,
            owl::Code::NotFound,
            "NOT_FOUND",
        );
        let bad = common::assert_error(
            api.sync_connection(pb::SyncConnectionRequest {
                name: connection_name(ann, polar),
                backfill_range: Some(pb::TimeRange {
                    start_time: Some(prost_types::Timestamp {
                        seconds: 1_000,
                        nanos: 0,
                    }),
                    end_time: Some(prost_types::Timestamp {
                        seconds: 1_000,
                        nanos: 0,
                    }),
                }),
            })
            .await,
            owl::Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        assert_eq!(common::violated_fields(&bad), ["backfill_range.end_time"]);
        let synced = api
            .sync_user(pb::SyncUserRequest {
                name: user.name.clone(),
            })
            .await
            .unwrap();
        let mut connections: Vec<String> = synced
            .sync_runs
            .iter()
            .map(|r| r.connection.clone())
            .collect();
        connections.sort();
        let mut expected = vec![connection_name(ann, garmin), connection_name(ann, polar)];
        expected.sort();
        assert_eq!(connections, expected, "active connections only");
        assert!(synced.sync_runs.iter().any(|r| r.name == run.name));

        // The watch saw the queued runs; a worker (on Redis: another replica) completes them.
        if rig.is_some() {
            // Lets the server's status subscription settle before the worker publishes.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let jobs = rig.as_ref().map_or(server.jobs.clone(), |r| r.jobs.clone());
        let worker = tokio::spawn(jobs.worker().run(std::future::pending()));
        let mut last_state: HashMap<String, i32> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        while last_state.len() < 2
            || last_state
                .values()
                .any(|s| *s != pb::SyncState::Succeeded as i32)
        {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let next = tokio::time::timeout(remaining, futures::StreamExt::next(&mut watch))
                .await
                .unwrap_or_else(|_| {
                    panic!("watch did not see both runs succeed on {backend:?}: {last_state:?}")
                })
                .expect("the watch stays open")
                .unwrap();
            assert!(next.name.starts_with(&user.name), "only ann's runs");
            let previous = last_state
                .insert(next.name.clone(), next.state)
                .unwrap_or(0);
            assert!(next.state >= previous, "states only move forward");
        }
        worker.abort();

        let listed = api
            .list_sync_runs(pb::ListSyncRunsRequest {
                parent: user.name.clone(),
                connection: connection_name(ann, garmin),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(listed.sync_runs.len(), 1, "{backend:?}");
        let done = &listed.sync_runs[0];
        assert_eq!(done.name, run.name);
        assert_eq!(done.state, pb::SyncState::Succeeded as i32);
        assert_eq!(done.stage, "done");
        assert_eq!(done.attempts, 1);
        assert!(done.start_time.is_some() && done.finish_time.is_some());
        let first_page = api
            .list_sync_runs(pb::ListSyncRunsRequest {
                parent: user.name.clone(),
                page_size: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(first_page.sync_runs.len(), 1);
        assert!(!first_page.next_page_token.is_empty());
        let second_page = api
            .list_sync_runs(pb::ListSyncRunsRequest {
                parent: user.name.clone(),
                page_size: 1,
                page_token: first_page.next_page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(second_page.sync_runs.len(), 1);
        assert!(second_page.next_page_token.is_empty());
        assert!(
            second_page.sync_runs[0].name < first_page.sync_runs[0].name,
            "newest first"
        );
        if let Some(rig) = rig {
            rig.cleanup().await;
        }
    }
}

/// The data frames of a grpc-web body read so far, and the rest.
fn grpc_web_messages(buffer: &mut Vec<u8>) -> Vec<pb::SyncRun> {
    let mut out = Vec::new();
    while buffer.len() >= 5 {
        let length = u32::from_be_bytes(buffer[1..5].try_into().unwrap()) as usize;
        if buffer.len() < 5 + length {
            break;
        }
        let frame: Vec<u8> = buffer.drain(..5 + length).collect();
        if frame[0] == 0 {
            out.push(prost::Message::decode(&frame[5..]).unwrap());
        }
    }
    out
}

#[tokio::test]
async fn watch_sync_status_streams_over_grpc_web_from_a_browser() {
    for backend in backends() {
        let (server, rig) = served(backend).await;
        let developer = server.developer().await;
        let (application, _) = server.application(&developer, "Web").await;
        let key = developer
            .create_api_key(pb::CreateApiKeyRequest {
                parent: application.name.clone(),
                api_key: Some(pb::ApiKey {
                    display_name: "browser".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .key;
        let api = server.client.with_api_key(key.clone());
        let user = server.user(&api, "ann").await;
        let connection =
            insert_connection(&server.db.url, user_id(&user), "garmin", "active").await;
        let run = api
            .sync_connection(pb::SyncConnectionRequest {
                name: connection_name(user_id(&user), connection),
                backfill_range: None,
            })
            .await
            .unwrap();
        let request = pb::WatchSyncStatusRequest {
            parent: user.name.clone(),
            replay: 5,
        };
        let payload = prost::Message::encode_to_vec(&request);
        let mut body = vec![0u8];
        body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        body.extend_from_slice(&payload);
        let http = reqwest::Client::builder().http1_only().build().unwrap();
        let mut response = http
            .post(format!("{}/owl.v1.SyncService/WatchSyncStatus", server.url))
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .header("x-api-key", key)
            .header("origin", "http://app.example.com")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{backend:?}");
        assert_eq!(response.version(), reqwest::Version::HTTP_11);
        let mut buffer = Vec::new();
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut worker = None;
        while !seen
            .iter()
            .any(|r: &pb::SyncRun| r.state == pb::SyncState::Succeeded as i32)
        {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(remaining, response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no success over grpc-web on {backend:?}: {seen:?}"))
                .unwrap()
                .expect("the stream stays open");
            buffer.extend_from_slice(&chunk);
            seen.extend(grpc_web_messages(&mut buffer));
            if worker.is_none() && !seen.is_empty() {
                // The replay arrived: the queued run. Now let a worker complete it.
                assert_eq!(seen[0].name, run.name);
                assert_eq!(seen[0].state, pb::SyncState::Queued as i32);
                if rig.is_some() {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                let jobs = rig.as_ref().map_or(server.jobs.clone(), |r| r.jobs.clone());
                worker = Some(tokio::spawn(jobs.worker().run(std::future::pending())));
            }
        }
        if let Some(worker) = worker {
            worker.abort();
        }
        assert!(seen.iter().all(|r| r.name == run.name), "{backend:?}");
        if let Some(rig) = rig {
            rig.cleanup().await;
        }
    }
}

#[tokio::test]
async fn owl_jobs_lists_dead_jobs_with_their_error_and_requeues_one() {
    for backend in backends() {
        let server = TestServer::start().await;
        let mut s = settings();
        s.queue.max_attempts = 1;
        let rig = Rig::new(backend, &server.db.url, s).await;
        let id = enqueue(rig.queue().as_ref(), "doomed").await;
        let leased = rig.queue().reserve("cli", 1, Duration::ZERO).await.unwrap();
        assert_eq!(
            rig.queue()
                .nack(&leased[0], "provider said no", None)
                .await
                .unwrap(),
            Nacked::Dead
        );
        let dir = tempfile::tempdir().unwrap();
        let redis = rig.redis.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
        let listed = owl(dir.path(), &server.db.url, redis)
            .args(["jobs", "dead"])
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        assert!(listed.status.success(), "{backend:?}");
        let stdout = String::from_utf8_lossy(&listed.stdout);
        assert!(
            stdout.contains(&id.to_string()) && stdout.contains("provider said no"),
            "{backend:?}: {stdout}"
        );
        let requeue = |id: Uuid| {
            owl(dir.path(), &server.db.url, redis)
                .args(["jobs", "requeue", &id.to_string()])
                .status()
                .unwrap()
        };
        assert!(requeue(id).success(), "{backend:?}");
        assert_eq!(
            rig.stats().await,
            QueueStats {
                pending: 1,
                dead: 0
            }
        );
        assert!(
            !requeue(id).success(),
            "a job that is not dead cannot be requeued"
        );
        rig.cleanup().await;
    }
}

#[tokio::test]
async fn replicas_running_workers_and_schedulers_side_by_side_sync_once_per_interval() {
    for backend in backends() {
        let server = TestServer::start().await;
        let developer = server.developer().await;
        let (_, api) = server.application(&developer, "App").await;
        let ann = user_id(&server.user(&api, "ann").await);
        let garmin = insert_connection(&server.db.url, ann, "garmin", "active").await;
        let polar = insert_connection(&server.db.url, ann, "polar", "active").await;
        let mut s = settings();
        s.sync_interval = Duration::from_secs(1);
        let first = Rig::new(backend, &server.db.url, s).await;
        let second = first.replica().await;
        let (stop, stopped) = tokio::sync::watch::channel(());
        let until = |mut rx: tokio::sync::watch::Receiver<()>| async move {
            let _ = rx.changed().await;
        };
        let started = Instant::now();
        let replicas = [&first, &second].map(|rig| {
            let jobs = rig.jobs.clone();
            let stopped = until(stopped.clone());
            tokio::spawn(async move { jobs.run(stopped).await })
        });
        tokio::time::sleep(Duration::from_millis(3200)).await;
        let _ = stop.send(());
        for replica in replicas {
            replica.await.unwrap();
        }
        // 3.2 s of one-second slots: the slot at start plus three or four more wakes (each up
        // to 100 ms of jitter after its slot begins). Two replicas that both enqueued would
        // make six or more (seven and eight measured with the lease disabled).
        assert!(started.elapsed() < Duration::from_secs(5));
        for connection in [garmin, polar] {
            let runs = first
                .store
                .list_sync_runs(
                    &SyncRunFilter {
                        user_id: ann,
                        connection_id: Some(connection),
                    },
                    &owl_server::domain::page::PageRequest::first(100),
                )
                .await
                .unwrap();
            assert!(
                (3..=5).contains(&runs.len()),
                "{} runs of one connection in 3.2 s on {backend:?}",
                runs.len()
            );
            // The newest may have been enqueued as the workers were stopping.
            assert!(
                runs.iter()
                    .skip(1)
                    .all(|r| r.status == SyncStatus::Succeeded),
                "the replicas' workers ran every sync on {backend:?}"
            );
        }
        first.cleanup().await;
    }
}

/// Writes a CA and a server certificate for 127.0.0.1 into `dir`: (ca, cert, key).
fn tls_files(dir: &std::path::Path) -> (String, String, String) {
    let path = |name: &str| dir.join(name).display().to_string();
    let run = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is installed");
        assert!(status.success(), "openssl {args:?}");
    };
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=owl test ca",
        "-keyout",
        &path("ca.key"),
        "-out",
        &path("ca.crt"),
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &path("server.key"),
        "-out",
        &path("server.csr"),
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &path("server.csr"),
        "-CA",
        &path("ca.crt"),
        "-CAkey",
        &path("ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &path("server.ext"),
        "-out",
        &path("server.crt"),
    ]);
    (path("ca.crt"), path("server.crt"), path("server.key"))
}

#[tokio::test]
async fn owl_serve_runs_its_queue_on_redis_over_tls() {
    if redis_url().is_none() {
        eprintln!("skipped: OWL_TEST_REDIS_URL is not set");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = tls_files(dir.path());
    let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redis = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &tls_port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is installed");
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _redis = Kill(redis);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server with TLS did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // The database and its user come from the in-process harness; `owl serve` (API and
    // workers) talks to Redis over TLS, trusting the test CA through SSL_CERT_FILE.
    let harness = TestServer::start().await;
    let developer = harness.developer().await;
    let (_, api) = harness.application(&developer, "App").await;
    let user = harness.user(&api, "ann").await;
    let connection = insert_connection(&harness.db.url, user_id(&user), "garmin", "active").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("rediss://127.0.0.1:{tls_port}/0");
    let serve = owl(dir.path(), &harness.db.url, Some((&url, "owl-tls-test:")))
        .env("SSL_CERT_FILE", &ca)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut healthy = None;
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(format!("{base}/api/v1/health")).await {
            healthy = Some(response.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health = healthy.expect("owl serve answers");
    assert_eq!(health["cache"], "ok", "{health}");
    let owl::Credentials::ApiKey(key) = api.credentials().clone() else {
        panic!("an API key client");
    };
    let client = owl::Client::connect(base.clone())
        .await
        .unwrap()
        .with_api_key(key);
    let run = client
        .sync_connection(pb::SyncConnectionRequest {
            name: connection_name(user_id(&user), connection),
            backfill_range: None,
        })
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(20),
        "the sync ran through Redis over TLS",
        || async {
            let runs = client
                .list_sync_runs(pb::ListSyncRunsRequest {
                    parent: user.name.clone(),
                    ..Default::default()
                })
                .await
                .unwrap();
            runs.sync_runs
                .iter()
                .any(|r| r.name == run.name && r.state == pb::SyncState::Succeeded as i32)
        },
    )
    .await;
    assert!(terminate(serve).await.success());
}
