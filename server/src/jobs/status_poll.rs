//! The embedded sync-status feed across processes: without Redis, a process's watchers learn of
//! the run changes other processes (`owl worker` beside `owl serve --no-worker`, or replicas on
//! one database) make by reading the runs changed since the last look, every `POLL_INTERVAL`
//! while anyone watches. The database is the truth, as with Redis; what this process published
//! itself is remembered, so its watchers do not see it twice.
//!
//! A change is found by its `updated_at` within `MARGIN` of the latest seen (commits land out
//! of order, and processes' clocks differ a little), and told from what was sent by comparing
//! the whole record. A state that lasted less than the interval may be skipped; the latest is
//! never missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::runs::SyncRun;
use crate::domain::Clock;
use crate::store::jobs::SyncStore;

/// How often the feed looks for changes while someone watches.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How far before the latest change seen each look starts.
const MARGIN: chrono::Duration = chrono::Duration::seconds(5);
/// Most changes one look reads (the newest ones).
const LIMIT: usize = 500;

/// The runs watchers were last told of, by id.
#[derive(Default)]
pub struct Sent(Mutex<HashMap<Uuid, SyncRun>>);

impl Sent {
    /// Remembers `run`; true when it differs from what was last sent of it.
    pub fn record(&self, run: &SyncRun) -> bool {
        let mut sent = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if sent.get(&run.id) == Some(run) {
            return false;
        }
        sent.insert(run.id, run.clone());
        true
    }

    /// Forgets runs that last changed before `before` (no look reads them any more).
    fn prune(&self, before: DateTime<Utc>) {
        let mut sent = self.0.lock().unwrap_or_else(|p| p.into_inner());
        sent.retain(|_, run| run.updated_at >= before);
    }

    fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Looks for changed runs until every sender of `local` is gone.
pub async fn poll(
    store: Arc<dyn SyncStore>,
    clock: Arc<dyn Clock>,
    local: broadcast::WeakSender<SyncRun>,
    sent: Arc<Sent>,
) {
    let mut latest: Option<DateTime<Utc>> = None;
    loop {
        tokio::time::sleep(POLL_INTERVAL).await;
        let Some(local) = local.upgrade() else {
            return;
        };
        if local.receiver_count() == 0 {
            // Nobody watches: a new watcher reads its replay from the database itself.
            latest = None;
            sent.clear();
            continue;
        }
        let since = latest.unwrap_or_else(|| clock.now()) - MARGIN;
        match store.sync_runs_updated_since(since, LIMIT).await {
            Ok(runs) => {
                for run in runs.into_iter().rev() {
                    latest = Some(latest.map_or(run.updated_at, |l| l.max(run.updated_at)));
                    if sent.record(&run) {
                        let _ = local.send(run);
                    }
                }
                sent.prune(since);
            }
            Err(error) => tracing::debug!(%error, "sync status: changed runs not read"),
        }
    }
}
