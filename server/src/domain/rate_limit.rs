//! Request budgets: a fixed-window counter per key (an API key, a provider), shared by every
//! replica when Redis is configured, kept in the process otherwise. Windows are numbered from
//! the injected clock, so tests move time instead of sleeping.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::Result;

/// Counts hits per key and window.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one hit of `key` in the window of `window` length holding `now`; returns the hits
    /// in that window so far, this one included.
    async fn hit(&self, key: &str, window: Duration, now: DateTime<Utc>) -> Result<u64>;
}

/// The window index and the time left in it.
pub fn window_of(window: Duration, now: DateTime<Utc>) -> (i64, Duration) {
    let width = window.as_millis().max(1) as i64;
    let ms = now.timestamp_millis();
    let index = ms.div_euclid(width);
    let left = (index + 1) * width - ms;
    (index, Duration::from_millis(left as u64))
}

/// Checks a budget of `limit` hits per `window` for `key`: `Some(retry_after)` when it is spent.
pub async fn over_budget(
    limiter: &dyn RateLimiter,
    key: &str,
    limit: u64,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Duration>> {
    let hits = limiter.hit(key, window, now).await?;
    Ok((hits > limit).then(|| window_of(window, now).1))
}

/// Counters in this process (the embedded default).
#[derive(Default)]
pub struct LocalLimiter {
    windows: Mutex<HashMap<String, (i64, u64)>>,
}

#[async_trait]
impl RateLimiter for LocalLimiter {
    async fn hit(&self, key: &str, window: Duration, now: DateTime<Utc>) -> Result<u64> {
        let (index, _) = window_of(window, now);
        let mut windows = self
            .windows
            .lock()
            .map_err(|_| anyhow::anyhow!("rate limiter lock poisoned"))?;
        if windows.len() > 100_000 {
            windows.retain(|_, (i, _)| *i >= index);
        }
        let entry = windows.entry(key.to_owned()).or_insert((index, 0));
        if entry.0 != index {
            *entry = (index, 0);
        }
        entry.1 += 1;
        Ok(entry.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[tokio::test]
    async fn a_budget_is_spent_within_a_window_and_renewed_by_the_next() {
        let limiter = LocalLimiter::default();
        let minute = Duration::from_secs(60);
        let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 10).unwrap();
        for _ in 0..3 {
            assert_eq!(
                over_budget(&limiter, "k", 3, minute, t0).await.unwrap(),
                None
            );
        }
        let wait = over_budget(&limiter, "k", 3, minute, t0).await.unwrap();
        assert_eq!(wait, Some(Duration::from_secs(50)));
        assert_eq!(
            over_budget(&limiter, "other", 3, minute, t0).await.unwrap(),
            None
        );
        let next = t0 + chrono::Duration::seconds(50);
        assert_eq!(
            over_budget(&limiter, "k", 3, minute, next).await.unwrap(),
            None
        );
    }
}
