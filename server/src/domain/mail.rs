//! Outgoing email as the use-cases see it, and delivery with retries off the request path.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

/// A plain-text email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Sends email: Resend, SMTP or the log (see `crate::mail`).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one email; an error may be retried.
    async fn send(&self, email: &Email) -> anyhow::Result<()>;
}

/// Sends `email` in the background, retrying up to `attempts` times with exponential backoff.
pub fn deliver(mailer: Arc<dyn Mailer>, email: Email, attempts: u32) {
    tokio::spawn(async move {
        let mut delay = Duration::from_secs(1);
        for attempt in 1..=attempts.max(1) {
            match mailer.send(&email).await {
                Ok(()) => return,
                Err(error) if attempt < attempts => {
                    tracing::warn!(%error, attempt, to = %email.to, "email failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(error) => {
                    tracing::error!(%error, attempt, to = %email.to, "email failed, giving up")
                }
            }
        }
    });
}
