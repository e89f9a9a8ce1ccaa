//! SummaryService through the SDK: activity, sleep, body and recovery per local day from the
//! merged view.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{TimeZone, Utc};
use common::{TestServer, assert_error, violated_fields};
use owl::pb;
use prost_types::Timestamp;

const MINUTE: i64 = 60_000;

fn watch() -> Option<pb::SourceDescriptor> {
    Some(pb::SourceDescriptor {
        provider: "apple_health".into(),
        device_model: String::new(),
        device_type: pb::DeviceType::Watch as i32,
        ..Default::default()
    })
}

fn phone() -> Option<pb::SourceDescriptor> {
    Some(pb::SourceDescriptor {
        provider: "apple_health".into(),
        device_model: String::new(),
        device_type: pb::DeviceType::Phone as i32,
        ..Default::default()
    })
}

fn series(
    source: Option<pb::SourceDescriptor>,
    code: &str,
    times: Vec<i64>,
    values: Vec<f64>,
) -> pb::SampleBatch {
    pb::SampleBatch {
        source,
        series_type: code.into(),
        unit: String::new(),
        zone_offsets: vec![3600; times.len()],
        times,
        values,
        durations: vec![],
    }
}

#[tokio::test]
async fn a_day_summarises_merged_activity_sleep_body_and_recovery() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    // 2026-11-20 at +01:00: local 10:00 is 09:00 UTC.
    let morning = Utc
        .with_ymd_and_hms(2026, 11, 20, 9, 0, 0)
        .unwrap()
        .timestamp_millis();
    let minutes = |from: i64, to: i64| (from..to).map(|m| morning + m * MINUTE).collect::<Vec<_>>();
    let batches = vec![
        series(watch(), "steps", minutes(0, 60), vec![10.0; 60]),
        series(phone(), "steps", minutes(30, 90), vec![7.0; 60]),
        series(
            watch(),
            "heart_rate",
            minutes(0, 3),
            vec![60.0, 90.0, 120.0],
        ),
        series(watch(), "energy", minutes(0, 2), vec![100.0, 50.0]),
        series(watch(), "basal_energy", minutes(0, 1), vec![1500.0]),
        series(
            watch(),
            "resting_heart_rate",
            minutes(0, 2),
            vec![50.0, 54.0],
        ),
        series(
            watch(),
            "heart_rate_variability_sdnn",
            minutes(0, 1),
            vec![61.0],
        ),
        // Weighed two days before: carried forward; weighed again the next day.
        series(
            phone(),
            "weight",
            vec![morning - 2 * 86_400_000, morning + 86_400_000],
            vec![72.5, 71.9],
        ),
    ];
    backend
        .write_samples(pb::WriteSamplesRequest {
            parent: user.name.clone(),
            batches,
        })
        .await
        .unwrap();
    // The night before: 23:00 to 07:00 local, with stages.
    let night_start = Utc
        .with_ymd_and_hms(2026, 11, 19, 22, 0, 0)
        .unwrap()
        .timestamp();
    let at = |minutes: i64| {
        Some(Timestamp {
            seconds: night_start + minutes * 60,
            nanos: 0,
        })
    };
    let stage = |s: pb::SleepStage, from: i64, to: i64| pb::SleepStageInterval {
        stage: s as i32,
        start_time: at(from),
        end_time: at(to),
    };
    let night = pb::SleepSession {
        start_time: at(0),
        end_time: at(480),
        zone_offset: 3600,
        stages: vec![
            stage(pb::SleepStage::InBed, 0, 20),
            stage(pb::SleepStage::Light, 20, 240),
            stage(pb::SleepStage::Deep, 240, 330),
            stage(pb::SleepStage::Rem, 330, 460),
            stage(pb::SleepStage::Awake, 460, 480),
        ],
        ..Default::default()
    };
    let nap = pb::SleepSession {
        start_time: at(900),
        end_time: at(930),
        zone_offset: 3600,
        nap: true,
        ..Default::default()
    };
    backend
        .write_sleep_sessions(pb::WriteSleepSessionsRequest {
            parent: user.name.clone(),
            source: watch(),
            sleep_sessions: vec![night, nap],
        })
        .await
        .unwrap();

    let response = backend
        .list_daily_summaries(pb::ListDailySummariesRequest {
            parent: user.name.clone(),
            start_date: "2026-11-19".into(),
            end_date: "2026-11-21".into(),
        })
        .await
        .unwrap();
    let dates: Vec<&str> = response
        .daily_summaries
        .iter()
        .map(|d| d.date.as_str())
        .collect();
    assert_eq!(
        dates,
        ["2026-11-20", "2026-11-21"],
        "the 19th holds only a weight carried forward: no data, left out"
    );
    let day = &response.daily_summaries[0];
    let activity = day.activity.as_ref().unwrap();
    assert_eq!(
        activity.steps,
        Some(600.0 + 210.0),
        "the watch wins the overlap, the phone fills the gap"
    );
    assert_eq!(
        (
            activity.heart_rate_min,
            activity.heart_rate_avg,
            activity.heart_rate_max
        ),
        (Some(60.0), Some(90.0), Some(120.0))
    );
    assert_eq!(
        (activity.active_energy_kcal, activity.total_energy_kcal),
        (Some(150.0), Some(1650.0))
    );
    let sleep = day.sleep.as_ref().unwrap();
    assert!(
        sleep
            .main_session
            .starts_with(&format!("{}/sleepSessions/", user.name))
    );
    assert_eq!(
        (sleep.in_bed_seconds, sleep.asleep_seconds),
        (Some(480 * 60), Some(440 * 60))
    );
    assert_eq!(
        (
            sleep.light_seconds,
            sleep.deep_seconds,
            sleep.rem_seconds,
            sleep.awake_seconds
        ),
        (220 * 60, 90 * 60, 130 * 60, 20 * 60)
    );
    assert_eq!(sleep.naps, 1);
    // The night's 440 asleep minutes and the 30-minute nap (no stages: asleep throughout).
    assert_eq!(
        (sleep.total_asleep_seconds, sleep.nap_asleep_seconds),
        (Some(470 * 60), Some(30 * 60))
    );
    assert!((sleep.efficiency_percent.unwrap() - 440.0 * 100.0 / 480.0).abs() < 1e-9);
    assert_eq!(day.body.as_ref().unwrap().weight_kg, Some(72.5));
    let recovery = day.recovery.as_ref().unwrap();
    assert_eq!(
        (recovery.resting_heart_rate, recovery.hrv_sdnn_ms),
        (Some(52.0), Some(61.0))
    );
    let weighed = &response.daily_summaries[1];
    assert_eq!(weighed.activity.as_ref().unwrap().steps, None);
    assert!(weighed.sleep.is_none());
    assert_eq!(weighed.body.as_ref().unwrap().weight_kg, Some(71.9));
}

#[tokio::test]
async fn date_ranges_are_validated() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    let request = |start: &str, end: &str| pb::ListDailySummariesRequest {
        parent: user.name.clone(),
        start_date: start.into(),
        end_date: end.into(),
    };
    let error = assert_error(
        backend
            .list_daily_summaries(request("2026-13-01", "yesterday"))
            .await,
        owl::Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["start_date", "end_date"]);
    let error = assert_error(
        backend
            .list_daily_summaries(request("2026-11-20", "2026-11-19"))
            .await,
        owl::Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["end_date"]);
    let error = assert_error(
        backend
            .list_daily_summaries(request("2025-01-01", "2026-11-19"))
            .await,
        owl::Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["end_date"]);
}
