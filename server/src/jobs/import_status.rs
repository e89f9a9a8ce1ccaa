//! Live import progress: every change of an import reaches the WatchImport streams of every
//! replica, the way `status` carries sync runs (in-process broadcast; with Redis, the import's
//! id on a pub/sub channel, re-read from the database by each subscribing process).

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis;
use futures::StreamExt;
use tokio::sync::broadcast;
use uuid::Uuid;

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
        match (
            redis::Client::open(url),
            tokio::runtime::Handle::try_current(),
        ) {
            (Ok(client), Ok(runtime)) => {
                runtime.spawn(subscribe(client, channel.clone(), store, local.clone()));
            }
            _ => tracing::warn!(
                "import status: no redis subscription; watchers see local changes only"
            ),
        }
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

    /// Every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Import> {
        self.local.subscribe()
    }
}

async fn subscribe(
    client: redis::Client,
    channel: String,
    store: Arc<dyn ImportStore>,
    local: broadcast::Sender<Import>,
) {
    let mut failures: u32 = 0;
    loop {
        match listen(&client, &channel, store.as_ref(), &local).await {
            Ok(()) => failures = 0,
            Err(error) => {
                failures = failures.saturating_add(1);
                if failures == 1 {
                    tracing::warn!(%error, "import status: redis subscription lost; reconnecting");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200u64 << failures.min(4))).await;
    }
}

async fn listen(
    client: &redis::Client,
    channel: &str,
    store: &dyn ImportStore,
    local: &broadcast::Sender<Import>,
) -> anyhow::Result<()> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let payload: String = message.get_payload()?;
        let Ok(id) = Uuid::parse_str(&payload) else {
            continue;
        };
        if local.receiver_count() == 0 {
            continue;
        }
        if let Some(import) = store.import(id).await? {
            let _ = local.send(import);
        }
    }
    Ok(())
}
