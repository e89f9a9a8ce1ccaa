//! Samples: atomic writes (validated by `intake`), keyset listing, aggregation into
//! local-calendar buckets, source priority, deletion.

use std::str::FromStr;

use uuid::Uuid;

use super::catalog::series_type;
use super::intake::{OffsetRule, RawBatch, check_source, validate_batches};
use super::{
    AggregateQuery, BucketRow, BucketWidth, DataSource, Priority, SampleCursor, SampleFilter,
    SampleQuery, SampleRun, SeriesBatch, SourceKey, WriteStats,
};
use crate::domain::Context;
use crate::domain::auth::Caller;
use crate::domain::error::{Error, Result};
use crate::domain::model::User;
use crate::domain::page::{Page, PageRequest, decode_token, encode_token, fingerprint};
use crate::domain::users::Users;
use crate::domain::validate::Violations;

/// Default and largest page of ListSamples, in samples.
pub const DEFAULT_SAMPLE_PAGE: u64 = 50_000;
pub const MAX_SAMPLE_PAGE: u64 = 200_000;

/// Samples a stream buffers, validated, before it writes them in one short transaction: a
/// stream up to this size is stored atomically after its last message; a longer one in
/// transactions of about this many samples (~5 MB buffered).
pub const STREAM_CHUNK_SAMPLES: usize = 200_000;

/// An open stream of writes for one user: `write` each message, then `commit`. No database
/// connection is held between messages: validated batches are buffered and written in short
/// transactions of [`STREAM_CHUNK_SAMPLES`].
pub struct SampleStream {
    health: std::sync::Arc<dyn crate::store::HealthStore>,
    user_id: Uuid,
    offsets: OffsetRule,
    now_ms: i64,
    messages: usize,
    buffer: Vec<SeriesBatch>,
    buffered: usize,
    stats: WriteStats,
}

impl SampleStream {
    /// Validates one message's batches and buffers them; writes the buffer once it holds a
    /// chunk. On an invalid message nothing more of the stream is written.
    pub async fn write(&mut self, batches: Vec<RawBatch>) -> Result<()> {
        let prefix = format!("messages[{}].batches", self.messages);
        self.messages += 1;
        let (batches, duplicates) = validate_batches(batches, &prefix, self.now_ms, &self.offsets)?;
        self.stats.skipped += duplicates;
        self.buffered += batches.iter().map(|b| b.samples.len()).sum::<usize>();
        self.buffer.extend(batches);
        if self.buffered >= STREAM_CHUNK_SAMPLES {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes the buffered batches in one transaction.
    async fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let mut writer = self.health.begin_samples(self.user_id).await?;
        for batch in self.buffer.drain(..) {
            self.stats += writer.write(&batch).await?;
        }
        writer.commit().await?;
        self.buffered = 0;
        Ok(())
    }

    /// Writes what is buffered and returns what the stream did.
    pub async fn commit(mut self) -> Result<WriteStats> {
        self.flush().await?;
        Ok(self.stats)
    }
}

/// The parameters of a sample list.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub series_types: Vec<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub newest_first: bool,
    pub page_size: i32,
    pub page_token: String,
    pub merged: bool,
}

/// The parameters of an aggregate.
#[derive(Debug, Clone, Default)]
pub struct AggregateParams {
    pub series_types: Vec<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// `None` when the request did not say.
    pub bucket: Option<BucketWidth>,
    pub merged: bool,
}

/// A page of samples.
pub struct SamplePage {
    pub runs: Vec<SampleRun>,
    pub next_page_token: String,
}

fn series_type_ids(codes: &[String], field: &str, v: &mut Violations) -> Vec<i32> {
    if codes.is_empty() {
        v.add(field, "name at least one series type");
    }
    codes
        .iter()
        .enumerate()
        .filter_map(|(i, code)| {
            // The bare code or the resource name `ListSeriesTypes` returns.
            let bare = code.strip_prefix("seriesTypes/").unwrap_or(code);
            let found = series_type(bare).map(|t| t.id);
            if found.is_none() {
                v.add(
                    format!("{field}[{i}]"),
                    format!("unknown series type {code:?}"),
                );
            }
            found
        })
        .collect()
}

const CURSOR_VERSION: u8 = 2;
const CURSOR_LEN: usize = 16 + 4 + 8;

fn encode_cursor(c: &SampleCursor, query: [u8; 8]) -> String {
    let mut payload = Vec::with_capacity(CURSOR_LEN);
    payload.extend_from_slice(c.source_uid.as_bytes());
    payload.extend_from_slice(&c.series_type_id.to_be_bytes());
    payload.extend_from_slice(&c.time.to_be_bytes());
    encode_token(CURSOR_VERSION, &payload, query)
}

fn decode_cursor(token: &str, query: [u8; 8]) -> Option<SampleCursor> {
    let bytes = decode_token(token, CURSOR_VERSION, CURSOR_LEN, query)?;
    Some(SampleCursor {
        source_uid: Uuid::from_slice(&bytes[0..16]).ok()?,
        series_type_id: i32::from_be_bytes(bytes[16..20].try_into().ok()?),
        time: i64::from_be_bytes(bytes[20..28].try_into().ok()?),
    })
}

/// Sample use-cases.
pub struct Samples<'a>(pub &'a Context);

impl Samples<'_> {
    /// The user, when the caller may read or write their data (an SDK token: its own user).
    async fn user(&self, caller: &Caller, user_id: Uuid) -> Result<User> {
        Users(self.0).visible(caller, user_id).await
    }

    /// How offsets a write leaves out are filled for `user`.
    pub(crate) async fn offsets(&self, user: &User) -> Result<OffsetRule> {
        if let Some(tz) = user
            .time_zone
            .as_deref()
            .and_then(|z| chrono_tz::Tz::from_str(z).ok())
        {
            return Ok(OffsetRule::Zone(tz));
        }
        Ok(OffsetRule::Fixed(
            self.0
                .health
                .latest_zone_offset(user.id)
                .await?
                .unwrap_or(0),
        ))
    }

    /// Opens a stream of writes for a user.
    pub async fn open(&self, caller: &Caller, user_id: Uuid) -> Result<SampleStream> {
        let user = self.user(caller, user_id).await?;
        let offsets = self.offsets(&user).await?;
        let now_ms = self.0.clock.now().timestamp_millis();
        Ok(SampleStream {
            health: self.0.health.clone(),
            user_id: user.id,
            offsets,
            now_ms,
            messages: 0,
            buffer: Vec::new(),
            buffered: 0,
            stats: WriteStats::default(),
        })
    }

    /// Writes batches atomically.
    pub async fn write(
        &self,
        caller: &Caller,
        user_id: Uuid,
        batches: Vec<RawBatch>,
    ) -> Result<WriteStats> {
        let user = self.user(caller, user_id).await?;
        let offsets = self.offsets(&user).await?;
        let now_ms = self.0.clock.now().timestamp_millis();
        let (batches, duplicates) = validate_batches(batches, "batches", now_ms, &offsets)?;
        let mut writer = self.0.health.begin_samples(user.id).await?;
        let mut stats = WriteStats {
            skipped: duplicates,
            ..WriteStats::default()
        };
        for batch in &batches {
            stats += writer.write(batch).await?;
        }
        writer.commit().await?;
        Ok(stats)
    }

    /// Lists samples, one run per source and series type.
    pub async fn list(&self, caller: &Caller, user_id: Uuid, p: ListParams) -> Result<SamplePage> {
        let mut v = Violations::new();
        let ids = series_type_ids(&p.series_types, "series_types", &mut v);
        v.range(p.start, p.end);
        let size = match p.page_size {
            n if n < 0 => {
                v.add("page_size", "must not be negative");
                DEFAULT_SAMPLE_PAGE
            }
            0 => DEFAULT_SAMPLE_PAGE,
            n => (n as u64).min(MAX_SAMPLE_PAGE),
        };
        let query = fingerprint(&format!(
            "{user_id}|{:?}|{:?}|{:?}|{}",
            p.series_types, p.start, p.end, p.newest_first
        ));
        let after = if p.page_token.is_empty() {
            None
        } else {
            let cursor = decode_cursor(&p.page_token, query);
            v.check(
                cursor.is_some(),
                "page_token",
                "is not a page token of this query",
            );
            cursor
        };
        v.finish()?;
        self.user(caller, user_id).await?;
        let ranks = if p.merged {
            Some(self.ranks(user_id).await?)
        } else {
            None
        };
        let q = SampleQuery {
            ranks,
            user_id,
            series_type_ids: ids,
            start: p.start,
            end: p.end,
            newest_first: p.newest_first,
            after,
            limit: size + 1,
        };
        let mut runs = self.0.health.list_samples(&q).await?;
        let mut remaining = size as usize;
        let mut next_page_token = String::new();
        for i in 0..runs.len() {
            if runs[i].samples.len() >= remaining {
                let more = runs[i].samples.len() > remaining || i + 1 < runs.len();
                let run = &mut runs[i];
                run.samples.truncate(remaining);
                if more && let Some(last) = run.samples.last() {
                    let cursor = SampleCursor {
                        source_uid: run.source_uid,
                        series_type_id: run.series_type_id,
                        time: last.time,
                    };
                    next_page_token = encode_cursor(&cursor, query);
                }
                runs.truncate(i + 1);
                runs.retain(|r| !r.samples.is_empty());
                break;
            }
            remaining -= runs[i].samples.len();
        }
        Ok(SamplePage {
            runs,
            next_page_token,
        })
    }

    /// Aggregates into buckets.
    pub async fn aggregate(
        &self,
        caller: &Caller,
        user_id: Uuid,
        p: AggregateParams,
    ) -> Result<Vec<BucketRow>> {
        let AggregateParams {
            series_types,
            start,
            end,
            bucket,
            merged,
        } = p;
        let series_types = &series_types;
        let mut v = Violations::new();
        let ids = series_type_ids(series_types, "series_types", &mut v);
        v.check(
            series_types.len() <= 20,
            "series_types",
            "at most 20 series types",
        );
        v.range(start, end);
        v.check(bucket.is_some(), "bucket", "must be set");
        v.finish()?;
        self.user(caller, user_id).await?;
        let Some(bucket) = bucket else {
            return Err(Error::invalid("bucket", "must be set"));
        };
        let ranks = if merged {
            Some(self.ranks(user_id).await?)
        } else {
            None
        };
        let query = AggregateQuery {
            user_id,
            series_type_ids: ids,
            start,
            end,
            bucket,
            ranks,
        };
        self.0.health.aggregate_samples(&query).await
    }

    /// Deletes samples by source, series types and time range.
    pub async fn delete(
        &self,
        caller: &Caller,
        user_id: Uuid,
        source_uid: Option<Uuid>,
        series_types: &[String],
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<u64> {
        let mut v = Violations::new();
        let ids = if series_types.is_empty() {
            Vec::new()
        } else {
            series_type_ids(series_types, "series_types", &mut v)
        };
        v.range(start, end);
        v.finish()?;
        Users(self.0).managed(caller, user_id).await?;
        if let Some(uid) = source_uid
            && self.0.health.source_id(user_id, uid).await?.is_none()
        {
            return Err(Error::not_found(
                "owl.v1.DataSource",
                format!("users/{user_id}/dataSources/{uid}"),
            ));
        }
        let filter = SampleFilter {
            user_id,
            source_uid,
            series_type_ids: ids,
            start,
            end,
        };
        let deleted = self.0.health.delete_samples(&filter).await?;
        tracing::info!(user = %user_id, deleted, "samples deleted");
        Ok(deleted)
    }

    /// The user's source priority: their own, or the deployment's default (`true`).
    pub async fn priority(&self, user_id: Uuid) -> Result<(Priority, bool)> {
        Ok(match self.0.health.source_priority(user_id).await? {
            Some(p) => (p, false),
            None => (
                Priority {
                    providers: self.0.settings.provider_priority.clone(),
                    device_types: self.0.settings.device_type_priority.clone(),
                },
                true,
            ),
        })
    }

    /// Every source of the user with its rank in the merged view.
    pub async fn ranks(&self, user_id: Uuid) -> Result<Vec<(i64, i32)>> {
        let (priority, _) = self.priority(user_id).await?;
        Ok(priority.ranks(&self.0.health.all_sources(user_id).await?))
    }

    /// Returns a user's source priority.
    pub async fn get_priority(&self, caller: &Caller, user_id: Uuid) -> Result<(Priority, bool)> {
        self.user(caller, user_id).await?;
        self.priority(user_id).await
    }

    /// Sets (or, when both lists are empty, clears) a user's source priority.
    pub async fn set_priority(
        &self,
        caller: &Caller,
        user_id: Uuid,
        priority: Priority,
    ) -> Result<(Priority, bool)> {
        let mut v = Violations::new();
        for (i, p) in priority.providers.iter().enumerate() {
            check_source(
                &SourceKey {
                    provider: p.clone(),
                    ..SourceKey::default()
                },
                &format!("source_priority.providers[{i}]"),
                &mut v,
            );
        }
        for (i, d) in priority.device_types.iter().enumerate() {
            v.check(
                !d.is_empty(),
                &format!("source_priority.device_types[{i}]"),
                "must be set",
            );
        }
        v.finish()?;
        Users(self.0).managed(caller, user_id).await?;
        let clear = priority.providers.is_empty() && priority.device_types.is_empty();
        let stored = (!clear).then_some(&priority);
        self.0
            .health
            .set_source_priority(user_id, stored, self.0.clock.now())
            .await?;
        self.priority(user_id).await
    }

    /// Lists a user's data sources.
    pub async fn sources(
        &self,
        caller: &Caller,
        user_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<DataSource>> {
        self.user(caller, user_id).await?;
        let rows = self.0.health.list_sources(user_id, &page).await?;
        Ok(page.page(rows, |s| s.uid))
    }
}
