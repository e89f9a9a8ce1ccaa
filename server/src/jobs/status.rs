//! Live sync status: every change of a sync run reaches the watchers of every replica.
//!
//! Embedded, changes go through an in-process broadcast channel. With Redis, the process that
//! changes a run publishes its id on a pub/sub channel; every process (the publisher too)
//! subscribes, reads the run's current record from the database and broadcasts it locally.
//! The database stays the truth, so a message is small and a missed one is corrected by the
//! next. Without Redis, changes made in this process are broadcast at once and those of other
//! processes on the same database are read from it every quarter second while anyone watches
//! (`status_poll`).

use std::sync::Arc;

use deadpool_redis::redis;
use tokio::sync::broadcast;

use super::runs::SyncRun;
use super::status_poll::{self, Sent};
use crate::domain::Clock;
use crate::store::jobs::SyncStore;

/// Changes buffered per watcher before the slowest ones skip ahead.
const CAPACITY: usize = 1024;

/// Publishes run changes and lets watchers subscribe.
#[derive(Clone)]
pub struct StatusBus {
    local: broadcast::Sender<SyncRun>,
    redis: Option<RedisChannel>,
    /// Embedded: what watchers were told, shared with the task reading other processes' changes.
    sent: Option<Arc<Sent>>,
    /// Set when the server shuts down, so that open watches end and let it drain.
    closing: Arc<tokio::sync::watch::Sender<bool>>,
}

#[derive(Clone)]
struct RedisChannel {
    pool: deadpool_redis::Pool,
    channel: String,
}

impl StatusBus {
    /// Changes stay in this process.
    pub fn in_process() -> Self {
        StatusBus {
            local: broadcast::channel(CAPACITY).0,
            redis: None,
            sent: None,
            closing: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// Changes of this process at once, and those other processes write to the database that
    /// `store` reads (a task polls it while anyone watches; it ends with the last handle).
    pub fn embedded(store: Arc<dyn SyncStore>, clock: Arc<dyn Clock>) -> Self {
        let mut bus = Self::in_process();
        let sent = Arc::new(Sent::default());
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(status_poll::poll(
                    store,
                    clock,
                    bus.local.downgrade(),
                    sent.clone(),
                ));
            }
            Err(_) => tracing::warn!("sync status: no runtime; watchers see local changes only"),
        }
        bus.sent = Some(sent);
        bus
    }

    /// Changes travel through Redis pub/sub on `{prefix}status`; a task of this process
    /// subscribes (reconnecting when Redis goes away) and re-reads each run from `store`.
    pub fn redis(
        pool: deadpool_redis::Pool,
        url: &str,
        prefix: &str,
        store: Arc<dyn SyncStore>,
    ) -> Self {
        let local = broadcast::channel(CAPACITY).0;
        let channel = format!("{prefix}status");
        super::relay::spawn(
            url,
            channel.clone(),
            "sync status",
            local.clone(),
            Arc::new(move |id| {
                let store = store.clone();
                Box::pin(async move { store.sync_run(id).await })
            }),
        );
        StatusBus {
            local,
            redis: Some(RedisChannel { pool, channel }),
            sent: None,
            closing: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// Announces that `run` changed.
    pub async fn publish(&self, run: &SyncRun) {
        let Some(redis) = &self.redis else {
            if self.sent.as_ref().is_none_or(|sent| sent.record(run)) {
                let _ = self.local.send(run.clone());
            }
            return;
        };
        let published: anyhow::Result<()> = async {
            let mut conn = redis.pool.get().await?;
            let _: i64 = redis::cmd("PUBLISH")
                .arg(&redis.channel)
                .arg(run.id.to_string())
                .query_async(&mut conn)
                .await?;
            Ok(())
        }
        .await;
        if let Err(error) = published {
            // Watchers of this process still see it.
            tracing::debug!(%error, "sync status: publish failed");
            let _ = self.local.send(run.clone());
        }
    }

    /// Every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SyncRun> {
        self.local.subscribe()
    }

    /// Ends every watch (the server is shutting down).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once `close` was called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.closing.subscribe();
        async move {
            let _ = closing.wait_for(|closed| *closed).await;
        }
    }
}
