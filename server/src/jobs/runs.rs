//! Sync runs: the record every sync job keeps of what it did (source, stage, progress, items,
//! error, times), and the connections the scheduler syncs.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What started a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncSource {
    /// The scheduler or an explicit request pulled from the provider.
    Pull,
    /// A provider's webhook announced new data.
    Webhook,
    /// The mobile SDK pushed data.
    Sdk,
    /// A historical backfill over a day range.
    Backfill,
    /// A file import (Apple Health export …).
    Import,
}

impl SyncSource {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncSource::Pull => "pull",
            SyncSource::Webhook => "webhook",
            SyncSource::Sdk => "sdk",
            SyncSource::Backfill => "backfill",
            SyncSource::Import => "import",
        }
    }

    /// Parses the stored form.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "pull" => SyncSource::Pull,
            "webhook" => SyncSource::Webhook,
            "sdk" => SyncSource::Sdk,
            "backfill" => SyncSource::Backfill,
            "import" => SyncSource::Import,
            _ => return None,
        })
    }
}

/// Where a sync run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    /// Enqueued, not started.
    Queued,
    /// A worker is on it (or will retry it after a failed attempt).
    Running,
    /// Finished without error.
    Succeeded,
    /// Gave up: out of attempts.
    Failed,
}

impl SyncStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Queued => "queued",
            SyncStatus::Running => "running",
            SyncStatus::Succeeded => "succeeded",
            SyncStatus::Failed => "failed",
        }
    }

    /// Parses the stored form.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "queued" => SyncStatus::Queued,
            "running" => SyncStatus::Running,
            "succeeded" => SyncStatus::Succeeded,
            "failed" => SyncStatus::Failed,
            _ => return None,
        })
    }

    /// True once the run will change no more.
    pub fn is_final(self) -> bool {
        matches!(self, SyncStatus::Succeeded | SyncStatus::Failed)
    }
}

/// The record of one sync.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRun {
    /// The run's id (UUIDv7); also carried in its job's payload.
    pub id: Uuid,
    /// The user whose data is synced.
    pub user_id: Uuid,
    /// The provider connection synced; `None` for SDK pushes and imports.
    pub connection_id: Option<Uuid>,
    /// The provider's name (`garmin` …).
    pub provider: Option<String>,
    /// What started the sync.
    pub source: SyncSource,
    /// Where the run is in its life.
    pub status: SyncStatus,
    /// What the run is doing (`queued`, `fetching`, `saving`, `done` …).
    pub stage: String,
    /// 0–100.
    pub progress_percent: f64,
    /// Items processed so far.
    pub items_processed: i64,
    /// Known once the provider says how much there is.
    pub items_total: Option<i64>,
    /// The error of the last failed attempt.
    pub error: Option<String>,
    /// Attempts started.
    pub attempts: i32,
    /// Backfill day range, UNIX milliseconds, end exclusive.
    pub range: Option<(i64, i64)>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When its first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it succeeded or finally failed.
    pub finished_at: Option<DateTime<Utc>>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl SyncRun {
    /// A queued run.
    pub fn queued(
        id: Uuid,
        connection: &ConnectionRef,
        source: SyncSource,
        range: Option<(i64, i64)>,
        now: DateTime<Utc>,
    ) -> SyncRun {
        SyncRun {
            id,
            user_id: connection.user_id,
            connection_id: Some(connection.id),
            provider: Some(connection.provider.clone()),
            source,
            status: SyncStatus::Queued,
            stage: "queued".into(),
            progress_percent: 0.0,
            items_processed: 0,
            items_total: None,
            error: None,
            attempts: 0,
            range,
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
        }
    }
}

/// Progress reported by a running sync.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncProgress {
    /// What the run is doing now.
    pub stage: String,
    /// 0–100.
    pub progress_percent: f64,
    /// Items processed so far.
    pub items_processed: i64,
    /// Items in all, when known.
    pub items_total: Option<i64>,
}

/// A provider connection, as much as scheduling needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRef {
    /// The connection's id.
    pub id: Uuid,
    /// Its user.
    pub user_id: Uuid,
    /// The provider's name (`garmin` …).
    pub provider: String,
}

/// Filters of a list of sync runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRunFilter {
    /// Runs of this user.
    pub user_id: Uuid,
    /// Only runs of this connection.
    pub connection_id: Option<Uuid>,
}
