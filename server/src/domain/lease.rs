//! Claims that exactly one caller wins across every replica: the scheduler's slots, and the
//! refresh of a connection's tokens. `jobs` implements it on Redis (`SET NX PX`) and on the
//! database.

use std::time::Duration;

use async_trait::async_trait;

use super::error::Result;

/// Claims (`name`, `slot`) pairs once.
#[async_trait]
pub trait Lease: Send + Sync {
    /// True for exactly one caller per (`name`, `slot`), where slots of a name only grow; `ttl`
    /// bounds how long the claim is kept.
    async fn claim(&self, name: &str, slot: i64, holder: &str, ttl: Duration) -> Result<bool>;
}
