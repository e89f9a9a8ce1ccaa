//! Google Health API `exerciseType` values (UPPER_SNAKE) mapped to owl's workout types.
//!
//! The value list is the one Open Wearables maps (`constants/workout_types/google.py`, 173
//! values, including its spelling `PICKELBALL`); the owl codes chosen for them are owl's own.
//! Values are trimmed and upper-cased first; anything not listed is `other`.

/// owl's workout type of a Google `exerciseType`; unknown types are `other`.
pub fn workout_type(exercise_type: &str) -> &'static str {
    match exercise_type.trim().to_ascii_uppercase().as_str() {
        "RUNNING" | "INCLINE_RUN" | "TRACK_AND_FIELD" => "running",
        "TRAIL_RUN" => "trail_running",
        "TREADMILL" => "treadmill",
        "WALKING" | "INCLINE_WALK" | "NORDIC_WALKING" | "STROLLER_WALK" | "TREADMILL_WALK"
        | "POWER_WALKING" | "WALK_WITH_WEIGHTS" => "walking",
        "HIKING" | "RUCKING" | "BACKPACKING" => "hiking",
        "BIKING" | "OUTDOOR_BIKE" | "HAND_CYCLING" | "UNICYCLING" => "cycling",
        "MOUNTAIN_BIKE" => "mountain_biking",
        "STATIONARY_BIKE" | "ASSAULT_BIKE" | "SPINNING" => "indoor_cycling",
        "ELECTRIC_BIKE" => "e_biking",
        "SWIMMING" | "SYNCHRONIZED_SWIMMING" => "swimming",
        "SWIMMING_POOL" => "pool_swimming",
        "SWIMMING_OPEN_WATER" => "open_water_swimming",
        "ROWING" => "rowing",
        "ROWING_MACHINE" => "rowing_machine",
        "KAYAKING" => "kayaking",
        "CANOEING" => "canoeing",
        "PADDLEBOARDING" => "stand_up_paddleboarding",
        "SURFING" => "surfing",
        "FOILING" | "KITESURFING" => "kitesurfing",
        "WINDSURFING" => "windsurfing",
        "SAILING" => "sailing",
        "WAKEBOARDING" => "wakeboarding",
        "WATER_SKIING" => "water_skiing",
        "WATER_POLO" => "water_polo",
        "WATER_JOGGING" | "WATER_VOLLEYBALL" | "WATER_SPORT" => "water_sports",
        "STRENGTH_TRAINING"
        | "FUNCTIONAL_STRENGTH_TRAINING"
        | "CORE_TRAINING"
        | "BODY_WEIGHT"
        | "CALISTHENICS"
        | "POWERLIFTING"
        | "WEIGHTLIFTING"
        | "FREE_WEIGHTS"
        | "WEIGHTS"
        | "WEIGHT_MACHINES"
        | "RESISTANCE_BANDS"
        | "TRX"
        | "CROSSFIT" => "strength_training",
        "ELLIPTICAL" => "elliptical",
        "STAIRCLIMBER" | "STEP_TRAINING" => "stair_climbing",
        "JUMPING_ROPE" | "CARDIO_WORKOUT" | "CARDIO_SCULPT" | "HIIT" | "TABATA_WORKOUT"
        | "INTERVAL_WORKOUT" | "CIRCUIT_TRAINING" | "CROSS_TRAINING" | "BOOTCAMP" => {
            "cardio_training"
        }
        "AEROBIC_WORKOUT" | "WATER_AEROBICS" => "aerobics",
        "EXERCISE_CLASS" | "BARRE_CLASS" => "group_exercise",
        "FITNESS_GAMING" => "gaming",
        "OUTDOOR_WORKOUT" | "WORKOUT" => "generic",
        "YOGA" | "YOGA_BIKRAM" | "YOGA_HATHA" | "YOGA_POWER" | "YOGA_VINYASA" => "yoga",
        "PILATES" => "pilates",
        "STRETCHING" => "stretching",
        "MEDITATE" => "meditation",
        "SKIING" => "alpine_skiing",
        "CROSS_COUNTRY_SKI" => "cross_country_skiing",
        "SNOWBOARDING" => "snowboarding",
        "SNOWSHOEING" => "snowshoeing",
        "SNOWMOBILING" => "snowmobiling",
        "ICE_SKATING" | "SPEED_SKATING" => "ice_skating",
        "SNOW_SPORT" => "snow_sports",
        "SOCCER" => "soccer",
        "BASKETBALL" => "basketball",
        "BASEBALL" | "SOFTBALL" => "baseball",
        "FOOTBALL_AMERICAN" => "american_football",
        "FOOTBALL_AUSTRALIAN" => "football",
        "VOLLEYBALL" | "VOLLEYBALL_BEACH" => "volleyball",
        "HANDBALL" => "handball",
        "RUGBY" => "rugby",
        "HOCKEY" | "FIELD_HOCKEY" => "hockey",
        "LACROSSE" => "lacrosse",
        "CRICKET" => "cricket",
        "TENNIS" => "tennis",
        "TABLE_TENNIS" => "table_tennis",
        "BADMINTON" => "badminton",
        "SQUASH" => "squash",
        "PADEL" => "padel",
        "PICKELBALL" | "PICKLEBALL" => "pickleball",
        "RACQUETBALL" => "racquetball",
        "RACKET_SPORTS" => "racket_sports",
        "BOXING" | "KICKBOXING" => "boxing",
        "MARTIAL_ARTS" | "JIU_JITSU" | "KARATE" | "TAEKWONDO" | "MUAY_THAI" | "TAI_CHI" => {
            "martial_arts"
        }
        "WRESTLING" => "wrestling",
        "FENCING" => "fencing",
        "CLIMBING" | "ROCK_CLIMBING" => "rock_climbing",
        "INDOOR_CLIMBING" => "indoor_climbing",
        "ORIENTEERING" => "orienteering",
        "ARCHERY" => "archery",
        "FISHING" => "fishing",
        "HUNTING" => "hunting",
        "PARAGLIDING" => "paragliding",
        "PARKOUR" => "parkour",
        "EQUESTRIAN_SPORTS" => "horseback_riding",
        "GOLF" => "golf",
        "SKATING" | "ROLLER_SKATING" => "skating",
        "ROLLERBLADING" => "inline_skating",
        "SKATEBOARDING" => "skateboarding",
        "GYMNASTICS" | "TRAMPOLINE" | "CHEERLEADING" => "gymnastics",
        "BOWLING" => "bowling",
        "CURLING" => "curling",
        "FRISBEE_PLAYING_GENERAL" | "ULTIMATE_FRISBEE" => "disc_sports",
        "SPORT" => "sport",
        "MULTISPORT" => "multisport",
        "DANCING" | "BALLET" | "BALLROOM_DANCE" | "BREAKDANCING" | "HIP_HOP" | "JAZZ_DANCE"
        | "MODERN_DANCE" | "TANGO" | "ZUMBA" => "dance",
        "MOTORCYCLE" | "MOTOCROSS" => "motorcycling",
        "DIVING" | "SCUBA_DIVING" => "diving",
        "SNORKELING" => "snorkeling",
        "WHEELCHAIR" => "wheelchair",
        "CLEANING" | "HOUSEHOLD_CHORES" | "GARDENING" | "MOWING_LAWN" | "SHOVELING" | "WEEDING"
        | "HOEING" | "CARPENTRY" => "chores",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::health::catalog::is_workout_type;

    /// Every value of the list, so that a typo in a mapped code shows.
    #[rustfmt::skip]
    const VALUES: &[&str] = &[
        "RUNNING", "TRAIL_RUN", "INCLINE_RUN", "TREADMILL", "WALKING", "INCLINE_WALK",
        "NORDIC_WALKING", "STROLLER_WALK", "TREADMILL_WALK", "POWER_WALKING", "WALK_WITH_WEIGHTS",
        "RUCKING", "HIKING", "BACKPACKING", "BIKING", "OUTDOOR_BIKE", "HAND_CYCLING", "UNICYCLING",
        "MOUNTAIN_BIKE", "STATIONARY_BIKE", "ASSAULT_BIKE", "SPINNING", "ELECTRIC_BIKE",
        "SWIMMING", "SWIMMING_POOL", "SWIMMING_OPEN_WATER", "SYNCHRONIZED_SWIMMING", "ROWING",
        "ROWING_MACHINE", "KAYAKING", "CANOEING", "PADDLEBOARDING", "SURFING", "FOILING",
        "KITESURFING", "WINDSURFING", "SAILING", "WAKEBOARDING", "WATER_SKIING", "WATER_POLO",
        "WATER_AEROBICS", "WATER_JOGGING", "WATER_VOLLEYBALL", "WATER_SPORT", "STRENGTH_TRAINING",
        "FUNCTIONAL_STRENGTH_TRAINING", "CORE_TRAINING", "BODY_WEIGHT", "CALISTHENICS",
        "POWERLIFTING", "WEIGHTLIFTING", "FREE_WEIGHTS", "WEIGHTS", "WEIGHT_MACHINES",
        "RESISTANCE_BANDS", "TRX", "CROSSFIT", "ELLIPTICAL", "STAIRCLIMBER", "STEP_TRAINING",
        "JUMPING_ROPE", "AEROBIC_WORKOUT", "CARDIO_WORKOUT", "CARDIO_SCULPT", "HIIT",
        "TABATA_WORKOUT", "INTERVAL_WORKOUT", "CIRCUIT_TRAINING", "CROSS_TRAINING", "BOOTCAMP",
        "FITNESS_GAMING", "EXERCISE_CLASS", "BARRE_CLASS", "OUTDOOR_WORKOUT", "WORKOUT", "YOGA",
        "YOGA_BIKRAM", "YOGA_HATHA", "YOGA_POWER", "YOGA_VINYASA", "PILATES", "STRETCHING",
        "MEDITATE", "TAI_CHI", "SKIING", "CROSS_COUNTRY_SKI", "SNOWBOARDING", "SNOWSHOEING",
        "SNOWMOBILING", "ICE_SKATING", "SPEED_SKATING", "SNOW_SPORT", "SOCCER", "BASKETBALL",
        "BASEBALL", "SOFTBALL", "FOOTBALL_AMERICAN", "FOOTBALL_AUSTRALIAN", "VOLLEYBALL",
        "VOLLEYBALL_BEACH", "HANDBALL", "RUGBY", "HOCKEY", "FIELD_HOCKEY", "LACROSSE", "CRICKET",
        "TENNIS", "TABLE_TENNIS", "BADMINTON", "SQUASH", "PADEL", "PICKELBALL", "RACQUETBALL",
        "RACKET_SPORTS", "BOXING", "KICKBOXING", "MARTIAL_ARTS", "JIU_JITSU", "KARATE",
        "TAEKWONDO", "MUAY_THAI", "WRESTLING", "FENCING", "CLIMBING", "ROCK_CLIMBING",
        "INDOOR_CLIMBING", "ORIENTEERING", "ARCHERY", "FISHING", "HUNTING", "PARAGLIDING",
        "PARKOUR", "EQUESTRIAN_SPORTS", "GOLF", "SKATING", "ROLLER_SKATING", "ROLLERBLADING",
        "SKATEBOARDING", "GYMNASTICS", "TRAMPOLINE", "CHEERLEADING", "BOWLING", "CURLING",
        "FRISBEE_PLAYING_GENERAL", "ULTIMATE_FRISBEE", "TRACK_AND_FIELD", "SPORT", "MULTISPORT",
        "DANCING", "BALLET", "BALLROOM_DANCE", "BREAKDANCING", "HIP_HOP", "JAZZ_DANCE",
        "MODERN_DANCE", "TANGO", "ZUMBA", "MOTORCYCLE", "MOTOCROSS", "DIVING", "SCUBA_DIVING",
        "SNORKELING", "WHEELCHAIR", "CLEANING", "HOUSEHOLD_CHORES", "GARDENING", "MOWING_LAWN",
        "SHOVELING", "WEEDING", "HOEING", "CARPENTRY",
    ];

    #[test]
    fn every_listed_exercise_type_maps_to_a_known_owl_workout_type_other_than_other() {
        for value in VALUES {
            let code = workout_type(value);
            assert!(is_workout_type(code), "{value} → {code}");
            assert_ne!(code, "other", "{value} is listed, so it is mapped");
        }
    }

    #[test]
    fn exercise_types_are_read_in_any_case_and_unknown_ones_are_other() {
        assert_eq!(workout_type(" trail_run "), "trail_running");
        assert_eq!(workout_type("SWIMMING_OPEN_WATER"), "open_water_swimming");
        assert_eq!(workout_type("OTHER"), "other");
        assert_eq!(workout_type("EXERCISE_TYPE_UNSPECIFIED"), "other");
        assert_eq!(workout_type("UNDERWATER_BASKET_WEAVING"), "other");
    }
}
