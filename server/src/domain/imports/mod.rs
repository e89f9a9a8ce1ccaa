//! File imports (Apple Health exports): the import record, its stages and counters, and the
//! use-cases of uploading (`uploads`) and watching them. The file goes to a spool file
//! (`spool`) as it arrives; the job that parses and stores it is `jobs::import`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub mod spool;
pub mod uploads;

pub use spool::{Spool, SpoolWriter};
pub use uploads::Imports;

/// Where an import is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportStage {
    /// The file is being uploaded.
    Receiving,
    /// The file is complete and waits for a worker.
    Queued,
    /// A worker parses and stores it.
    Parsing,
    /// Done.
    Succeeded,
    /// The upload broke off or the file is unreadable.
    Failed,
}

impl ImportStage {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStage::Receiving => "receiving",
            ImportStage::Queued => "queued",
            ImportStage::Parsing => "parsing",
            ImportStage::Succeeded => "succeeded",
            ImportStage::Failed => "failed",
        }
    }

    /// From the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "receiving" => ImportStage::Receiving,
            "queued" => ImportStage::Queued,
            "parsing" => ImportStage::Parsing,
            "succeeded" => ImportStage::Succeeded,
            "failed" => ImportStage::Failed,
            _ => return None,
        })
    }

    /// Whether the import has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, ImportStage::Succeeded | ImportStage::Failed)
    }
}

/// Where in the parsed document an import failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorLocation {
    /// 1-based line.
    pub line: i64,
    /// 1-based column, bytes.
    pub column: i64,
    /// Byte offset in the document.
    pub byte: i64,
}

/// The counters of a parsing import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportProgress {
    /// Bytes of the document read by the parser.
    pub bytes_parsed: i64,
    /// Records read (stored or skipped).
    pub records_parsed: i64,
    /// Samples inserted or changed.
    pub samples_stored: i64,
    /// Workouts and sleep sessions inserted or changed.
    pub events_stored: i64,
    /// Records or samples not stored, by reason.
    pub skipped: BTreeMap<String, i64>,
}

impl ImportProgress {
    /// Everything skipped.
    pub fn skipped_total(&self) -> i64 {
        self.skipped.values().sum()
    }

    /// Counts `n` skipped for `reason`.
    pub fn skip(&mut self, reason: &str, n: i64) {
        if n > 0 {
            *self.skipped.entry(reason.to_owned()).or_default() += n;
        }
    }
}

/// One import of a user's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub id: Uuid,
    pub user_id: Uuid,
    /// `apple_health`.
    pub format: String,
    pub stage: ImportStage,
    pub bytes_received: i64,
    /// Announced size; 0 when unknown.
    pub total_bytes: i64,
    /// Announced SHA-256 while receiving; the file's own once the upload is complete.
    pub sha256: Option<String>,
    /// Whether the upload is complete.
    pub complete: bool,
    pub progress: ImportProgress,
    pub error: Option<String>,
    pub error_location: Option<ErrorLocation>,
    pub created_at: DateTime<Utc>,
    pub upload_complete_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl Import {
    /// The resource name.
    pub fn name(&self) -> String {
        import_name(self.user_id, self.id)
    }
}

/// `users/{user}/imports/{import}`.
pub fn import_name(user: Uuid, id: Uuid) -> String {
    format!("users/{user}/imports/{id}")
}

/// `users/{user}/uploads/{upload}`.
pub fn upload_name(user: Uuid, id: Uuid) -> String {
    format!("users/{user}/uploads/{id}")
}

/// The import format of Apple Health exports.
pub const APPLE_HEALTH: &str = "apple_health";
