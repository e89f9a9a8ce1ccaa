//! `owl.v1.SyncService` over gRPC: converts messages and delegates to `domain::sync`;
//! `WatchSyncStatus` turns the status bus into a server stream (which grpc-web carries too).

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use owl::pb;
use owl::pb::sync_service_server::SyncService;
use tokio::sync::broadcast;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::auth::caller;
use super::convert::{
    one_child_name, one_name, parse_child_name, parse_name, required_millis, timestamp,
    timestamp_ms,
};
use crate::domain::Context;
use crate::domain::error::Error;
use crate::domain::page::PageRequest;
use crate::domain::sync::Syncs;
use crate::domain::validate::Violations;
use crate::jobs::Jobs;
use crate::jobs::runs::{SyncRun, SyncRunFilter, SyncSource, SyncStatus};

/// The SyncService implementation.
pub struct SyncApi {
    /// What the use-cases reach.
    pub ctx: Arc<Context>,
    /// Background work: queue, runs, status bus.
    pub jobs: Jobs,
}

impl SyncApi {
    fn syncs(&self) -> Syncs<'_> {
        Syncs {
            ctx: &self.ctx,
            jobs: &self.jobs,
        }
    }
}

fn source(s: SyncSource) -> pb::SyncSource {
    match s {
        SyncSource::Pull => pb::SyncSource::Pull,
        SyncSource::Webhook => pb::SyncSource::Webhook,
        SyncSource::Sdk => pb::SyncSource::Sdk,
        SyncSource::Backfill => pb::SyncSource::Backfill,
        SyncSource::Import => pb::SyncSource::Import,
    }
}

fn state(s: SyncStatus) -> pb::SyncState {
    match s {
        SyncStatus::Queued => pb::SyncState::Queued,
        SyncStatus::Running => pb::SyncState::Running,
        SyncStatus::Succeeded => pb::SyncState::Succeeded,
        SyncStatus::Failed => pb::SyncState::Failed,
    }
}

/// The message of a run.
pub fn sync_run(r: SyncRun) -> pb::SyncRun {
    pb::SyncRun {
        name: format!("users/{}/syncRuns/{}", r.user_id, r.id),
        connection: r
            .connection_id
            .map(|c| format!("users/{}/connections/{c}", r.user_id))
            .unwrap_or_default(),
        provider: r.provider.unwrap_or_default(),
        source: source(r.source) as i32,
        state: state(r.status) as i32,
        stage: r.stage,
        progress_percent: r.progress_percent,
        items_processed: r.items_processed,
        items_total: r.items_total,
        error: r.error.unwrap_or_default(),
        attempts: r.attempts,
        backfill_range: r.range.map(|(start, end)| pb::TimeRange {
            start_time: timestamp_ms(start),
            end_time: timestamp_ms(end),
        }),
        create_time: timestamp(r.created_at),
        start_time: r.started_at.and_then(timestamp),
        finish_time: r.finished_at.and_then(timestamp),
        update_time: timestamp(r.updated_at),
    }
}

/// The next change of `user`'s runs, skipping others'; `None` when the bus or the server
/// closes.
async fn next_change(live: &mut broadcast::Receiver<SyncRun>, user: Uuid) -> Option<SyncRun> {
    loop {
        match live.recv().await {
            Ok(run) if run.user_id == user => return Some(run),
            Ok(_) => {}
            // A slow watcher skips ahead; the next change of a run carries its whole state.
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                tracing::debug!(skipped, "sync status watcher lagged");
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

type RunStream = Pin<Box<dyn Stream<Item = Result<pb::SyncRun, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl SyncService for SyncApi {
    async fn sync_connection(
        &self,
        request: Request<pb::SyncConnectionRequest>,
    ) -> Result<Response<pb::SyncRun>, Status> {
        let caller = caller(&self.ctx, &request).await?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let range = r.backfill_range.map(|range| {
            let start = required_millis(range.start_time, "backfill_range.start_time", &mut v);
            let end = required_millis(range.end_time, "backfill_range.end_time", &mut v);
            if end <= start {
                v.add("backfill_range.end_time", "must be after start_time");
            }
            (start, end)
        });
        v.finish()?;
        let (user, connection) = one_child_name(&r.name, "users", "connections", "name")?;
        let run = self
            .syncs()
            .sync_connection(&caller, user, connection, range)
            .await?;
        Ok(Response::new(sync_run(run)))
    }

    async fn sync_user(
        &self,
        request: Request<pb::SyncUserRequest>,
    ) -> Result<Response<pb::SyncUserResponse>, Status> {
        let caller = caller(&self.ctx, &request).await?;
        let user = one_name(&request.get_ref().name, "users", "name")?;
        let runs = self.syncs().sync_user(&caller, user).await?;
        Ok(Response::new(pb::SyncUserResponse {
            sync_runs: runs.into_iter().map(sync_run).collect(),
        }))
    }

    async fn list_sync_runs(
        &self,
        request: Request<pb::ListSyncRunsRequest>,
    ) -> Result<Response<pb::ListSyncRunsResponse>, Status> {
        let caller = caller(&self.ctx, &request).await?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let user = parse_name(&r.parent, "users", "parent", &mut v);
        let connection = if r.connection.is_empty() {
            None
        } else {
            parse_child_name(&r.connection, "users", "connections", "connection", &mut v).map(
                |(owner, connection)| {
                    if user.is_some_and(|user| user != owner) {
                        v.add("connection", "must be a connection of parent");
                    }
                    connection
                },
            )
        };
        let query = format!("{}|{}", r.parent, r.connection);
        let page = PageRequest::parse(r.page_size, &r.page_token, &query, &mut v);
        v.finish()?;
        let user = user.ok_or_else(|| Error::invalid("parent", "is required"))?;
        let result = self
            .syncs()
            .list(
                &caller,
                SyncRunFilter {
                    user_id: user,
                    connection_id: connection,
                },
                page,
            )
            .await?;
        Ok(Response::new(pb::ListSyncRunsResponse {
            sync_runs: result.items.into_iter().map(sync_run).collect(),
            next_page_token: result.next_page_token,
        }))
    }

    type WatchSyncStatusStream = RunStream;

    async fn watch_sync_status(
        &self,
        request: Request<pb::WatchSyncStatusRequest>,
    ) -> Result<Response<Self::WatchSyncStatusStream>, Status> {
        let caller = caller(&self.ctx, &request).await?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let user = parse_name(&r.parent, "users", "parent", &mut v);
        if r.replay < 0 {
            v.add("replay", "must not be negative");
        }
        v.finish()?;
        let user = user.ok_or_else(|| Error::invalid("parent", "is required"))?;
        let (replay, live) = self
            .syncs()
            .watch(&caller, user, r.replay.max(0) as usize)
            .await?;
        let closed = self.jobs.status.closed();
        let changes = futures::stream::unfold(live, move |mut live| async move {
            next_change(&mut live, user)
                .await
                .map(|run| (Ok(sync_run(run)), live))
        })
        .take_until(closed);
        let stream =
            futures::stream::iter(replay.into_iter().map(|run| Ok(sync_run(run)))).chain(changes);
        Ok(Response::new(Box::pin(stream)))
    }
}
