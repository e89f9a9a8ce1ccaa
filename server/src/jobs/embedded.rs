//! The embedded queue: jobs in the database (`store::JobStore`), used when no Redis is
//! configured. A restart of `owl serve` loses nothing: every job is a row until acknowledged.
//!
//! A reserved job keeps its row with `visible_at` moved to the end of its lease, so the jobs
//! of a dead worker become visible again by themselves. Workers poll; enqueues in the same
//! process wake them at once. Acknowledgements that arrive together are deleted together (a
//! group commit): each `ack` still returns only once its row is gone.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, oneshot};
use uuid::Uuid;

use super::queue::{
    DeadLetter, Delivery, Enqueued, Nacked, NewJob, Queue, QueueSettings, QueueStats, now_ms,
};
use crate::domain::error::{Error, Result};
use crate::store::jobs::{JobRow, JobStore};

/// Told how the delete of its acknowledgement went.
type AckWaiter = oneshot::Sender<std::result::Result<(), String>>;

/// A job queue kept in the database.
pub struct EmbeddedQueue {
    store: Arc<dyn JobStore>,
    settings: QueueSettings,
    /// How often idle workers look for jobs that other processes enqueued or that became
    /// visible (delays, retries, expired leases).
    poll_interval: Duration,
    wake: Notify,
    /// Dead-lettered by this handle's reservations, not yet taken.
    lost: std::sync::Mutex<Vec<DeadLetter>>,
    /// Acknowledgements waiting for the next delete, each with its waiter.
    acks: std::sync::Mutex<Vec<(Uuid, AckWaiter)>>,
    /// Held by the one `ack` deleting a batch; the others queue behind it.
    flushing: tokio::sync::Mutex<()>,
}

impl EmbeddedQueue {
    /// A queue over `store`.
    pub fn new(store: Arc<dyn JobStore>, settings: QueueSettings, poll_interval: Duration) -> Self {
        EmbeddedQueue {
            store,
            settings,
            poll_interval,
            wake: Notify::new(),
            lost: std::sync::Mutex::new(Vec::new()),
            acks: std::sync::Mutex::new(Vec::new()),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    /// Deletes every acknowledgement queued so far in one statement (a group commit) and tells
    /// each waiter how it went.
    async fn flush_acks(&self) {
        let _flusher = self.flushing.lock().await;
        let batch = std::mem::take(
            &mut *self
                .acks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        if batch.is_empty() {
            // An earlier flusher took this caller's acknowledgement.
            return;
        }
        let ids: Vec<Uuid> = batch.iter().map(|(id, _)| *id).collect();
        let outcome = self
            .store
            .delete_jobs(&ids)
            .await
            .map(|_| ())
            .map_err(|error| format!("{error:#}"));
        for (_, waiter) in batch {
            let _ = waiter.send(outcome.clone());
        }
    }

    fn ms(duration: Duration) -> i64 {
        i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
    }
}

fn receipt(delivery: &Delivery) -> Result<Uuid> {
    Uuid::parse_str(&delivery.receipt)
        .map_err(|_| Error::Internal(anyhow::anyhow!("malformed lease token")))
}

#[async_trait]
impl Queue for EmbeddedQueue {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let now = now_ms();
        let row = JobRow {
            id: Uuid::now_v7(),
            kind: job.kind,
            payload: job.payload,
            dedup_key: job.dedup_key,
            visible_at_ms: now + job.delay.map_or(0, Self::ms),
            enqueued_at_ms: now,
        };
        let outcome = self.store.insert_job(&row).await?;
        if matches!(outcome, Enqueued::New(_)) && job.delay.is_none() {
            self.wake.notify_waiters();
        }
        Ok(outcome)
    }

    async fn reserve(&self, consumer: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register for a wake-up before looking, so an enqueue in between is not missed.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let now = now_ms();
            let (leased, buried) = self
                .store
                .lease_jobs(
                    consumer,
                    max,
                    now,
                    now + Self::ms(self.settings.visibility_timeout),
                    self.settings.max_attempts,
                )
                .await?;
            if !buried.is_empty() {
                self.lost
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .extend(buried);
            }
            if !leased.is_empty() {
                return Ok(leased
                    .into_iter()
                    .map(|job| Delivery {
                        id: job.id,
                        kind: job.kind,
                        payload: job.payload,
                        attempt: job.attempts,
                        enqueued_at_ms: job.enqueued_at_ms,
                        receipt: job.lease_token.to_string(),
                    })
                    .collect());
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let nap = self.poll_interval.min(deadline - now);
            let _ = tokio::time::timeout(nap, woken).await;
        }
    }

    async fn ack(&self, delivery: &Delivery) -> Result<()> {
        // Acknowledgements that arrive while a delete runs share the next one: one commit (one
        // fsync) for many jobs, and none returns before its row is gone.
        let (done, outcome) = oneshot::channel();
        self.acks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((delivery.id, done));
        self.flush_acks().await;
        match outcome.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(Error::Internal(anyhow::anyhow!(
                "acknowledging jobs: {error}"
            ))),
            // The flusher was cancelled mid-delete: the job may run again (at least once).
            Err(_) => Err(Error::Internal(anyhow::anyhow!(
                "acknowledgement interrupted"
            ))),
        }
    }

    async fn nack(
        &self,
        delivery: &Delivery,
        error: &str,
        not_before: Option<Duration>,
    ) -> Result<Nacked> {
        let token = receipt(delivery)?;
        if delivery.attempt >= self.settings.max_attempts {
            let buried = self
                .store
                .bury_job(delivery.id, token, now_ms(), error)
                .await?;
            return Ok(if buried { Nacked::Dead } else { Nacked::Stale });
        }
        let delay = self.settings.retry_delay(delivery.attempt, not_before);
        let retried = self
            .store
            .retry_job(delivery.id, token, now_ms() + Self::ms(delay), error)
            .await?;
        Ok(if retried {
            Nacked::Retry(delay)
        } else {
            Nacked::Stale
        })
    }

    async fn heartbeat(&self, delivery: &Delivery) -> Result<bool> {
        let token = receipt(delivery)?;
        self.store
            .extend_lease(
                delivery.id,
                token,
                now_ms() + Self::ms(self.settings.visibility_timeout),
            )
            .await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        self.store.dead_jobs(limit).await
    }

    async fn requeue(&self, id: Uuid) -> Result<bool> {
        let revived = self.store.revive_job(id, now_ms()).await?;
        if revived {
            self.wake.notify_waiters();
        }
        Ok(revived)
    }

    async fn stats(&self) -> Result<QueueStats> {
        self.store.job_counts().await
    }

    async fn oldest_waiting(&self) -> Result<Option<i64>> {
        self.store.oldest_visible(now_ms()).await
    }

    fn take_lost(&self) -> Vec<DeadLetter> {
        std::mem::take(
            &mut *self
                .lost
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    fn settings(&self) -> &QueueSettings {
        &self.settings
    }
}
