//! Live import progress: every change of an import reaches the WatchImport streams of every
//! replica, the way `status` carries sync runs (in-process broadcast; with Redis, the import's
//! id on a pub/sub channel, re-read from the database by each subscribing process).

use std::sync::Arc;

use deadpool_redis::redis;
use tokio::sync::broadcast;

use crate::domain::imports::Import;
use crate::store::imports::ImportStore;

/// Changes buffered per watcher before the slowest ones skip ahead.
const CAPACITY: usize = 1024;

/// Publishes import changes and lets watchers subscribe.
#[derive(Clone)]
pub struct ImportBus {
    local: broadcast::Sender<Import>,
    redis: Option<(deadpool_redis::Pool, String)>,
}

impl ImportBus {
    /// Changes stay in this process.
    pub fn in_process() -> Self {
        ImportBus {
            local: broadcast::channel(CAPACITY).0,
            redis: None,
        }
    }

    /// Changes travel through Redis pub/sub on `{prefix}imports`; a task of this process
    /// subscribes (reconnecting when Redis goes away) and re-reads each import from `store`.
    pub fn redis(
        pool: deadpool_redis::Pool,
        url: &str,
        prefix: &str,
        store: Arc<dyn ImportStore>,
    ) -> Self {
        let local = broadcast::channel(CAPACITY).0;
        let channel = format!("{prefix}imports");
        super::relay::spawn(
            url,
            channel.clone(),
            "import status",
            local.clone(),
            Arc::new(move |id| {
                let store = store.clone();
                Box::pin(async move { store.import(id).await })
            }),
        );
        ImportBus {
            local,
            redis: Some((pool, channel)),
        }
    }

    /// Announces that `import` changed.
    pub async fn publish(&self, import: &Import) {
        let Some((pool, channel)) = &self.redis else {
            let _ = self.local.send(import.clone());
            return;
        };
        let published: anyhow::Result<()> = async {
            let mut conn = pool.get().await?;
            let _: i64 = redis::cmd("PUBLISH")
                .arg(channel)
                .arg(import.id.to_string())
                .query_async(&mut conn)
                .await?;
            Ok(())
        }
        .await;
        if let Err(error) = published {
            tracing::debug!(%error, "import status: publish failed");
            let _ = self.local.send(import.clone());
        }
    }

    /// True when changes stay in this process (no Redis): a watcher must also read the
    /// database to see what other processes change.
    pub fn is_in_process(&self) -> bool {
        self.redis.is_none()
    }

    /// Every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Import> {
        self.local.subscribe()
    }
}
