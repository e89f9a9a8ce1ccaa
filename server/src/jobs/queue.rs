//! The `Queue` trait every backend implements, the types that cross it, and the retry policy.
//!
//! Delivery is at least once: a job is acknowledged only after its handler's effects are
//! committed, and a job whose worker dies is delivered again once its lease (the visibility
//! timeout) runs out. Handlers are therefore idempotent.

use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use uuid::Uuid;

use crate::domain::error::Result;

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Which handler runs it (`sync`, `backfill` …).
    pub kind: String,
    /// The handler's input, JSON.
    pub payload: String,
    /// Run no earlier than this long from now.
    pub delay: Option<Duration>,
    /// While a job with this key waits to start (queued, delayed, or waiting to retry),
    /// enqueueing another with the same key does nothing and returns the waiting one. A job
    /// gives its key up when a worker starts it: what is enqueued while it runs (a webhook's
    /// new data, which the running job may already have passed) makes one follow-up job.
    /// A job retried after a failure takes its key back unless a follow-up holds it.
    pub dedup_key: Option<String>,
}

impl NewJob {
    /// A job of `kind` with a JSON `payload`, to run now.
    pub fn new(kind: impl Into<String>, payload: impl Into<String>) -> Self {
        NewJob {
            kind: kind.into(),
            payload: payload.into(),
            delay: None,
            dedup_key: None,
        }
    }

    /// Runs the job no earlier than `delay` from now.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Skips the enqueue while another job with `key` waits to start.
    pub fn dedup(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }
}

/// What `enqueue` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored durably under this id.
    New(Uuid),
    /// A pending job had the same dedup key; nothing was stored.
    Duplicate(Uuid),
}

impl Enqueued {
    /// The id of the job that will run.
    pub fn id(self) -> Uuid {
        match self {
            Enqueued::New(id) | Enqueued::Duplicate(id) => id,
        }
    }
}

/// A reserved job: the worker holds it until it acks, nacks, or the lease runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The job's id, stable across attempts.
    pub id: Uuid,
    /// Which handler runs it.
    pub kind: String,
    /// The handler's input, JSON.
    pub payload: String,
    /// 1 on the first delivery; a delivery after a crashed worker counts too.
    pub attempt: u32,
    /// When the job was first enqueued, UNIX milliseconds.
    pub enqueued_at_ms: i64,
    /// Identifies this lease to the backend (a lease token, or a stream entry id).
    pub receipt: String,
}

/// What `nack` did with a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nacked {
    /// Scheduled again after this delay.
    Retry(Duration),
    /// Out of attempts: moved to the dead letters.
    Dead,
    /// The lease had already passed to another worker (or the job is gone): nothing changed.
    Stale,
}

/// A job that ran out of attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The job's id; `requeue` takes it.
    pub id: Uuid,
    /// Which handler ran it.
    pub kind: String,
    /// The handler's input, JSON.
    pub payload: String,
    /// Deliveries made.
    pub attempts: u32,
    /// The error of the last attempt.
    pub last_error: String,
    /// When it was dead-lettered, UNIX milliseconds.
    pub dead_at_ms: i64,
}

/// A handler's error asking that the job not run again before `after` (a provider's
/// Retry-After); the worker finds it in the error's chain and passes it to `Queue::nack`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter {
    /// The least time before the next attempt.
    pub after: Duration,
    /// What failed.
    pub message: String,
}

impl std::fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RetryAfter {}

impl RetryAfter {
    /// The wait a handler's `error` asks for, if any.
    pub fn of(error: &anyhow::Error) -> Option<Duration> {
        error
            .chain()
            .find_map(|e| e.downcast_ref::<RetryAfter>())
            .map(|r| r.after)
    }
}

/// Counts of jobs by state, for tests, the benchmark and operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Waiting, delayed, leased or retrying.
    pub pending: u64,
    /// Dead letters.
    pub dead: u64,
}

/// Timeouts and the retry policy of a queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueSettings {
    /// How long a reserved job stays invisible to other workers without a heartbeat.
    pub visibility_timeout: Duration,
    /// Deliveries before a failing job is dead-lettered.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles with each attempt.
    pub backoff_base: Duration,
    /// Longest delay between retries, a Retry-After's too.
    pub backoff_max: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            visibility_timeout: Duration::from_secs(300),
            max_attempts: 5,
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(3600),
        }
    }
}

impl QueueSettings {
    /// The delay before retrying after failed attempt `attempt` (1-based): exponential, capped,
    /// with "equal jitter" (a uniform draw between half and all of it), so that jobs that
    /// failed together do not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.backoff_ceiling(attempt);
        let half = ceiling / 2;
        let spread = (ceiling - half).as_millis() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            rand::rng().random_range(0..=spread)
        };
        half + Duration::from_millis(jitter)
    }

    /// The delay before retrying after failed attempt `attempt` when the failure asked to wait
    /// `not_before` (a provider's Retry-After): at least that wait (up to `backoff_max`), plus up
    /// to a tenth of it as jitter, so that the jobs one 429 held back do not return at once; and
    /// never less than `backoff(attempt)`.
    pub fn retry_delay(&self, attempt: u32, not_before: Option<Duration>) -> Duration {
        let backoff = self.backoff(attempt);
        let Some(wait) = not_before else {
            return backoff;
        };
        let wait = wait.min(self.backoff_max);
        let spread = (wait / 10).as_millis() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            rand::rng().random_range(0..=spread)
        };
        let waited = (wait + Duration::from_millis(jitter)).min(self.backoff_max);
        backoff.max(waited)
    }

    /// The upper bound of `backoff(attempt)`.
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        self.backoff_base
            .saturating_mul(1u32 << exponent)
            .min(self.backoff_max)
    }
}

/// A durable job queue. Implementations: `RedisQueue` (Redis Streams with a consumer group)
/// and `EmbeddedQueue` (a database table).
#[async_trait]
pub trait Queue: Send + Sync {
    /// Stores a job durably; when this returns `Ok`, the job survives a restart of the backend
    /// (with Redis: as far as its persistence goes).
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued>;

    /// Leases up to `max` ready jobs to `consumer`, waiting up to `wait` for the first one.
    /// Jobs whose lease ran out (their worker died) are reclaimed here.
    async fn reserve(&self, consumer: &str, max: usize, wait: Duration) -> Result<Vec<Delivery>>;

    /// Removes a job whose effects are committed. Acknowledging a job that is gone is not an
    /// error (a slow worker and the one that reclaimed it may both finish).
    async fn ack(&self, delivery: &Delivery) -> Result<()>;

    /// Records a failed attempt: retries later (`QueueSettings::retry_delay`: with backoff, and
    /// no earlier than `not_before` from now when set), or dead-letters the job when it is out
    /// of attempts, keeping `error`.
    async fn nack(
        &self,
        delivery: &Delivery,
        error: &str,
        not_before: Option<Duration>,
    ) -> Result<Nacked>;

    /// Renews the lease of a job that is still running; false when the lease was lost.
    async fn heartbeat(&self, delivery: &Delivery) -> Result<bool>;

    /// Dead letters, most recent first.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>>;

    /// Moves a dead letter back into the queue with fresh attempts; false when no dead
    /// letter has this id. Its dedup key, released when it died, is not taken again.
    async fn requeue(&self, id: Uuid) -> Result<bool>;

    /// Counts of pending and dead jobs.
    async fn stats(&self) -> Result<QueueStats>;

    /// Since when (UNIX ms) the job that has waited longest for a worker has been ready to
    /// run: due now and not held by a live lease. None when no job waits. Operators watch
    /// `now` minus this (`owl_job_queue_oldest_wait_seconds`) to see workers falling behind.
    async fn oldest_waiting(&self) -> Result<Option<i64>>;

    /// Jobs that `reserve` calls on this handle dead-lettered because their lease ran out on
    /// their last attempt (their worker died), since the last call. Each such job is reported
    /// once, to the handle that buried it, so that its handler can record the failure.
    fn take_lost(&self) -> Vec<DeadLetter>;

    /// The queue's settings.
    fn settings(&self) -> &QueueSettings;
}

/// UNIX milliseconds now, by the machine's clock (the queue's timing is real time on every
/// backend: Redis measures lease idleness by its own clock, not an injectable one).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Longest error text a queue keeps.
pub const MAX_ERROR_LEN: usize = 2000;

/// `error` cut to at most `MAX_ERROR_LEN` bytes, on a character boundary.
pub fn clip_error(error: &str) -> &str {
    if error.len() <= MAX_ERROR_LEN {
        return error;
    }
    let mut end = MAX_ERROR_LEN;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> QueueSettings {
        QueueSettings {
            visibility_timeout: Duration::from_secs(30),
            max_attempts: 5,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
        }
    }

    #[test]
    fn long_errors_are_clipped_on_a_character_boundary() {
        assert_eq!(clip_error("short"), "short");
        let long = "é".repeat(MAX_ERROR_LEN);
        let clipped = clip_error(&long);
        assert!(clipped.len() <= MAX_ERROR_LEN && clipped.len() >= MAX_ERROR_LEN - 1);
        assert!(clipped.chars().all(|c| c == 'é'));
    }

    #[test]
    fn backoff_doubles_per_attempt_up_to_the_cap() {
        let s = settings();
        assert_eq!(s.backoff_ceiling(1), Duration::from_millis(100));
        assert_eq!(s.backoff_ceiling(2), Duration::from_millis(200));
        assert_eq!(s.backoff_ceiling(4), Duration::from_millis(800));
        assert_eq!(s.backoff_ceiling(5), Duration::from_secs(1));
        assert_eq!(s.backoff_ceiling(200), Duration::from_secs(1));
    }

    #[test]
    fn a_retry_waits_at_least_what_the_failure_asked_for_up_to_the_cap() {
        let s = settings();
        for _ in 0..100 {
            let d = s.retry_delay(1, Some(Duration::from_millis(700)));
            assert!(
                d >= Duration::from_millis(700) && d <= Duration::from_millis(770),
                "{d:?}"
            );
            // Asked for less than the backoff: the backoff wins.
            let d = s.retry_delay(4, Some(Duration::from_millis(10)));
            assert!(d >= Duration::from_millis(400), "{d:?}");
            // Asked for more than the cap: the cap.
            assert_eq!(
                s.retry_delay(1, Some(Duration::from_secs(60))),
                Duration::from_secs(1)
            );
        }
        let error = anyhow::Error::new(RetryAfter {
            after: Duration::from_secs(2),
            message: "rate limited".into(),
        })
        .context("sync failed");
        assert_eq!(RetryAfter::of(&error), Some(Duration::from_secs(2)));
        assert_eq!(RetryAfter::of(&anyhow::anyhow!("boom")), None);
    }

    #[test]
    fn backoff_jitters_between_half_and_all_of_the_ceiling() {
        let s = settings();
        let draws: Vec<Duration> = (0..200).map(|_| s.backoff(3)).collect();
        assert!(
            draws
                .iter()
                .all(|d| *d >= Duration::from_millis(200) && *d <= Duration::from_millis(400))
        );
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert!(distinct.len() > 10, "draws are spread: {distinct:?}");
    }
}
