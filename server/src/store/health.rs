//! The storage of health data: sources and samples.

use async_trait::async_trait;
use uuid::Uuid;

use crate::domain::error::Result;
use crate::domain::health::{
    AggregateQuery, BucketRow, DataSource, SampleFilter, SampleQuery, SampleRun, SeriesBatch,
    WriteStats,
};
use crate::domain::page::PageRequest;

/// Data sources and samples of users.
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// A user's data sources, oldest first.
    async fn list_sources(&self, user_id: Uuid, page: &PageRequest) -> Result<Vec<DataSource>>;
    /// Every data source of a user (for ranking).
    async fn all_sources(&self, user_id: Uuid) -> Result<Vec<DataSource>>;
    /// A user's own source priority, if they have one.
    async fn source_priority(
        &self,
        user_id: Uuid,
    ) -> Result<Option<crate::domain::health::Priority>>;
    /// Sets (`Some`) or clears (`None`) a user's source priority.
    async fn set_source_priority(
        &self,
        user_id: Uuid,
        priority: Option<&crate::domain::health::Priority>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()>;
    /// The internal id of a user's source; `None` when it is not theirs.
    async fn source_id(&self, user_id: Uuid, uid: Uuid) -> Result<Option<i64>>;
    /// Starts an atomic write of sample batches for a user.
    async fn begin_samples(&self, user_id: Uuid) -> Result<Box<dyn SampleWriter>>;
    /// The zone offset of the user's most recent sample.
    async fn latest_zone_offset(&self, user_id: Uuid) -> Result<Option<i32>>;
    /// Samples in (source, series type, time) order, grouped into runs.
    async fn list_samples(&self, query: &SampleQuery) -> Result<Vec<SampleRun>>;
    /// Aggregates per source, series type and bucket, in that order.
    async fn aggregate_samples(&self, query: &AggregateQuery) -> Result<Vec<BucketRow>>;
    /// Deletes the matching samples; returns how many.
    async fn delete_samples(&self, filter: &SampleFilter) -> Result<u64>;
    /// Deletes the samples and events of a user's sources from `provider`; returns how many.
    async fn delete_provider_data(&self, user_id: Uuid, provider: &str) -> Result<u64>;
}

/// An open write: batches go in, `commit` makes all of them visible at once. Dropping it
/// without committing stores nothing.
#[async_trait]
pub trait SampleWriter: Send {
    /// Stores one batch (inside the open transaction).
    async fn write(&mut self, batch: &SeriesBatch) -> Result<WriteStats>;
    /// Commits everything written.
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// Workouts and sleep sessions of users.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores events of one source in one transaction; an event already stored at the same
    /// source, category and times is replaced or filled in, as `mode` says.
    async fn write_events(
        &self,
        user_id: Uuid,
        source: &crate::domain::health::SourceKey,
        events: &[crate::domain::health::events::NewEvent],
        mode: crate::domain::health::events::WriteMode,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<WriteStats>;
    /// Events of one category in (start, id) order.
    async fn list_events(
        &self,
        query: &crate::domain::health::events::EventQuery,
    ) -> Result<Vec<crate::domain::health::events::Event>>;
    /// One event of a user.
    async fn event(
        &self,
        user_id: Uuid,
        id: Uuid,
    ) -> Result<Option<crate::domain::health::events::Event>>;
    /// Deletes events by source and start range; returns how many.
    async fn delete_events(
        &self,
        user_id: Uuid,
        source_uid: Option<Uuid>,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<u64>;
    /// Deletes one event of a user (a sleep session replaced by a merged one); true when it
    /// existed.
    async fn delete_event(&self, user_id: Uuid, id: Uuid) -> Result<bool>;
}
