//! The sleep buffer on Redis: one hash per user and source (`{prefix}sleep:{user}:{source}`,
//! a field per phase, expiring REDIS_SLEEP_TTL_SECONDS after its last phase arrived) and one
//! sorted set of buffers by when their latest phase arrived (`{prefix}sleep:quiet`, UNIX ms by
//! owl's clock), which the scheduled close job reads. Adding and removing are Lua scripts, so a buffer and its index
//! entry change together.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis::Script;
use uuid::Uuid;

use crate::domain::error::{Error, Result};
use crate::domain::health::SourceKey;
use crate::domain::health::sleep::SleepPhase;
use crate::store::sleep::{SleepBuffer, parse_source, source_json};

/// KEYS: buffer, index. ARGV: member, ttl ms, arrival ms, fields… Returns how many were new.
const ADD: &str = "local n = 0 \
    for i = 4, #ARGV do n = n + redis.call('HSETNX', KEYS[1], ARGV[i], '1') end \
    redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
    local cur = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '-1') \
    if tonumber(ARGV[3]) > cur then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) end \
    return n";

/// KEYS: buffer, index. ARGV: member, fields… Drops the index entry once the buffer is empty.
const REMOVE: &str = "for i = 2, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end \
    if redis.call('HLEN', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[1]) end \
    return 1";

/// Sleep phases in Redis under `prefix`.
pub struct RedisSleepBuffer {
    pool: deadpool_redis::Pool,
    prefix: String,
    ttl: Duration,
}

impl RedisSleepBuffer {
    /// Buffers in `pool`'s Redis under `prefix`, kept `ttl` after their last phase arrived.
    pub fn new(pool: deadpool_redis::Pool, prefix: &str, ttl: Duration) -> Self {
        RedisSleepBuffer {
            pool,
            prefix: prefix.to_owned(),
            ttl,
        }
    }

    fn keys(&self, user_id: Uuid, source: &SourceKey) -> (String, String, String) {
        let member = format!("{user_id}|{}", source_json(source));
        let buffer = format!("{}sleep:{member}", self.prefix);
        (buffer, format!("{}sleep:quiet", self.prefix), member)
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection> {
        self.pool.get().await.map_err(unavailable)
    }
}

fn unavailable(e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("redis: {e}"))
}

fn field(p: &SleepPhase) -> String {
    format!("{}|{}|{}|{}", p.start, p.end, p.zone_offset, p.stage)
}

fn parse_field(field: &str) -> Option<SleepPhase> {
    let mut parts = field.splitn(4, '|');
    Some(SleepPhase {
        start: parts.next()?.parse().ok()?,
        end: parts.next()?.parse().ok()?,
        zone_offset: parts.next()?.parse().ok()?,
        stage: parts.next()?.to_owned(),
    })
}

#[async_trait]
impl SleepBuffer for RedisSleepBuffer {
    async fn add(
        &self,
        user_id: Uuid,
        source: &SourceKey,
        phases: &[SleepPhase],
        now_ms: i64,
    ) -> Result<u64> {
        if phases.is_empty() {
            return Ok(0);
        }
        let (buffer, index, member) = self.keys(user_id, source);
        let add = Script::new(ADD);
        let mut script = add.prepare_invoke();
        script
            .key(&buffer)
            .key(&index)
            .arg(&member)
            .arg(self.ttl.as_millis() as u64)
            .arg(now_ms);
        for p in phases {
            script.arg(field(p));
        }
        let mut conn = self.conn().await?;
        let added: u64 = script.invoke_async(&mut conn).await.map_err(unavailable)?;
        Ok(added)
    }

    async fn pending(
        &self,
        user_id: Uuid,
        source: &SourceKey,
    ) -> Result<(Vec<SleepPhase>, Option<i64>)> {
        let (buffer, index, member) = self.keys(user_id, source);
        let mut conn = self.conn().await?;
        let (fields, arrived): (Vec<String>, Option<f64>) = deadpool_redis::redis::pipe()
            .cmd("HKEYS")
            .arg(&buffer)
            .cmd("ZSCORE")
            .arg(&index)
            .arg(&member)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let mut phases: Vec<SleepPhase> = fields.iter().filter_map(|f| parse_field(f)).collect();
        phases.sort();
        let arrived = arrived.filter(|_| !phases.is_empty()).map(|ms| ms as i64);
        Ok((phases, arrived))
    }

    async fn remove(&self, user_id: Uuid, source: &SourceKey, phases: &[SleepPhase]) -> Result<()> {
        let (buffer, index, member) = self.keys(user_id, source);
        let remove = Script::new(REMOVE);
        let mut script = remove.prepare_invoke();
        script.key(&buffer).key(&index).arg(&member);
        for p in phases {
            script.arg(field(p));
        }
        let mut conn = self.conn().await?;
        let _: i64 = script.invoke_async(&mut conn).await.map_err(unavailable)?;
        Ok(())
    }

    async fn quiet(&self, before_ms: i64, limit: usize) -> Result<Vec<(Uuid, SourceKey)>> {
        let index = format!("{}sleep:quiet", self.prefix);
        let mut conn = self.conn().await?;
        let members: Vec<String> = deadpool_redis::redis::cmd("ZRANGEBYSCORE")
            .arg(&index)
            .arg("-inf")
            .arg(format!("({before_ms}"))
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(members
            .iter()
            .filter_map(|m| {
                let (user, source) = m.split_once('|')?;
                Some((Uuid::parse_str(user).ok()?, parse_source(source)?))
            })
            .collect())
    }
}
