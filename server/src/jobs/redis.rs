//! The Redis queue: Redis Streams with one consumer group, plus a sorted set of delayed jobs
//! and a sorted set of dead letters. Every step that touches more than one key is a Lua
//! script, so it is atomic.
//!
//! Keys, under a prefix (`owl:jobs:` by default; tests use their own):
//! - `job:{id}`  hash: kind, payload, attempts, enqueued_at, dedup, entry, last_error, dead_at
//! - `stream`    entries `id → {id}` of ready jobs; the group `workers` leases them
//! - `delayed`   zset of delayed jobs and retries, scored by the UNIX ms they become ready
//! - `dead`      zset of dead letters, scored by the UNIX ms they died
//! - `dedup:{key}` the id of the waiting job holding a dedup key (a job gives it up when it
//!   starts, and takes it back when it waits to retry, unless a follow-up holds it)
//! - `cursor`    where XAUTOCLAIM continues scanning for the jobs of dead workers
//!
//! The attempt number doubles as the lease token: every delivery increments it, so a worker
//! whose lease passed to another cannot nack or renew what it no longer holds. One Redis
//! (optionally with replicas) is assumed; the scripts build key names, which Redis Cluster
//! would not route.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::Pool;
use deadpool_redis::redis::{self, RedisError, Script, Value};
use scripts::Scripts;
use uuid::Uuid;

use super::queue::{
    DeadLetter, Delivery, Enqueued, Nacked, NewJob, Queue, QueueSettings, QueueStats, now_ms,
};
use super::scheduler::ScheduleLease;
use crate::domain::error::{Error, Result};

mod scripts;

/// The consumer group every worker joins.
const GROUP: &str = "workers";
/// How long a blocking read may wait past its BLOCK before the client gives up.
const BLOCK_SLACK: Duration = Duration::from_secs(2);
/// The redis crate's default response timeout, restored after a blocking read.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);

/// A job queue on Redis Streams.
pub struct RedisQueue {
    pool: Pool,
    prefix: String,
    settings: QueueSettings,
    scripts: Scripts,
    /// Dead-lettered by this handle's reservations, not yet taken.
    lost: std::sync::Mutex<Vec<DeadLetter>>,
}

/// A Redis failure: the queue is unavailable until Redis answers again.
fn unavailable(error: RedisError) -> Error {
    Error::Unavailable(format!("job queue unavailable: {error}"))
}

fn pool_unavailable(error: deadpool_redis::PoolError) -> Error {
    Error::Unavailable(format!("job queue unavailable: {error}"))
}

fn is_missing_group(error: &RedisError) -> bool {
    error.code() == Some("NOGROUP") || error.to_string().contains("NOGROUP")
}

/// The stream entry and the consumer of a delivery's receipt.
fn receipt(delivery: &Delivery) -> (String, String) {
    match delivery.receipt.split_once('/') {
        Some((entry, consumer)) => (entry.to_owned(), consumer.to_owned()),
        None => (delivery.receipt.clone(), String::new()),
    }
}

/// One delivery as the scripts return it.
type RawDelivery = (String, String, String, String, i64, i64);
/// One dead letter as the scripts return it: id, kind, payload, attempts, error, dead at.
type RawDead = (String, String, String, i64, String, i64);

fn dead_letters(raw: Vec<RawDead>) -> Result<Vec<DeadLetter>> {
    raw.into_iter()
        .map(|(id, kind, payload, attempts, last_error, dead_at)| {
            Ok(DeadLetter {
                id: Uuid::parse_str(&id)
                    .map_err(|_| anyhow::anyhow!("redis queue: malformed job id {id:?}"))?,
                kind,
                payload,
                attempts: u32::try_from(attempts).unwrap_or(0),
                last_error,
                dead_at_ms: dead_at,
            })
        })
        .collect()
}

impl RedisQueue {
    /// A queue under `prefix` (such as `owl:jobs:`). Connects lazily: the stream and its
    /// consumer group are created the first time a command finds them missing.
    pub fn new(pool: Pool, prefix: &str, settings: QueueSettings) -> Self {
        RedisQueue {
            pool,
            prefix: prefix.to_owned(),
            settings,
            scripts: Scripts::new(),
            lost: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Keeps what a script dead-lettered for `take_lost`.
    fn keep_lost(&self, raw: Vec<RawDead>) -> Result<()> {
        if raw.is_empty() {
            return Ok(());
        }
        let dead = dead_letters(raw)?;
        self.lost
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(dead);
        Ok(())
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn connection(&self) -> Result<deadpool_redis::Connection> {
        self.pool.get().await.map_err(pool_unavailable)
    }

    /// Creates the stream and the consumer group unless they exist (after a Redis that lost
    /// its data, too).
    async fn ensure_group(&self) -> Result<()> {
        let mut conn = self.connection().await?;
        let created: redis::RedisResult<Value> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.key("stream"))
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
            Err(error) => Err(unavailable(error)),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Runs `script` with the shared arguments (prefix, group, now) before `args`.
    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        args: &[String],
    ) -> redis::RedisResult<T> {
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| RedisError::from(std::io::Error::other(e.to_string())))?;
        let mut invocation = script.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(GROUP)
            .arg(now_ms().to_string());
        for arg in args {
            invocation.arg(arg);
        }
        invocation.invoke_async(&mut conn).await
    }

    /// Runs a script that reads the group, re-creating the group once if Redis lost it.
    async fn run_grouped<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        args: &[String],
    ) -> Result<T> {
        match self.run(script, args).await {
            Err(error) if is_missing_group(&error) => {
                tracing::warn!("redis queue: consumer group missing, creating it again");
                self.ensure_group().await?;
                self.run(script, args).await.map_err(unavailable)
            }
            other => other.map_err(unavailable),
        }
    }

    /// Deliveries leased to `consumer`; the receipt is `{entry}/{consumer}`.
    fn deliveries(consumer: &str, raw: Vec<RawDelivery>) -> Result<Vec<Delivery>> {
        raw.into_iter()
            .map(|(id, entry, kind, payload, attempts, enqueued_at)| {
                Ok(Delivery {
                    id: Uuid::parse_str(&id)
                        .map_err(|_| anyhow::anyhow!("redis queue: malformed job id {id:?}"))?,
                    kind,
                    payload,
                    attempt: u32::try_from(attempts).unwrap_or(0),
                    enqueued_at_ms: enqueued_at,
                    receipt: format!("{entry}/{consumer}"),
                })
            })
            .collect()
    }

    /// Waits up to `block` for new entries, then starts their deliveries.
    async fn blocking_read(
        &self,
        consumer: &str,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>> {
        let mut conn = self.connection().await?;
        conn.set_response_timeout(block + BLOCK_SLACK);
        let read: redis::RedisResult<Option<redis::streams::StreamReadReply>> =
            redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg(consumer)
                .arg("COUNT")
                .arg(max)
                .arg("BLOCK")
                .arg(block.as_millis().max(1) as u64)
                .arg("STREAMS")
                .arg(self.key("stream"))
                .arg(">")
                .query_async(&mut conn)
                .await;
        conn.set_response_timeout(RESPONSE_TIMEOUT);
        drop(conn);
        let read = match read {
            Err(error) if is_missing_group(&error) => {
                self.ensure_group().await?;
                return Ok(Vec::new());
            }
            other => other.map_err(unavailable)?,
        };
        // START takes the max attempts, then (entry, id) pairs.
        let mut args = vec![self.settings.max_attempts.to_string()];
        for stream in read.map(|r| r.keys).unwrap_or_default() {
            for entry in stream.ids {
                let id = entry
                    .map
                    .get("id")
                    .and_then(|value| redis::from_redis_value_ref::<String>(value).ok())
                    .unwrap_or_default();
                args.push(entry.id);
                args.push(id);
            }
        }
        if args.len() == 1 {
            return Ok(Vec::new());
        }
        let (raw, _, lost): (Vec<RawDelivery>, i64, Vec<RawDead>) =
            self.run_grouped(&self.scripts.start, &args).await?;
        self.keep_lost(lost)?;
        Self::deliveries(consumer, raw)
    }
}

#[async_trait]
impl Queue for RedisQueue {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let id = Uuid::now_v7();
        let ready = job.delay.map_or(0, |d| {
            now_ms() + i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        });
        let dedup = job
            .dedup_key
            .as_ref()
            .map_or(String::new(), |key| self.key(&format!("dedup:{key}")));
        let winner: String = self
            .run(
                &self.scripts.enqueue,
                &[
                    id.to_string(),
                    job.kind,
                    job.payload,
                    ready.to_string(),
                    dedup,
                ],
            )
            .await
            .map_err(unavailable)?;
        if winner == id.to_string() {
            return Ok(Enqueued::New(id));
        }
        let existing = Uuid::parse_str(&winner)
            .map_err(|_| anyhow::anyhow!("redis queue: malformed job id {winner:?}"))?;
        Ok(Enqueued::Duplicate(existing))
    }

    async fn reserve(&self, consumer: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let max = max.max(1);
        let args = [
            consumer.to_owned(),
            max.to_string(),
            self.settings.visibility_timeout.as_millis().to_string(),
            self.settings.max_attempts.to_string(),
        ];
        let (raw, next_due, lost): (Vec<RawDelivery>, i64, Vec<RawDead>) =
            self.run_grouped(&self.scripts.reserve, &args).await?;
        self.keep_lost(lost)?;
        if !raw.is_empty() || wait.is_zero() {
            return Self::deliveries(consumer, raw);
        }
        // Block for new entries, but not past the next delayed job's time.
        let mut block = wait;
        if next_due >= 0 {
            let until_due = Duration::from_millis((next_due - now_ms()).max(1) as u64);
            block = block.min(until_due);
        }
        self.blocking_read(consumer, max, block).await
    }

    async fn ack(&self, delivery: &Delivery) -> Result<()> {
        let _: i64 = self
            .run(
                &self.scripts.ack,
                &[delivery.id.to_string(), receipt(delivery).0],
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn nack(
        &self,
        delivery: &Delivery,
        error: &str,
        not_before: Option<Duration>,
    ) -> Result<Nacked> {
        let (retry_at, delay) = if delivery.attempt >= self.settings.max_attempts {
            (-1, None)
        } else {
            let delay = self.settings.retry_delay(delivery.attempt, not_before);
            (
                now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX),
                Some(delay),
            )
        };
        let outcome: i64 = self
            .run(
                &self.scripts.nack,
                &[
                    delivery.id.to_string(),
                    receipt(delivery).0,
                    delivery.attempt.to_string(),
                    error.to_owned(),
                    retry_at.to_string(),
                ],
            )
            .await
            .map_err(unavailable)?;
        Ok(match (outcome, delay) {
            (1, Some(delay)) => Nacked::Retry(delay),
            (2, _) => Nacked::Dead,
            _ => Nacked::Stale,
        })
    }

    async fn heartbeat(&self, delivery: &Delivery) -> Result<bool> {
        let (entry, consumer) = receipt(delivery);
        let renewed: i64 = self
            .run_grouped(
                &self.scripts.heartbeat,
                &[
                    delivery.id.to_string(),
                    entry,
                    delivery.attempt.to_string(),
                    consumer,
                ],
            )
            .await?;
        Ok(renewed == 1)
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        let raw: Vec<RawDead> = self
            .run(&self.scripts.dead, &[limit.max(1).to_string()])
            .await
            .map_err(unavailable)?;
        dead_letters(raw)
    }

    async fn requeue(&self, id: Uuid) -> Result<bool> {
        let requeued: i64 = self
            .run(&self.scripts.requeue, &[id.to_string()])
            .await
            .map_err(unavailable)?;
        Ok(requeued == 1)
    }

    async fn stats(&self) -> Result<QueueStats> {
        let mut conn = self.connection().await?;
        let (stream, delayed, dead): (u64, u64, u64) = redis::pipe()
            .cmd("XLEN")
            .arg(self.key("stream"))
            .cmd("ZCARD")
            .arg(self.key("delayed"))
            .cmd("ZCARD")
            .arg(self.key("dead"))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(QueueStats {
            pending: stream + delayed,
            dead,
        })
    }

    async fn oldest_waiting(&self) -> Result<Option<i64>> {
        self.run_grouped(&self.scripts.oldest, &[]).await
    }

    fn take_lost(&self) -> Vec<DeadLetter> {
        std::mem::take(
            &mut *self
                .lost
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    fn settings(&self) -> &QueueSettings {
        &self.settings
    }
}

#[async_trait]
impl ScheduleLease for RedisQueue {
    async fn claim(&self, name: &str, slot: i64, holder: &str, ttl: Duration) -> Result<bool> {
        let mut conn = self.connection().await?;
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(&format!("schedule:{name}:{slot}")))
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }
}
