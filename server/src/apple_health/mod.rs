//! The Apple Health export reader: [`open`] turns an uploaded file (export.zip or export.xml,
//! told apart by content) into a byte stream of export.xml under zip-bomb limits, and
//! [`Parser`] streams that XML (quick-xml, flat memory, DTD skipped, entities never expanded)
//! into chunks of sample batches and events for the existing write paths.
//!
//! Use, from a blocking thread (`tokio::task::spawn_blocking`):
//!
//! ```no_run
//! # use owl_server::apple_health::{open, Limits, Parser};
//! # fn f(file: std::fs::File) -> Result<(), owl_server::apple_health::ExportError> {
//! let mut parser = Parser::new(open(file, &Limits::default())?);
//! while let Some(chunk) = parser.next_chunk(10_000)? {
//!     // chunk.batches → intake::validate_batches → samples store (one chunk ≤ 100k samples)
//!     // chunk.events → events store, grouped by source, ≤ MAX_EVENTS_PER_WRITE per write
//!     let _progress = parser.progress();
//! }
//! # Ok(()) }
//! ```
//!
//! What a chunk holds: samples already converted to the series type's canonical unit
//! (`RawBatch::unit` is the catalogue unit), one zone offset per sample (the offset written in
//! the record's startDate), time = the record's startDate in UNIX ms; values that would fail
//! `validate_batches` (non-finite, negative counts, before 1970, more than a day in the future,
//! implausible for the type) are skipped and counted instead. Sleep sessions and workouts are
//! `NewEvent`s with their source. A failure (malformed XML …) ends the parse; chunks returned
//! before it stay valid, so an importer can store them and a retry re-imports idempotently.

use std::collections::BTreeMap;

use crate::domain::health::SourceKey;
use crate::domain::health::events::NewEvent;
use crate::domain::health::intake::RawBatch;

mod counting;
mod open;
mod parser;
mod record;
mod sleep;
mod workout;

pub use open::open;
pub use parser::Parser;

/// The `provider` of every data source an export creates.
pub const PROVIDER: &str = "apple_health";

/// Zip-bomb limits for [`open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes of export.xml (after decompression) read; beyond it the read fails with
    /// [`ExportError::TooLarge`]. Applies to plain XML too.
    pub max_xml_bytes: u64,
    /// Most decompressed bytes per compressed byte of the zip entry; beyond it the read fails
    /// with [`ExportError::ZipBomb`]. Checked once 1 MiB has been decompressed (small entries
    /// compress very well legitimately).
    pub max_ratio: u64,
}

impl Default for Limits {
    /// 64 GiB of XML and a ratio of 100 (real exports deflate about 10–20×).
    fn default() -> Self {
        Limits {
            max_xml_bytes: 64 << 30,
            max_ratio: 100,
        }
    }
}

/// Why an export cannot be read. Everything but `Io` is the file's fault.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The XML is not well formed (or one element exceeds 16 MiB). `line` and `column` are
    /// 1-based (column in bytes); `byte` is the 0-based offset in export.xml.
    #[error("malformed export.xml at line {line}, column {column} (byte {byte}): {message}")]
    Malformed {
        line: u64,
        column: u64,
        byte: u64,
        message: String,
    },
    /// A zip without an `export.xml` entry.
    #[error("the zip holds no export.xml")]
    NoExportXml,
    /// More than `limit` bytes of XML.
    #[error("export.xml is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The zip entry expands more than `max_ratio` times its compressed size.
    #[error("export.xml expands {expanded} bytes from {compressed} compressed (limit ratio {max_ratio})")]
    ZipBomb {
        compressed: u64,
        expanded: u64,
        max_ratio: u64,
    },
    /// The zip or the XML ends early or is damaged (no central directory, broken deflate
    /// stream, document ends before `</HealthData>`).
    #[error("the export is truncated or damaged: {0}")]
    Truncated(String),
    /// The document declares entities (`<!ENTITY`) or references one that is not predefined;
    /// owl never expands them ("billion laughs").
    #[error("the export declares or uses custom XML entities, which are not expanded")]
    Entities,
    /// Reading failed (disk).
    #[error("reading the export failed: {0}")]
    Io(#[from] std::io::Error),
}

/// What one [`Parser::next_chunk`] call produced.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Samples, one batch per (source, series type), in canonical units, ready for
    /// `intake::validate_batches`. At most `max_records` samples in all.
    pub batches: Vec<RawBatch>,
    /// Sleep sessions and workouts completed in this chunk, each with its source.
    pub events: Vec<(SourceKey, NewEvent)>,
    /// Elements consumed in this chunk: `Record`, `Workout`, `ActivitySummary`, `Correlation`
    /// and other top-level data elements, mapped or skipped.
    pub records: u64,
    /// Elements skipped in this chunk, by reason (see [`Progress::skipped`]).
    pub skipped: BTreeMap<String, u64>,
}

/// Totals so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of export.xml consumed.
    pub bytes: u64,
    /// Elements consumed (as [`Chunk::records`]).
    pub records: u64,
    /// Samples produced.
    pub samples: u64,
    /// Events produced (sleep sessions, workouts).
    pub events: u64,
    /// Skipped elements by reason: `unknown_type:<type>`, `unknown_unit:<type>:<unit>`,
    /// `invalid_value:<type>`, `absurd_value:<type>`, `invalid_date:<type>`,
    /// `missing_attribute:<type>`, `unknown_sleep_value:<value>`, `activity_summary`,
    /// `correlation:<type>` (its records also appear at top level and are imported there),
    /// `unsupported_element:<name>`. At most 1,000 distinct reasons; later new ones are
    /// counted under `other`.
    pub skipped: BTreeMap<String, u64>,
}
