//! Polar's AccessLink payloads (exercises, nights, Nightly Recharge, daily activity, continuous
//! heart rate) and their normalization into owl's events and sample batches: local times placed
//! with their offsets, hypnogram keys anchored on the night, sources by device.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use serde::Deserialize;

use super::INFO;
use super::sports::workout_type;
use crate::domain::health::events::{
    EventBody, NewEvent, SleepDetails, StageInterval, WorkoutDetails,
};
use crate::domain::health::intake::RawBatch;
use crate::domain::health::{RecordingMethod, SourceKey};
use crate::providers::rest::iso_duration_ms;

/// An exercise of `GET /v3/exercises`: start as local time with its offset in minutes.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Exercise {
    #[serde(default)]
    device: Option<String>,
    start_time: String,
    #[serde(default)]
    start_time_utc_offset: Option<i32>,
    duration: String,
    #[serde(default)]
    calories: Option<f64>,
    #[serde(default)]
    distance: Option<f64>,
    #[serde(default)]
    heart_rate: Option<HeartRate>,
    #[serde(default)]
    sport: Option<String>,
    #[serde(default)]
    detailed_sport_info: Option<String>,
    #[serde(default)]
    samples: Vec<ExerciseSamples>,
}

/// An exercise's average and maximum heart rate, bpm.
#[derive(Debug, Default, Deserialize)]
pub(super) struct HeartRate {
    average: Option<f64>,
    maximum: Option<f64>,
}

/// One sample stream of an exercise: comma-separated values every `recording-rate` seconds.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ExerciseSamples {
    #[serde(rename = "recording-rate")]
    recording_rate: i64,
    #[serde(rename = "sample-type")]
    sample_type: String,
    data: String,
}

/// The answer of `GET /v3/users/sleep`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Nights {
    #[serde(default)]
    pub(super) nights: Vec<Night>,
}

/// A night's sleep: times with offsets, stage totals in seconds, `HH:MM`-keyed hypnogram and
/// heart rate.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Night {
    pub(super) date: String,
    sleep_start_time: String,
    sleep_end_time: String,
    #[serde(default)]
    light_sleep: Option<i64>,
    #[serde(default)]
    deep_sleep: Option<i64>,
    #[serde(default)]
    rem_sleep: Option<i64>,
    #[serde(default)]
    unrecognized_sleep_stage: Option<i64>,
    #[serde(default)]
    hypnogram: BTreeMap<String, i64>,
    #[serde(default)]
    heart_rate_samples: BTreeMap<String, f64>,
}

/// The answer of `GET /v3/users/nightly-recharge`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Recharges {
    #[serde(default)]
    pub(super) recharges: Vec<Recharge>,
}

/// A night's Nightly Recharge: HRV (RMSSD, ms) and breathing rate, as averages and `HH:MM` samples.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Recharge {
    pub(super) date: String,
    #[serde(default)]
    heart_rate_variability_avg: Option<f64>,
    #[serde(default)]
    breathing_rate_avg: Option<f64>,
    #[serde(default)]
    hrv_samples: BTreeMap<String, f64>,
    #[serde(default)]
    breathing_samples: BTreeMap<String, f64>,
}

/// A day of `GET /v3/users/activities`: totals from local midnight.
#[derive(Debug, Default, Deserialize)]
pub(super) struct DailyActivity {
    start_time: String,
    #[serde(default)]
    calories: Option<f64>,
    #[serde(default)]
    active_calories: Option<f64>,
    #[serde(default)]
    steps: Option<f64>,
    #[serde(default)]
    distance_from_steps: Option<f64>,
}

/// A day of `GET /v3/users/continuous-heart-rate/{date}`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ContinuousHr {
    #[serde(default)]
    heart_rate_samples: Vec<HeartRateSample>,
}

/// One continuous heart-rate sample, bpm.
#[derive(Debug, Default, Deserialize)]
pub(super) struct HeartRateSample {
    heart_rate: f64,
    /// `HH:MM:SS`, device-local.
    sample_time: String,
}

/// Continuous heart rate of each day, at the device's local times placed with `offset`.
pub(super) fn continuous(days: &[(NaiveDate, ContinuousHr)], offset: i32) -> RawBatch {
    let points = days
        .iter()
        .flat_map(|(date, day)| {
            day.heart_rate_samples.iter().filter_map(move |s| {
                let at = local_ms(&format!("{date}T{}", s.sample_time), offset)?;
                (s.heart_rate > 0.0).then_some((at, s.heart_rate))
            })
        })
        .collect();
    series("heart_rate", "bpm", offset, points)
}

/// What kind of Polar device a model name is.
pub(super) fn device_type(model: &str) -> &'static str {
    let m = model.to_ascii_uppercase();
    if ["H10", "H9", "H7"].iter().any(|s| m.contains(s)) {
        "chest_strap"
    } else if ["VERITY", "OH1", "LOOP"].iter().any(|s| m.contains(s)) {
        "band"
    } else {
        "watch"
    }
}

/// A Polar source of `device_model` and `device_type`, recorded through Polar Flow.
pub(super) fn source(device_model: &str, device_type: &str) -> SourceKey {
    SourceKey {
        provider: INFO.key.into(),
        device_model: device_model.into(),
        device_type: device_type.into(),
        app_name: "Polar Flow".into(),
        manufacturer: "Polar".into(),
        recording_method: RecordingMethod::Automatic,
    }
}

/// The 24/7 data (sleep, recharge, daily activity) comes from the wrist device without a model.
pub(super) fn daily_source() -> SourceKey {
    source("", "watch")
}

/// A local time without offset (`2026-11-20T17:05:00`, fractions allowed) as UNIX ms, given
/// its offset from UTC in seconds.
pub(super) fn local_ms(value: &str, offset_s: i32) -> Option<i64> {
    let trimmed = value.trim_end_matches('Z');
    let naive = NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M"))
        .ok()?;
    Some(naive.and_utc().timestamp_millis() - i64::from(offset_s) * 1000)
}

/// An RFC 3339 time with its offset.
pub(super) fn with_offset(value: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(value).ok()
}

/// A night's `HH:MM` keys as instants, in order: each key is the first time of that wall-clock
/// time at or after (a few minutes before) the night's start, so keys roll past midnight.
pub(super) fn anchored<V: Copy>(
    start: &DateTime<FixedOffset>,
    keys: &BTreeMap<String, V>,
) -> Vec<(i64, V)> {
    let start_ms = start.timestamp_millis();
    let local_seconds = i64::from(chrono::Timelike::num_seconds_from_midnight(
        &start.naive_local().time(),
    ));
    let mut out: Vec<(i64, V)> = keys
        .iter()
        .filter_map(|(key, &value)| {
            let (h, m) = key.split_once(':')?;
            let (h, m): (i64, i64) = (h.parse().ok()?, m.get(..2)?.parse().ok()?);
            let mut delta = (h * 3600 + m * 60 - local_seconds).rem_euclid(86_400);
            // A key a few minutes before the start belongs to the start, not the next day.
            if delta >= 86_400 - 600 {
                delta -= 86_400;
            }
            Some(((start_ms + delta * 1000).max(start_ms), value))
        })
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out
}

/// Polar's hypnogram codes as owl's stages; 5 (unknown, e.g. poor contact) is left out.
pub(super) fn stage(code: i64) -> Option<&'static str> {
    match code {
        0 => Some("awake"),
        1 => Some("rem"),
        2 | 3 => Some("light"),
        4 => Some("deep"),
        _ => None,
    }
}

/// A night as a sleep session with stages, its heart rate, and its start (with offset).
pub(super) fn night(n: &Night) -> Option<(DateTime<FixedOffset>, NewEvent, RawBatch)> {
    let start = with_offset(&n.sleep_start_time)?;
    let end = with_offset(&n.sleep_end_time)?;
    let (start_ms, end_ms) = (start.timestamp_millis(), end.timestamp_millis());
    if end_ms <= start_ms {
        return None;
    }
    let points = anchored(&start, &n.hypnogram);
    let mut stages = Vec::new();
    for (i, &(at, code)) in points.iter().enumerate() {
        let until = points.get(i + 1).map_or(end_ms, |p| p.0).min(end_ms);
        if let Some(stage) = stage(code)
            && until > at
        {
            stages.push(StageInterval {
                stage: stage.into(),
                start: at,
                end: until,
            });
        }
    }
    let asleep_s = [
        n.light_sleep,
        n.deep_sleep,
        n.rem_sleep,
        n.unrecognized_sleep_stage,
    ]
    .iter()
    .flatten()
    .sum::<i64>();
    let efficiency = (asleep_s > 0).then(|| {
        let percent = asleep_s as f64 * 1000.0 / (end_ms - start_ms) as f64 * 100.0;
        (percent.min(100.0) * 10.0).round() / 10.0
    });
    let offset = start.offset().local_minus_utc();
    let event = NewEvent {
        start: start_ms,
        end: end_ms,
        zone_offset: offset,
        body: EventBody::Sleep(SleepDetails {
            nap: false,
            efficiency_percent: efficiency,
            stages,
            end_zone_offset: None,
        }),
    };
    let heart = anchored(&start, &n.heart_rate_samples);
    let batch = series("heart_rate", "bpm", offset, heart);
    Some((start, event, batch))
}

/// A batch of the wrist device's 24/7 data at one offset.
pub(super) fn series(
    series_type: &str,
    unit: &str,
    offset: i32,
    points: Vec<(i64, f64)>,
) -> RawBatch {
    RawBatch {
        source: daily_source(),
        series_type: series_type.into(),
        unit: unit.into(),
        zone_offsets: vec![offset; points.len()],
        times: points.iter().map(|p| p.0).collect(),
        values: points.iter().map(|p| p.1).collect(),
        durations: Vec::new(),
    }
}

/// An exercise as a workout of its device, with its heart-rate samples (sample type 0).
pub(super) fn exercise(e: &Exercise) -> Option<(SourceKey, NewEvent, Option<RawBatch>)> {
    let offset = e.start_time_utc_offset.unwrap_or(0) * 60;
    let start = local_ms(&e.start_time, offset)?;
    let duration = iso_duration_ms(&e.duration)?;
    if duration <= 0 {
        return None;
    }
    let model = e.device.clone().unwrap_or_default();
    let source = source(&model, device_type(&model));
    let sport = e.sport.as_deref().unwrap_or("OTHER");
    let hr = e.heart_rate.as_ref();
    let event = NewEvent {
        start,
        end: start + duration,
        zone_offset: offset,
        body: EventBody::Workout {
            workout_type: workout_type(sport, e.detailed_sport_info.as_deref()).into(),
            details: WorkoutDetails {
                distance_m: e.distance,
                active_energy_kcal: e.calories,
                steps: None,
                heart_rate_avg: hr.and_then(|h| h.average),
                heart_rate_max: hr.and_then(|h| h.maximum),
                elevation_gain_m: None,
                moving_seconds: None,
            },
        },
    };
    // Sample type 0 is heart rate in bpm, one value per `recording-rate` seconds.
    let heart = e
        .samples
        .iter()
        .find(|s| s.sample_type == "0" && s.recording_rate > 0)
        .map(|s| {
            let points: Vec<(i64, f64)> = s
                .data
                .split(',')
                .enumerate()
                .filter_map(|(i, v)| {
                    let value: f64 = v.trim().parse().ok()?;
                    let at = start + i as i64 * s.recording_rate * 1000;
                    (value > 0.0 && at < start + duration).then_some((at, value))
                })
                .collect();
            RawBatch {
                source: source.clone(),
                ..series("heart_rate", "bpm", offset, points)
            }
        });
    Some((source, event, heart))
}

/// Nightly Recharge as HRV and breathing-rate batches of the night that starts at `night`.
pub(super) fn recharge(r: &Recharge, night: &DateTime<FixedOffset>, end_ms: i64) -> Vec<RawBatch> {
    let offset = night.offset().local_minus_utc();
    let mut out = Vec::new();
    for (series_type, unit, samples, average) in [
        (
            "heart_rate_variability_rmssd",
            "ms",
            &r.hrv_samples,
            r.heart_rate_variability_avg,
        ),
        (
            "respiratory_rate",
            "breaths/min",
            &r.breathing_samples,
            r.breathing_rate_avg,
        ),
    ] {
        let mut points = anchored(night, samples);
        // Without samples, the night's average stands at its end.
        if points.is_empty()
            && let Some(avg) = average
        {
            points.push((end_ms, avg));
        }
        points.retain(|p| p.0 <= end_ms);
        if !points.is_empty() {
            out.push(series(series_type, unit, offset, points));
        }
    }
    out
}

/// Instants (UNIX ms) and values of one series.
pub(super) type Points = Vec<(i64, f64)>;

/// Daily totals (steps, active and basal energy, distance) at local midnight at `offset`.
pub(super) fn daily(days: &[DailyActivity], offset: i32) -> Vec<RawBatch> {
    let mut columns: BTreeMap<&str, (&str, Points)> = BTreeMap::new();
    for day in days {
        let Some(at) = local_ms(&day.start_time, offset) else {
            continue;
        };
        let basal = match (day.calories, day.active_calories) {
            (Some(total), Some(active)) if total >= active => Some(total - active),
            _ => None,
        };
        for (series_type, unit, value) in [
            ("steps", "count", day.steps),
            ("energy", "kcal", day.active_calories),
            ("basal_energy", "kcal", basal),
            ("distance_walking_running", "m", day.distance_from_steps),
        ] {
            if let Some(v) = value.filter(|v| v.is_finite() && *v >= 0.0) {
                columns
                    .entry(series_type)
                    .or_insert((unit, Vec::new()))
                    .1
                    .push((at, v));
            }
        }
    }
    columns
        .into_iter()
        .map(|(series_type, (unit, points))| series(series_type, unit, offset, points))
        .collect()
}
