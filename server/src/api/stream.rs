//! Client streams: the next message of a client-streaming call, within the deployment's idle
//! timeout (OWL_STREAM_IDLE_TIMEOUT_SECONDS), so a client that stops sending without closing
//! cannot hold a call, or anything it holds, open forever.

use std::time::Duration;

use tonic::{Status, Streaming};

use crate::domain::error::Error;

/// The stream's next message; `None` when the client closed it, DEADLINE_EXCEEDED
/// (`STREAM_IDLE`) when none arrived within `idle`.
pub async fn next_message<T>(
    stream: &mut Streaming<T>,
    idle: Duration,
) -> Result<Option<T>, Status> {
    match tokio::time::timeout(idle, stream.message()).await {
        Ok(next) => next,
        Err(_) => Err(Error::StreamIdle(format!(
            "no message for {} s: the stream was ended",
            idle.as_secs()
        ))
        .into()),
    }
}
