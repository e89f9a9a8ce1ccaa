//! Workouts from `Workout` elements: the activity type, the totals and `duration` on the
//! element, and the `WorkoutStatistics` (heart rate average/maximum, energy, distance, steps),
//! `MetadataEntry` (HKElevationAscended) and `WorkoutEvent` (pauses and resumes, for the moving
//! time) children. Laps, segments, markers, WorkoutRoute and other metadata have no place in
//! owl's workout and are read past.
//!
//! Moving time is the workout's length less its paused intervals. The user's pauses
//! (`HKWorkoutEventTypePause` … `Resume`) and the watch's (`MotionPaused` … `MotionResumed`)
//! are paired separately and their union is taken, since either may happen during the other. A
//! pause without a resume lasts its own `duration` when it has one, else to the workout's end.
//! A workout without pause events moves for the element's `duration` (HKWorkout.duration,
//! which leaves pauses out), when it has one.

use crate::domain::health::catalog::series_type;
use crate::domain::health::events::WorkoutDetails;
use crate::domain::health::healthkit;
use crate::domain::health::units::to_canonical;

use super::record::{parse_number, parse_quantity};

/// Converts `value` in HealthKit unit `hk_unit` into owl's `canonical` unit.
pub(crate) fn convert(value: f64, hk_unit: &str, canonical: &str) -> Option<f64> {
    let owl = healthkit::unit(hk_unit)?;
    let converted = to_canonical(owl, canonical)?.apply(value);
    converted.is_finite().then_some(converted)
}

/// A `duration` written this much past the workout's length still counts (rounding).
const DURATION_SLACK_MS: i64 = 1000;

/// Whose pause: the user's, or the watch's motion detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pauser {
    User,
    Motion,
}

/// A pause or a resume at `at` (UNIX ms); a pause may say how long it lasted.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: i64,
    by: Pauser,
    pause: bool,
    length_ms: Option<i64>,
}

/// A workout being read.
#[derive(Debug, Default)]
pub(crate) struct WorkoutBuilder {
    pub(crate) activity: String,
    total_distance: Option<(f64, String)>,
    total_energy: Option<(f64, String)>,
    duration: Option<(f64, String)>,
    stats_distance: Option<f64>,
    stats_energy: Option<f64>,
    marks: Vec<Mark>,
    pub(crate) details: WorkoutDetails,
}

/// A number attribute that may come before or after its unit attribute.
fn set_number(slot: &mut Option<(f64, String)>, value: &str) {
    if let Some(v) = parse_number(value.as_bytes()) {
        let unit = slot.take().map(|(_, u)| u).unwrap_or_default();
        *slot = Some((v, unit));
    }
}

/// The unit attribute of a number attribute.
fn set_unit(slot: &mut Option<(f64, String)>, value: &str) {
    match slot {
        Some((_, unit)) => *unit = value.to_string(),
        None => *slot = Some((f64::NAN, value.to_string())),
    }
}

/// `value` in time unit `unit` (HealthKit's, minutes when unset) as milliseconds.
fn millis(value: f64, unit: &str) -> Option<i64> {
    let unit = if unit.is_empty() { "min" } else { unit };
    let seconds = convert(value, unit, "s")?;
    (seconds >= 0.0).then(|| (seconds * 1000.0).round() as i64)
}

/// Milliseconds of `[start, end]` that fall in at least one of the pauses `marks` describe.
fn paused_ms(marks: &mut [Mark], start: i64, end: i64) -> i64 {
    marks.sort_by_key(|m| m.at);
    let mut intervals = Vec::new();
    for by in [Pauser::User, Pauser::Motion] {
        let mut open: Option<Mark> = None;
        for m in marks.iter().filter(|m| m.by == by) {
            match (m.pause, open) {
                (true, None) => open = Some(*m),
                (false, Some(p)) => {
                    intervals.push((p.at, m.at));
                    open = None;
                }
                // A second pause while paused, or a resume while moving, changes nothing.
                _ => {}
            }
        }
        if let Some(p) = open {
            let until = p.length_ms.filter(|l| *l > 0).map_or(end, |l| p.at + l);
            intervals.push((p.at, until));
        }
    }
    let mut clipped: Vec<(i64, i64)> = intervals
        .into_iter()
        .map(|(from, to)| (from.max(start), to.min(end)))
        .filter(|(from, to)| from < to)
        .collect();
    clipped.sort_unstable();
    let mut paused = 0;
    let mut reached = start;
    for (from, to) in clipped {
        let from = from.max(reached);
        if to > from {
            paused += to - from;
            reached = to;
        }
    }
    paused
}

impl WorkoutBuilder {
    /// An attribute of the `Workout` element.
    pub(crate) fn attribute(&mut self, key: &[u8], value: &str) {
        match key {
            b"workoutActivityType" => self.activity = value.to_string(),
            b"totalDistance" => set_number(&mut self.total_distance, value),
            b"totalDistanceUnit" => set_unit(&mut self.total_distance, value),
            b"totalEnergyBurned" => set_number(&mut self.total_energy, value),
            b"totalEnergyBurnedUnit" => set_unit(&mut self.total_energy, value),
            b"duration" => set_number(&mut self.duration, value),
            b"durationUnit" => set_unit(&mut self.duration, value),
            _ => {}
        }
    }

    /// A `WorkoutStatistics` child: its type and the attributes that matter.
    pub(crate) fn statistics(
        &mut self,
        kind: &str,
        unit: &str,
        sum: Option<f64>,
        average: Option<f64>,
        maximum: Option<f64>,
    ) {
        let Some(quantity) = healthkit::quantity(kind) else {
            return;
        };
        let Some(canonical) = series_type(quantity.series_type).map(|t| t.unit) else {
            return;
        };
        let conv = |v: Option<f64>| v.and_then(|v| convert(v, unit, canonical));
        match quantity.series_type {
            "heart_rate" => {
                self.details.heart_rate_avg = self.details.heart_rate_avg.or(conv(average));
                self.details.heart_rate_max = self.details.heart_rate_max.or(conv(maximum));
            }
            "energy" => self.stats_energy = self.stats_energy.or(conv(sum)),
            "steps" => {
                self.details.steps = self.details.steps.or(conv(sum).map(|v| v.round() as i64))
            }
            code if code.starts_with("distance_") => {
                if let Some(m) = conv(sum) {
                    self.stats_distance = Some(self.stats_distance.unwrap_or(0.0) + m);
                }
            }
            _ => {}
        }
    }

    /// A `WorkoutEvent` child: its type, date (UNIX ms) and, in newer exports, its duration.
    /// Only pauses and resumes matter; laps, segments and markers are read past.
    pub(crate) fn event(
        &mut self,
        kind: &str,
        at: Option<i64>,
        duration: Option<f64>,
        duration_unit: &str,
    ) {
        let (by, pause) = match kind {
            "HKWorkoutEventTypePause" => (Pauser::User, true),
            "HKWorkoutEventTypeResume" => (Pauser::User, false),
            "HKWorkoutEventTypeMotionPaused" => (Pauser::Motion, true),
            "HKWorkoutEventTypeMotionResumed" => (Pauser::Motion, false),
            _ => return,
        };
        let Some(at) = at else {
            return;
        };
        let length_ms = duration.and_then(|d| millis(d, duration_unit));
        self.marks.push(Mark {
            at,
            by,
            pause,
            length_ms,
        });
    }

    /// The moving time of the workout from `start` to `end` (UNIX ms), seconds: its length
    /// less its pauses, or else its `duration`.
    fn moving_seconds(&mut self, start: i64, end: i64) -> Option<i64> {
        let length = end - start;
        if !self.marks.is_empty() {
            return Some((length - paused_ms(&mut self.marks, start, end)) / 1000);
        }
        let (value, unit) = self.duration.take()?;
        let ms = millis(value, &unit)?;
        (ms <= length + DURATION_SLACK_MS).then(|| ms.min(length) / 1000)
    }

    /// A `MetadataEntry` child.
    pub(crate) fn metadata(&mut self, key: &str, value: &str) {
        if key == "HKElevationAscended"
            && let Some((v, unit)) = parse_quantity(value)
        {
            self.details.elevation_gain_m = convert(v, unit, "m");
        }
    }

    /// The details of the workout from `start` to `end` (UNIX ms), totals on the element
    /// first, statistics otherwise; values that are not finite and non-negative are dropped.
    pub(crate) fn finish(mut self, start: i64, end: i64) -> (String, WorkoutDetails) {
        self.details.moving_seconds = self.moving_seconds(start, end);
        let total = |t: Option<(f64, String)>, canonical: &str| {
            t.and_then(|(v, unit)| {
                let unit = if unit.is_empty() {
                    canonical.to_string()
                } else {
                    unit
                };
                convert(v, &unit, canonical)
            })
        };
        self.details.distance_m = total(self.total_distance, "m").or(self.stats_distance);
        self.details.active_energy_kcal = total(self.total_energy, "kcal").or(self.stats_energy);
        let d = &mut self.details;
        for v in [
            &mut d.distance_m,
            &mut d.active_energy_kcal,
            &mut d.heart_rate_avg,
            &mut d.heart_rate_max,
            &mut d.elevation_gain_m,
        ] {
            if v.is_some_and(|x| !x.is_finite() || x < 0.0) {
                *v = None;
            }
        }
        if d.steps.is_some_and(|s| s < 0) {
            d.steps = None;
        }
        (self.activity, self.details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    /// A workout of an hour from 0 with `events` (type suffix, minute, duration in minutes).
    fn moving(events: &[(&str, i64, Option<f64>)], duration: Option<&str>) -> Option<i64> {
        let mut w = WorkoutBuilder::default();
        if let Some(d) = duration {
            w.attribute(b"duration", d);
            w.attribute(b"durationUnit", "min");
        }
        for (kind, at, length) in events {
            w.event(
                &format!("HKWorkoutEventType{kind}"),
                Some(at * MIN),
                *length,
                "min",
            );
        }
        w.finish(0, 60 * MIN).1.moving_seconds
    }

    #[test]
    fn pauses_between_pause_and_resume_are_not_moving() {
        let events = [("Pause", 10, None), ("Resume", 15, None)];
        assert_eq!(moving(&events, Some("60")), Some(55 * 60));
    }

    #[test]
    fn overlapping_user_and_motion_pauses_count_once() {
        let events = [
            ("Pause", 10, Some(0.0)),
            ("MotionPaused", 12, None),
            ("Resume", 14, None),
            ("MotionResumed", 20, None),
        ];
        assert_eq!(moving(&events, None), Some(50 * 60));
    }

    #[test]
    fn a_pause_without_resume_lasts_its_duration_or_to_the_end() {
        assert_eq!(moving(&[("Pause", 50, None)], None), Some(50 * 60));
        assert_eq!(moving(&[("Pause", 50, Some(4.0))], None), Some(56 * 60));
    }

    #[test]
    fn a_second_pause_and_a_stray_resume_change_nothing() {
        let events = [
            ("Resume", 5, None),
            ("Pause", 10, None),
            ("Pause", 12, None),
            ("Resume", 20, None),
            ("Lap", 25, Some(5.0)),
        ];
        assert_eq!(moving(&events, None), Some(50 * 60));
    }

    #[test]
    fn without_pauses_the_duration_is_the_moving_time_if_it_fits() {
        assert_eq!(moving(&[("Lap", 10, Some(10.0))], Some("48.5")), Some(2910));
        assert_eq!(
            moving(&[], Some("60.01")),
            Some(3600),
            "rounding is forgiven"
        );
        assert_eq!(moving(&[], Some("75")), None, "longer than the workout");
        assert_eq!(moving(&[], None), None);
    }
}
