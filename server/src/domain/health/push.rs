//! Mobile push: HealthKit and Health Connect batches from phones (`SdkSyncService`). Every
//! record is mapped through one identifier table (`healthkit`, `health_connect`) and checked on
//! its own with the checks of `intake`, so a bad record is rejected by index while the rest of
//! the batch is stored: samples through the block writer in one transaction per batch,
//! workouts through the event store, sleep segments into the sleep buffer (`sleep`), which
//! closes them into sessions once their source has been quiet for SLEEP_END_GAP_MINUTES.
//!
//! Idempotency: samples are unique per source, series type and instant, workouts per source,
//! start and end, sleep segments per source, stage, start and end (in the buffer and inside
//! stored sessions), so re-sending records adds nothing; the record id is echoed in rejections.

use std::collections::HashMap;

use uuid::Uuid;

use super::catalog::{Aggregation, SeriesType, series_type};
use super::events::{EventBody, NewEvent, WorkoutDetails, WriteMode, validate_events};
use super::intake::{
    OffsetRule, check_source, duration_ok, offset_ok, time_problem, value_problem,
};
use super::samples::Samples;
use super::sleep::{Sleep, SleepPhase};
use super::units::{ToCanonical, to_canonical};
use super::{RecordingMethod, Sample, SeriesBatch, SourceKey, health_connect, healthkit};
use crate::domain::Context;
use crate::domain::auth::Caller;
use crate::domain::error::{Error, Result};
use crate::domain::users::Users;
use crate::domain::validate::Violations;

/// Most samples, sleep segments and workouts in one batch.
pub const MAX_SAMPLES: usize = 100_000;
pub const MAX_SEGMENTS: usize = 10_000;
pub const MAX_WORKOUTS: usize = 1_000;
/// Why a record's source was refused (`intake::check_source`'s limits).
const BAD_SOURCE: &str = "app and device fields must be at most 255 characters and the \
                          manufacturer at most 64, without control characters";
/// Longest record id.
const MAX_RECORD_ID: usize = 128;
const DAY_MS: i64 = 86_400_000;

/// Where a batch comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    HealthKit,
    HealthConnect,
}

impl Platform {
    /// The provider of its data sources.
    pub fn provider(self) -> &'static str {
        match self {
            Platform::HealthKit => "apple_health",
            Platform::HealthConnect => "health_connect",
        }
    }
}

/// The app and device of records, as the phone describes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PushSource {
    pub app_id: String,
    pub app_name: String,
    pub device_name: String,
    pub device_model: String,
    pub device_manufacturer: String,
    /// owl's device type key (`watch` …), empty when unknown.
    pub device_type: String,
    pub recording_method: RecordingMethod,
}

impl PushSource {
    /// The data source: the platform's provider, the device model (or the device name), the
    /// device type, the app's name (or id), the manufacturer and the recording method. The
    /// device name beside a model is not part of a source's identity.
    pub fn key(&self, platform: Platform) -> SourceKey {
        let model = if self.device_model.trim().is_empty() {
            self.device_name.trim()
        } else {
            self.device_model.trim()
        };
        let app = if self.app_name.trim().is_empty() {
            &self.app_id
        } else {
            &self.app_name
        };
        SourceKey {
            provider: platform.provider().to_owned(),
            device_model: model.to_owned(),
            device_type: self.device_type.clone(),
            app_name: app.trim().to_owned(),
            manufacturer: self.device_manufacturer.trim().to_owned(),
            recording_method: self.recording_method,
        }
    }
}

/// One quantity sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PushSample {
    pub record_id: String,
    pub kind: String,
    pub field: String,
    pub unit: String,
    pub value: f64,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub zone_offset: Option<i32>,
    pub source: Option<PushSource>,
}

/// One sleep stage segment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PushSegment {
    pub record_id: String,
    pub stage: String,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub zone_offset: Option<i32>,
    pub source: Option<PushSource>,
}

/// One workout.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PushWorkout {
    pub record_id: String,
    pub activity_type: String,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub zone_offset: Option<i32>,
    pub source: Option<PushSource>,
    pub details: WorkoutDetails,
}

/// A batch as the request carries it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PushBatch {
    /// `None` when the request did not say (rejected as a whole).
    pub platform: Option<Platform>,
    pub source: PushSource,
    pub samples: Vec<PushSample>,
    pub segments: Vec<PushSegment>,
    pub workouts: Vec<PushWorkout>,
}

/// The lists of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Sample,
    SleepSegment,
    Workout,
}

impl RecordKind {
    fn list(self) -> &'static str {
        match self {
            RecordKind::Sample => "samples",
            RecordKind::SleepSegment => "sleep_segments",
            RecordKind::Workout => "workouts",
        }
    }
}

/// Why a record was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    UnknownType,
    UnknownUnit,
    InvalidValue,
    InvalidTime,
    InvalidSource,
    InvalidZoneOffset,
}

/// A record that was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub kind: RecordKind,
    pub index: usize,
    pub record_id: String,
    pub field: String,
    pub reason: RejectReason,
    pub description: String,
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushResult {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: Vec<Rejected>,
    pub sleep_sessions_closed: u64,
}

impl std::ops::AddAssign<&PushResult> for PushResult {
    fn add_assign(&mut self, other: &PushResult) {
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        self.rejected.extend(other.rejected.iter().cloned());
        self.sleep_sessions_closed += other.sleep_sessions_closed;
    }
}

/// Plausible ranges of series types in canonical units: a value outside is a device or entry
/// error (a heart rate of 900 bpm, a weight of 5 t), not data.
const PLAUSIBLE: &[(&str, f64, f64)] = &[
    ("heart_rate", 1.0, 350.0),
    ("resting_heart_rate", 1.0, 300.0),
    ("walking_heart_rate_average", 1.0, 350.0),
    ("heart_rate_variability_sdnn", 0.0, 5_000.0),
    ("heart_rate_variability_rmssd", 0.0, 5_000.0),
    ("oxygen_saturation", 0.0, 100.0),
    ("body_fat_percentage", 0.0, 100.0),
    ("blood_pressure_systolic", 10.0, 400.0),
    ("blood_pressure_diastolic", 5.0, 300.0),
    ("respiratory_rate", 0.0, 200.0),
    ("body_temperature", 10.0, 50.0),
    ("weight", 0.1, 1_000.0),
    ("lean_body_mass", 0.1, 1_000.0),
    ("height", 10.0, 300.0),
    ("blood_glucose", 1.0, 5_000.0),
    ("vo2_max", 1.0, 150.0),
    ("steps", 0.0, 1_000_000.0),
    ("speed", 0.0, 300.0),
];

fn plausible(kind: &SeriesType, value: f64) -> bool {
    PLAUSIBLE
        .iter()
        .find(|(code, _, _)| *code == kind.code)
        .is_none_or(|(_, min, max)| (*min..=*max).contains(&value))
}

/// A sample type resolved to its series and unit conversion.
#[derive(Clone, Copy)]
struct Mapping {
    series: &'static SeriesType,
    conversion: ToCanonical,
}

/// Collects rejections of one batch.
struct Rejections(Vec<Rejected>);

impl Rejections {
    fn add(
        &mut self,
        kind: RecordKind,
        index: usize,
        record_id: &str,
        field: &str,
        reason: RejectReason,
        description: impl Into<String>,
    ) {
        self.0.push(Rejected {
            kind,
            index,
            record_id: record_id.chars().take(MAX_RECORD_ID).collect(),
            field: format!(
                "{}[{index}]{}{field}",
                kind.list(),
                if field.is_empty() { "" } else { "." }
            ),
            reason,
            description: description.into(),
        });
    }
}

/// The series type and conversion of a sample's (type, field, unit), or why there is none.
fn map_sample(
    platform: Platform,
    kind: &str,
    field: &str,
    unit: &str,
) -> std::result::Result<Mapping, (RejectReason, &'static str, String)> {
    let (code, owl_unit) = match platform {
        Platform::HealthKit => {
            let q = healthkit::quantity(kind).ok_or((
                RejectReason::UnknownType,
                "type",
                format!("unknown healthkit quantity type {kind:?}"),
            ))?;
            let owl = if unit.is_empty() {
                Some("")
            } else {
                q.owl_unit(unit)
            };
            (q.series_type, owl)
        }
        Platform::HealthConnect => {
            let r = health_connect::record(kind, field).ok_or((
                RejectReason::UnknownType,
                "type",
                format!("unknown health connect record type {kind:?} (field {field:?})"),
            ))?;
            let owl = if unit.is_empty() {
                Some("")
            } else {
                health_connect::unit(unit)
            };
            (r.series_type, owl)
        }
    };
    let series = series_type(code).ok_or((
        RejectReason::UnknownType,
        "type",
        format!("{code} is not catalogued"),
    ))?;
    let conversion = owl_unit.and_then(|u| to_canonical(u, series.unit)).ok_or((
        RejectReason::UnknownUnit,
        "unit",
        format!("{unit:?} does not convert to {}", series.unit),
    ))?;
    Ok(Mapping { series, conversion })
}

/// The checked batch: what to write.
#[derive(Default)]
struct Checked {
    series: HashMap<(SourceKey, i32), Vec<Sample>>,
    workouts: HashMap<SourceKey, Vec<NewEvent>>,
    phases: HashMap<SourceKey, Vec<SleepPhase>>,
}

/// Checks every record of `batch`; valid ones are grouped by source for writing.
fn check(
    batch: PushBatch,
    platform: Platform,
    now_ms: i64,
    offsets: &OffsetRule,
    rejected: &mut Rejections,
) -> Checked {
    let mut out = Checked::default();
    let mut sources: HashMap<PushSource, Option<SourceKey>> = HashMap::new();
    let mut source_of = |s: Option<PushSource>, default: &PushSource| -> Option<SourceKey> {
        let s = s.unwrap_or_else(|| default.clone());
        sources
            .entry(s)
            .or_insert_with_key(|s| {
                let key = s.key(platform);
                let mut v = Violations::new();
                check_source(&key, "source", &mut v);
                v.text(&s.app_id, "source.app_id", false, 255);
                v.is_empty().then_some(key)
            })
            .clone()
    };
    let mut mappings: HashMap<(String, String, String), Option<Mapping>> = HashMap::new();
    let default_source = batch.source.clone();
    for (i, s) in batch.samples.into_iter().enumerate() {
        let reject = |rejected: &mut Rejections, field: &str, reason, description: &str| {
            rejected.add(
                RecordKind::Sample,
                i,
                &s.record_id,
                field,
                reason,
                description,
            )
        };
        if s.record_id.chars().count() > MAX_RECORD_ID {
            reject(
                rejected,
                "record_id",
                RejectReason::InvalidSource,
                "must be at most 128 characters",
            );
            continue;
        }
        let mapping = match mappings.get(&(s.kind.clone(), s.field.clone(), s.unit.clone())) {
            Some(Some(m)) => *m,
            _ => match map_sample(platform, &s.kind, &s.field, &s.unit) {
                Ok(m) => {
                    mappings.insert((s.kind.clone(), s.field.clone(), s.unit.clone()), Some(m));
                    m
                }
                Err((reason, field, description)) => {
                    reject(rejected, field, reason, &description);
                    continue;
                }
            },
        };
        let Some(start) = s.start else {
            reject(
                rejected,
                "start_time",
                RejectReason::InvalidTime,
                "is required",
            );
            continue;
        };
        if let Some(problem) = time_problem(start, now_ms) {
            reject(rejected, "start_time", RejectReason::InvalidTime, problem);
            continue;
        }
        if let Some(end) = s.end
            && (end < start || end > now_ms + DAY_MS)
        {
            reject(
                rejected,
                "end_time",
                RejectReason::InvalidTime,
                "must not be before start_time or more than a day in the future",
            );
            continue;
        }
        let Some(duration_ms) = duration_ok(s.end.map_or(0, |end| end - start)) else {
            reject(
                rejected,
                "end_time",
                RejectReason::InvalidTime,
                "must be at most a day after start_time",
            );
            continue;
        };
        let converted = mapping.conversion.apply(s.value);
        let counts = mapping.series.aggregation == Aggregation::Sum;
        if let Some(problem) = value_problem(s.value, converted, counts) {
            reject(rejected, "value", RejectReason::InvalidValue, problem);
            continue;
        }
        if !plausible(mapping.series, converted) {
            let description = format!(
                "{converted} {} is not a plausible {}",
                mapping.series.unit, mapping.series.code
            );
            reject(rejected, "value", RejectReason::InvalidValue, &description);
            continue;
        }
        let zone_offset = match s.zone_offset {
            Some(o) if !offset_ok(o) => {
                reject(
                    rejected,
                    "zone_offset",
                    RejectReason::InvalidZoneOffset,
                    "must be within ±18 hours (seconds)",
                );
                continue;
            }
            Some(o) => o,
            None => offsets.at(start),
        };
        let Some(source) = source_of(s.source, &default_source) else {
            reject(rejected, "source", RejectReason::InvalidSource, BAD_SOURCE);
            continue;
        };
        out.series
            .entry((source, mapping.series.id))
            .or_default()
            .push(Sample {
                time: start,
                value: converted,
                zone_offset,
                duration_ms,
            });
    }
    for (i, w) in batch.workouts.into_iter().enumerate() {
        let reject = |rejected: &mut Rejections, field: &str, reason, description: &str| {
            rejected.add(
                RecordKind::Workout,
                i,
                &w.record_id,
                field,
                reason,
                description,
            )
        };
        let workout_type = match platform {
            Platform::HealthKit => healthkit::workout_type(&w.activity_type),
            Platform::HealthConnect => health_connect::exercise_type(&w.activity_type),
        };
        let Some(workout_type) = workout_type else {
            reject(
                rejected,
                "activity_type",
                RejectReason::UnknownType,
                &format!("unknown activity type {:?}", w.activity_type),
            );
            continue;
        };
        let (Some(start), Some(end)) = (w.start, w.end) else {
            reject(
                rejected,
                "start_time",
                RejectReason::InvalidTime,
                "start_time and end_time are required",
            );
            continue;
        };
        let event = NewEvent {
            start,
            end,
            zone_offset: w.zone_offset.unwrap_or_else(|| offsets.at(start)),
            body: EventBody::Workout {
                workout_type: workout_type.to_owned(),
                details: w.details,
            },
        };
        if let Some((field, reason, description)) = event_problem(&event, now_ms) {
            reject(rejected, &field, reason, &description);
            continue;
        }
        let Some(source) = source_of(w.source, &default_source) else {
            reject(rejected, "source", RejectReason::InvalidSource, BAD_SOURCE);
            continue;
        };
        out.workouts.entry(source).or_default().push(event);
    }
    for (i, g) in batch.segments.into_iter().enumerate() {
        let reject = |rejected: &mut Rejections, field: &str, reason, description: &str| {
            rejected.add(
                RecordKind::SleepSegment,
                i,
                &g.record_id,
                field,
                reason,
                description,
            )
        };
        let stage = match platform {
            Platform::HealthKit => healthkit::sleep_stage(&g.stage),
            Platform::HealthConnect => health_connect::sleep_stage(&g.stage),
        };
        let Some(stage) = stage else {
            reject(
                rejected,
                "stage",
                RejectReason::UnknownType,
                &format!("unknown sleep stage {:?}", g.stage),
            );
            continue;
        };
        let (Some(start), Some(end)) = (g.start, g.end) else {
            reject(
                rejected,
                "start_time",
                RejectReason::InvalidTime,
                "start_time and end_time are required",
            );
            continue;
        };
        let zone_offset = g.zone_offset.unwrap_or_else(|| offsets.at(start));
        let as_event = NewEvent {
            start,
            end,
            zone_offset,
            body: EventBody::Sleep(Default::default()),
        };
        if let Some((field, reason, description)) = event_problem(&as_event, now_ms) {
            reject(rejected, &field, reason, &description);
            continue;
        }
        let Some(source) = source_of(g.source, &default_source) else {
            reject(rejected, "source", RejectReason::InvalidSource, BAD_SOURCE);
            continue;
        };
        out.phases.entry(source).or_default().push(SleepPhase {
            start,
            end,
            stage: stage.to_owned(),
            zone_offset,
        });
    }
    out
}

/// The first problem `events::validate_events` finds with one event, as a rejection.
fn event_problem(event: &NewEvent, now_ms: i64) -> Option<(String, RejectReason, String)> {
    let mut v = Violations::new();
    validate_events(std::slice::from_ref(event), "e", now_ms, &mut v);
    let first = match v.finish() {
        Ok(()) => return None,
        Err(Error::InvalidArgument(violations)) => violations.into_iter().next()?,
        Err(_) => return None,
    };
    let field = first
        .field
        .strip_prefix("e[0].")
        .unwrap_or(&first.field)
        .to_owned();
    let reason = match field.as_str() {
        "start_time" | "end_time" => RejectReason::InvalidTime,
        "zone_offset" => RejectReason::InvalidZoneOffset,
        "workout_type" => RejectReason::UnknownType,
        _ => RejectReason::InvalidValue,
    };
    Some((field, reason, first.description))
}

/// Mobile push use-cases.
pub struct Push<'a>(pub &'a Context);

impl Push<'_> {
    /// Checks the request as a whole: a platform, sizes within limits.
    fn check_batch(batch: &PushBatch, field: &str) -> Result<Platform> {
        let mut v = Violations::new();
        v.check(
            batch.platform.is_some(),
            &format!("{field}.platform"),
            "must be HEALTHKIT or HEALTH_CONNECT",
        );
        v.check(
            batch.samples.len() <= MAX_SAMPLES,
            &format!("{field}.samples"),
            "at most 100000 per batch",
        );
        v.check(
            batch.segments.len() <= MAX_SEGMENTS,
            &format!("{field}.sleep_segments"),
            "at most 10000 per batch",
        );
        v.check(
            batch.workouts.len() <= MAX_WORKOUTS,
            &format!("{field}.workouts"),
            "at most 1000 per batch",
        );
        v.finish()?;
        batch
            .platform
            .ok_or_else(|| Error::invalid(field, "platform is required"))
    }

    /// Stores one batch for `user_id`; `field` names the batch in request-level violations.
    pub async fn push(
        &self,
        caller: &Caller,
        user_id: Uuid,
        batch: PushBatch,
        field: &str,
    ) -> Result<PushResult> {
        let platform = Self::check_batch(&batch, field)?;
        let user = Users(self.0).visible(caller, user_id).await?;
        let offsets = Samples(self.0).offsets(&user).await?;
        let now_ms = self.0.clock.now().timestamp_millis();
        let mut rejected = Rejections(Vec::new());
        let checked = check(batch, platform, now_ms, &offsets, &mut rejected);
        let mut result = PushResult::default();
        if !checked.series.is_empty() {
            let mut writer = self.0.health.begin_samples(user.id).await?;
            for ((source, series_type_id), mut samples) in checked.series {
                samples.sort_by_key(|s| s.time);
                let before = samples.len();
                // The last of equal instants wins, as in `intake`.
                samples.reverse();
                samples.dedup_by_key(|s| s.time);
                samples.reverse();
                result.duplicates += (before - samples.len()) as u64;
                let stats = writer
                    .write(&SeriesBatch {
                        source,
                        series_type_id,
                        samples,
                    })
                    .await?;
                result.accepted += stats.inserted + stats.updated;
                result.duplicates += stats.skipped;
            }
            writer.commit().await?;
        }
        for (source, workouts) in checked.workouts {
            let stats = self
                .0
                .events
                .write_events(
                    user.id,
                    &source,
                    &workouts,
                    WriteMode::Replace,
                    self.0.clock.now(),
                )
                .await?;
            result.accepted += stats.inserted + stats.updated;
            result.duplicates += stats.skipped;
        }
        let sleep = Sleep(self.0);
        for (source, phases) in checked.phases {
            let (added, duplicates) = sleep.add(user.id, &source, phases).await?;
            result.accepted += added;
            result.duplicates += duplicates;
            result.sleep_sessions_closed += sleep.close_due(user.id, &source).await?;
        }
        result.rejected = rejected.0;
        Ok(result)
    }
}
