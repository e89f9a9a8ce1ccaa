//! Health data: catalogues, units, data sources, samples (time series) and their queries.

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub mod catalog;
pub mod events;
pub mod health_connect;
pub mod healthkit;
pub mod intake;
pub mod push;
pub mod samples;
pub mod series;
pub mod sleep;
pub mod summaries;
pub mod units;

/// What identifies a data source within a user: every field is part of the identity, so the
/// same device's manual entries and measurements are two sources (and rank apart).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SourceKey {
    pub provider: String,
    pub device_model: String,
    /// Lowercase device kind (`phone`, `watch` …) or empty when unknown.
    pub device_type: String,
    pub app_name: String,
    /// Maker of the device (`Apple Inc.`, `Garmin`), empty when unknown.
    pub manufacturer: String,
    pub recording_method: RecordingMethod,
}

/// How data was recorded (Health Connect's recording methods; HealthKit's user-entered flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RecordingMethod {
    /// The source did not say.
    #[default]
    Unspecified,
    /// In the background by a device or app.
    Automatic,
    /// While the user tracked it (a started workout).
    Active,
    /// Typed in by the user.
    Manual,
}

impl RecordingMethod {
    /// The stored key: empty for unspecified.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingMethod::Unspecified => "",
            RecordingMethod::Automatic => "automatically_recorded",
            RecordingMethod::Active => "actively_recorded",
            RecordingMethod::Manual => "manual_entry",
        }
    }

    /// The method of a stored key; unknown keys are unspecified.
    pub fn from_key(key: &str) -> Self {
        match key {
            "automatically_recorded" => RecordingMethod::Automatic,
            "actively_recorded" => RecordingMethod::Active,
            "manual_entry" => RecordingMethod::Manual,
            _ => RecordingMethod::Unspecified,
        }
    }
}

/// The source id of merged results (no single source).
pub const MERGED: Uuid = Uuid::nil();

/// A stored data source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSource {
    /// Internal key; never leaves the server.
    pub id: i64,
    /// The id in resource names.
    pub uid: Uuid,
    pub user_id: Uuid,
    pub key: SourceKey,
    pub created_at: DateTime<Utc>,
}

/// One sample in canonical units: a value at an instant, or over the interval
/// [time, time + duration_ms) (a step count from 10:00 to 10:07).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    /// Start, UNIX milliseconds, UTC.
    pub time: i64,
    pub value: f64,
    /// Offset of local time from UTC where it was recorded, seconds.
    pub zone_offset: i32,
    /// Length of the interval the value covers, milliseconds; 0 for an instantaneous measure.
    /// At most [`MAX_DURATION_MS`].
    pub duration_ms: i32,
}

impl Sample {
    /// An instantaneous sample.
    pub fn at(time: i64, value: f64, zone_offset: i32) -> Self {
        Sample {
            time,
            value,
            zone_offset,
            duration_ms: 0,
        }
    }

    /// The end of the interval, UNIX ms (the start for an instantaneous sample).
    pub fn end(&self) -> i64 {
        self.time + i64::from(self.duration_ms)
    }
}

/// Longest interval one sample may cover: a day (a device's daily total). A sample never
/// reaches past the day after the one it starts in, so the merged view compares each stored day
/// with its two neighbours only.
pub const MAX_DURATION_MS: i64 = 86_400_000;

/// Validated samples of one series type from one source.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesBatch {
    pub source: SourceKey,
    pub series_type_id: i32,
    /// Sorted by time, one sample per instant.
    pub samples: Vec<Sample>,
}

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub inserted: u64,
    pub updated: u64,
    pub skipped: u64,
}

impl std::ops::AddAssign for WriteStats {
    fn add_assign(&mut self, other: Self) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.skipped += other.skipped;
    }
}

/// Where a sample list continues: the last sample returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleCursor {
    pub source_uid: Uuid,
    pub series_type_id: i32,
    pub time: i64,
}

/// A query over a user's samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleQuery {
    pub user_id: Uuid,
    pub series_type_ids: Vec<i32>,
    /// Inclusive start, UNIX ms.
    pub start: Option<i64>,
    /// Exclusive end, UNIX ms.
    pub end: Option<i64>,
    pub newest_first: bool,
    pub after: Option<SampleCursor>,
    /// Rows to fetch.
    pub limit: u64,
    /// Merged view: each source's rank (lower wins); `None` for the raw view.
    pub ranks: Option<Vec<(i64, i32)>>,
}

/// Consecutive samples of one series type from one source, in query order.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRun {
    pub source_uid: Uuid,
    pub series_type_id: i32,
    pub samples: Vec<Sample>,
}

/// How samples are grouped into buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketWidth {
    /// Fixed width in milliseconds, aligned to UNIX time.
    Fixed(i64),
    /// A local calendar day where each sample was recorded.
    Day,
    /// A local calendar week (Monday to Sunday).
    Week,
}

/// A query for aggregates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateQuery {
    pub user_id: Uuid,
    pub series_type_ids: Vec<i32>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub bucket: BucketWidth,
    /// Merged view: each source's rank (lower wins); `None` for the raw view.
    pub ranks: Option<Vec<(i64, i32)>>,
}

/// A user's source priority.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Priority {
    /// Providers, highest first.
    pub providers: Vec<String>,
    /// Device types, highest first.
    pub device_types: Vec<String>,
}

impl Priority {
    /// Ranks of `sources` (lower wins): listed providers first in their order, then device
    /// types in theirs, then measured data before manual entries, then the oldest source.
    pub fn ranks(&self, sources: &[DataSource]) -> Vec<(i64, i32)> {
        let position =
            |list: &[String], key: &str| list.iter().position(|p| p == key).unwrap_or(list.len());
        let mut ordered: Vec<&DataSource> = sources.iter().collect();
        ordered.sort_by_key(|s| {
            (
                position(&self.providers, &s.key.provider),
                position(&self.device_types, &s.key.device_type),
                s.key.recording_method == RecordingMethod::Manual,
                s.id,
            )
        });
        ordered
            .iter()
            .enumerate()
            .map(|(rank, s)| (s.id, rank as i32))
            .collect()
    }
}

/// One bucket as the store computes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketRow {
    pub source_uid: Uuid,
    pub series_type_id: i32,
    /// Start of the bucket in UNIX ms (fixed widths) or the local day number since 1970-01-01
    /// (day: the day; week: its Monday).
    pub key: i64,
    /// Instant and zone offset of the bucket's first sample.
    pub first_time: i64,
    pub first_offset: i32,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub count: i64,
}

/// Which samples a deletion removes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SampleFilter {
    pub user_id: Uuid,
    pub source_uid: Option<Uuid>,
    pub series_type_ids: Vec<i32>,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(id: i64, device_type: &str, recording_method: RecordingMethod) -> DataSource {
        DataSource {
            id,
            uid: Uuid::nil(),
            user_id: Uuid::nil(),
            key: SourceKey {
                provider: "apple_health".into(),
                device_type: device_type.into(),
                recording_method,
                ..SourceKey::default()
            },
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn manual_entries_rank_after_measurements_of_the_same_device_type() {
        let priority = Priority {
            providers: vec!["apple_health".into()],
            device_types: vec!["watch".into(), "phone".into()],
        };
        let sources = [
            source(1, "watch", RecordingMethod::Manual),
            source(2, "watch", RecordingMethod::Automatic),
            source(3, "phone", RecordingMethod::Unspecified),
            source(4, "watch", RecordingMethod::Unspecified),
        ];
        assert_eq!(
            priority.ranks(&sources),
            [(2, 0), (4, 1), (1, 2), (3, 3)],
            "device type still comes first; within it, manual entries come last"
        );
    }

    #[test]
    fn recording_methods_round_trip_through_their_keys() {
        for method in [
            RecordingMethod::Unspecified,
            RecordingMethod::Automatic,
            RecordingMethod::Active,
            RecordingMethod::Manual,
        ] {
            assert_eq!(RecordingMethod::from_key(method.as_str()), method);
        }
        assert_eq!(
            RecordingMethod::from_key("typed"),
            RecordingMethod::Unspecified
        );
    }
}
