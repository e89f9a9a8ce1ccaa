//! Workers: a loop that leases jobs and runs up to N of them at once through the handler
//! registered for their kind, acknowledging each only after its handler returned.
//!
//! While a handler runs, its lease is renewed every third of the visibility timeout, so long
//! jobs are not reclaimed from a live worker. A handler that fails (or panics) is nacked: the
//! queue retries it with backoff (no earlier than a `RetryAfter` in its error asks) or
//! dead-letters it. On shutdown the worker stops leasing and
//! waits for running jobs up to a grace period; jobs still running then are abandoned to their
//! leases, and another worker picks them up when the leases run out.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::queue::{DeadLetter, Delivery, Nacked, Queue, RetryAfter, clip_error};

/// Runs jobs of one kind. Must be idempotent: a job may be delivered more than once.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Does the job's work and commits its effects; an error makes the queue retry it.
    /// `last_attempt` is true when a failure now dead-letters the job.
    async fn handle(&self, job: &Delivery, last_attempt: bool) -> anyhow::Result<()>;

    /// Called once when a job of this kind was dead-lettered without the handler failing:
    /// its worker died on the last attempt. Records what the handler would have recorded.
    async fn lost(&self, _job: &DeadLetter) {}
}

/// Handlers by job kind.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn Handler>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs jobs of `kind` with `handler` (replacing any earlier one).
    pub fn register(&mut self, kind: impl Into<String>, handler: Arc<dyn Handler>) -> &mut Self {
        self.handlers.insert(kind.into(), handler);
        self
    }

    /// The handler of `kind`.
    pub fn get(&self, kind: &str) -> Option<&Arc<dyn Handler>> {
        self.handlers.get(kind)
    }
}

/// How a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSettings {
    /// Jobs run at once.
    pub concurrency: usize,
    /// How long one reservation waits for a job before checking for shutdown again.
    pub poll_wait: Duration,
    /// How long shutdown waits for running jobs.
    pub shutdown_grace: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 8,
            poll_wait: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// A worker: leases and runs jobs until shut down.
pub struct Worker {
    queue: Arc<dyn Queue>,
    registry: Arc<Registry>,
    settings: WorkerSettings,
    consumer: String,
}

impl Worker {
    /// A worker on `queue` with a consumer name unique to it.
    pub fn new(queue: Arc<dyn Queue>, registry: Arc<Registry>, settings: WorkerSettings) -> Self {
        let consumer = format!(
            "worker-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        );
        Worker {
            queue,
            registry,
            settings,
            consumer,
        }
    }

    /// The name this worker leases jobs under.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Runs jobs until `shutdown` resolves, then drains running jobs for up to the grace
    /// period. Dropping the returned future (aborting its task) abandons every running job to
    /// its lease, as a crash would.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let concurrency = self.settings.concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut running: JoinSet<()> = JoinSet::new();
        let mut failures: u32 = 0;
        tokio::pin!(shutdown);
        tracing::info!(consumer = %self.consumer, concurrency, "worker started");
        loop {
            while let Some(done) = running.try_join_next() {
                report(done);
            }
            if slots.available_permits() == 0 {
                tokio::select! {
                    () = &mut shutdown => break,
                    Some(done) = running.join_next() => report(done),
                }
                continue;
            }
            // Not raced against shutdown: a reservation cut off mid-flight would leave its
            // jobs leased to nobody until their leases ran out.
            let reserved = self
                .queue
                .reserve(
                    &self.consumer,
                    slots.available_permits(),
                    self.settings.poll_wait,
                )
                .await;
            for dead in self.queue.take_lost() {
                tracing::warn!(job = %dead.id, kind = %dead.kind, attempts = dead.attempts, "job dead-lettered: its worker was lost on the last attempt");
                if let Some(handler) = self.registry.get(&dead.kind) {
                    handler.lost(&dead).await;
                }
            }
            match reserved {
                Ok(deliveries) => {
                    failures = 0;
                    for delivery in deliveries {
                        let Ok(permit) = slots.clone().acquire_owned().await else {
                            break;
                        };
                        let queue = self.queue.clone();
                        let registry = self.registry.clone();
                        running.spawn(async move {
                            execute(queue.as_ref(), &registry, delivery).await;
                            drop(permit);
                        });
                    }
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let pause = Duration::from_millis(100u64 << failures.min(4));
                    tracing::warn!(%error, retry_in_ms = pause.as_millis() as u64, "worker cannot reserve jobs");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                    continue;
                }
            }
            if (&mut shutdown).now_or_never().is_some() {
                break;
            }
        }
        tracing::info!(consumer = %self.consumer, running = running.len(), "worker stopping");
        let drained = tokio::time::timeout(self.settings.shutdown_grace, async {
            while let Some(done) = running.join_next().await {
                report(done);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                abandoned = running.len(),
                "jobs still running at the end of the grace period are left to their leases"
            );
            running.abort_all();
        }
    }
}

fn report(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done
        && error.is_panic()
    {
        tracing::error!(%error, "job task panicked outside its handler");
    }
}

/// Runs one delivery to its end: handler, heartbeats, then ack or nack.
async fn execute(queue: &dyn Queue, registry: &Registry, delivery: Delivery) {
    let started = std::time::Instant::now();
    let Some(handler) = registry.get(&delivery.kind).cloned() else {
        let error = format!("no handler for job kind {:?}", delivery.kind);
        settle_failure(queue, &delivery, &error, None).await;
        return;
    };
    let last_attempt = delivery.attempt >= queue.settings().max_attempts;
    let work = std::panic::AssertUnwindSafe(handler.handle(&delivery, last_attempt)).catch_unwind();
    let outcome = tokio::select! {
        outcome = work => outcome,
        never = keep_leased(queue, &delivery) => match never {},
    };
    let label = match &outcome {
        Ok(Ok(())) => "ok",
        Ok(Err(_)) => "error",
        Err(_) => "panic",
    };
    metrics::counter!(crate::metrics::JOBS, "kind" => delivery.kind.clone(), "outcome" => label)
        .increment(1);
    metrics::histogram!(crate::metrics::JOB_DURATION, "kind" => delivery.kind.clone())
        .record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(Ok(())) => {
            if let Err(error) = queue.ack(&delivery).await {
                // The effects are committed; the job will be delivered again and its handler,
                // being idempotent, will change nothing.
                tracing::warn!(job = %delivery.id, %error, "ack failed; the job will run again");
            } else {
                tracing::debug!(
                    job = %delivery.id,
                    kind = %delivery.kind,
                    attempt = delivery.attempt,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "job done"
                );
            }
        }
        Ok(Err(error)) => {
            let not_before = RetryAfter::of(&error);
            settle_failure(queue, &delivery, &format!("{error:#}"), not_before).await
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let error = format!("handler panicked: {message}");
            settle_failure(queue, &delivery, &error, None).await;
        }
    }
}

/// Renews the lease every third of the visibility timeout while the handler runs. Never
/// returns; after losing the lease it stops renewing and waits.
async fn keep_leased(queue: &dyn Queue, delivery: &Delivery) -> std::convert::Infallible {
    let every = (queue.settings().visibility_timeout / 3).max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(every).await;
        match queue.heartbeat(delivery).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(job = %delivery.id, "lease lost; another worker may run the job too");
                break;
            }
            Err(error) => tracing::warn!(job = %delivery.id, %error, "lease renewal failed"),
        }
    }
    std::future::pending().await
}

async fn settle_failure(
    queue: &dyn Queue,
    delivery: &Delivery,
    error: &str,
    not_before: Option<Duration>,
) {
    let error = clip_error(error);
    match queue.nack(delivery, error, not_before).await {
        Ok(Nacked::Retry(delay)) => tracing::info!(
            job = %delivery.id,
            kind = %delivery.kind,
            attempt = delivery.attempt,
            retry_in_ms = delay.as_millis() as u64,
            error,
            "job failed; retrying"
        ),
        Ok(Nacked::Dead) => tracing::warn!(
            job = %delivery.id,
            kind = %delivery.kind,
            attempt = delivery.attempt,
            error,
            "job failed for the last time; dead-lettered"
        ),
        Ok(Nacked::Stale) => tracing::info!(
            job = %delivery.id,
            error,
            "job failed after its lease passed to another worker"
        ),
        Err(nack_error) => tracing::warn!(
            job = %delivery.id,
            error,
            %nack_error,
            "job failed and the failure could not be recorded; it will run again after its lease"
        ),
    }
}
