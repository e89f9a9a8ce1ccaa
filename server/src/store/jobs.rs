//! The storage of background work: the embedded queue's table, the scheduler's lease and sync
//! runs. The queue logic (times, backoff, dead-lettering policy) lives in `crate::jobs`; these
//! traits only make each step one atomic statement.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::error::Result;
use crate::domain::page::PageRequest;
use crate::jobs::queue::{DeadLetter, Enqueued, QueueStats};
use crate::jobs::runs::{ConnectionRef, SyncProgress, SyncRun, SyncRunFilter, SyncStatus};

/// A job row to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// The job's id (UUIDv7).
    pub id: Uuid,
    /// Which handler runs it.
    pub kind: String,
    /// The handler's input, JSON.
    pub payload: String,
    /// Unique among pending jobs, when set.
    pub dedup_key: Option<String>,
    /// When it may first be reserved, UNIX milliseconds.
    pub visible_at_ms: i64,
    /// When it was enqueued, UNIX milliseconds.
    pub enqueued_at_ms: i64,
}

/// A job leased to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedJob {
    /// The job's id.
    pub id: Uuid,
    /// Which handler runs it.
    pub kind: String,
    /// The handler's input, JSON.
    pub payload: String,
    /// Deliveries so far, this one included.
    pub attempts: u32,
    /// When it was enqueued, UNIX milliseconds.
    pub enqueued_at_ms: i64,
    /// Proves the lease in later calls.
    pub lease_token: Uuid,
}

/// The embedded job queue's table.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Inserts a job; a pending job with the same dedup key wins and is returned instead.
    async fn insert_job(&self, job: &JobRow) -> Result<Enqueued>;
    /// Dead-letters jobs whose lease expired on their last allowed attempt (returned second),
    /// then leases up to `max` visible jobs (oldest visibility first) to `consumer` until
    /// `lease_until_ms`. Concurrent callers never lease, or dead-letter, the same job.
    async fn lease_jobs(
        &self,
        consumer: &str,
        max: usize,
        now_ms: i64,
        lease_until_ms: i64,
        max_attempts: u32,
    ) -> Result<(Vec<LeasedJob>, Vec<DeadLetter>)>;
    /// Deletes a job (acknowledged); false when it was gone.
    async fn delete_job(&self, id: Uuid) -> Result<bool>;
    /// Deletes jobs (acknowledged together) in one transaction; returns how many were there.
    async fn delete_jobs(&self, ids: &[Uuid]) -> Result<u64>;
    /// Releases a leased job to become visible at `visible_at_ms`, keeping `error`; false when
    /// `lease_token` no longer holds the lease.
    async fn retry_job(
        &self,
        id: Uuid,
        lease_token: Uuid,
        visible_at_ms: i64,
        error: &str,
    ) -> Result<bool>;
    /// Dead-letters a leased job with `error`; false when `lease_token` no longer holds it.
    async fn bury_job(&self, id: Uuid, lease_token: Uuid, now_ms: i64, error: &str)
    -> Result<bool>;
    /// Extends a lease; false when `lease_token` no longer holds it.
    async fn extend_lease(&self, id: Uuid, lease_token: Uuid, until_ms: i64) -> Result<bool>;
    /// Dead letters, most recent first.
    async fn dead_jobs(&self, limit: usize) -> Result<Vec<DeadLetter>>;
    /// Makes a dead job visible now with no attempts; false when no dead job has this id.
    async fn revive_job(&self, id: Uuid, now_ms: i64) -> Result<bool>;
    /// Pending and dead counts.
    async fn job_counts(&self) -> Result<QueueStats>;
    /// The earliest `visible_at` (UNIX ms) of queued jobs visible at `now_ms`: ready ones, and
    /// leased ones whose lease ran out.
    async fn oldest_visible(&self, now_ms: i64) -> Result<Option<i64>>;
    /// Claims interval `slot` of the schedule `name` for `holder`: true for exactly one caller
    /// per slot, however many replicas ask.
    async fn claim_schedule_slot(
        &self,
        name: &str,
        slot: i64,
        holder: &str,
        now: DateTime<Utc>,
    ) -> Result<bool>;
}

/// Sync runs and the connections they sync.
#[async_trait]
pub trait SyncStore: Send + Sync {
    /// Active connections with ids after `after`, in id order.
    async fn active_connections(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<ConnectionRef>>;
    /// One connection, whatever its status, with its status.
    async fn connection(&self, id: Uuid) -> Result<Option<(ConnectionRef, String)>>;
    /// Every connection of a user with its status, in id order.
    async fn connections_of(&self, user_id: Uuid) -> Result<Vec<(ConnectionRef, String)>>;
    /// Records a queued run; does nothing when the run exists already (a worker was faster).
    async fn insert_sync_run(&self, run: &SyncRun) -> Result<()>;
    /// Marks a run running for attempt `attempt`, creating it from `run` when it is missing.
    async fn start_sync_run(&self, run: &SyncRun, attempt: i32, now: DateTime<Utc>) -> Result<()>;
    /// Records progress of a running run.
    async fn update_sync_run(
        &self,
        id: Uuid,
        progress: &SyncProgress,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Records the outcome of an attempt; `finished` stamps the end time.
    async fn finish_sync_run(
        &self,
        id: Uuid,
        status: SyncStatus,
        error: Option<&str>,
        finished: bool,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// One run.
    async fn sync_run(&self, id: Uuid) -> Result<Option<SyncRun>>;
    /// Up to `limit` runs last changed at or after `since`, the latest changes first.
    async fn sync_runs_updated_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SyncRun>>;
    /// Runs matching `filter`, newest first (`page.fetch_limit()` of them at most).
    async fn list_sync_runs(
        &self,
        filter: &SyncRunFilter,
        page: &PageRequest,
    ) -> Result<Vec<SyncRun>>;
}
