//! The storage of file imports (`data_import`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::error::Result;
use crate::domain::imports::{ErrorLocation, Import, ImportProgress, ImportStage};
use crate::domain::page::PageRequest;

/// Imports of users' files.
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Stores a new import in stage `receiving`; false (nothing stored) when its user already
    /// has an import that is receiving, queued or parsing.
    async fn insert_import(&self, import: &Import) -> Result<bool>;
    /// The import with this id.
    async fn import(&self, id: Uuid) -> Result<Option<Import>>;
    /// The user's import that is receiving, queued or parsing, if any.
    async fn active_import(&self, user_id: Uuid) -> Result<Option<Import>>;
    /// The user's latest succeeded import of a file with this SHA-256.
    async fn succeeded_import(&self, user_id: Uuid, sha256: &str) -> Result<Option<Import>>;
    /// Imports of a user, newest first (`page.fetch_limit()` of them at most).
    async fn list_imports(&self, user_id: Uuid, page: &PageRequest) -> Result<Vec<Import>>;
    /// Records the bytes of a receiving import's file received so far.
    async fn set_received(&self, id: Uuid, bytes: i64, now: DateTime<Utc>) -> Result<()>;
    /// Marks the upload complete (stage `queued`) with the file's length and checksum.
    async fn complete_upload(
        &self,
        id: Uuid,
        bytes: i64,
        sha256: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Marks a queued (or redelivered) import `parsing` with its counters at zero.
    async fn start_import(&self, id: Uuid, now: DateTime<Utc>) -> Result<()>;
    /// Records the progress of a parsing import.
    async fn update_progress(
        &self,
        id: Uuid,
        progress: &ImportProgress,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Ends an import (`succeeded` or `failed`), freeing its user for the next one.
    async fn finish_import(
        &self,
        id: Uuid,
        stage: ImportStage,
        error: Option<(&str, Option<ErrorLocation>)>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Removes an import that never became one (an upload of a file already imported).
    async fn delete_import(&self, id: Uuid) -> Result<()>;
}
