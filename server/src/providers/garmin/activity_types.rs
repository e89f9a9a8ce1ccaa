//! Garmin's `activityType` values (UPPER_SNAKE, Health API specification appendix A as Open
//! Wearables lists it) mapped to owl's workout types.

/// owl's workout type of a Garmin `activityType` (trimmed, any case); unknown types are `other`.
pub fn workout_type(activity_type: &str) -> &'static str {
    let upper = activity_type.trim().to_ascii_uppercase();
    // Water sports and transitions come plain and with a `_V2` suffix.
    let key = upper.strip_suffix("_V2").unwrap_or(&upper);
    match key {
        "RUNNING"
        | "OBSTACLE_RUN"
        | "STREET_RUNNING"
        | "TRACK_RUNNING"
        | "ULTRA_RUN"
        | "VIRTUAL_RUN"
        | "WHEELCHAIR_PUSH_RUN" => "running",
        "INDOOR_RUNNING" | "TREADMILL_RUNNING" => "treadmill",
        "TRAIL_RUNNING" => "trail_running",
        "CYCLING" | "BMX" | "GRAVEL_CYCLING" | "RECUMBENT_CYCLING" | "ROAD_BIKING"
        | "TRACK_CYCLING" | "HANDCYCLING" => "cycling",
        "CYCLOCROSS" => "cyclocross",
        "DOWNHILL_BIKING" | "ENDURO_MTB" | "MOUNTAIN_BIKING" => "mountain_biking",
        "E_BIKE_FITNESS" | "E_BIKE_MOUNTAIN" | "E_ENDURO_MTB" => "e_biking",
        "INDOOR_CYCLING" | "VIRTUAL_RIDE" | "INDOOR_HANDCYCLING" => "indoor_cycling",
        "FITNESS_EQUIPMENT" => "fitness_equipment",
        "BOULDERING" | "INDOOR_CLIMBING" => "indoor_climbing",
        "ELLIPTICAL" => "elliptical",
        "INDOOR_CARDIO" | "HIIT" | "JUMP_ROPE" => "cardio_training",
        "INDOOR_ROWING" => "rowing_machine",
        "MOBILITY" => "stretching",
        "MEDITATION" | "BREATHWORK" => "meditation",
        "PILATES" => "pilates",
        "STAIR_CLIMBING" | "FLOOR_CLIMBING" => "stair_climbing",
        "STRENGTH_TRAINING" => "strength_training",
        "YOGA" => "yoga",
        "SWIMMING" => "swimming",
        "LAP_SWIMMING" => "pool_swimming",
        "OPEN_WATER_SWIMMING" => "open_water_swimming",
        "WALKING" | "CASUAL_WALKING" | "SPEED_WALKING" | "WHEELCHAIR_PUSH_WALK" => "walking",
        "HIKING" | "RUCKING" => "hiking",
        "MOUNTAINEERING" => "mountaineering",
        "WINTER_SPORTS" => "winter_sports",
        "BACKCOUNTRY_SNOWBOARDING" | "SNOWBOARDING_WS" => "snowboarding",
        "BACKCOUNTRY_SKIING" => "backcountry_skiing",
        "CROSS_COUNTRY_SKIING_WS" | "SKATE_SKIING_WS" => "cross_country_skiing",
        "RESORT_SKIING" | "RESORT_SKIING_SNOWBOARDING_WS" => "alpine_skiing",
        "SKATING_WS" => "ice_skating",
        "SNOW_SHOE_WS" => "snowshoeing",
        "SNOWMOBILING_WS" => "snowmobiling",
        "BOATING" => "boating",
        "FISHING" => "fishing",
        "KAYAKING" => "kayaking",
        "KITEBOARDING" => "kitesurfing",
        "OFFSHORE_GRINDING" | "ONSHORE_GRINDING" | "SAILING" => "sailing",
        "PADDLING" | "WHITEWATER_RAFTING" => "paddling",
        "ROWING" => "rowing",
        "STAND_UP_PADDLEBOARDING" => "stand_up_paddleboarding",
        "SURFING" => "surfing",
        "WAKEBOARDING" => "wakeboarding",
        "WINDSURFING" => "windsurfing",
        "WATERSKIING" => "water_skiing",
        "WATER_SPORTS" => "water_sports",
        "SNORKELING" => "snorkeling",
        "TRANSITION"
        | "BIKE_TO_RUN_TRANSITION"
        | "RUN_TO_BIKE_TRANSITION"
        | "SWIM_TO_BIKE_TRANSITION" => "transition",
        "TEAM_SPORTS" => "team_sports",
        "AMERICAN_FOOTBALL" => "american_football",
        "BASEBALL" | "SOFTBALL" => "baseball",
        "BASKETBALL" => "basketball",
        "CRICKET" => "cricket",
        "FIELD_HOCKEY" | "ICE_HOCKEY" => "hockey",
        "LACROSSE" => "lacrosse",
        "RUGBY" => "rugby",
        "SOCCER" => "soccer",
        "ULTIMATE_DISC" | "DISC_GOLF" => "disc_sports",
        "VOLLEYBALL" => "volleyball",
        "RACKET_SPORTS" | "PLATFORM_TENNIS" => "racket_sports",
        "BADMINTON" => "badminton",
        "PADDELBALL" => "padel",
        "PICKLEBALL" => "pickleball",
        "RACQUETBALL" => "racquetball",
        "SQUASH" => "squash",
        "TABLE_TENNIS" => "table_tennis",
        "TENNIS" => "tennis",
        "BOXING" => "boxing",
        "MIXED_MARTIAL_ARTS" => "martial_arts",
        "DANCE" => "dance",
        "GOLF" => "golf",
        "INLINE_SKATING" => "inline_skating",
        "ROCK_CLIMBING" => "rock_climbing",
        "PARA_SPORTS" => "para_sports",
        "MULTI_SPORT" | "MULTISPORT" => "multisport",
        "OTHER" | "STOP_WATCH" => "generic",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::health::catalog::is_workout_type;

    #[test]
    fn every_garmin_activity_type_maps_to_an_owl_workout_type() {
        for t in [
            "RUNNING",
            "INDOOR_RUNNING",
            "TRAIL_RUNNING",
            "VIRTUAL_RUN",
            "CYCLING",
            "CYCLOCROSS",
            "ENDURO_MTB",
            "E_BIKE_FITNESS",
            "VIRTUAL_RIDE",
            "FITNESS_EQUIPMENT",
            "BOULDERING",
            "HIIT",
            "INDOOR_ROWING",
            "MOBILITY",
            "MEDITATION",
            "PILATES",
            "STAIR_CLIMBING",
            "STRENGTH_TRAINING",
            "YOGA",
            "SWIMMING",
            "LAP_SWIMMING",
            "OPEN_WATER_SWIMMING",
            "WALKING",
            "HIKING",
            "RUCKING",
            "WINTER_SPORTS",
            "BACKCOUNTRY_SKIING",
            "RESORT_SKIING",
            "SKATING_WS",
            "SNOW_SHOE_WS",
            "SNOWMOBILING_WS",
            "BOATING_V2",
            "KITEBOARDING",
            "PADDLING_V2",
            "SURFING",
            "WATERSKIING",
            "SNORKELING",
            "TRANSITION_V2",
            "SWIM_TO_BIKE_TRANSITION",
            "TEAM_SPORTS",
            "ICE_HOCKEY",
            "ULTIMATE_DISC",
            "PADDELBALL",
            "PICKLEBALL",
            "TENNIS_V2",
            "MIXED_MARTIAL_ARTS",
            "DANCE",
            "DISC_GOLF",
            "GOLF",
            "INLINE_SKATING",
            "JUMP_ROPE",
            "MOUNTAINEERING",
            "ROCK_CLIMBING",
            "STOP_WATCH",
            "PARA_SPORTS",
            "WHEELCHAIR_PUSH_WALK",
            "OTHER",
        ] {
            let code = workout_type(t);
            assert!(is_workout_type(code), "{t} → {code}");
            assert_ne!(code, "other", "{t} is mapped");
        }
        assert_eq!(workout_type(" trail_running "), "trail_running");
        assert_eq!(workout_type("TENNIS_V2"), "tennis");
        assert_eq!(workout_type("UNDERWATER_BASKET_WEAVING"), "other");
    }
}
