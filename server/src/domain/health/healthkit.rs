//! The HealthKit identifier table: HKQuantityTypeIdentifier → owl series type, HealthKit unit
//! strings → owl units, HKCategoryValueSleepAnalysis → sleep stages, HKWorkoutActivityType →
//! workout types. One table for the Apple Health export parser and for mobile push.
//!
//! HealthKit's `%` is a fraction (0.97 means 97 %), so it maps to owl's `fraction`, which the
//! unit table converts ×100 into `%`.

/// A HealthKit quantity type with an owl counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    /// The HKQuantityTypeIdentifier, e.g. `HKQuantityTypeIdentifierHeartRate`.
    pub identifier: &'static str,
    /// The owl series type code (catalog.rs).
    pub series_type: &'static str,
    /// HealthKit's canonical unit string for the type (what exports usually carry).
    pub hk_unit: &'static str,
    /// The owl unit used whatever HealthKit unit a record states, for scalar types whose
    /// HealthKit unit has no owl counterpart (BMI's `count` is kg/m2; IU of insulin is a count).
    pub fixed_unit: Option<&'static str>,
}

impl Quantity {
    /// The owl unit (for `units::to_canonical`) of a value of this type stated in `hk_unit`;
    /// `None` when the unit is unknown.
    pub fn owl_unit(&self, hk_unit: &str) -> Option<&'static str> {
        match self.fixed_unit {
            Some(fixed) => Some(fixed),
            None => unit(hk_unit),
        }
    }
}

const fn q(identifier: &'static str, series_type: &'static str, hk_unit: &'static str) -> Quantity {
    Quantity {
        identifier,
        series_type,
        hk_unit,
        fixed_unit: None,
    }
}

const fn fixed(
    identifier: &'static str,
    series_type: &'static str,
    hk_unit: &'static str,
    owl_unit: &'static str,
) -> Quantity {
    Quantity {
        identifier,
        series_type,
        hk_unit,
        fixed_unit: Some(owl_unit),
    }
}

const P: &str = "HKQuantityTypeIdentifier";

/// Every HKQuantityTypeIdentifier with an owl series type (81), as in Apple's
/// HKTypeIdentifiers.h (iOS 18), grouped as Apple groups them.
pub const QUANTITIES: &[Quantity] = &[
    // Body measurements.
    q(
        "HKQuantityTypeIdentifierAppleSleepingWristTemperature",
        "skin_temperature",
        "degC",
    ),
    q(
        "HKQuantityTypeIdentifierBodyFatPercentage",
        "body_fat_percentage",
        "%",
    ),
    q("HKQuantityTypeIdentifierBodyMass", "weight", "kg"),
    fixed(
        "HKQuantityTypeIdentifierBodyMassIndex",
        "body_mass_index",
        "count",
        "kg/m2",
    ),
    fixed(
        "HKQuantityTypeIdentifierElectrodermalActivity",
        "electrodermal_activity",
        "S",
        "count",
    ),
    q("HKQuantityTypeIdentifierHeight", "height", "m"),
    q(
        "HKQuantityTypeIdentifierLeanBodyMass",
        "lean_body_mass",
        "kg",
    ),
    q(
        "HKQuantityTypeIdentifierWaistCircumference",
        "waist_circumference",
        "m",
    ),
    // Fitness.
    q(
        "HKQuantityTypeIdentifierActiveEnergyBurned",
        "energy",
        "kcal",
    ),
    q(
        "HKQuantityTypeIdentifierAppleExerciseTime",
        "exercise_time",
        "min",
    ),
    q(
        "HKQuantityTypeIdentifierAppleMoveTime",
        "active_time",
        "min",
    ),
    q(
        "HKQuantityTypeIdentifierAppleStandTime",
        "stand_time",
        "min",
    ),
    q(
        "HKQuantityTypeIdentifierBasalEnergyBurned",
        "basal_energy",
        "kcal",
    ),
    q(
        "HKQuantityTypeIdentifierCrossCountrySkiingSpeed",
        "speed",
        "m/s",
    ),
    q(
        "HKQuantityTypeIdentifierCyclingCadence",
        "cadence",
        "count/min",
    ),
    q("HKQuantityTypeIdentifierCyclingPower", "power", "W"),
    q("HKQuantityTypeIdentifierCyclingSpeed", "speed", "m/s"),
    q(
        "HKQuantityTypeIdentifierDistanceCrossCountrySkiing",
        "distance_other",
        "m",
    ),
    q(
        "HKQuantityTypeIdentifierDistanceCycling",
        "distance_cycling",
        "m",
    ),
    q(
        "HKQuantityTypeIdentifierDistanceDownhillSnowSports",
        "distance_downhill_snow_sports",
        "m",
    ),
    q(
        "HKQuantityTypeIdentifierDistancePaddleSports",
        "distance_other",
        "m",
    ),
    q(
        "HKQuantityTypeIdentifierDistanceRowing",
        "distance_other",
        "m",
    ),
    q(
        "HKQuantityTypeIdentifierDistanceSkatingSports",
        "distance_other",
        "m",
    ),
    q(
        "HKQuantityTypeIdentifierDistanceSwimming",
        "distance_swimming",
        "m",
    ),
    q(
        "HKQuantityTypeIdentifierDistanceWalkingRunning",
        "distance_walking_running",
        "m",
    ),
    q(
        "HKQuantityTypeIdentifierDistanceWheelchair",
        "distance_other",
        "m",
    ),
    q(
        "HKQuantityTypeIdentifierEstimatedWorkoutEffortScore",
        "estimated_workout_effort_score",
        "appleEffortScore",
    ),
    q(
        "HKQuantityTypeIdentifierFlightsClimbed",
        "flights_climbed",
        "count",
    ),
    q("HKQuantityTypeIdentifierNikeFuel", "nike_fuel", "count"),
    q("HKQuantityTypeIdentifierPaddleSportsSpeed", "speed", "m/s"),
    fixed(
        "HKQuantityTypeIdentifierPhysicalEffort",
        "physical_effort",
        "kcal/hr·kg",
        "score",
    ),
    q("HKQuantityTypeIdentifierPushCount", "push_count", "count"),
    q("HKQuantityTypeIdentifierRowingSpeed", "speed", "m/s"),
    q("HKQuantityTypeIdentifierRunningPower", "running_power", "W"),
    q(
        "HKQuantityTypeIdentifierRunningSpeed",
        "running_speed",
        "m/s",
    ),
    q("HKQuantityTypeIdentifierStepCount", "steps", "count"),
    q(
        "HKQuantityTypeIdentifierSwimmingStrokeCount",
        "swimming_stroke_count",
        "count",
    ),
    q(
        "HKQuantityTypeIdentifierUnderwaterDepth",
        "underwater_depth",
        "m",
    ),
    q(
        "HKQuantityTypeIdentifierWorkoutEffortScore",
        "workout_effort_score",
        "appleEffortScore",
    ),
    // Hearing health.
    q(
        "HKQuantityTypeIdentifierEnvironmentalAudioExposure",
        "environmental_audio_exposure",
        "dBASPL",
    ),
    q(
        "HKQuantityTypeIdentifierEnvironmentalSoundReduction",
        "environmental_sound_reduction",
        "dBASPL",
    ),
    q(
        "HKQuantityTypeIdentifierHeadphoneAudioExposure",
        "headphone_audio_exposure",
        "dBASPL",
    ),
    // Heart.
    fixed(
        "HKQuantityTypeIdentifierAtrialFibrillationBurden",
        "atrial_fibrillation_burden",
        "%",
        "count",
    ),
    q(
        "HKQuantityTypeIdentifierHeartRate",
        "heart_rate",
        "count/min",
    ),
    q(
        "HKQuantityTypeIdentifierHeartRateRecoveryOneMinute",
        "heart_rate_recovery_one_minute",
        "count/min",
    ),
    q(
        "HKQuantityTypeIdentifierHeartRateVariabilitySDNN",
        "heart_rate_variability_sdnn",
        "ms",
    ),
    fixed(
        "HKQuantityTypeIdentifierPeripheralPerfusionIndex",
        "peripheral_perfusion_index",
        "%",
        "score",
    ),
    q(
        "HKQuantityTypeIdentifierRestingHeartRate",
        "resting_heart_rate",
        "count/min",
    ),
    q("HKQuantityTypeIdentifierVO2Max", "vo2_max", "mL/min·kg"),
    q(
        "HKQuantityTypeIdentifierWalkingHeartRateAverage",
        "walking_heart_rate_average",
        "count/min",
    ),
    // Mobility.
    q(
        "HKQuantityTypeIdentifierAppleWalkingSteadiness",
        "walking_steadiness",
        "%",
    ),
    q(
        "HKQuantityTypeIdentifierRunningGroundContactTime",
        "running_ground_contact_time",
        "ms",
    ),
    q(
        "HKQuantityTypeIdentifierRunningStrideLength",
        "running_stride_length",
        "m",
    ),
    q(
        "HKQuantityTypeIdentifierRunningVerticalOscillation",
        "running_vertical_oscillation",
        "cm",
    ),
    q(
        "HKQuantityTypeIdentifierSixMinuteWalkTestDistance",
        "six_minute_walk_test_distance",
        "m",
    ),
    q(
        "HKQuantityTypeIdentifierStairAscentSpeed",
        "stair_ascent_speed",
        "m/s",
    ),
    q(
        "HKQuantityTypeIdentifierStairDescentSpeed",
        "stair_descent_speed",
        "m/s",
    ),
    q(
        "HKQuantityTypeIdentifierWalkingAsymmetryPercentage",
        "walking_asymmetry_percentage",
        "%",
    ),
    q(
        "HKQuantityTypeIdentifierWalkingDoubleSupportPercentage",
        "walking_double_support_percentage",
        "%",
    ),
    q(
        "HKQuantityTypeIdentifierWalkingSpeed",
        "walking_speed",
        "km/hr",
    ),
    q(
        "HKQuantityTypeIdentifierWalkingStepLength",
        "walking_step_length",
        "cm",
    ),
    // Nutrition.
    q("HKQuantityTypeIdentifierDietaryWater", "hydration", "mL"),
    // Other.
    q(
        "HKQuantityTypeIdentifierBloodAlcoholContent",
        "blood_alcohol_content",
        "%",
    ),
    q(
        "HKQuantityTypeIdentifierBloodPressureDiastolic",
        "blood_pressure_diastolic",
        "mmHg",
    ),
    q(
        "HKQuantityTypeIdentifierBloodPressureSystolic",
        "blood_pressure_systolic",
        "mmHg",
    ),
    fixed(
        "HKQuantityTypeIdentifierInsulinDelivery",
        "insulin_delivery",
        "IU",
        "count",
    ),
    q(
        "HKQuantityTypeIdentifierNumberOfAlcoholicBeverages",
        "number_of_alcoholic_beverages",
        "count",
    ),
    q(
        "HKQuantityTypeIdentifierNumberOfTimesFallen",
        "number_of_times_fallen",
        "count",
    ),
    q(
        "HKQuantityTypeIdentifierTimeInDaylight",
        "time_in_daylight",
        "min",
    ),
    q("HKQuantityTypeIdentifierUVExposure", "uv_exposure", "count"),
    q(
        "HKQuantityTypeIdentifierWaterTemperature",
        "water_temperature",
        "degC",
    ),
    // Reproductive health.
    q(
        "HKQuantityTypeIdentifierBasalBodyTemperature",
        "body_temperature",
        "degC",
    ),
    // Respiratory.
    q(
        "HKQuantityTypeIdentifierAppleSleepingBreathingDisturbances",
        "sleeping_breathing_disturbances",
        "count",
    ),
    q(
        "HKQuantityTypeIdentifierForcedExpiratoryVolume1",
        "forced_expiratory_volume_1",
        "L",
    ),
    q(
        "HKQuantityTypeIdentifierForcedVitalCapacity",
        "forced_vital_capacity",
        "L",
    ),
    q(
        "HKQuantityTypeIdentifierInhalerUsage",
        "inhaler_usage",
        "count",
    ),
    q(
        "HKQuantityTypeIdentifierOxygenSaturation",
        "oxygen_saturation",
        "%",
    ),
    q(
        "HKQuantityTypeIdentifierPeakExpiratoryFlowRate",
        "peak_expiratory_flow_rate",
        "L/min",
    ),
    q(
        "HKQuantityTypeIdentifierRespiratoryRate",
        "respiratory_rate",
        "count/min",
    ),
    // Vital signs.
    q(
        "HKQuantityTypeIdentifierBloodGlucose",
        "blood_glucose",
        "mg/dL",
    ),
    q(
        "HKQuantityTypeIdentifierBodyTemperature",
        "body_temperature",
        "degC",
    ),
];

/// The quantity type `identifier` (full `HKQuantityTypeIdentifier…` name, or the name without
/// the prefix, e.g. `HeartRate`); `None` when owl has no counterpart.
pub fn quantity(identifier: &str) -> Option<&'static Quantity> {
    let short = identifier.strip_prefix(P).unwrap_or(identifier);
    QUANTITIES
        .iter()
        .find(|q| q.identifier.len() == P.len() + short.len() && q.identifier.ends_with(short))
}

/// HealthKit unit strings → owl unit spellings (units.rs). HealthKit's `%` is a fraction.
const UNITS: &[(&str, &str)] = &[
    ("count", "count"),
    ("count/min", "count/min"),
    ("count/s", "count/s"),
    ("%", "fraction"),
    ("kcal", "kcal"),
    ("Cal", "Cal"),
    ("cal", "cal"),
    ("kJ", "kJ"),
    ("m", "m"),
    ("km", "km"),
    ("cm", "cm"),
    ("mm", "mm"),
    ("mi", "mi"),
    ("ft", "ft"),
    ("in", "in"),
    ("yd", "yd"),
    ("kg", "kg"),
    ("g", "g"),
    ("mg", "mg"),
    ("mcg", "mcg"),
    ("lb", "lb"),
    ("oz", "oz"),
    ("st", "st"),
    ("ms", "ms"),
    ("s", "s"),
    ("min", "min"),
    ("hr", "hr"),
    ("degC", "degC"),
    ("degF", "degF"),
    ("K", "K"),
    ("mg/dL", "mg/dL"),
    ("mmol/L", "mmol/L"),
    ("mmHg", "mmHg"),
    ("kPa", "kPa"),
    ("mL", "mL"),
    ("L", "L"),
    ("fl_oz_us", "fl_oz_us"),
    ("L/min", "L/min"),
    ("m/s", "m/s"),
    ("km/hr", "km/h"),
    ("mi/hr", "mph"),
    ("W", "W"),
    ("dBASPL", "dBASPL"),
    ("IU", "IU"),
    ("mL/min·kg", "mL/(kg*min)"),
    ("ml/(kg*min)", "mL/(kg*min)"),
    ("mL/(kg*min)", "mL/(kg*min)"),
    ("kcal/hr·kg", "kcal/(kg*hr)"),
    ("kcal/(kg*hr)", "kcal/(kg*hr)"),
    ("appleEffortScore", "score"),
    ("lx", "lx"),
];

/// The owl unit for a HealthKit unit string; `None` when owl does not know it. Blood glucose
/// in mmol carries its molar mass in exports (`mmol<180.15588000005408>/L`), which is dropped.
pub fn unit(hk_unit: &str) -> Option<&'static str> {
    if let Some(rest) = hk_unit.strip_prefix("mmol<")
        && rest.ends_with(">/L")
    {
        return Some("mmol/L");
    }
    UNITS
        .iter()
        .find(|(hk, _)| *hk == hk_unit)
        .map(|(_, owl)| *owl)
}

/// HKCategoryValueSleepAnalysis → owl sleep stage, by name or by raw value (HealthKit's
/// integers: 0 in bed, 1 asleep unspecified, 2 awake, 3 core, 4 deep, 5 REM). Core sleep is
/// owl's `light`.
pub fn sleep_stage(value: &str) -> Option<&'static str> {
    let name = value
        .strip_prefix("HKCategoryValueSleepAnalysis")
        .unwrap_or(value);
    Some(match name {
        "InBed" | "0" => "in_bed",
        "Asleep" | "AsleepUnspecified" | "1" => "asleep",
        "Awake" | "2" => "awake",
        "AsleepCore" | "3" => "light",
        "AsleepDeep" | "4" => "deep",
        "AsleepREM" | "5" => "rem",
        _ => return None,
    })
}

/// HKCategoryTypeIdentifier types whose records are measured by their length: the series type
/// that counts their minutes. A mindful session is mindful time, not a workout.
pub fn category_minutes(identifier: &str) -> Option<&'static str> {
    match identifier {
        "HKCategoryTypeIdentifierMindfulSession" => Some("mindful_time"),
        _ => None,
    }
}

/// The sleep category type.
pub const SLEEP_ANALYSIS: &str = "HKCategoryTypeIdentifierSleepAnalysis";

/// HKWorkoutActivityType names (without the prefix) → owl workout types (catalog.rs).
const WORKOUTS: &[(&str, &str)] = &[
    ("AmericanFootball", "american_football"),
    ("Archery", "archery"),
    ("AustralianFootball", "football"),
    ("Badminton", "badminton"),
    ("Baseball", "baseball"),
    ("Basketball", "basketball"),
    ("Bowling", "bowling"),
    ("Boxing", "boxing"),
    ("Climbing", "rock_climbing"),
    ("Cricket", "cricket"),
    ("CrossTraining", "cardio_training"),
    ("Curling", "curling"),
    ("Cycling", "cycling"),
    ("Dance", "dance"),
    ("DanceInspiredTraining", "dance"),
    ("Elliptical", "elliptical"),
    ("EquestrianSports", "horseback_riding"),
    ("Fencing", "fencing"),
    ("Fishing", "fishing"),
    ("FunctionalStrengthTraining", "strength_training"),
    ("Golf", "golf"),
    ("Gymnastics", "gymnastics"),
    ("Handball", "handball"),
    ("Hiking", "hiking"),
    ("Hockey", "hockey"),
    ("Hunting", "hunting"),
    ("Lacrosse", "lacrosse"),
    ("MartialArts", "martial_arts"),
    ("MindAndBody", "meditation"),
    ("MixedMetabolicCardioTraining", "cardio_training"),
    ("PaddleSports", "paddling"),
    ("Play", "play"),
    ("PreparationAndRecovery", "recovery"),
    ("Racquetball", "racquetball"),
    ("Rowing", "rowing"),
    ("Rugby", "rugby"),
    ("Running", "running"),
    ("Sailing", "sailing"),
    ("SkatingSports", "skating"),
    ("SnowSports", "snow_sports"),
    ("Soccer", "soccer"),
    ("Softball", "baseball"),
    ("Squash", "squash"),
    ("StairClimbing", "stair_climbing"),
    ("SurfingSports", "surfing"),
    ("Swimming", "swimming"),
    ("TableTennis", "table_tennis"),
    ("Tennis", "tennis"),
    ("TrackAndField", "running"),
    ("TraditionalStrengthTraining", "strength_training"),
    ("Volleyball", "volleyball"),
    ("Walking", "walking"),
    ("WaterFitness", "water_sports"),
    ("WaterPolo", "water_polo"),
    ("WaterSports", "water_sports"),
    ("Wrestling", "wrestling"),
    ("Yoga", "yoga"),
    ("Barre", "aerobics"),
    ("CoreTraining", "strength_training"),
    ("CrossCountrySkiing", "cross_country_skiing"),
    ("DownhillSkiing", "downhill_skiing"),
    ("Flexibility", "stretching"),
    ("HighIntensityIntervalTraining", "cardio_training"),
    ("JumpRope", "cardio_training"),
    ("Kickboxing", "boxing"),
    ("Pilates", "pilates"),
    ("Snowboarding", "snowboarding"),
    ("Stairs", "stair_climbing"),
    ("StepTraining", "aerobics"),
    ("WheelchairWalkPace", "wheelchair"),
    ("WheelchairRunPace", "wheelchair"),
    ("TaiChi", "martial_arts"),
    ("MixedCardio", "cardio_training"),
    ("HandCycling", "cycling"),
    ("DiscSports", "disc_sports"),
    ("FitnessGaming", "gaming"),
    ("CardioDance", "dance"),
    ("SocialDance", "dance"),
    ("Pickleball", "pickleball"),
    ("Cooldown", "recovery"),
    ("SwimBikeRun", "triathlon"),
    ("Transition", "transition"),
    ("UnderwaterDiving", "diving"),
    ("Other", "other"),
];

/// The owl workout type of an HKWorkoutActivityType (full `HKWorkoutActivityType…` name or
/// without the prefix); `None` when unknown.
pub fn workout_type(activity: &str) -> Option<&'static str> {
    let name = activity
        .strip_prefix("HKWorkoutActivityType")
        .unwrap_or(activity);
    WORKOUTS
        .iter()
        .find(|(hk, _)| *hk == name)
        .map(|(_, owl)| *owl)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::domain::health::catalog::{SLEEP_STAGES, is_workout_type, series_type};
    use crate::domain::health::units::to_canonical;

    #[test]
    fn every_quantity_maps_to_a_series_type_in_a_convertible_unit() {
        assert!(QUANTITIES.len() >= 81, "{}", QUANTITIES.len());
        let ids: HashSet<_> = QUANTITIES.iter().map(|q| q.identifier).collect();
        assert_eq!(ids.len(), QUANTITIES.len());
        for q in QUANTITIES {
            assert!(q.identifier.starts_with(P));
            let kind = series_type(q.series_type)
                .unwrap_or_else(|| panic!("{} → unknown {}", q.identifier, q.series_type));
            let owl = q
                .owl_unit(q.hk_unit)
                .unwrap_or_else(|| panic!("{}: unknown unit {}", q.identifier, q.hk_unit));
            assert!(
                to_canonical(owl, kind.unit).is_some(),
                "{}: {owl} does not convert to {}",
                q.identifier,
                kind.unit
            );
        }
    }

    #[test]
    fn lookups_accept_full_and_short_names() {
        assert_eq!(
            quantity("HKQuantityTypeIdentifierHeartRate").map(|q| q.series_type),
            Some("heart_rate")
        );
        assert_eq!(quantity("StepCount").map(|q| q.series_type), Some("steps"));
        assert!(quantity("HKQuantityTypeIdentifierDietaryBiotin").is_none());
        assert!(quantity("HKQuantityTypeIdentifierHeartRateX").is_none());
        assert_eq!(
            workout_type("HKWorkoutActivityTypeRunning"),
            Some("running")
        );
        assert_eq!(workout_type("Yoga"), Some("yoga"));
        assert_eq!(workout_type("HKWorkoutActivityTypeFoo"), None);
        assert_eq!(
            sleep_stage("HKCategoryValueSleepAnalysisAsleepCore"),
            Some("light")
        );
        assert_eq!(sleep_stage("5"), Some("rem"));
        assert_eq!(sleep_stage("HKCategoryValueSleepAnalysisNope"), None);
    }

    #[test]
    fn units_convert_with_healthkit_semantics() {
        let spo2 = to_canonical(unit("%").unwrap(), "%").unwrap().apply(0.97);
        assert!((spo2 - 97.0).abs() < 1e-9);
        let hr = to_canonical(unit("count/s").unwrap(), "bpm")
            .unwrap()
            .apply(1.2);
        assert!((hr - 72.0).abs() < 1e-9);
        assert_eq!(unit("mmol<180.15588000005408>/L"), Some("mmol/L"));
        let speed = to_canonical(unit("km/hr").unwrap(), "m/s")
            .unwrap()
            .apply(3.6);
        assert!((speed - 1.0).abs() < 1e-9);
        assert_eq!(unit("furlong/fortnight"), None);
    }

    #[test]
    fn every_workout_and_stage_is_in_the_catalogue() {
        for (hk, owl) in WORKOUTS {
            assert!(is_workout_type(owl), "{hk} → {owl}");
        }
        for v in [
            "InBed",
            "Asleep",
            "AsleepUnspecified",
            "Awake",
            "AsleepCore",
            "AsleepDeep",
            "AsleepREM",
        ] {
            let stage = sleep_stage(v).unwrap();
            assert!(SLEEP_STAGES.contains(&stage));
        }
        let mindful = category_minutes("HKCategoryTypeIdentifierMindfulSession").unwrap();
        assert_eq!(
            super::super::catalog::series_type(mindful).unwrap().unit,
            "min"
        );
    }
}
