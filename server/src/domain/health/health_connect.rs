//! The Health Connect table: record types (and the field of multi-value records) → owl series
//! types, Health Connect unit names → owl units, SleepSessionRecord stages → sleep stages,
//! ExerciseSessionRecord exercise types → workout types. Mobile push (`domain::health::push`)
//! reads Health Connect batches through it, as it reads HealthKit through `healthkit`.
//!
//! Facts from the Jetpack `androidx.health.connect.client.records` classes: record names as the
//! Kotlin classes spell them, `SleepSessionRecord.STAGE_TYPE_*` and
//! `ExerciseSessionRecord.EXERCISE_TYPE_*` with their integer values, and the unit accessors of
//! `androidx.health.connect.client.units` (`inKilograms`, `inKilocalories` …) whose names,
//! without `in`, are the unit names accepted here.

/// A Health Connect record type (or one field of it) with an owl series type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// The record class, e.g. `HeartRateRecord`.
    pub record_type: &'static str,
    /// The field of a record with several values (`systolic`); empty for one-value records.
    pub field: &'static str,
    /// The owl series type code (catalog.rs).
    pub series_type: &'static str,
}

const fn r(record_type: &'static str, field: &'static str, series_type: &'static str) -> Record {
    Record {
        record_type,
        field,
        series_type,
    }
}

/// Every record type (and field) owl stores as samples. Series records (heart rate, speed,
/// power, cadence) arrive as one sample per entry of their `samples` list.
pub const RECORDS: &[Record] = &[
    r("HeartRateRecord", "", "heart_rate"),
    r("RestingHeartRateRecord", "", "resting_heart_rate"),
    r(
        "HeartRateVariabilityRmssdRecord",
        "",
        "heart_rate_variability_rmssd",
    ),
    r("StepsRecord", "", "steps"),
    r("DistanceRecord", "", "distance_walking_running"),
    r("ActiveCaloriesBurnedRecord", "", "energy"),
    r("TotalCaloriesBurnedRecord", "", "total_energy"),
    r("BasalMetabolicRateRecord", "", "basal_metabolic_rate"),
    r("FloorsClimbedRecord", "", "flights_climbed"),
    r("ElevationGainedRecord", "", "elevation_gained"),
    r("SpeedRecord", "", "speed"),
    r("PowerRecord", "", "power"),
    r("CyclingPedalingCadenceRecord", "", "cadence"),
    r("WheelchairPushesRecord", "", "push_count"),
    r("WeightRecord", "", "weight"),
    r("HeightRecord", "", "height"),
    r("BodyFatRecord", "", "body_fat_percentage"),
    r("LeanBodyMassRecord", "", "lean_body_mass"),
    r("BodyTemperatureRecord", "", "body_temperature"),
    r("SkinTemperatureRecord", "", "skin_temperature_deviation"),
    r("BloodPressureRecord", "systolic", "blood_pressure_systolic"),
    r(
        "BloodPressureRecord",
        "diastolic",
        "blood_pressure_diastolic",
    ),
    r("OxygenSaturationRecord", "", "oxygen_saturation"),
    r("RespiratoryRateRecord", "", "respiratory_rate"),
    r("BloodGlucoseRecord", "", "blood_glucose"),
    r("Vo2MaxRecord", "", "vo2_max"),
    r("HydrationRecord", "", "hydration"),
    r("NutritionRecord", "energy", "dietary_energy"),
    r("NutritionRecord", "protein", "dietary_protein"),
    r(
        "NutritionRecord",
        "totalCarbohydrate",
        "dietary_carbohydrates",
    ),
    r("NutritionRecord", "totalFat", "dietary_fat_total"),
    r("NutritionRecord", "sugar", "dietary_sugar"),
    r("NutritionRecord", "dietaryFiber", "dietary_fiber"),
    r("NutritionRecord", "sodium", "dietary_sodium"),
    r("NutritionRecord", "caffeine", "dietary_caffeine"),
];

/// The record types that are events, not samples (sessions with stages, workouts).
pub const SLEEP_SESSION: &str = "SleepSessionRecord";
/// Exercise sessions become workouts.
pub const EXERCISE_SESSION: &str = "ExerciseSessionRecord";

/// The series of `record_type` (the class name, with or without the `Record` suffix) and
/// `field` (empty for one-value records); `None` when owl has no counterpart.
pub fn record(record_type: &str, field: &str) -> Option<&'static Record> {
    let name = record_type.strip_suffix("Record").unwrap_or(record_type);
    RECORDS.iter().find(|r| {
        r.record_type.len() == name.len() + "Record".len()
            && r.record_type.starts_with(name)
            && r.field == field
    })
}

/// Health Connect unit names (the `in…` accessors without `in`, any case) → owl unit spellings
/// (units.rs).
const UNITS: &[(&str, &str)] = &[
    ("beatsPerMinute", "bpm"),
    ("count", "count"),
    ("steps", "count"),
    ("floors", "count"),
    ("kilograms", "kg"),
    ("grams", "g"),
    ("milligrams", "mg"),
    ("micrograms", "mcg"),
    ("pounds", "lb"),
    ("ounces", "oz"),
    ("kilocalories", "kcal"),
    ("calories", "cal"),
    ("kilojoules", "kJ"),
    ("meters", "m"),
    ("kilometers", "km"),
    ("miles", "mi"),
    ("feet", "ft"),
    ("inches", "in"),
    ("millimetersOfMercury", "mmHg"),
    ("celsius", "degC"),
    ("fahrenheit", "degF"),
    ("percent", "%"),
    ("metersPerSecond", "m/s"),
    ("kilometersPerHour", "km/h"),
    ("milesPerHour", "mph"),
    ("watts", "W"),
    ("kilocaloriesPerDay", "kcal/day"),
    ("liters", "L"),
    ("milliliters", "mL"),
    ("fluidOuncesUs", "fl_oz_us"),
    ("millimolesPerLiter", "mmol/L"),
    ("milligramsPerDeciliter", "mg/dL"),
    ("milliseconds", "ms"),
    ("rate", "breaths/min"),
    ("breathsPerMinute", "breaths/min"),
    ("revolutionsPerMinute", "rpm"),
    ("millilitersPerMinuteKilogram", "mL/(kg*min)"),
];

/// The owl unit of a Health Connect unit name; owl's own spellings (`kg`, `bpm`) pass through.
/// `None` when neither knows it.
pub fn unit(hc_unit: &str) -> Option<&'static str> {
    let name = hc_unit
        .strip_prefix("in")
        .filter(|rest| rest.chars().next().is_some_and(|c| c.is_ascii_uppercase()));
    let name = name.unwrap_or(hc_unit);
    UNITS
        .iter()
        .find(|(hc, _)| hc.eq_ignore_ascii_case(name))
        .map(|(_, owl)| *owl)
        .or_else(|| {
            UNITS
                .iter()
                .find(|(_, owl)| *owl == hc_unit)
                .map(|(_, o)| *o)
        })
}

/// SleepSessionRecord stages: name, value, owl stage. Out of bed and awake in bed are awake;
/// an unknown stage (a session sent without stages) is asleep.
const STAGES: &[(&str, u8, &str)] = &[
    ("UNKNOWN", 0, "asleep"),
    ("AWAKE", 1, "awake"),
    ("SLEEPING", 2, "asleep"),
    ("OUT_OF_BED", 3, "awake"),
    ("LIGHT", 4, "light"),
    ("DEEP", 5, "deep"),
    ("REM", 6, "rem"),
    ("AWAKE_IN_BED", 7, "awake"),
];

/// The owl sleep stage of a SleepSessionRecord stage, by name (`STAGE_TYPE_DEEP` or `DEEP`) or
/// integer value (`"5"`).
pub fn sleep_stage(value: &str) -> Option<&'static str> {
    let name = value.strip_prefix("STAGE_TYPE_").unwrap_or(value);
    let number = name.parse::<u8>().ok();
    STAGES
        .iter()
        .find(|(n, v, _)| Some(*v) == number || n.eq_ignore_ascii_case(name))
        .map(|(_, _, owl)| *owl)
}

/// ExerciseSessionRecord exercise types: name, value, owl workout type.
const EXERCISES: &[(&str, u8, &str)] = &[
    ("OTHER_WORKOUT", 0, "other"),
    ("BADMINTON", 2, "badminton"),
    ("BASEBALL", 4, "baseball"),
    ("BASKETBALL", 5, "basketball"),
    ("BIKING", 8, "cycling"),
    ("BIKING_STATIONARY", 9, "indoor_cycling"),
    ("BOOT_CAMP", 10, "cardio_training"),
    ("BOXING", 11, "boxing"),
    ("CALISTHENICS", 13, "strength_training"),
    ("CRICKET", 14, "cricket"),
    ("DANCING", 16, "dance"),
    ("ELLIPTICAL", 25, "elliptical"),
    ("EXERCISE_CLASS", 26, "group_exercise"),
    ("FENCING", 27, "fencing"),
    ("FOOTBALL_AMERICAN", 28, "american_football"),
    ("FOOTBALL_AUSTRALIAN", 29, "football"),
    ("FRISBEE_DISC", 31, "disc_sports"),
    ("GOLF", 32, "golf"),
    ("GUIDED_BREATHING", 33, "meditation"),
    ("GYMNASTICS", 34, "gymnastics"),
    ("HANDBALL", 35, "handball"),
    ("HIGH_INTENSITY_INTERVAL_TRAINING", 36, "cardio_training"),
    ("HIKING", 37, "hiking"),
    ("ICE_HOCKEY", 38, "hockey"),
    ("ICE_SKATING", 39, "ice_skating"),
    ("MARTIAL_ARTS", 44, "martial_arts"),
    ("PADDLING", 46, "paddling"),
    ("PARAGLIDING", 47, "paragliding"),
    ("PILATES", 48, "pilates"),
    ("RACQUETBALL", 50, "racquetball"),
    ("ROCK_CLIMBING", 51, "rock_climbing"),
    ("ROLLER_HOCKEY", 52, "hockey"),
    ("ROWING", 53, "rowing"),
    ("ROWING_MACHINE", 54, "rowing_machine"),
    ("RUGBY", 55, "rugby"),
    ("RUNNING", 56, "running"),
    ("RUNNING_TREADMILL", 57, "treadmill"),
    ("SAILING", 58, "sailing"),
    ("SCUBA_DIVING", 59, "diving"),
    ("SKATING", 60, "skating"),
    ("SKIING", 61, "alpine_skiing"),
    ("SNOWBOARDING", 62, "snowboarding"),
    ("SNOWSHOEING", 63, "snowshoeing"),
    ("SOCCER", 64, "soccer"),
    ("SOFTBALL", 65, "baseball"),
    ("SQUASH", 66, "squash"),
    ("STAIR_CLIMBING", 68, "stair_climbing"),
    ("STAIR_CLIMBING_MACHINE", 69, "stair_climbing"),
    ("STRENGTH_TRAINING", 70, "strength_training"),
    ("STRETCHING", 71, "stretching"),
    ("SURFING", 72, "surfing"),
    ("SWIMMING_OPEN_WATER", 73, "open_water_swimming"),
    ("SWIMMING_POOL", 74, "pool_swimming"),
    ("TABLE_TENNIS", 75, "table_tennis"),
    ("TENNIS", 76, "tennis"),
    ("VOLLEYBALL", 78, "volleyball"),
    ("WALKING", 79, "walking"),
    ("WATER_POLO", 80, "water_polo"),
    ("WEIGHTLIFTING", 81, "strength_training"),
    ("WHEELCHAIR", 82, "wheelchair"),
    ("YOGA", 83, "yoga"),
];

/// The owl workout type of an exercise type, by name (`EXERCISE_TYPE_RUNNING` or `RUNNING`) or
/// integer value (`"56"`).
pub fn exercise_type(value: &str) -> Option<&'static str> {
    let name = value.strip_prefix("EXERCISE_TYPE_").unwrap_or(value);
    let number = name.parse::<u8>().ok();
    EXERCISES
        .iter()
        .find(|(n, v, _)| Some(*v) == number || n.eq_ignore_ascii_case(name))
        .map(|(_, _, owl)| *owl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::health::catalog::{SLEEP_STAGES, is_workout_type, series_type};
    use crate::domain::health::units::to_canonical;

    #[test]
    fn every_record_names_a_catalogued_series_type() {
        for r in RECORDS {
            assert!(series_type(r.series_type).is_some(), "{r:?}");
        }
        let types: std::collections::BTreeSet<&str> =
            RECORDS.iter().map(|r| r.record_type).collect();
        // Plus the two event records.
        assert!(types.len() + 2 >= 27, "{} record types", types.len() + 2);
    }

    #[test]
    fn records_are_found_with_or_without_the_suffix_and_by_field() {
        assert_eq!(
            record("HeartRateRecord", "").unwrap().series_type,
            "heart_rate"
        );
        assert_eq!(record("Steps", "").unwrap().series_type, "steps");
        assert_eq!(
            record("BloodPressureRecord", "diastolic")
                .unwrap()
                .series_type,
            "blood_pressure_diastolic"
        );
        assert!(record("BloodPressureRecord", "").is_none());
        assert!(record("HeartRateRecordX", "").is_none());
        assert!(record("MenstruationFlowRecord", "").is_none());
    }

    #[test]
    fn units_convert_to_each_series_canonical_unit() {
        let cases = [
            ("WeightRecord", "", "pounds", 100.0, 45.359_237),
            ("BodyTemperatureRecord", "", "inFahrenheit", 98.6, 37.0),
            ("DistanceRecord", "", "kilometers", 1.5, 1500.0),
            ("HydrationRecord", "", "liters", 0.25, 250.0),
            ("BloodGlucoseRecord", "", "millimolesPerLiter", 5.0, 90.078),
            (
                "BasalMetabolicRateRecord",
                "",
                "kilocaloriesPerDay",
                1700.0,
                1700.0,
            ),
            ("BasalMetabolicRateRecord", "", "watts", 100.0, 2065.01),
            ("HeartRateRecord", "", "bpm", 61.0, 61.0),
        ];
        for (record_type, field, hc_unit, value, expected) in cases {
            let series = series_type(record(record_type, field).unwrap().series_type).unwrap();
            let owl = unit(hc_unit).unwrap_or_else(|| panic!("{hc_unit}"));
            let converted = to_canonical(owl, series.unit)
                .unwrap_or_else(|| panic!("{owl} to {}", series.unit))
                .apply(value);
            assert!(
                (converted - expected).abs() < 0.01,
                "{record_type}: {converted}"
            );
        }
        assert!(unit("furlongs").is_none());
    }

    #[test]
    fn stages_and_exercises_map_by_name_and_number_into_the_catalogues() {
        for (_, _, stage) in STAGES {
            assert!(SLEEP_STAGES.contains(stage));
        }
        for (_, _, workout) in EXERCISES {
            assert!(is_workout_type(workout), "{workout}");
        }
        assert_eq!(sleep_stage("STAGE_TYPE_DEEP"), Some("deep"));
        assert_eq!(sleep_stage("6"), Some("rem"));
        assert_eq!(sleep_stage("9"), None);
        assert_eq!(exercise_type("EXERCISE_TYPE_RUNNING"), Some("running"));
        assert_eq!(exercise_type("74"), Some("pool_swimming"));
        assert_eq!(exercise_type("1"), None);
    }
}
