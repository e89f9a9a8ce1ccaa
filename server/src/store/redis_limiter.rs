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
}
