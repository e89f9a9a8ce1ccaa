//! The sleep buffer: phases waiting per user and source to be assembled into sessions
//! (`domain::health::sleep`). Redis (`store::redis_sleep`) when configured, else the database
//! (`store::sea::sleep`, table `sleep_phase`).

use async_trait::async_trait;
use uuid::Uuid;

use crate::domain::error::Result;
use crate::domain::health::sleep::SleepPhase;
use crate::domain::health::{RecordingMethod, SourceKey};

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
/// A source without manufacturer and recording method keeps the four-element form of before
/// they existed, so phases buffered by an older server still find their source.
pub fn source_json(source: &SourceKey) -> String {
    if source.manufacturer.is_empty() && source.recording_method == RecordingMethod::Unspecified {
        return serde_json::json!([
            source.provider,
            source.device_model,
            source.device_type,
            source.app_name
        ])
        .to_string();
    }
    serde_json::json!([
        source.provider,
        source.device_model,
        source.device_type,
        source.app_name,
        source.manufacturer,
        source.recording_method.as_str()
    ])
    .to_string()
}

/// The source of `source_json` (either form).
pub fn parse_source(json: &str) -> Option<SourceKey> {
    let parts: Vec<String> = serde_json::from_str(json).ok()?;
    let (manufacturer, recording_method) = match parts.len() {
        4 => (String::new(), RecordingMethod::Unspecified),
        6 => (parts[4].clone(), RecordingMethod::from_key(&parts[5])),
        _ => return None,
    };
    let [provider, device_model, device_type, app_name]: [String; 4] = parts
        .into_iter()
        .take(4)
        .collect::<Vec<_>>()
        .try_into()
        .ok()?;
    Some(SourceKey {
        provider,
        device_model,
        device_type,
        app_name,
        manufacturer,
        recording_method,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_round_trip_through_their_json_in_both_forms() {
        let old = SourceKey {
            provider: "apple_health".into(),
            device_model: "Watch7,1".into(),
            device_type: "watch".into(),
            app_name: "Health".into(),
            ..SourceKey::default()
        };
        assert_eq!(
            source_json(&old),
            r#"["apple_health","Watch7,1","watch","Health"]"#
        );
        assert_eq!(parse_source(&source_json(&old)), Some(old.clone()));
        let new = SourceKey {
            manufacturer: "Apple Inc.".into(),
            recording_method: RecordingMethod::Manual,
            ..old
        };
        assert_eq!(
            source_json(&new),
            r#"["apple_health","Watch7,1","watch","Health","Apple Inc.","manual_entry"]"#
        );
        assert_eq!(parse_source(&source_json(&new)), Some(new));
        assert_eq!(parse_source(r#"["a","b","c"]"#), None);
    }
}
