//! Throttling of guesses: failed sign-ins count per account (by a digest of the normalized
//! email, whether or not the account exists, so the answers never reveal it). After
//! [`FREE_FAILURES`] failures within [`WINDOW`] every further failure backs the account off for
//! a time that doubles, from one second up to [`MAX_BACKOFF`]; while backing off, even the right
//! password is refused with RESOURCE_EXHAUSTED and a RetryInfo. The counters live in the
//! shared `RateLimiter` (Redis when configured, so every replica sees them).

use std::time::Duration;

use super::Context;
use super::error::{Error, Result};
use crate::crypto::token_digest;

/// Failures of one key tolerated within [`WINDOW`] before a back-off starts.
pub const FREE_FAILURES: u64 = 5;
/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The longest back-off.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// The throttle key of a sign-in to `normalized_email`.
pub fn sign_in_key(normalized_email: &str) -> String {
    format!("guess:sign-in:{}", token_digest(normalized_email))
}

/// The back-off after the `failures`-th failure in a window, if any: 1 s at
/// [`FREE_FAILURES`], doubling, at most [`MAX_BACKOFF`].
pub fn backoff(failures: u64) -> Option<Duration> {
    let over = failures.checked_sub(FREE_FAILURES)?;
    let seconds = 1u64 << over.min(20);
    Some(Duration::from_secs(seconds).min(MAX_BACKOFF))
}

/// Guess throttling use-cases.
pub struct Guesses<'a>(pub &'a Context);

impl Guesses<'_> {
    /// RESOURCE_EXHAUSTED while `key` is backing off.
    pub async fn check(&self, key: &str) -> Result<()> {
        let now = self.0.clock.now();
        if let Some(until) = self.0.limiter.paused(key, now).await? {
            let retry_after = (until - now).to_std().unwrap_or(Duration::from_secs(1));
            return Err(Error::ResourceExhausted {
                message: "too many failed attempts; try again later".into(),
                retry_after,
            });
        }
        Ok(())
    }

    /// Counts a failure of `key` and starts or extends its back-off.
    pub async fn failed(&self, key: &str) -> Result<()> {
        let now = self.0.clock.now();
        let failures = self
            .0
            .limiter
            .hit(&format!("{key}:failures"), WINDOW, now)
            .await?;
        if let Some(wait) = backoff(failures) {
            let until = now + chrono::Duration::from_std(wait).unwrap_or_default();
            self.0.limiter.pause(key, until, now).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_starts_after_the_free_failures_and_doubles_to_its_cap() {
        let waits: Vec<Option<u64>> = (1..=16).map(|n| backoff(n).map(|d| d.as_secs())).collect();
        assert_eq!(
            waits,
            [
                None,
                None,
                None,
                None,
                Some(1),
                Some(2),
                Some(4),
                Some(8),
                Some(16),
                Some(32),
                Some(64),
                Some(128),
                Some(256),
                Some(512),
                Some(900),
                Some(900)
            ]
        );
        assert_eq!(backoff(u64::MAX), Some(MAX_BACKOFF));
    }
}
