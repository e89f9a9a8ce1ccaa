//! `RateLimiter` on Redis: one counter per key and window (`INCR`, expiring after two windows),
//! so every replica spends the same budget.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::error::Result;
use crate::domain::rate_limit::{RateLimiter, window_of};

/// Counters in Redis under `prefix`.
pub struct RedisLimiter {
    pool: deadpool_redis::Pool,
    prefix: String,
}

impl RedisLimiter {
    /// Counters in `pool`'s Redis, keys starting with `prefix`.
    pub fn new(pool: deadpool_redis::Pool, prefix: &str) -> Self {
        RedisLimiter {
            pool,
            prefix: prefix.to_owned(),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn hit(&self, key: &str, window: Duration, now: DateTime<Utc>) -> Result<u64> {
        let (index, _) = window_of(window, now);
        let name = format!("{}rl:{key}:{index}", self.prefix);
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| crate::domain::error::Error::Unavailable(format!("redis: {e}")))?;
        let (hits,): (u64,) = deadpool_redis::redis::pipe()
            .atomic()
            .incr(&name, 1)
            .pexpire(&name, (window.as_millis() * 2) as i64)
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(|e| crate::domain::error::Error::Unavailable(format!("redis: {e}")))?;
        Ok(hits)
    }

    async fn pause(&self, key: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
        let name = format!("{}pause:{key}", self.prefix);
        let ms = until.timestamp_millis();
        // The key lives as long as the pause, by the injected clock.
        let ttl = (until - now).num_milliseconds().max(1);
        let mut conn = self.conn().await?;
        // Keep the later end: compare-and-set in one script.
        let script = deadpool_redis::redis::Script::new(
            "local cur = tonumber(redis.call('GET', KEYS[1]) or '0') \
             if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end \
             return 1",
        );
        let _: i64 = script
            .key(&name)
            .arg(ms)
            .arg(ttl)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn paused(&self, key: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        let name = format!("{}pause:{key}", self.prefix);
        let mut conn = self.conn().await?;
        let until: Option<i64> = deadpool_redis::redis::cmd("GET")
            .arg(&name)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(until
            .and_then(DateTime::from_timestamp_millis)
            .filter(|until| *until > now))
    }
}

fn unavailable(e: impl std::fmt::Display) -> crate::domain::error::Error {
    crate::domain::error::Error::Unavailable(format!("redis: {e}"))
}

impl RedisLimiter {
    async fn conn(&self) -> Result<deadpool_redis::Connection> {
        self.pool.get().await.map_err(unavailable)
    }
}
