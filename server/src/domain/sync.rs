//! Syncs on request: enqueue a sync of a connection or of every connection of a user, list
//! sync runs, and watch them change. Access follows the user: their application's API key,
//! developers, or the user's own SDK token.

use tokio::sync::broadcast;
use uuid::Uuid;

use super::Context;
use super::auth::Caller;
use super::error::{Error, Reason, Result};
use super::page::{Page, PageRequest};
use super::users::Users;
use crate::jobs::Jobs;
use crate::jobs::runs::{ConnectionRef, SyncRun, SyncRunFilter, SyncSource};

/// The `user_connection.status` of a connection that can sync.
const ACTIVE: &str = "active";
/// Latest runs replayed to a watcher by default, and at most.
const DEFAULT_REPLAY: usize = 10;
const MAX_REPLAY: usize = 100;

/// The sync use-cases.
pub struct Syncs<'a> {
    /// Stores and clock of the use-cases.
    pub ctx: &'a Context,
    /// The queue, sync runs and status bus.
    pub jobs: &'a Jobs,
}

fn connection_name(user: Uuid, connection: Uuid) -> String {
    format!("users/{user}/connections/{connection}")
}

impl Syncs<'_> {
    /// Enqueues a sync of connection `connection_id` of user `user_id` (a backfill when
    /// `range` is set) and returns its run, or the pending run of that connection.
    pub async fn sync_connection(
        &self,
        caller: &Caller,
        user_id: Uuid,
        connection_id: Uuid,
        range: Option<(i64, i64)>,
    ) -> Result<SyncRun> {
        Users(self.ctx).visible(caller, user_id).await?;
        let (connection, status) = self
            .jobs
            .syncs
            .connection(connection_id)
            .await?
            .filter(|(c, _)| c.user_id == user_id)
            .ok_or_else(|| {
                Error::not_found("owl.v1.Connection", connection_name(user_id, connection_id))
            })?;
        if status != ACTIVE {
            return Err(Error::FailedPrecondition {
                reason: Reason::ConnectionNotActive,
                message: format!("connection is {status}, not active"),
            });
        }
        self.enqueue(&connection, range).await
    }

    /// Enqueues a sync of every active connection of user `user_id`; returns their runs.
    pub async fn sync_user(&self, caller: &Caller, user_id: Uuid) -> Result<Vec<SyncRun>> {
        Users(self.ctx).visible(caller, user_id).await?;
        let mut runs = Vec::new();
        for (connection, status) in self.jobs.syncs.connections_of(user_id).await? {
            if status == ACTIVE {
                runs.push(self.enqueue(&connection, None).await?);
            }
        }
        Ok(runs)
    }

    async fn enqueue(
        &self,
        connection: &ConnectionRef,
        range: Option<(i64, i64)>,
    ) -> Result<SyncRun> {
        let source = if range.is_some() {
            SyncSource::Backfill
        } else {
            SyncSource::Pull
        };
        let (_, run) = self
            .jobs
            .sync_jobs()
            .enqueue(connection, source, range)
            .await?;
        if let Some(run) = run {
            return Ok(run);
        }
        // A sync of this connection is pending: its run is the latest unfinished one.
        let recent = self
            .jobs
            .syncs
            .list_sync_runs(
                &SyncRunFilter {
                    user_id: connection.user_id,
                    connection_id: Some(connection.id),
                },
                &PageRequest::first(20),
            )
            .await?;
        let pending = recent
            .iter()
            .find(|r| !r.status.is_final() && r.range == range)
            .or_else(|| recent.first());
        pending.cloned().ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "a sync job is pending for connection {} but it has no run",
                connection.id
            ))
        })
    }

    /// A page of a user's runs, newest first.
    pub async fn list(
        &self,
        caller: &Caller,
        filter: SyncRunFilter,
        page: PageRequest,
    ) -> Result<Page<SyncRun>> {
        Users(self.ctx).visible(caller, filter.user_id).await?;
        let runs = self.jobs.syncs.list_sync_runs(&filter, &page).await?;
        Ok(page.page(runs, |r| r.id))
    }

    /// Subscribes to changes of user `user_id`'s runs, then reads the latest `replay` of them
    /// (oldest first), so that no change falls between the two.
    pub async fn watch(
        &self,
        caller: &Caller,
        user_id: Uuid,
        replay: usize,
    ) -> Result<(Vec<SyncRun>, broadcast::Receiver<SyncRun>)> {
        Users(self.ctx).visible(caller, user_id).await?;
        let live = self.jobs.status.subscribe();
        let replay = match replay {
            0 => DEFAULT_REPLAY,
            n => n.min(MAX_REPLAY),
        };
        let mut latest = self
            .jobs
            .syncs
            .list_sync_runs(
                &SyncRunFilter {
                    user_id,
                    connection_id: None,
                },
                &PageRequest::first(replay as u64),
            )
            .await?;
        latest.truncate(replay);
        latest.reverse();
        Ok((latest, live))
    }
}
