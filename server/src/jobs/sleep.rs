//! The `sleep_close` job: closes the buffered sleep phases of every source that has been quiet
//! for SLEEP_END_GAP_MINUTES into sleep sessions (`domain::health::sleep`). The scheduler
//! enqueues one per slot (deduplicated while one is pending); closing is idempotent, so a
//! redelivered job writes nothing twice.

use std::sync::Arc;

use async_trait::async_trait;

use super::queue::{Delivery, NewJob};
use super::worker::Handler;
use crate::domain::Context;
use crate::domain::health::sleep::Sleep;

/// The job kind.
pub const SLEEP_CLOSE_KIND: &str = "sleep_close";

/// The job the scheduler enqueues each slot.
pub fn sleep_close_job() -> NewJob {
    NewJob::new(SLEEP_CLOSE_KIND, "{}").dedup(SLEEP_CLOSE_KIND)
}

/// Runs `sleep_close` jobs.
pub struct SleepCloseHandler(pub Arc<Context>);

#[async_trait]
impl Handler for SleepCloseHandler {
    async fn handle(&self, _job: &Delivery, _last_attempt: bool) -> anyhow::Result<()> {
        let closed = Sleep(&self.0).close_quiet().await?;
        tracing::info!(closed, "quiet sleep buffers closed");
        Ok(())
    }
}
