//! Workouts from `Workout` elements: the activity type, the totals on the element, and the
//! `WorkoutStatistics` (heart rate average/maximum, energy, distance, steps) and
//! `MetadataEntry` (HKElevationAscended) children. WorkoutEvent, WorkoutRoute and other
//! metadata have no place in owl's workout and are read past.

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

/// A workout being read.
#[derive(Debug, Default)]
pub(crate) struct WorkoutBuilder {
    pub(crate) activity: String,
    total_distance: Option<(f64, String)>,
    total_energy: Option<(f64, String)>,
    stats_distance: Option<f64>,
    stats_energy: Option<f64>,
    pub(crate) details: WorkoutDetails,
}

impl WorkoutBuilder {
    /// An attribute of the `Workout` element.
    pub(crate) fn attribute(&mut self, key: &[u8], value: &str) {
        match key {
            b"workoutActivityType" => self.activity = value.to_string(),
            b"totalDistance" => {
                if let Some(v) = parse_number(value.as_bytes()) {
                    let unit = self.total_distance.take().map(|(_, u)| u).unwrap_or_default();
                    self.total_distance = Some((v, unit));
                }
            }
            b"totalDistanceUnit" => match &mut self.total_distance {
                Some((_, unit)) => *unit = value.to_string(),
                None => self.total_distance = Some((f64::NAN, value.to_string())),
            },
            b"totalEnergyBurned" => {
                if let Some(v) = parse_number(value.as_bytes()) {
                    let unit = self.total_energy.take().map(|(_, u)| u).unwrap_or_default();
                    self.total_energy = Some((v, unit));
                }
            }
            b"totalEnergyBurnedUnit" => match &mut self.total_energy {
                Some((_, unit)) => *unit = value.to_string(),
                None => self.total_energy = Some((f64::NAN, value.to_string())),
            },
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

    /// A `MetadataEntry` child.
    pub(crate) fn metadata(&mut self, key: &str, value: &str) {
        if key == "HKElevationAscended"
            && let Some((v, unit)) = parse_quantity(value)
        {
            self.details.elevation_gain_m = convert(v, unit, "m");
        }
    }

    /// The details, totals on the element first, statistics otherwise; values that are not
    /// finite and non-negative are dropped.
    pub(crate) fn finish(mut self) -> (String, WorkoutDetails) {
        let total = |t: Option<(f64, String)>, canonical: &str| {
            t.and_then(|(v, unit)| {
                let unit = if unit.is_empty() { canonical.to_string() } else { unit };
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
