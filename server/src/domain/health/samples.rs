//! Samples: validation and unit conversion on the way in, atomic writes, keyset listing,
//! aggregation into local-calendar buckets, deletion.

use std::str::FromStr;

use chrono::{Offset, TimeZone};
use uuid::Uuid;

use super::catalog::{Aggregation, SeriesType, series_type};
use super::units::to_canonical;
use super::{
    AggregateQuery, BucketRow, BucketWidth, DataSource, Priority, Sample, SampleCursor,
    SampleFilter, SampleQuery, SampleRun, SeriesBatch, SourceKey, WriteStats,
};
use crate::domain::Context;
use crate::domain::auth::Caller;
use crate::domain::error::{Error, Result};
use crate::domain::model::User;
use crate::domain::page::{Page, PageRequest, decode_token, encode_token, fingerprint};
use crate::domain::users::Users;
use crate::domain::validate::Violations;
use crate::store::SampleWriter;

/// Most samples in one request or stream message.
pub const MAX_SAMPLES_PER_MESSAGE: usize = 100_000;
/// Violations reported at most; the rest are counted.
const MAX_VIOLATIONS: usize = 100;
const DAY_MS: i64 = 86_400_000;
/// Offsets beyond ±18 h do not exist.
const MAX_OFFSET_SECONDS: i32 = 18 * 3600;
/// Default and largest page of ListSamples, in samples.
pub const DEFAULT_SAMPLE_PAGE: u64 = 50_000;
pub const MAX_SAMPLE_PAGE: u64 = 200_000;

/// A batch as a request carries it, before validation.
#[derive(Debug, Clone, Default)]
pub struct RawBatch {
    pub source: SourceKey,
    pub series_type: String,
    pub unit: String,
    pub times: Vec<i64>,
    pub values: Vec<f64>,
    pub zone_offsets: Vec<i32>,
}

/// Validates a source descriptor.
pub fn check_source(source: &SourceKey, field: &str, v: &mut Violations) {
    let provider_ok = !source.provider.is_empty()
        && source.provider.len() <= 32
        && source
            .provider
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    v.check(
        provider_ok,
        &format!("{field}.provider"),
        "must be 1 to 32 lowercase letters, digits or underscores",
    );
    v.text(
        &source.device_model,
        &format!("{field}.device_model"),
        false,
        255,
    );
    v.text(&source.app_name, &format!("{field}.app_name"), false, 255);
}

/// Fills missing zone offsets: the user's IANA zone at each instant, else a fixed offset.
pub enum OffsetRule {
    Zone(chrono_tz::Tz),
    Fixed(i32),
}

impl OffsetRule {
    fn at(&self, time_ms: i64) -> i32 {
        match self {
            OffsetRule::Fixed(offset) => *offset,
            OffsetRule::Zone(tz) => chrono::DateTime::from_timestamp_millis(time_ms)
                .map(|utc| {
                    tz.offset_from_utc_datetime(&utc.naive_utc())
                        .fix()
                        .local_minus_utc()
                })
                .unwrap_or(0),
        }
    }
}

/// Validates `batches` (named `{prefix}[i]` in violations), converts values to canonical units,
/// fills offsets, sorts by time and keeps the last of duplicate instants. Returns the batches
/// and the number of duplicates dropped.
pub fn validate_batches(
    batches: Vec<RawBatch>,
    prefix: &str,
    now_ms: i64,
    offsets: &OffsetRule,
) -> Result<(Vec<SeriesBatch>, u64)> {
    let mut v = Violations::new();
    let mut extra = 0usize;
    let mut add = |v: &mut Violations, field: String, description: &str| {
        if v.len() < MAX_VIOLATIONS {
            v.add(field, description)
        } else {
            extra += 1
        }
    };
    let total: usize = batches.iter().map(|b| b.times.len()).sum();
    if total > MAX_SAMPLES_PER_MESSAGE {
        v.add(
            prefix,
            format!("at most {MAX_SAMPLES_PER_MESSAGE} samples per message, got {total}"),
        );
        return Err(v
            .finish()
            .err()
            .unwrap_or_else(|| Error::invalid(prefix, "too many samples")));
    }
    let mut out = Vec::with_capacity(batches.len());
    let mut duplicates = 0;
    for (i, batch) in batches.into_iter().enumerate() {
        let at = format!("{prefix}[{i}]");
        check_source(&batch.source, &format!("{at}.source"), &mut v);
        let kind: Option<&SeriesType> = series_type(&batch.series_type);
        let conversion = kind.and_then(|k| to_canonical(&batch.unit, k.unit));
        match kind {
            None => add(
                &mut v,
                format!("{at}.series_type"),
                &format!("unknown series type {:?}", batch.series_type),
            ),
            Some(k) if conversion.is_none() => add(
                &mut v,
                format!("{at}.unit"),
                &format!("{:?} does not convert to {}", batch.unit, k.unit),
            ),
            Some(_) => {}
        }
        if batch.values.len() != batch.times.len() {
            add(
                &mut v,
                format!("{at}.values"),
                &format!(
                    "{} values for {} times",
                    batch.values.len(),
                    batch.times.len()
                ),
            );
            continue;
        }
        if !batch.zone_offsets.is_empty() && batch.zone_offsets.len() != batch.times.len() {
            add(
                &mut v,
                format!("{at}.zone_offsets"),
                "must be empty or have one offset per time",
            );
            continue;
        }
        let counts = kind.is_some_and(|k| k.aggregation == Aggregation::Sum);
        let mut samples = Vec::with_capacity(batch.times.len());
        for (j, (&time, &value)) in batch.times.iter().zip(&batch.values).enumerate() {
            if time < 0 {
                add(
                    &mut v,
                    format!("{at}.times[{j}]"),
                    "must not be before 1970",
                );
            } else if time > now_ms + DAY_MS {
                add(
                    &mut v,
                    format!("{at}.times[{j}]"),
                    "must not be more than a day in the future",
                );
            }
            let converted = conversion.map_or(value, |c| c.apply(value));
            if !value.is_finite() || !converted.is_finite() {
                add(
                    &mut v,
                    format!("{at}.values[{j}]"),
                    "must be a finite number",
                );
            } else if counts && converted < 0.0 {
                add(&mut v, format!("{at}.values[{j}]"), "must not be negative");
            }
            let zone_offset = match batch.zone_offsets.get(j) {
                Some(&o) if o.abs() > MAX_OFFSET_SECONDS => {
                    add(
                        &mut v,
                        format!("{at}.zone_offsets[{j}]"),
                        "must be within ±18 hours (seconds)",
                    );
                    0
                }
                Some(&o) => o,
                None => offsets.at(time),
            };
            samples.push(Sample {
                time,
                value: converted,
                zone_offset,
            });
        }
        if let Some(k) = kind {
            // A stable sort keeps request order among equal instants: the last one wins.
            samples.sort_by_key(|s| s.time);
            let before = samples.len();
            samples.reverse();
            samples.dedup_by_key(|s| s.time);
            samples.reverse();
            duplicates += (before - samples.len()) as u64;
            out.push(SeriesBatch {
                source: batch.source,
                series_type_id: k.id,
                samples,
            });
        }
    }
    if extra > 0 {
        v.add(prefix, format!("{extra} more violations not listed"));
    }
    v.finish()?;
    Ok((out, duplicates))
}

/// An open stream of writes for one user: `write` each message, then `commit`.
pub struct SampleStream {
    writer: Box<dyn SampleWriter>,
    offsets: OffsetRule,
    now_ms: i64,
    messages: usize,
    stats: WriteStats,
}

impl SampleStream {
    /// Validates and writes one message's batches; on error nothing of the stream is kept.
    pub async fn write(&mut self, batches: Vec<RawBatch>) -> Result<()> {
        let prefix = format!("messages[{}].batches", self.messages);
        self.messages += 1;
        let (batches, duplicates) = validate_batches(batches, &prefix, self.now_ms, &self.offsets)?;
        self.stats.skipped += duplicates;
        for batch in &batches {
            let stats = self.writer.write(batch).await?;
            self.stats += stats;
        }
        Ok(())
    }

    /// Commits everything and returns what the stream did.
    pub async fn commit(self) -> Result<WriteStats> {
        self.writer.commit().await?;
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
            let found = series_type(code).map(|t| t.id);
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

fn check_range(start: Option<i64>, end: Option<i64>, v: &mut Violations) {
    if let (Some(start), Some(end)) = (start, end) {
        v.check(
            start < end,
            "time_range",
            "start_time must be before end_time",
        );
    }
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

    async fn offsets(&self, user: &User) -> Result<OffsetRule> {
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
        let writer = self.0.health.begin_samples(user.id).await?;
        let now_ms = self.0.clock.now().timestamp_millis();
        Ok(SampleStream {
            writer,
            offsets,
            now_ms,
            messages: 0,
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
        check_range(p.start, p.end, &mut v);
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
        check_range(start, end, &mut v);
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
        check_range(start, end, &mut v);
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
