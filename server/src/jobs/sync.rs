//! Sync jobs: enqueueing one (with its queued run record) and the handler that runs it.
//!
//! Providers arrive with issue 5, so the handler fetches nothing yet: it records the run as
//! started and then as succeeded with no items. What is real is the life of the record and its
//! idempotence: the run's id travels in the payload, so a redelivered job updates the same
//! record instead of creating another.

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use super::queue::{DeadLetter, Delivery, Enqueued, NewJob, Queue, RetryAfter, clip_error};
use super::runs::{ConnectionRef, SyncProgress, SyncRun, SyncSource, SyncStatus};
use super::status::StatusBus;
use super::worker::Handler;
use crate::domain::error::{Error, Result};
use crate::domain::provider_sync::ProviderSync;
use crate::domain::{Clock, Context};
use crate::store::jobs::SyncStore;

/// The job kind of syncs.
pub const SYNC_KIND: &str = "sync";
/// The `user_connection.status` of a connection that can sync.
const ACTIVE: &str = "active";

/// The input of a sync job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncPayload {
    /// The run this job records; the same on every delivery.
    pub run_id: Uuid,
    /// The connection to sync.
    pub connection_id: Uuid,
    /// Its user.
    pub user_id: Uuid,
    /// Its provider.
    pub provider: String,
    /// What started the sync.
    pub source: SyncSource,
    /// Backfill day range, UNIX milliseconds, end exclusive.
    pub range: Option<(i64, i64)>,
}

impl SyncPayload {
    fn connection(&self) -> ConnectionRef {
        ConnectionRef {
            id: self.connection_id,
            user_id: self.user_id,
            provider: self.provider.clone(),
        }
    }
}

/// Enqueues sync jobs and records their runs.
#[derive(Clone)]
pub struct SyncJobs {
    queue: Arc<dyn Queue>,
    store: Arc<dyn SyncStore>,
    clock: Arc<dyn Clock>,
    status: StatusBus,
}

impl SyncJobs {
    /// The queue sync jobs go through.
    pub fn queue(&self) -> &Arc<dyn Queue> {
        &self.queue
    }

    /// Sync jobs on `queue`, runs in `store`, changes announced on `status`.
    pub fn new(
        queue: Arc<dyn Queue>,
        store: Arc<dyn SyncStore>,
        clock: Arc<dyn Clock>,
        status: StatusBus,
    ) -> Self {
        SyncJobs {
            queue,
            store,
            clock,
            status,
        }
    }

    /// Enqueues a sync of `connection` and records it as queued. While a sync of the same
    /// connection (or a backfill of the same range) is pending, nothing is enqueued and the
    /// pending job's id is returned without a run.
    pub async fn enqueue(
        &self,
        connection: &ConnectionRef,
        source: SyncSource,
        range: Option<(i64, i64)>,
    ) -> Result<(Enqueued, Option<SyncRun>)> {
        self.enqueue_keyed(connection, source, range, None).await
    }

    /// Enqueues a webhook sync that writes the items stashed for `connection`, deduplicated by
    /// `key` (the newest item's id) rather than by connection: a sync already running may have
    /// read the stash before the item arrived, so it must not absorb this one.
    pub async fn enqueue_items(
        &self,
        connection: &ConnectionRef,
        key: &str,
    ) -> Result<(Enqueued, Option<SyncRun>)> {
        let dedup = format!("items:{}:{key}", connection.id);
        self.enqueue_keyed(connection, SyncSource::Webhook, None, Some(dedup))
            .await
    }

    async fn enqueue_keyed(
        &self,
        connection: &ConnectionRef,
        source: SyncSource,
        range: Option<(i64, i64)>,
        dedup: Option<String>,
    ) -> Result<(Enqueued, Option<SyncRun>)> {
        let payload = SyncPayload {
            run_id: Uuid::now_v7(),
            connection_id: connection.id,
            user_id: connection.user_id,
            provider: connection.provider.clone(),
            source,
            range,
        };
        let dedup = match (dedup, range) {
            (Some(dedup), _) => dedup,
            (None, Some((start, end))) => format!("backfill:{}:{start}:{end}", connection.id),
            (None, None) => format!("sync:{}", connection.id),
        };
        let json = serde_json::to_string(&payload).map_err(anyhow::Error::from)?;
        let outcome = self
            .queue
            .enqueue(NewJob::new(SYNC_KIND, json).dedup(dedup))
            .await?;
        if let Enqueued::Duplicate(_) = outcome {
            return Ok((outcome, None));
        }
        let run = SyncRun::queued(payload.run_id, connection, source, range, self.clock.now());
        // A fast worker may have started the run already; the insert then does nothing.
        self.store.insert_sync_run(&run).await?;
        let run = self.store.sync_run(run.id).await?.unwrap_or(run);
        self.status.publish(&run).await;
        Ok((outcome, Some(run)))
    }
}

/// Enqueues the job writing `connection`'s newly stashed webhook items (`key`: the newest's
/// id). A failure is logged: the items stay stashed and the next sync writes them.
pub async fn enqueue_drain(
    jobs: &SyncJobs,
    connection: &crate::domain::connections::StoredConnection,
    key: &str,
) {
    let target = ConnectionRef {
        id: connection.id,
        user_id: connection.user_id,
        provider: connection.provider.clone(),
    };
    if let Err(error) = jobs.enqueue_items(&target, key).await {
        tracing::warn!(connection = %connection.id, %error, "webhook items sync not enqueued");
    }
}

/// Runs sync jobs.
pub struct SyncHandler {
    store: Arc<dyn SyncStore>,
    clock: Arc<dyn Clock>,
    status: StatusBus,
    ctx: Option<Arc<Context>>,
    /// One refresh per connection across workers.
    lease: Option<Arc<dyn super::ScheduleLease>>,
    /// Names this handler in leases.
    holder: String,
}

impl SyncHandler {
    /// A handler recording runs in `store` and announcing them on `status`.
    pub fn new(store: Arc<dyn SyncStore>, clock: Arc<dyn Clock>, status: StatusBus) -> Self {
        SyncHandler {
            store,
            clock,
            status,
            ctx: None,
            lease: None,
            holder: format!("sync-{}", Uuid::now_v7().simple()),
        }
    }

    /// The handler pulling from providers with `ctx` (`None`: record runs only), refreshing
    /// tokens under `lease`.
    pub fn pulling_with(
        mut self,
        ctx: Option<Arc<Context>>,
        lease: Arc<dyn super::ScheduleLease>,
    ) -> Self {
        self.ctx = ctx;
        self.lease = Some(lease);
        self
    }

    /// Announces the stored state of run `id`; a failure here is no failure of the job.
    async fn announce(&self, id: Uuid) {
        match self.store.sync_run(id).await {
            Ok(Some(run)) => self.status.publish(&run).await,
            Ok(None) => {}
            Err(error) => tracing::debug!(run = %id, %error, "sync status: run not announced"),
        }
    }

    /// The provider work of a sync: pulls what is new into the user's health data.
    async fn pull(&self, payload: &SyncPayload) -> anyhow::Result<()> {
        let Some(ctx) = &self.ctx else {
            return Ok(());
        };
        let sync = ProviderSync {
            ctx,
            lease: self.lease.as_deref(),
            holder: &self.holder,
        };
        let outcome = sync
            .run(payload.user_id, payload.connection_id)
            .await
            .map_err(|e| match e {
                // A provider's Retry-After (or a spent budget): the retry waits for it.
                Error::ResourceExhausted {
                    message,
                    retry_after,
                } => anyhow::Error::new(RetryAfter {
                    after: retry_after,
                    message,
                }),
                other => anyhow::anyhow!("{other}"),
            })?;
        let (stage, items) = match outcome {
            Ok(pulled) => ("stored".to_owned(), (pulled.samples + pulled.events) as i64),
            Err(skipped) => (format!("skipped: {skipped:?}").to_lowercase(), 0),
        };
        let progress = SyncProgress {
            stage,
            progress_percent: 100.0,
            items_processed: items,
            items_total: Some(items),
        };
        self.store
            .update_sync_run(payload.run_id, &progress, self.clock.now())
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Handler for SyncHandler {
    async fn lost(&self, job: &DeadLetter) {
        let Ok(payload) = serde_json::from_str::<SyncPayload>(&job.payload) else {
            return;
        };
        let recorded = self
            .store
            .finish_sync_run(
                payload.run_id,
                SyncStatus::Failed,
                Some(clip_error(&job.last_error)),
                true,
                self.clock.now(),
            )
            .await;
        match recorded {
            Ok(()) => self.announce(payload.run_id).await,
            Err(error) => {
                tracing::warn!(run = %payload.run_id, %error, "could not mark a lost sync failed")
            }
        }
    }

    async fn handle(&self, job: &Delivery, last_attempt: bool) -> anyhow::Result<()> {
        let payload: SyncPayload = serde_json::from_str(&job.payload)?;
        let run = SyncRun::queued(
            payload.run_id,
            &payload.connection(),
            payload.source,
            payload.range,
            self.clock.now(),
        );
        let status = match self.store.connection(payload.connection_id).await? {
            Some((connection, status)) if connection.user_id == payload.user_id => status,
            // Deleted with its user (the run went with it): nothing to sync, nothing to retry.
            _ => {
                tracing::info!(job = %job.id, connection = %payload.connection_id, "sync skipped: the connection is gone");
                return Ok(());
            }
        };
        let attempt = i32::try_from(job.attempt).unwrap_or(i32::MAX);
        self.store
            .start_sync_run(&run, attempt, self.clock.now())
            .await?;
        if status != ACTIVE {
            // Revoked or expired while queued: retrying cannot help.
            let error = format!("connection is {status}, not active");
            self.store
                .finish_sync_run(
                    run.id,
                    SyncStatus::Failed,
                    Some(&error),
                    true,
                    self.clock.now(),
                )
                .await?;
            self.announce(run.id).await;
            return Ok(());
        }
        self.announce(run.id).await;
        match self.pull(&payload).await {
            Ok(()) => {
                self.store
                    .finish_sync_run(run.id, SyncStatus::Succeeded, None, true, self.clock.now())
                    .await?;
                sync_outcome(&payload.provider, "succeeded");
                self.announce(run.id).await;
                Ok(())
            }
            Err(error) => {
                let message = format!("{error:#}");
                let message = clip_error(&message);
                let status = if last_attempt {
                    SyncStatus::Failed
                } else {
                    SyncStatus::Running
                };
                sync_outcome(
                    &payload.provider,
                    if last_attempt { "failed" } else { "retrying" },
                );
                self.store
                    .finish_sync_run(
                        run.id,
                        status,
                        Some(message),
                        last_attempt,
                        self.clock.now(),
                    )
                    .await?;
                self.announce(run.id).await;
                Err(error)
            }
        }
    }
}

/// Counts a finished sync attempt for `/metrics`.
fn sync_outcome(provider: &str, outcome: &'static str) {
    metrics::counter!(crate::metrics::SYNC_RUNS, "provider" => provider.to_owned(), "outcome" => outcome)
        .increment(1);
}
