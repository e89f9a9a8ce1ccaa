//! The periodic scheduler: every SYNC_INTERVAL_SECONDS (plus jitter) it enqueues a sync job for
//! each active connection, once across all replicas.
//!
//! Time is cut into slots of one interval (`UNIX time / interval`). Every replica wakes once per
//! slot, at a random moment in its first tenth, and tries to claim the slot; exactly one
//! succeeds (a Redis `SET NX PX`, or a conditional update of a database row), and only it
//! enqueues. The jitter spreads replicas' wake-ups; the claim, not the timing, makes it once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;

use super::queue::Enqueued;
use super::runs::SyncSource;
use super::sync::SyncJobs;
use crate::domain::error::Result;
use crate::store::jobs::{JobStore, SyncStore};

/// The schedule of periodic syncs.
pub const SYNC_SCHEDULE: &str = "sync";
/// Connections read per page while enqueueing.
const PAGE: usize = 500;
/// Longest jitter, whatever the interval.
const MAX_JITTER: Duration = Duration::from_secs(60);

/// Claims schedule slots (and token refreshes), once across replicas.
pub use crate::domain::lease::Lease as ScheduleLease;

/// The database lease, for the embedded queue.
pub struct DbLease(pub Arc<dyn JobStore>);

#[async_trait]
impl ScheduleLease for DbLease {
    async fn claim(&self, name: &str, slot: i64, holder: &str, _ttl: Duration) -> Result<bool> {
        self.0
            .claim_schedule_slot(name, slot, holder, chrono::Utc::now())
            .await
    }
}

/// What one tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// The slot ticked.
    pub slot: i64,
    /// Whether this replica won the slot (and so enqueued).
    pub claimed: bool,
    /// Sync jobs enqueued.
    pub enqueued: usize,
    /// Connections skipped because a sync of theirs was still pending.
    pub pending: usize,
}

/// Enqueues periodic syncs.
pub struct Scheduler {
    syncs: SyncJobs,
    store: Arc<dyn SyncStore>,
    lease: Arc<dyn ScheduleLease>,
    interval: Duration,
    holder: String,
    /// Jobs enqueued once per claimed slot besides the syncs (deduplicated by their keys).
    periodic: Vec<super::queue::NewJob>,
}

impl Scheduler {
    /// A scheduler enqueueing through `syncs` every `interval`; `holder` names this replica in
    /// leases.
    pub fn new(
        syncs: SyncJobs,
        store: Arc<dyn SyncStore>,
        lease: Arc<dyn ScheduleLease>,
        interval: Duration,
        holder: impl Into<String>,
    ) -> Self {
        Scheduler {
            syncs,
            store,
            lease,
            interval: interval.max(Duration::from_secs(1)),
            holder: holder.into(),
            periodic: Vec::new(),
        }
    }

    /// Also enqueues `jobs` in every slot this replica claims.
    pub fn also_enqueuing(mut self, jobs: Vec<super::queue::NewJob>) -> Self {
        self.periodic = jobs;
        self
    }

    fn interval_ms(&self) -> i64 {
        i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX)
    }

    /// The slot that contains `now_ms`.
    pub fn slot_at(&self, now_ms: i64) -> i64 {
        now_ms.div_euclid(self.interval_ms())
    }

    /// Claims the slot of `now_ms` and, if this replica won it, enqueues a sync for every active
    /// connection.
    pub async fn tick(&self, now_ms: i64) -> Result<Tick> {
        let slot = self.slot_at(now_ms);
        let mut tick = Tick {
            slot,
            claimed: false,
            enqueued: 0,
            pending: 0,
        };
        // Kept two intervals, so a replica waking late in the slot still finds the claim.
        let ttl = self.interval.saturating_mul(2);
        if !self
            .lease
            .claim(SYNC_SCHEDULE, slot, &self.holder, ttl)
            .await?
        {
            return Ok(tick);
        }
        tick.claimed = true;
        for job in &self.periodic {
            self.syncs.queue().enqueue(job.clone()).await?;
        }
        let mut after = None;
        loop {
            let page = self.store.active_connections(after, PAGE).await?;
            for connection in &page {
                match self
                    .syncs
                    .enqueue(connection, SyncSource::Pull, None)
                    .await?
                {
                    (Enqueued::New(_), _) => tick.enqueued += 1,
                    (Enqueued::Duplicate(_), _) => tick.pending += 1,
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => after = Some(last.id),
                _ => break,
            }
        }
        tracing::info!(
            slot,
            enqueued = tick.enqueued,
            pending = tick.pending,
            "periodic syncs enqueued"
        );
        Ok(tick)
    }

    /// The moment to wake for the slot after `now_ms`: its start plus a random jitter within
    /// its first tenth (at most a minute).
    pub fn next_wake(&self, now_ms: i64) -> i64 {
        let next = (self.slot_at(now_ms) + 1).saturating_mul(self.interval_ms());
        let max_jitter = (self.interval / 10).min(MAX_JITTER).as_millis() as i64;
        let jitter = if max_jitter > 0 {
            rand::rng().random_range(0..max_jitter)
        } else {
            0
        };
        next + jitter
    }

    /// Ticks once per slot until `shutdown` resolves. Starts with the current slot, so a
    /// restarted deployment does not wait a whole interval (the claim keeps it once).
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        let mut now = super::queue::now_ms();
        loop {
            if let Err(error) = self.tick(now).await {
                tracing::warn!(%error, "scheduler tick failed; retrying at the next slot");
            }
            let wake = self.next_wake(super::queue::now_ms());
            let nap = Duration::from_millis((wake - super::queue::now_ms()).max(0) as u64);
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(nap) => {}
            }
            now = super::queue::now_ms();
        }
    }
}
