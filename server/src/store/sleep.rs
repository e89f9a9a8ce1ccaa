//! The sleep buffer: phases waiting per user and source to be assembled into sessions
//! (`domain::health::sleep`). Redis (`store::redis_sleep`) when configured, else the database
//! (`store::sea::sleep`, table `sleep_phase`).

use async_trait::async_trait;
use uuid::Uuid;

use crate::domain::error::Result;
use crate::domain::health::SourceKey;
use crate::domain::health::sleep::SleepPhase;

/// Sleep phases per user and source.
#[async_trait]
pub trait SleepBuffer: Send + Sync {
    /// Adds phases that arrived at `now_ms`; one already buffered is kept once (its arrival
    /// still counts). Returns how many were new.
    async fn add(
        &self,
        user_id: Uuid,
        source: &SourceKey,
        phases: &[SleepPhase],
        now_ms: i64,
    ) -> Result<u64>;
    /// Every buffered phase of one user and source, and when the latest arrived (UNIX ms;
    /// `None` when nothing is buffered).
    async fn pending(
        &self,
        user_id: Uuid,
        source: &SourceKey,
    ) -> Result<(Vec<SleepPhase>, Option<i64>)>;
    /// Removes these phases (closed into a session); phases added meanwhile stay.
    async fn remove(&self, user_id: Uuid, source: &SourceKey, phases: &[SleepPhase]) -> Result<()>;
    /// Up to `limit` users and sources whose latest phase arrived before `before_ms`.
    async fn quiet(&self, before_ms: i64, limit: usize) -> Result<Vec<(Uuid, SourceKey)>>;
}

/// The stored form of a source's identity: a JSON array, the same in both implementations.
pub fn source_json(source: &SourceKey) -> String {
    serde_json::json!([
        source.provider,
        source.device_model,
        source.device_type,
        source.app_name
    ])
    .to_string()
}

/// The source of `source_json`.
pub fn parse_source(json: &str) -> Option<SourceKey> {
    let [provider, device_model, device_type, app_name]: [String; 4] =
        serde_json::from_str(json).ok()?;
    Some(SourceKey {
        provider,
        device_model,
        device_type,
        app_name,
    })
}
