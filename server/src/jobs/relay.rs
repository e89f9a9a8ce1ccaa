//! Live status across replicas through Redis pub/sub: a record's id published on a channel
//! reaches every subscribing process's local broadcast as the record itself, re-read from the
//! database there, and a lost subscription is taken up again with backoff. Sync runs
//! (`status`) and imports (`import_status`) both travel this way.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis;
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::domain::error::Result;

/// Reads the record an id names; None when it is gone.
pub(crate) type Load<T> = Arc<dyn Fn(Uuid) -> BoxFuture<'static, Result<Option<T>>> + Send + Sync>;

/// Subscribes to `channel` of the Redis at `url` in the background and sends each record
/// published there to `local`. Without a usable URL or a runtime it says so and does nothing:
/// watchers then see this process's changes only. `what` names the status in the logs.
pub(crate) fn spawn<T: Clone + Send + 'static>(
    url: &str,
    channel: String,
    what: &'static str,
    local: broadcast::Sender<T>,
    load: Load<T>,
) {
    match (
        redis::Client::open(url),
        tokio::runtime::Handle::try_current(),
    ) {
        (Ok(client), Ok(runtime)) => {
            runtime.spawn(subscribe(client, channel, what, local, load));
        }
        (Err(error), _) => {
            tracing::warn!(%error, "{what}: bad redis url; watchers see local changes only")
        }
        (_, Err(_)) => tracing::warn!("{what}: no runtime; watchers see local changes only"),
    }
}

async fn subscribe<T: Clone + Send + 'static>(
    client: redis::Client,
    channel: String,
    what: &'static str,
    local: broadcast::Sender<T>,
    load: Load<T>,
) {
    let mut failures: u32 = 0;
    loop {
        match listen(&client, &channel, &local, &load).await {
            Ok(()) => failures = 0,
            Err(error) => {
                failures = failures.saturating_add(1);
                if failures == 1 {
                    tracing::warn!(%error, "{what}: redis subscription lost; reconnecting");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200u64 << failures.min(4))).await;
    }
}

async fn listen<T: Clone + Send + 'static>(
    client: &redis::Client,
    channel: &str,
    local: &broadcast::Sender<T>,
    load: &Load<T>,
) -> anyhow::Result<()> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let payload: String = message.get_payload()?;
        let Ok(id) = Uuid::parse_str(&payload) else {
            continue;
        };
        // Nobody watching: skip the read.
        if local.receiver_count() == 0 {
            continue;
        }
        if let Some(record) = load(id).await? {
            let _ = local.send(record);
        }
    }
    Ok(())
}
