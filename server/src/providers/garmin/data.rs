//! Garmin's summaries (Health API and Activity API, as pushed or answered at a ping's callback)
//! normalized into owl's model. Times are UTC epoch seconds (`…InSeconds`); the wearer's local
//! time is `startTimeOffsetInSeconds` seconds ahead, which becomes every sample's and event's
//! zone offset.
//!
//! - `activities`: workouts (`activityType` through `activity_types`), distance m, active kcal,
//!   steps, average and maximum heart rate, moving time (`movingDurationInSeconds` when the
//!   summary carries it); the source is the `deviceName`.
//! - `activityDetails`: the workout of its `summary`, its moving time the last of the
//!   `samples`' running `movingDurationInSeconds` when the summary has none, and the samples'
//!   heart rate.
//! - `dailies`: steps, active and basal (BMR) kcal, distance, floors climbed, resting heart rate
//!   and average stress at the day's start; `timeOffsetHeartRateSamples` (seconds after the start
//!   → bpm) as the heart-rate series.
//! - `sleeps`: a sleep session whose stages are `sleepLevelsMap` (`deep`, `light`, `rem`,
//!   `awake`; other levels such as `unmeasurable` leave a gap).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::health::events::{
    EventBody, NewEvent, SleepDetails, StageInterval, WorkoutDetails, moving_within,
};
use crate::domain::health::{RecordingMethod, SourceKey};
use crate::providers::Fetched;
use crate::providers::rest::Samples;

/// The summary kinds owl reads; Garmin's other kinds (epochs, stress details, body
/// composition …) are acknowledged and not stored.
pub const KINDS: &[&str] = &["activities", "activityDetails", "dailies", "sleeps"];

/// The source of a summary: the device when Garmin names it.
fn source(device: Option<&str>) -> SourceKey {
    SourceKey {
        provider: "garmin".into(),
        device_model: device
            .filter(|d| !d.trim().is_empty())
            .unwrap_or("Garmin device")
            .trim()
            .to_owned(),
        device_type: "watch".into(),
        app_name: String::new(),
        manufacturer: "Garmin".into(),
        recording_method: RecordingMethod::Automatic,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Activity {
    #[serde(default)]
    user_id: Option<String>,
    activity_type: String,
    start_time_in_seconds: i64,
    duration_in_seconds: i64,
    #[serde(default)]
    start_time_offset_in_seconds: Option<i32>,
    #[serde(default)]
    device_name: Option<String>,
    #[serde(default)]
    distance_in_meters: Option<f64>,
    #[serde(default)]
    active_kilocalories: Option<f64>,
    #[serde(default)]
    steps: Option<i64>,
    #[serde(default)]
    average_heart_rate_in_beats_per_minute: Option<f64>,
    #[serde(default)]
    max_heart_rate_in_beats_per_minute: Option<f64>,
    #[serde(default)]
    total_elevation_gain_in_meters: Option<f64>,
    #[serde(default)]
    moving_duration_in_seconds: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivityDetails {
    #[serde(default)]
    user_id: Option<String>,
    summary: Activity,
    #[serde(default)]
    samples: Vec<DetailSample>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailSample {
    start_time_in_seconds: i64,
    #[serde(default)]
    heart_rate: Option<f64>,
    /// Seconds spent moving since the activity's start, up to this sample.
    #[serde(default)]
    moving_duration_in_seconds: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Daily {
    #[serde(default)]
    user_id: Option<String>,
    start_time_in_seconds: i64,
    #[serde(default)]
    start_time_offset_in_seconds: Option<i32>,
    /// The span the totals cover (86400 for a whole day; less for today's summary so far).
    #[serde(default)]
    duration_in_seconds: Option<i64>,
    #[serde(default)]
    steps: Option<f64>,
    #[serde(default)]
    distance_in_meters: Option<f64>,
    #[serde(default)]
    floors_climbed: Option<f64>,
    #[serde(default)]
    active_kilocalories: Option<f64>,
    #[serde(default)]
    bmr_kilocalories: Option<f64>,
    #[serde(default)]
    resting_heart_rate_in_beats_per_minute: Option<f64>,
    #[serde(default)]
    average_stress_level: Option<f64>,
    #[serde(default)]
    time_offset_heart_rate_samples: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sleep {
    #[serde(default)]
    user_id: Option<String>,
    start_time_in_seconds: i64,
    duration_in_seconds: i64,
    #[serde(default)]
    start_time_offset_in_seconds: Option<i32>,
    #[serde(default)]
    sleep_levels_map: BTreeMap<String, Vec<Level>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Level {
    start_time_in_seconds: i64,
    end_time_in_seconds: i64,
}

/// Why a summary was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum Unread {
    /// Not a summary of this kind.
    Malformed(String),
    /// It names another Garmin user than the connection's.
    OtherUser,
}

fn check_user(user: Option<&str>, account: &str) -> Result<(), Unread> {
    match user {
        Some(u) if u != account => Err(Unread::OtherUser),
        _ => Ok(()),
    }
}

/// Reads one summary of `kind` for the Garmin user `account` into `fetched`.
pub fn read(
    kind: &str,
    summary: serde_json::Value,
    account: &str,
    fetched: &mut Fetched,
) -> Result<(), Unread> {
    let bad = |e: serde_json::Error| Unread::Malformed(format!("{kind}: {e}"));
    match kind {
        "activities" => {
            let a: Activity = serde_json::from_value(summary).map_err(bad)?;
            check_user(a.user_id.as_deref(), account)?;
            workout(&a, a.moving_duration_in_seconds, fetched)
        }
        "activityDetails" => {
            let d: ActivityDetails = serde_json::from_value(summary).map_err(bad)?;
            check_user(
                d.user_id.as_deref().or(d.summary.user_id.as_deref()),
                account,
            )?;
            // The samples count moving time up; the last count is the activity's, unless the
            // summary says.
            let moving = d.summary.moving_duration_in_seconds.or_else(|| {
                d.samples
                    .iter()
                    .rev()
                    .find_map(|s| s.moving_duration_in_seconds)
            });
            workout(&d.summary, moving, fetched)?;
            let offset = d.summary.start_time_offset_in_seconds.unwrap_or(0);
            let mut samples = Samples::default();
            for s in &d.samples {
                let at = s.start_time_in_seconds * 1000;
                samples.push(
                    "heart_rate",
                    "bpm",
                    at,
                    s.heart_rate.filter(|h| *h > 0.0),
                    Some(offset),
                );
            }
            let device = d.summary.device_name.as_deref();
            fetched
                .samples
                .extend(samples.into_batches(&source(device)));
            Ok(())
        }
        "dailies" => {
            let d: Daily = serde_json::from_value(summary).map_err(bad)?;
            check_user(d.user_id.as_deref(), account)?;
            daily(&d, fetched);
            Ok(())
        }
        "sleeps" => {
            let s: Sleep = serde_json::from_value(summary).map_err(bad)?;
            check_user(s.user_id.as_deref(), account)?;
            sleep(&s, fetched)
        }
        other => Err(Unread::Malformed(format!("owl does not read {other}"))),
    }
}

/// The workout of activity summary `a`, which moved for `moving` seconds.
fn workout(a: &Activity, moving: Option<f64>, fetched: &mut Fetched) -> Result<(), Unread> {
    if a.duration_in_seconds <= 0 {
        return Err(Unread::Malformed("activity without a duration".into()));
    }
    let start = a.start_time_in_seconds * 1000;
    let end = start + a.duration_in_seconds * 1000;
    fetched.events.push((
        source(a.device_name.as_deref()),
        NewEvent {
            start,
            end,
            zone_offset: a.start_time_offset_in_seconds.unwrap_or(0),
            body: EventBody::Workout {
                workout_type: super::activity_types::workout_type(&a.activity_type).into(),
                details: WorkoutDetails {
                    distance_m: a.distance_in_meters.filter(|d| *d >= 0.0),
                    active_energy_kcal: a.active_kilocalories.filter(|c| *c >= 0.0),
                    steps: a.steps.filter(|s| *s >= 0),
                    heart_rate_avg: a
                        .average_heart_rate_in_beats_per_minute
                        .filter(|h| *h > 0.0),
                    heart_rate_max: a.max_heart_rate_in_beats_per_minute.filter(|h| *h > 0.0),
                    elevation_gain_m: a.total_elevation_gain_in_meters.filter(|e| *e >= 0.0),
                    moving_seconds: moving_within(moving, start, end),
                },
            },
        },
    ));
    Ok(())
}

fn daily(d: &Daily, fetched: &mut Fetched) {
    let at = d.start_time_in_seconds * 1000;
    let offset = Some(d.start_time_offset_in_seconds.unwrap_or(0));
    let mut samples = Samples::default();
    // The day's totals cover the summary's span: in the merged view they cover another
    // source's records of that day instead of adding to them.
    let span = (
        at,
        d.duration_in_seconds.unwrap_or(0).clamp(0, 86_400) * 1000,
    );
    samples.push_interval("steps", "count", span, d.steps, offset);
    samples.push_interval("energy", "kcal", span, d.active_kilocalories, offset);
    samples.push_interval("basal_energy", "kcal", span, d.bmr_kilocalories, offset);
    let distance = d.distance_in_meters;
    samples.push_interval("distance_walking_running", "m", span, distance, offset);
    samples.push_interval("flights_climbed", "count", span, d.floors_climbed, offset);
    let resting = d
        .resting_heart_rate_in_beats_per_minute
        .filter(|h| *h > 0.0);
    samples.push("resting_heart_rate", "bpm", at, resting, offset);
    // Garmin sends -1 (or -2) where the stress level is unknown.
    let stress = d.average_stress_level.filter(|s| *s >= 0.0);
    samples.push("garmin_stress_level", "score", at, stress, offset);
    for (after, bpm) in &d.time_offset_heart_rate_samples {
        if let Ok(after) = after.trim().parse::<i64>() {
            let bpm = Some(*bpm).filter(|b| *b > 0.0);
            samples.push("heart_rate", "bpm", at + after * 1000, bpm, offset);
        }
    }
    fetched.samples.extend(samples.into_batches(&source(None)));
}

fn sleep(s: &Sleep, fetched: &mut Fetched) -> Result<(), Unread> {
    let start = s.start_time_in_seconds * 1000;
    let mut stages: Vec<StageInterval> = Vec::new();
    for (level, intervals) in &s.sleep_levels_map {
        let stage = match level.to_ascii_lowercase().as_str() {
            "deep" => "deep",
            "light" => "light",
            "rem" => "rem",
            "awake" => "awake",
            _ => continue,
        };
        for i in intervals {
            if i.end_time_in_seconds > i.start_time_in_seconds {
                stages.push(StageInterval {
                    stage: stage.into(),
                    start: i.start_time_in_seconds * 1000,
                    end: i.end_time_in_seconds * 1000,
                });
            }
        }
    }
    stages.sort_by_key(|s| s.start);
    let last = stages.iter().map(|s| s.end).max().unwrap_or(start);
    let end = (start + s.duration_in_seconds * 1000).max(last);
    if end <= start {
        return Err(Unread::Malformed("sleep without a duration".into()));
    }
    stages.retain(|s| s.start >= start);
    fetched.events.push((
        source(None),
        NewEvent {
            start,
            end,
            zone_offset: s.start_time_offset_in_seconds.unwrap_or(0),
            body: EventBody::Sleep(SleepDetails {
                nap: false,
                efficiency_percent: None,
                stages,
                end_zone_offset: None,
            }),
        },
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daily_becomes_day_totals_and_heart_rate_at_offsets_from_its_start() {
        let mut fetched = Fetched::default();
        let daily = serde_json::json!({"userId": "u1", "startTimeInSeconds": 1000,
            "startTimeOffsetInSeconds": 3600, "steps": 12, "averageStressLevel": -1,
            "timeOffsetHeartRateSamples": {"0": 58, "15": 57, "x": 1}});
        read("dailies", daily.clone(), "u1", &mut fetched).unwrap();
        let heart = fetched
            .samples
            .iter()
            .find(|b| b.series_type == "heart_rate")
            .unwrap();
        assert_eq!(heart.times, [1_000_000, 1_015_000]);
        assert_eq!(heart.zone_offsets, [3600, 3600]);
        assert!(
            !fetched
                .samples
                .iter()
                .any(|b| b.series_type == "garmin_stress_level")
        );
        assert_eq!(
            read("dailies", daily, "u2", &mut fetched),
            Err(Unread::OtherUser)
        );
    }

    /// The moving time of the one workout in `fetched`.
    fn moving(fetched: &Fetched) -> Option<i64> {
        match &fetched.events[0].1.body {
            EventBody::Workout { details, .. } => details.moving_seconds,
            EventBody::Sleep(_) => panic!("not a workout"),
        }
    }

    #[test]
    fn activity_details_take_the_moving_time_of_their_last_sample_unless_the_summary_says() {
        let summary = serde_json::json!({"activityType": "RUNNING", "startTimeInSeconds": 1000,
            "durationInSeconds": 600});
        let details = |summary: serde_json::Value| {
            serde_json::json!({"summary": summary, "samples": [
                {"startTimeInSeconds": 1000, "movingDurationInSeconds": 0},
                {"startTimeInSeconds": 1300, "movingDurationInSeconds": 280},
                {"startTimeInSeconds": 1600, "movingDurationInSeconds": 570},
                {"startTimeInSeconds": 1601}]})
        };
        let mut fetched = Fetched::default();
        read(
            "activityDetails",
            details(summary.clone()),
            "u1",
            &mut fetched,
        )
        .unwrap();
        assert_eq!(moving(&fetched), Some(570));
        let mut with_summary = summary.clone();
        with_summary["movingDurationInSeconds"] = 555.into();
        let mut fetched = Fetched::default();
        read("activityDetails", details(with_summary), "u1", &mut fetched).unwrap();
        assert_eq!(moving(&fetched), Some(555));
        // Longer than the activity: not a moving time owl could store.
        let mut too_long = summary;
        too_long["movingDurationInSeconds"] = 601.into();
        let mut fetched = Fetched::default();
        read("activities", too_long, "u1", &mut fetched).unwrap();
        assert_eq!(moving(&fetched), None);
    }

    #[test]
    fn sleep_stages_come_sorted_and_the_session_covers_them() {
        let mut fetched = Fetched::default();
        let night = serde_json::json!({"startTimeInSeconds": 100, "durationInSeconds": 60,
            "sleepLevelsMap": {"rem": [{"startTimeInSeconds": 130, "endTimeInSeconds": 190}],
                "light": [{"startTimeInSeconds": 100, "endTimeInSeconds": 130}],
                "unmeasurable": [{"startTimeInSeconds": 190, "endTimeInSeconds": 200}]}});
        read("sleeps", night, "u1", &mut fetched).unwrap();
        let (_, event) = &fetched.events[0];
        assert_eq!((event.start, event.end), (100_000, 190_000));
        let EventBody::Sleep(details) = &event.body else {
            panic!()
        };
        let stages: Vec<_> = details.stages.iter().map(|s| s.stage.as_str()).collect();
        assert_eq!(stages, ["light", "rem"]);
        assert!(matches!(
            read("sleeps", serde_json::json!({"x": 1}), "u1", &mut fetched),
            Err(Unread::Malformed(_))
        ));
    }
}
