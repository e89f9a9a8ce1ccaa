//! Background work: a durable job queue behind one trait, workers, the periodic scheduler and
//! sync runs.
//!
//! - `queue`     the `Queue` trait (enqueue with delay and dedup key, reserve with a lease,
//!   ack, nack with backoff, dead letters, requeue) and the retry policy
//! - `redis`     Redis Streams with a consumer group (used when Redis is configured)
//! - `embedded`  a database table (`store::JobStore`), the default
//! - `worker`    handlers by job kind, N at once per process, heartbeats, graceful shutdown
//! - `scheduler` a sync job per active connection every SYNC_INTERVAL_SECONDS, once across
//!   replicas (`ScheduleLease`: Redis `SET NX PX`, or a database row)
//! - `sync`      enqueueing syncs with their run records, and the sync handler
//! - `runs`      the sync run record and its enums
//! - `status`    live sync status (Redis pub/sub, or in-process plus `status_poll` of the database)
//!
//! `Jobs` bundles what one process needs; `AppState::from_config` builds it, `owl serve` runs
//! `Jobs::run` beside the API unless `--no-worker`, and `owl worker` runs only that.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub mod embedded;
pub mod import;
pub mod import_status;
pub mod queue;
pub mod redis;
pub(crate) mod relay;
pub mod runs;
pub mod scheduler;
pub mod sleep;
pub mod status;
mod status_poll;
pub mod sync;
pub mod worker;

pub use embedded::EmbeddedQueue;
pub use queue::{
    DeadLetter, Delivery, Enqueued, Nacked, NewJob, Queue, QueueSettings, QueueStats, RetryAfter,
};
pub use redis::RedisQueue;
pub use scheduler::{DbLease, ScheduleLease, Scheduler, Tick};
pub use status::StatusBus;
pub use sync::{SYNC_KIND, SyncHandler, SyncJobs, SyncPayload};
pub use worker::{Handler, Registry, Worker, WorkerSettings};

use crate::config::JobsConfig;
use crate::domain::{Clock, Context};
use crate::store::jobs::{JobStore, SyncStore};

/// How often the embedded queue's idle workers look for jobs enqueued by other processes.
const EMBEDDED_POLL: Duration = Duration::from_millis(250);

/// The settings of background work.
#[derive(Debug, Clone, PartialEq)]
pub struct JobsSettings {
    /// Leases and retries.
    pub queue: QueueSettings,
    /// Concurrency and shutdown of workers.
    pub worker: WorkerSettings,
    /// Time between periodic syncs of a connection.
    pub sync_interval: Duration,
}

impl JobsSettings {
    /// From the configuration.
    pub fn from_config(jobs: &JobsConfig, sync_interval_seconds: u64) -> Self {
        JobsSettings {
            queue: QueueSettings {
                visibility_timeout: Duration::from_secs(jobs.visibility_timeout_seconds),
                max_attempts: jobs.max_attempts,
                backoff_base: Duration::from_millis(jobs.retry_base_ms),
                backoff_max: Duration::from_millis(jobs.retry_max_ms),
            },
            worker: WorkerSettings {
                concurrency: jobs.worker_concurrency,
                ..WorkerSettings::default()
            },
            sync_interval: Duration::from_secs(sync_interval_seconds),
        }
    }
}

/// Background work of one process: the queue, the scheduler's lease, the stores handlers use.
#[derive(Clone)]
pub struct Jobs {
    /// The queue every job goes through.
    pub queue: Arc<dyn Queue>,
    /// Claims scheduler slots once across replicas.
    pub lease: Arc<dyn ScheduleLease>,
    /// Sync runs and connections.
    pub syncs: Arc<dyn SyncStore>,
    /// Time of run records.
    pub clock: Arc<dyn Clock>,
    /// Timing and concurrency.
    pub settings: JobsSettings,
    /// Live changes of sync runs.
    pub status: StatusBus,
    /// `redis` or `embedded`.
    pub backend: &'static str,
    /// What sync handlers pull with (providers, stores); without it a sync records its run and
    /// fetches nothing (benchmarks of the queue alone).
    pub ctx: Option<Arc<Context>>,
    /// Imports of files (records, spool, status); set by `AppState::from_config`.
    pub imports: Option<Arc<import::ImportRuntime>>,
}

impl Jobs {
    /// Jobs kept in the database.
    pub fn embedded<S>(store: Arc<S>, clock: Arc<dyn Clock>, settings: JobsSettings) -> Self
    where
        S: JobStore + SyncStore + 'static,
    {
        let queue = EmbeddedQueue::new(store.clone(), settings.queue, EMBEDDED_POLL);
        let status = StatusBus::embedded(store.clone(), clock.clone());
        Jobs {
            queue: Arc::new(queue),
            lease: Arc::new(DbLease(store.clone())),
            syncs: store,
            clock,
            settings,
            status,
            backend: "embedded",
            ctx: None,
            imports: None,
        }
    }

    /// Jobs on Redis under `prefix`; connects lazily, so a Redis that is down at start delays
    /// jobs but not the API.
    /// `url` is Redis's, for the pub/sub connection of sync status.
    pub fn redis(
        pool: deadpool_redis::Pool,
        url: &str,
        prefix: &str,
        syncs: Arc<dyn SyncStore>,
        clock: Arc<dyn Clock>,
        settings: JobsSettings,
    ) -> Self {
        let queue = Arc::new(RedisQueue::new(pool.clone(), prefix, settings.queue));
        let status = StatusBus::redis(pool, url, prefix, syncs.clone());
        Jobs {
            queue: queue.clone(),
            lease: queue,
            syncs,
            clock,
            settings,
            status,
            backend: "redis",
            ctx: None,
            imports: None,
        }
    }

    /// Enqueues syncs with their run records.
    pub fn sync_jobs(&self) -> SyncJobs {
        SyncJobs::new(
            self.queue.clone(),
            self.syncs.clone(),
            self.clock.clone(),
            self.status.clone(),
        )
    }

    /// The handlers of every job kind owl runs.
    pub fn registry(&self) -> Registry {
        let mut registry = Registry::new();
        registry.register(
            SYNC_KIND,
            Arc::new(
                SyncHandler::new(self.syncs.clone(), self.clock.clone(), self.status.clone())
                    .pulling_with(self.ctx.clone(), self.lease.clone()),
            ),
        );
        if let Some(ctx) = &self.ctx {
            registry.register(
                sleep::SLEEP_CLOSE_KIND,
                Arc::new(sleep::SleepCloseHandler(ctx.clone())),
            );
        }
        if let (Some(imports), Some(ctx)) = (&self.imports, &self.ctx) {
            registry.register(
                import::IMPORT_KIND,
                Arc::new(import::ImportHandler::new(imports.clone(), ctx.clone())),
            );
        }
        registry
    }

    /// A worker running the registered handlers.
    pub fn worker(&self) -> Worker {
        Worker::new(
            self.queue.clone(),
            Arc::new(self.registry()),
            self.settings.worker,
        )
    }

    /// A scheduler replica named `holder`.
    pub fn scheduler(&self, holder: impl Into<String>) -> Scheduler {
        Scheduler::new(
            self.sync_jobs(),
            self.syncs.clone(),
            self.lease.clone(),
            self.settings.sync_interval,
            holder,
        )
        // Sleep assembly needs the use-cases' context (absent in queue-only benchmarks).
        .also_enqueuing(self.ctx.iter().map(|_| sleep::sleep_close_job()).collect())
    }

    /// Runs a worker and a scheduler replica until `shutdown` resolves; returns once running
    /// jobs have finished (or the grace period ended).
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) {
        let (stop, stopped) = tokio::sync::watch::channel(());
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<()>| async move {
            let _ = rx.changed().await;
        };
        let worker = self.worker();
        let scheduler = self.scheduler(worker.consumer().to_owned());
        tracing::info!(backend = self.backend, "background work started");
        tokio::join!(
            worker.run(until_stopped(stopped.clone())),
            scheduler.run(until_stopped(stopped.clone())),
            async move {
                shutdown.await;
                let _ = stop.send(());
            },
        );
        tracing::info!("background work stopped");
    }
}
