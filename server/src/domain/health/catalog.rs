//! The catalogues: series types with stable ids, canonical units, daily aggregation and LOINC
//! codes; workout types; sleep stages. Ids are stable forever: they are stored in every sample.

use Aggregation::{Avg, Last, Max, Sum};

/// How a series type's samples of one day combine into the day's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    Sum,
    Avg,
    Min,
    Max,
    Last,
}

/// A kind of measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesType {
    /// Stable id, stored with every sample.
    pub id: i32,
    /// Stable snake_case name used on the API.
    pub code: &'static str,
    /// The unit every stored value is in.
    pub unit: &'static str,
    /// How a day's samples combine.
    pub aggregation: Aggregation,
    /// LOINC code, where one exists.
    pub loinc: Option<&'static str>,
}

const fn t(
    id: i32,
    code: &'static str,
    unit: &'static str,
    aggregation: Aggregation,
    loinc: Option<&'static str>,
) -> SeriesType {
    SeriesType {
        id,
        code,
        unit,
        aggregation,
        loinc,
    }
}

/// Every series type, by id.
pub const SERIES_TYPES: &[SeriesType] = &[
    t(1, "heart_rate", "bpm", Avg, Some("8867-4")),
    t(2, "resting_heart_rate", "bpm", Avg, Some("40443-4")),
    t(3, "heart_rate_variability_sdnn", "ms", Avg, Some("80404-7")),
    t(4, "heart_rate_recovery_one_minute", "bpm", Avg, None),
    t(5, "walking_heart_rate_average", "bpm", Avg, None),
    t(7, "heart_rate_variability_rmssd", "ms", Avg, None),
    t(20, "oxygen_saturation", "%", Avg, Some("59408-5")),
    t(21, "blood_glucose", "mg/dL", Avg, Some("2339-0")),
    t(22, "blood_pressure_systolic", "mmHg", Avg, Some("8480-6")),
    t(23, "blood_pressure_diastolic", "mmHg", Avg, Some("8462-4")),
    t(24, "respiratory_rate", "breaths/min", Avg, Some("9279-1")),
    t(25, "sleeping_breathing_disturbances", "count", Sum, None),
    t(26, "blood_alcohol_content", "%", Avg, Some("74859-0")),
    t(
        27,
        "peripheral_perfusion_index",
        "score",
        Avg,
        Some("61006-3"),
    ),
    t(28, "forced_vital_capacity", "L", Max, Some("19870-5")),
    t(29, "forced_expiratory_volume_1", "L", Max, Some("20150-9")),
    t(
        30,
        "peak_expiratory_flow_rate",
        "L/min",
        Max,
        Some("19935-6"),
    ),
    t(31, "breathing_disturbance_index", "score", Avg, None),
    t(40, "height", "cm", Last, Some("8302-2")),
    t(41, "weight", "kg", Last, Some("29463-7")),
    t(42, "body_fat_percentage", "%", Last, Some("41982-0")),
    t(43, "body_mass_index", "kg/m2", Last, Some("39156-5")),
    t(44, "lean_body_mass", "kg", Last, Some("91557-9")),
    t(45, "body_temperature", "degC", Avg, Some("8310-5")),
    t(46, "skin_temperature", "degC", Avg, Some("39106-0")),
    t(47, "waist_circumference", "cm", Last, Some("8280-0")),
    t(48, "body_fat_mass", "kg", Last, None),
    t(49, "skeletal_muscle_mass", "kg", Last, None),
    t(50, "skin_temperature_deviation", "degC", Avg, None),
    t(51, "skin_temperature_trend_deviation", "degC", Avg, None),
    t(60, "vo2_max", "mL/(kg*min)", Last, None),
    t(61, "six_minute_walk_test_distance", "m", Max, None),
    t(62, "cardiovascular_age", "years", Last, None),
    t(63, "basal_metabolic_rate", "kcal/day", Last, None),
    t(80, "steps", "count", Sum, Some("55423-8")),
    t(81, "energy", "kcal", Sum, Some("41981-2")),
    t(82, "basal_energy", "kcal", Sum, None),
    t(83, "stand_time", "min", Sum, None),
    t(84, "exercise_time", "min", Sum, None),
    t(85, "physical_effort", "score", Avg, None),
    t(86, "flights_climbed", "count", Sum, Some("100304-5")),
    t(87, "average_met", "MET", Avg, None),
    t(88, "active_time", "min", Sum, None),
    t(89, "total_energy", "kcal", Sum, None),
    t(90, "mindful_time", "min", Sum, None),
    t(100, "distance_walking_running", "m", Sum, Some("55430-3")),
    t(101, "distance_cycling", "m", Sum, None),
    t(102, "distance_swimming", "m", Sum, Some("93816-7")),
    t(103, "distance_downhill_snow_sports", "m", Sum, None),
    t(104, "distance_other", "m", Sum, None),
    t(105, "elevation_gained", "m", Sum, None),
    t(120, "walking_step_length", "cm", Avg, None),
    t(121, "walking_speed", "m/s", Avg, None),
    t(122, "walking_double_support_percentage", "%", Avg, None),
    t(123, "walking_asymmetry_percentage", "%", Avg, None),
    t(124, "walking_steadiness", "%", Avg, None),
    t(125, "stair_descent_speed", "m/s", Avg, None),
    t(126, "stair_ascent_speed", "m/s", Avg, None),
    t(140, "running_power", "W", Avg, None),
    t(141, "running_speed", "m/s", Avg, None),
    t(142, "running_vertical_oscillation", "cm", Avg, None),
    t(143, "running_ground_contact_time", "ms", Avg, None),
    t(144, "running_stride_length", "cm", Avg, None),
    t(145, "running_vertical_ratio", "%", Avg, None),
    t(146, "running_stance_time_balance", "%", Avg, None),
    t(160, "swimming_stroke_count", "count", Sum, None),
    t(161, "underwater_depth", "m", Max, None),
    t(180, "cadence", "rpm", Avg, None),
    t(181, "power", "W", Avg, None),
    t(182, "speed", "m/s", Avg, None),
    t(183, "workout_effort_score", "score", Avg, None),
    t(184, "estimated_workout_effort_score", "score", Avg, None),
    t(200, "environmental_audio_exposure", "dBASPL", Avg, None),
    t(201, "headphone_audio_exposure", "dBASPL", Avg, None),
    t(202, "environmental_sound_reduction", "dBASPL", Avg, None),
    t(203, "time_in_daylight", "min", Sum, None),
    t(204, "water_temperature", "degC", Avg, None),
    t(205, "uv_exposure", "count", Max, None),
    t(206, "inhaler_usage", "count", Sum, None),
    t(207, "weather_temperature", "degC", Avg, None),
    t(208, "weather_humidity", "%", Avg, None),
    t(209, "elevation", "m", Avg, None),
    t(210, "latitude", "deg", Last, None),
    t(211, "longitude", "deg", Last, None),
    t(212, "air_temperature", "degC", Avg, None),
    t(220, "garmin_stress_level", "score", Avg, None),
    t(221, "garmin_skin_temperature", "degC", Avg, None),
    t(222, "garmin_fitness_age", "years", Last, None),
    t(223, "garmin_body_battery", "%", Avg, None),
    t(500, "electrodermal_activity", "count", Avg, None),
    t(501, "push_count", "count", Sum, Some("96502-0")),
    t(502, "atrial_fibrillation_burden", "count", Last, None),
    t(503, "insulin_delivery", "count", Sum, None),
    t(504, "number_of_times_fallen", "count", Sum, None),
    t(505, "number_of_alcoholic_beverages", "count", Sum, None),
    t(506, "nike_fuel", "count", Sum, None),
    t(507, "hydration", "mL", Sum, None),
    // Health Connect's mobile push (health_connect.rs).
    t(600, "dietary_energy", "kcal", Sum, None),
    t(601, "dietary_protein", "g", Sum, None),
    t(602, "dietary_carbohydrates", "g", Sum, None),
    t(603, "dietary_fat_total", "g", Sum, None),
    t(604, "dietary_sugar", "g", Sum, None),
    t(605, "dietary_fiber", "g", Sum, None),
    t(606, "dietary_sodium", "mg", Sum, None),
    t(607, "dietary_caffeine", "mg", Sum, None),
];

/// Every workout type.
pub const WORKOUT_TYPES: &[&str] = &[
    "running",
    "trail_running",
    "treadmill",
    "walking",
    "hiking",
    "mountaineering",
    "cycling",
    "mountain_biking",
    "indoor_cycling",
    "cyclocross",
    "swimming",
    "pool_swimming",
    "open_water_swimming",
    "strength_training",
    "cardio_training",
    "fitness_equipment",
    "elliptical",
    "rowing_machine",
    "stair_climbing",
    "yoga",
    "pilates",
    "stretching",
    "meditation",
    "cross_country_skiing",
    "alpine_skiing",
    "backcountry_skiing",
    "downhill_skiing",
    "snowboarding",
    "snowshoeing",
    "ice_skating",
    "snowmobiling",
    "winter_sports",
    "snow_sports",
    "rowing",
    "kayaking",
    "canoeing",
    "paddling",
    "stand_up_paddleboarding",
    "surfing",
    "kitesurfing",
    "windsurfing",
    "sailing",
    "water_polo",
    "wakeboarding",
    "water_skiing",
    "boating",
    "water_sports",
    "soccer",
    "basketball",
    "football",
    "american_football",
    "baseball",
    "tennis",
    "badminton",
    "volleyball",
    "handball",
    "rugby",
    "hockey",
    "floorball",
    "lacrosse",
    "cricket",
    "squash",
    "table_tennis",
    "padel",
    "pickleball",
    "racquetball",
    "racket_sports",
    "boxing",
    "martial_arts",
    "wrestling",
    "fencing",
    "rock_climbing",
    "indoor_climbing",
    "bouldering",
    "trail_hiking",
    "orienteering",
    "archery",
    "fishing",
    "hunting",
    "paragliding",
    "parkour",
    "golf",
    "skating",
    "inline_skating",
    "skateboarding",
    "horseback_riding",
    "gymnastics",
    "bowling",
    "curling",
    "disc_sports",
    "triathlon",
    "multisport",
    "motorcycling",
    "motor_sports",
    "dance",
    "aerobics",
    "group_exercise",
    "e_biking",
    "virtual_activity",
    "diving",
    "snorkeling",
    "walking_fitness",
    "casual_walking",
    "transition",
    "team_sports",
    "para_sports",
    "play",
    "wheelchair",
    "recovery",
    "gaming",
    "chores",
    "lifestyle",
    "work",
    "operations",
    "generic",
    "other",
    "sport",
];

/// Sleep stages, in the order owl reports them.
pub const SLEEP_STAGES: &[&str] = &["in_bed", "asleep", "awake", "light", "deep", "rem"];

/// The series type named `code`.
pub fn series_type(code: &str) -> Option<&'static SeriesType> {
    SERIES_TYPES.iter().find(|t| t.code == code)
}

/// The series type with stable id `id`.
pub fn series_type_by_id(id: i32) -> Option<&'static SeriesType> {
    SERIES_TYPES.iter().find(|t| t.id == id)
}

/// Whether `code` is a known workout type.
pub fn is_workout_type(code: &str) -> bool {
    WORKOUT_TYPES.contains(&code)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::domain::health::units::to_canonical;

    #[test]
    fn ids_and_codes_are_unique_and_every_unit_is_known() {
        assert!(SERIES_TYPES.len() >= 93);
        assert!(WORKOUT_TYPES.len() >= 117);
        let ids: HashSet<_> = SERIES_TYPES.iter().map(|t| t.id).collect();
        let codes: HashSet<_> = SERIES_TYPES.iter().map(|t| t.code).collect();
        assert_eq!(
            (ids.len(), codes.len()),
            (SERIES_TYPES.len(), SERIES_TYPES.len())
        );
        assert_eq!(
            WORKOUT_TYPES.iter().collect::<HashSet<_>>().len(),
            WORKOUT_TYPES.len()
        );
        for t in SERIES_TYPES {
            assert!(
                to_canonical(t.unit, t.unit).is_some(),
                "{} has an unknown unit {}",
                t.code,
                t.unit
            );
        }
    }

    #[test]
    fn well_known_types_have_their_loinc_codes() {
        assert_eq!(
            series_type("heart_rate").and_then(|t| t.loinc),
            Some("8867-4")
        );
        assert_eq!(
            series_type("steps").map(|t| (t.unit, t.aggregation)),
            Some(("count", Sum))
        );
        assert_eq!(series_type("weight").map(|t| t.aggregation), Some(Last));
        assert_eq!(series_type_by_id(1).map(|t| t.code), Some("heart_rate"));
    }
}
