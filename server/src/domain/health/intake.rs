//! Sample intake: request batches validated as a whole (every violation named by index),
//! converted to canonical units, given zone offsets, sorted and de-duplicated.

use chrono::{Offset, TimeZone};

use super::catalog::{Aggregation, SeriesType, series_type};
use super::units::to_canonical;
use super::{MAX_DURATION_MS, Sample, SeriesBatch, SourceKey};
use crate::domain::error::{Error, Result};
use crate::domain::validate::Violations;

/// Most samples in one request or stream message.
pub const MAX_SAMPLES_PER_MESSAGE: usize = 100_000;
/// Violations reported at most; the rest are counted.
const MAX_VIOLATIONS: usize = 100;
const DAY_MS: i64 = 86_400_000;
/// Longest manufacturer of a source (kept short so that the source identity index fits
/// PostgreSQL's btree row limit).
pub const MAX_MANUFACTURER: usize = 64;
/// Offsets beyond ±18 h do not exist.
const MAX_OFFSET_SECONDS: i32 = 18 * 3600;
/// A batch as a request carries it, before validation.
#[derive(Debug, Clone, Default)]
pub struct RawBatch {
    pub source: SourceKey,
    pub series_type: String,
    pub unit: String,
    pub times: Vec<i64>,
    pub values: Vec<f64>,
    pub zone_offsets: Vec<i32>,
    /// Each sample's length in milliseconds (end minus start), or empty: all instantaneous.
    pub durations: Vec<i64>,
}

/// A sample's duration in ms, when it is one a sample may have (0 to a day).
pub fn duration_ok(duration_ms: i64) -> Option<i32> {
    if (0..=MAX_DURATION_MS).contains(&duration_ms) {
        i32::try_from(duration_ms).ok()
    } else {
        None
    }
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
    v.text(
        &source.manufacturer,
        &format!("{field}.manufacturer"),
        false,
        MAX_MANUFACTURER,
    );
}

/// Fills missing zone offsets: the user's IANA zone at each instant, else a fixed offset.
pub enum OffsetRule {
    Zone(chrono_tz::Tz),
    Fixed(i32),
}

impl OffsetRule {
    /// The offset at `time_ms`, seconds.
    pub fn at(&self, time_ms: i64) -> i32 {
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

/// What is wrong with a sample's instant (UNIX ms), if anything.
pub fn time_problem(time: i64, now_ms: i64) -> Option<&'static str> {
    if time < 0 {
        Some("must not be before 1970")
    } else if time > now_ms + DAY_MS {
        Some("must not be more than a day in the future")
    } else {
        None
    }
}

/// What is wrong with a value as sent and `converted` to the canonical unit, if anything;
/// `counts` for series that sum (which cannot be negative).
pub fn value_problem(value: f64, converted: f64, counts: bool) -> Option<&'static str> {
    if !value.is_finite() || !converted.is_finite() {
        Some("must be a finite number")
    } else if counts && converted < 0.0 {
        Some("must not be negative")
    } else {
        None
    }
}

/// Whether a zone offset (seconds) exists.
pub fn offset_ok(offset: i32) -> bool {
    (-MAX_OFFSET_SECONDS..=MAX_OFFSET_SECONDS).contains(&offset)
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
        if !batch.durations.is_empty() && batch.durations.len() != batch.times.len() {
            add(
                &mut v,
                format!("{at}.durations"),
                "must be empty or have one duration per time",
            );
            continue;
        }
        let counts = kind.is_some_and(|k| k.aggregation == Aggregation::Sum);
        let mut samples = Vec::with_capacity(batch.times.len());
        for (j, (&time, &value)) in batch.times.iter().zip(&batch.values).enumerate() {
            if let Some(problem) = time_problem(time, now_ms) {
                add(&mut v, format!("{at}.times[{j}]"), problem);
            }
            let converted = conversion.map_or(value, |c| c.apply(value));
            if let Some(problem) = value_problem(value, converted, counts) {
                add(&mut v, format!("{at}.values[{j}]"), problem);
            }
            let zone_offset = match batch.zone_offsets.get(j) {
                Some(&o) if !offset_ok(o) => {
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
            let duration = batch.durations.get(j).copied().unwrap_or(0);
            let duration_ms = duration_ok(duration).unwrap_or_else(|| {
                add(
                    &mut v,
                    format!("{at}.durations[{j}]"),
                    "must be 0 to 86400000 milliseconds (a day)",
                );
                0
            });
            samples.push(Sample {
                time,
                value: converted,
                zone_offset,
                duration_ms,
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

/// Samples dropped by [`sanitize_batches`], by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dropped(pub std::collections::BTreeMap<&'static str, u64>);

impl Dropped {
    /// Counts `n` samples dropped for `reason`.
    pub fn add(&mut self, reason: &'static str, n: u64) {
        if n > 0 {
            *self.0.entry(reason).or_default() += n;
        }
    }
}

/// The lenient form of [`validate_batches`] for imported files: a bad sample is dropped and
/// counted by reason (`unknown_type`, `unknown_unit`, `invalid_source`, `invalid_time`,
/// `invalid_value`, `duplicate`) instead of rejecting the whole batch, so one absurd record
/// of an export does not keep the rest out.
pub fn sanitize_batches(
    batches: Vec<RawBatch>,
    now_ms: i64,
    offsets: &OffsetRule,
) -> (Vec<SeriesBatch>, Dropped) {
    let mut dropped = Dropped::default();
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        let n = batch.times.len() as u64;
        let mut v = Violations::new();
        check_source(&batch.source, "source", &mut v);
        let Some(kind) = series_type(&batch.series_type) else {
            dropped.add("unknown_type", n);
            continue;
        };
        let Some(conversion) = to_canonical(&batch.unit, kind.unit) else {
            dropped.add("unknown_unit", n);
            continue;
        };
        if !v.is_empty() {
            dropped.add("invalid_source", n);
            continue;
        }
        let offsets_ok =
            batch.zone_offsets.is_empty() || batch.zone_offsets.len() == batch.times.len();
        let durations_ok = batch.durations.is_empty() || batch.durations.len() == batch.times.len();
        if batch.values.len() != batch.times.len() || !offsets_ok || !durations_ok {
            dropped.add("invalid_value", n);
            continue;
        }
        let counts = kind.aggregation == Aggregation::Sum;
        let mut samples = Vec::with_capacity(batch.times.len());
        for (j, (&time, &value)) in batch.times.iter().zip(&batch.values).enumerate() {
            if time < 0 || time > now_ms + DAY_MS {
                dropped.add("invalid_time", 1);
                continue;
            }
            let converted = conversion.apply(value);
            if !value.is_finite() || !converted.is_finite() || (counts && converted < 0.0) {
                dropped.add("invalid_value", 1);
                continue;
            }
            if !plausible(kind, converted) {
                dropped.add("implausible_value", 1);
                continue;
            }
            let zone_offset = match batch.zone_offsets.get(j) {
                Some(&o) if !offset_ok(o) => {
                    dropped.add("invalid_time", 1);
                    continue;
                }
                Some(&o) => o,
                None => offsets.at(time),
            };
            let Some(duration_ms) = duration_ok(batch.durations.get(j).copied().unwrap_or(0))
            else {
                dropped.add("invalid_time", 1);
                continue;
            };
            samples.push(Sample {
                time,
                value: converted,
                zone_offset,
                duration_ms,
            });
        }
        samples.sort_by_key(|s| s.time);
        let before = samples.len();
        samples.reverse();
        samples.dedup_by_key(|s| s.time);
        samples.reverse();
        dropped.add("duplicate", (before - samples.len()) as u64);
        if !samples.is_empty() {
            out.push(SeriesBatch {
                source: batch.source,
                series_type_id: kind.id,
                samples,
            });
        }
    }
    (out, dropped)
}

/// Whether a canonical value is physiologically possible for its unit (an import drops the
/// rest as `implausible_value`); units without a known range accept any finite value.
fn plausible(kind: &SeriesType, value: f64) -> bool {
    let (low, high) = match kind.unit {
        "bpm" => (1.0, 300.0),
        "%" => (0.0, 100.0),
        "kg" => (0.5, 700.0),
        "breaths/min" => (1.0, 150.0),
        "ms" => (0.0, 10_000.0),
        "degC" => (-100.0, 100.0),
        "mmHg" => (1.0, 400.0),
        "kcal" => (0.0, 50_000.0),
        "count" => (0.0, 10_000_000.0),
        "m" => (0.0, 10_000_000.0),
        "min" => (0.0, 1_440.0),
        _ => return true,
    };
    (low..=high).contains(&value)
}
