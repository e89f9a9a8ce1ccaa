//! SdkSyncService through the SDK with an SDK token: HealthKit and Health Connect batches
//! (unary and streaming) stored and read back through the time-series and event APIs, bad
//! records rejected by index while the rest is stored, idempotent re-sends, tenancy, and sleep
//! phases arriving piecemeal assembled into one session (in the database, and in Redis when
//! OWL_TEST_REDIS_URL is set).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{TestServer, assert_error};
use owl::{Client, Code, pb};
use prost_types::Timestamp;

/// The harness clock: 2026-11-22 12:00:00 UTC, seconds.
const NOW: i64 = 1_795_348_800;
const HOUR: i64 = 3600;

fn at(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

fn watch() -> pb::HealthSource {
    pb::HealthSource {
        app_id: "com.apple.health.7F3A".into(),
        app_name: "Apple Watch".into(),
        device_name: "Apple Watch".into(),
        device_model: "Watch7,1".into(),
        device_manufacturer: "Apple Inc.".into(),
        device_type: pb::DeviceType::Watch as i32,
        recording_method: pb::RecordingMethod::AutomaticallyRecorded as i32,
    }
}

fn pixel() -> pb::HealthSource {
    pb::HealthSource {
        app_id: "com.google.android.apps.fitness".into(),
        app_name: String::new(),
        device_name: String::new(),
        device_model: "Pixel Watch 2".into(),
        device_manufacturer: "Google".into(),
        device_type: pb::DeviceType::Watch as i32,
        recording_method: pb::RecordingMethod::AutomaticallyRecorded as i32,
    }
}

fn sample(
    id: &str,
    kind: &str,
    unit: &str,
    value: f64,
    start: i64,
    offset: i32,
) -> pb::HealthSample {
    pb::HealthSample {
        record_id: id.into(),
        r#type: kind.into(),
        unit: unit.into(),
        value,
        start_time: at(start),
        end_time: at(start),
        zone_offset: Some(offset),
        ..Default::default()
    }
}

fn segment(id: &str, stage: &str, start: i64, end: i64) -> pb::SleepSegment {
    pb::SleepSegment {
        record_id: id.into(),
        stage: stage.into(),
        start_time: at(start),
        end_time: at(end),
        zone_offset: Some(3600),
        source: None,
    }
}

fn healthkit(samples: Vec<pb::HealthSample>) -> pb::HealthBatch {
    pb::HealthBatch {
        platform: pb::HealthPlatform::Healthkit as i32,
        source: Some(watch()),
        samples,
        ..Default::default()
    }
}

struct Fixture {
    server: TestServer,
    backend: Client,
    phone: Client,
    user: pb::User,
}

async fn fixture_with(vars: &[(&str, &str)]) -> Fixture {
    // Phones' tokens outlive the hours the tests move the clock by.
    let mut vars = vars.to_vec();
    vars.push(("TOKEN_LIFETIME", "86400"));
    let server = TestServer::start_with(&vars).await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "ann").await;
    let token = backend
        .create_sdk_token(pb::CreateSdkTokenRequest {
            user: user.name.clone(),
        })
        .await
        .unwrap();
    let phone = server.client.with_token(token.access_token);
    Fixture {
        server,
        backend,
        phone,
        user,
    }
}

async fn fixture() -> Fixture {
    fixture_with(&[]).await
}

impl Fixture {
    async fn push(&self, batch: pb::HealthBatch) -> Result<pb::HealthBatchResult, owl::Error> {
        self.phone
            .push_health_batch(pb::PushHealthBatchRequest {
                parent: self.user.name.clone(),
                batch: Some(batch),
            })
            .await
            .map(|r| r.result.unwrap())
    }

    async fn series(&self, series_type: &str) -> Vec<pb::SampleSeries> {
        self.phone
            .list_samples(pb::ListSamplesRequest {
                parent: self.user.name.clone(),
                series_types: vec![series_type.into()],
                ..Default::default()
            })
            .await
            .unwrap()
            .series
    }

    async fn sleep_sessions(&self) -> Vec<pb::SleepSession> {
        self.phone
            .list_sleep_sessions(pb::ListSleepSessionsRequest {
                parent: self.user.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .sleep_sessions
    }

    async fn sources(&self) -> Vec<pb::DataSource> {
        self.phone
            .list_data_sources(pb::ListDataSourcesRequest {
                parent: self.user.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .data_sources
    }
}

#[tokio::test]
async fn a_healthkit_batch_is_stored_in_canonical_units_with_offsets_sources_and_workouts() {
    let f = fixture().await;
    let t = NOW - 6 * HOUR;
    let mut batch = healthkit(vec![
        sample(
            "a1",
            "HKQuantityTypeIdentifierHeartRate",
            "count/min",
            61.0,
            t,
            3600,
        ),
        sample(
            "a2",
            "HKQuantityTypeIdentifierHeartRate",
            "count/min",
            64.0,
            t + 60,
            3600,
        ),
        sample(
            "a3",
            "HKQuantityTypeIdentifierBodyMass",
            "lb",
            154.0,
            t,
            3600,
        ),
        sample(
            "a4",
            "HKQuantityTypeIdentifierBodyTemperature",
            "degF",
            98.6,
            t,
            -18_000,
        ),
        sample(
            "a5",
            "HKQuantityTypeIdentifierStepCount",
            "count",
            420.0,
            t,
            3600,
        ),
    ]);
    batch.workouts.push(pb::HealthWorkout {
        record_id: "w1".into(),
        activity_type: "HKWorkoutActivityTypeRunning".into(),
        start_time: at(t),
        end_time: at(t + 1800),
        zone_offset: Some(3600),
        distance_meters: Some(5000.0),
        active_energy_kcal: Some(400.0),
        // HKWorkout.duration: half an hour less a minute's pause.
        moving_seconds: Some(1740),
        ..Default::default()
    });
    let result = f.push(batch).await.unwrap();
    assert_eq!((result.accepted, result.duplicates), (6, 0));
    assert!(result.rejected.is_empty(), "{:?}", result.rejected);

    let hr = f.series("heart_rate").await;
    assert_eq!(hr.len(), 1);
    assert_eq!(hr[0].values, vec![61.0, 64.0]);
    assert_eq!(hr[0].times, vec![t * 1000, (t + 60) * 1000]);
    assert_eq!(hr[0].zone_offsets, vec![3600, 3600]);
    assert_eq!(hr[0].unit, "bpm");
    let weight = f.series("weight").await;
    assert!(
        (weight[0].values[0] - 69.853_16).abs() < 1e-3,
        "{:?}",
        weight[0].values
    );
    let temperature = f.series("body_temperature").await;
    assert!((temperature[0].values[0] - 37.0).abs() < 1e-9);
    assert_eq!(temperature[0].zone_offsets, vec![-18_000]);
    assert_eq!(f.series("steps").await[0].values, vec![420.0]);

    let sources = f.sources().await;
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].provider, "apple_health");
    assert_eq!(sources[0].device_model, "Watch7,1");
    assert_eq!(sources[0].manufacturer, "Apple Inc.");
    assert_eq!(
        sources[0].recording_method,
        pb::RecordingMethod::AutomaticallyRecorded as i32
    );
    assert_eq!(sources[0].device_type, pb::DeviceType::Watch as i32);
    assert_eq!(sources[0].app_name, "Apple Watch");
    assert_eq!(hr[0].data_source, sources[0].name);

    let workouts = f
        .phone
        .list_workouts(pb::ListWorkoutsRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .workouts;
    assert_eq!(workouts.len(), 1);
    assert_eq!(workouts[0].workout_type, "running");
    assert_eq!(workouts[0].distance_meters, Some(5000.0));
    assert_eq!(workouts[0].moving_seconds, Some(1740));
    assert_eq!(workouts[0].data_source, sources[0].name);
}

fn health_connect_message(parent: &str, start: i64) -> pb::StreamHealthBatchesRequest {
    let hc = |id: &str, kind: &str, field: &str, unit: &str, value: f64, s: i64| pb::HealthSample {
        record_id: id.into(),
        r#type: kind.into(),
        field: field.into(),
        unit: unit.into(),
        value,
        start_time: at(s),
        end_time: at(s + 60),
        zone_offset: Some(7200),
        source: None,
    };
    pb::StreamHealthBatchesRequest {
        parent: parent.into(),
        batch: Some(pb::HealthBatch {
            platform: pb::HealthPlatform::HealthConnect as i32,
            source: Some(pixel()),
            samples: vec![
                hc("h1", "HeartRateRecord", "", "beatsPerMinute", 72.0, start),
                hc("h2", "WeightRecord", "", "kilograms", 70.5, start),
                hc(
                    "h3",
                    "BloodPressureRecord",
                    "systolic",
                    "millimetersOfMercury",
                    121.0,
                    start,
                ),
                hc(
                    "h3",
                    "BloodPressureRecord",
                    "diastolic",
                    "millimetersOfMercury",
                    79.0,
                    start,
                ),
                hc("h4", "DistanceRecord", "", "kilometers", 1.2, start),
                hc("h5", "OxygenSaturationRecord", "", "percent", 97.0, start),
                hc("h6", "NutritionRecord", "protein", "grams", 30.0, start),
            ],
            workouts: vec![pb::HealthWorkout {
                record_id: "x1".into(),
                activity_type: "EXERCISE_TYPE_BIKING".into(),
                start_time: at(start),
                end_time: at(start + 3600),
                zone_offset: Some(7200),
                ..Default::default()
            }],
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn a_health_connect_stream_is_stored_and_answered_per_message() {
    let f = fixture().await;
    let t = NOW - 10 * HOUR;
    let messages = vec![
        health_connect_message(&f.user.name, t),
        health_connect_message("", t + HOUR),
    ];
    let response = f
        .phone
        .stream_health_batches(futures::stream::iter(messages))
        .await
        .unwrap();
    assert_eq!(response.results.len(), 2);
    for r in &response.results {
        assert_eq!((r.accepted, r.duplicates), (8, 0), "{r:?}");
        assert!(r.rejected.is_empty());
    }
    assert_eq!(response.total.unwrap().accepted, 16);
    let systolic = f.series("blood_pressure_systolic").await;
    assert_eq!(systolic[0].values, vec![121.0, 121.0]);
    assert_eq!(
        f.series("blood_pressure_diastolic").await[0].values,
        vec![79.0, 79.0]
    );
    assert_eq!(
        f.series("distance_walking_running").await[0].values,
        vec![1200.0, 1200.0]
    );
    assert_eq!(
        f.series("oxygen_saturation").await[0].zone_offsets,
        vec![7200, 7200]
    );
    assert_eq!(f.series("dietary_protein").await[0].unit, "g");
    let sources = f.sources().await;
    assert_eq!(sources.len(), 1);
    assert_eq!(
        (
            sources[0].provider.as_str(),
            sources[0].device_model.as_str(),
            sources[0].manufacturer.as_str(),
            sources[0].app_name.as_str()
        ),
        (
            "health_connect",
            "Pixel Watch 2",
            "Google",
            "com.google.android.apps.fitness"
        )
    );
    let workouts = f
        .backend
        .list_workouts(pb::ListWorkoutsRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .workouts;
    assert_eq!(workouts.len(), 2);
    assert!(workouts.iter().all(|w| w.workout_type == "cycling"));
}

#[tokio::test]
async fn bad_records_are_rejected_by_index_and_the_rest_of_the_batch_is_stored() {
    let f = fixture().await;
    let t = NOW - 2 * HOUR;
    let mut end_before_start = sample(
        "e",
        "HKQuantityTypeIdentifierHeartRate",
        "count/min",
        70.0,
        t + 300,
        0,
    );
    end_before_start.end_time = at(t);
    let mut batch = healthkit(vec![
        sample(
            "ok1",
            "HKQuantityTypeIdentifierHeartRate",
            "count/min",
            60.0,
            t,
            0,
        ),
        sample(
            "u",
            "HKQuantityTypeIdentifierFluxCapacitance",
            "count",
            1.0,
            t,
            0,
        ),
        sample(
            "b",
            "HKQuantityTypeIdentifierHeartRate",
            "furlong/fortnight",
            60.0,
            t + 60,
            0,
        ),
        sample(
            "z",
            "HKQuantityTypeIdentifierHeartRate",
            "count/min",
            900.0,
            t + 120,
            0,
        ),
        end_before_start,
        sample(
            "ok2",
            "HKQuantityTypeIdentifierHeartRate",
            "count/min",
            62.0,
            t + 600,
            0,
        ),
        sample(
            "o",
            "HKQuantityTypeIdentifierHeartRate",
            "count/min",
            62.0,
            t + 660,
            90_000,
        ),
        sample(
            "f",
            "HKQuantityTypeIdentifierHeartRate",
            "count/min",
            62.0,
            NOW + 3 * 86_400,
            0,
        ),
    ]);
    batch.workouts.push(pb::HealthWorkout {
        record_id: "w".into(),
        activity_type: "HKWorkoutActivityTypeQuidditch".into(),
        start_time: at(t),
        end_time: at(t + 60),
        ..Default::default()
    });
    batch.workouts.push(pb::HealthWorkout {
        record_id: "w2".into(),
        activity_type: "HKWorkoutActivityTypeRunning".into(),
        start_time: at(t),
        end_time: at(t + 60),
        moving_seconds: Some(61),
        ..Default::default()
    });
    batch.sleep_segments.push(segment(
        "s",
        "HKCategoryValueSleepAnalysisAsleepDeep",
        t + 60,
        t,
    ));
    let result = f.push(batch).await.unwrap();
    assert_eq!(result.accepted, 2);
    let rejected: Vec<(i32, i32, &str, i32)> = result
        .rejected
        .iter()
        .map(|r| (r.kind, r.index, r.field.as_str(), r.reason))
        .collect();
    use pb::RecordKind::{SleepSegment, Workout};
    use pb::RejectReason::*;
    let s = pb::RecordKind::Sample as i32;
    assert_eq!(
        rejected,
        vec![
            (s, 1, "samples[1].type", UnknownType as i32),
            (s, 2, "samples[2].unit", UnknownUnit as i32),
            (s, 3, "samples[3].value", InvalidValue as i32),
            (s, 4, "samples[4].end_time", InvalidTime as i32),
            (s, 6, "samples[6].zone_offset", InvalidZoneOffset as i32),
            (s, 7, "samples[7].start_time", InvalidTime as i32),
            (
                Workout as i32,
                0,
                "workouts[0].activity_type",
                UnknownType as i32
            ),
            (
                Workout as i32,
                1,
                "workouts[1].moving_seconds",
                InvalidValue as i32
            ),
            (
                SleepSegment as i32,
                0,
                "sleep_segments[0].end_time",
                InvalidTime as i32
            ),
        ]
    );
    assert_eq!(result.rejected[0].record_id, "u");
    let hr = f.series("heart_rate").await;
    assert_eq!(hr[0].values, vec![60.0, 62.0]);
}

#[tokio::test]
async fn a_manual_entry_is_a_source_apart_from_the_devices_measurements_and_ranks_after_them() {
    let f = fixture().await;
    let t = NOW - 3 * HOUR;
    let typed = pb::HealthSource {
        recording_method: pb::RecordingMethod::ManualEntry as i32,
        ..watch()
    };
    let mut entered = sample(
        "typed",
        "HKQuantityTypeIdentifierHeartRate",
        "count/min",
        90.0,
        t,
        3600,
    );
    entered.source = Some(typed);
    let mut too_long = sample(
        "long",
        "HKQuantityTypeIdentifierHeartRate",
        "count/min",
        70.0,
        t + 120,
        3600,
    );
    too_long.source = Some(pb::HealthSource {
        device_manufacturer: "m".repeat(65),
        ..watch()
    });
    let batch = healthkit(vec![
        sample(
            "measured",
            "HKQuantityTypeIdentifierHeartRate",
            "count/min",
            60.0,
            t,
            3600,
        ),
        entered,
        too_long,
    ]);
    let result = f.push(batch).await.unwrap();
    assert_eq!(result.accepted, 2);
    let rejected: Vec<(i32, &str, i32)> = result
        .rejected
        .iter()
        .map(|r| (r.index, r.field.as_str(), r.reason))
        .collect();
    assert_eq!(
        rejected,
        [(
            2,
            "samples[2].source",
            pb::RejectReason::InvalidSource as i32
        )],
        "a manufacturer past 64 characters makes the record's source invalid"
    );

    let mut sources = f.sources().await;
    sources.sort_by_key(|s| s.recording_method);
    let fields: Vec<(&str, &str, i32, &str, i32)> = sources
        .iter()
        .map(|s| {
            (
                s.provider.as_str(),
                s.device_model.as_str(),
                s.device_type,
                s.manufacturer.as_str(),
                s.recording_method,
            )
        })
        .collect();
    let watch_type = pb::DeviceType::Watch as i32;
    assert_eq!(
        fields,
        [
            (
                "apple_health",
                "Watch7,1",
                watch_type,
                "Apple Inc.",
                pb::RecordingMethod::AutomaticallyRecorded as i32
            ),
            (
                "apple_health",
                "Watch7,1",
                watch_type,
                "Apple Inc.",
                pb::RecordingMethod::ManualEntry as i32
            ),
        ]
    );
    let raw = f.series("heart_rate").await;
    let by_source = |name: &str| {
        raw.iter()
            .find(|s| s.data_source == name)
            .map(|s| s.values.clone())
    };
    assert_eq!(by_source(&sources[0].name), Some(vec![60.0]));
    assert_eq!(by_source(&sources[1].name), Some(vec![90.0]));

    let merged = f
        .phone
        .list_samples(pb::ListSamplesRequest {
            parent: f.user.name.clone(),
            series_types: vec!["heart_rate".into()],
            view: pb::View::Merged as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .series;
    assert_eq!(
        merged[0].values,
        [60.0],
        "the measurement wins over the entry typed in for the same minute"
    );
}

#[tokio::test]
async fn resending_a_batch_adds_nothing() {
    let f = fixture().await;
    let t = NOW - 20 * HOUR;
    let mut batch = healthkit(
        (0..50)
            .map(|i| {
                sample(
                    &format!("r{i}"),
                    "HKQuantityTypeIdentifierHeartRate",
                    "count/min",
                    60.0 + i as f64,
                    t + i * 60,
                    0,
                )
            })
            .collect(),
    );
    batch.workouts.push(pb::HealthWorkout {
        record_id: "w".into(),
        activity_type: "HKWorkoutActivityTypeWalking".into(),
        start_time: at(t),
        end_time: at(t + 1200),
        ..Default::default()
    });
    // An old night, closed into a session once the source was quiet for the gap.
    batch.sleep_segments = vec![
        segment("s1", "HKCategoryValueSleepAnalysisAsleepCore", t, t + HOUR),
        segment(
            "s2",
            "HKCategoryValueSleepAnalysisAsleepDeep",
            t + HOUR,
            t + 2 * HOUR,
        ),
    ];
    let first = f.push(batch.clone()).await.unwrap();
    assert_eq!(
        (
            first.accepted,
            first.duplicates,
            first.sleep_sessions_closed
        ),
        (53, 0, 0)
    );
    f.server.clock.advance(chrono::Duration::minutes(121));
    run_close_job(&f.server, true, 1).await;
    let again = f.push(batch).await.unwrap();
    assert_eq!(
        (
            again.accepted,
            again.duplicates,
            again.sleep_sessions_closed
        ),
        (0, 53, 0)
    );
    assert_eq!(f.series("heart_rate").await[0].values.len(), 50);
    assert_eq!(f.sleep_sessions().await.len(), 1);
    let workouts = f
        .phone
        .list_workouts(pb::ListWorkoutsRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(workouts.workouts.len(), 1);
}

#[tokio::test]
async fn an_sdk_token_pushes_only_for_its_own_user_and_a_batch_needs_a_platform() {
    let f = fixture().await;
    let bob = f.server.user(&f.backend, "bob").await;
    let batch = healthkit(vec![sample(
        "a",
        "HKQuantityTypeIdentifierHeartRate",
        "count/min",
        60.0,
        NOW - HOUR,
        0,
    )]);
    assert_error(
        f.phone
            .push_health_batch(pb::PushHealthBatchRequest {
                parent: bob.name.clone(),
                batch: Some(batch.clone()),
            })
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    // The application's backend may relay a phone's batch for any of its users.
    let relayed = f
        .backend
        .push_health_batch(pb::PushHealthBatchRequest {
            parent: bob.name.clone(),
            batch: Some(batch.clone()),
        })
        .await
        .unwrap();
    assert_eq!(relayed.result.unwrap().accepted, 1);
    assert!(
        f.series("heart_rate").await.is_empty(),
        "nothing reached ann"
    );
    let mut unspecified = batch;
    unspecified.platform = 0;
    let error = assert_error(
        f.push(unspecified).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(common::violated_fields(&error), vec!["batch.platform"]);
    assert_error(
        f.server
            .client
            .push_health_batch(pb::PushHealthBatchRequest {
                parent: f.user.name.clone(),
                batch: None,
            })
            .await,
        Code::Unauthenticated,
        "MISSING_CREDENTIALS",
    );
}

/// The database buffer, and Redis when OWL_TEST_REDIS_URL is set (own key prefix per test).
fn buffers() -> Vec<Vec<(&'static str, String)>> {
    let mut all = vec![vec![]];
    if let Some(url) = std::env::var("OWL_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let prefix = format!("owl-test-{}:", uuid::Uuid::now_v7().simple());
        all.push(vec![("REDIS_URL", url), ("OWL_REDIS_KEY_PREFIX", prefix)]);
    }
    all
}

/// Runs the sleep close job as a worker would: enqueued by the scheduler's tick when `tick`,
/// else enqueued again directly (a later slot); delivered `times` times.
async fn run_close_job(server: &TestServer, tick: bool, times: usize) {
    if tick {
        let tick = server
            .jobs
            .scheduler("test")
            .tick(owl_server::jobs::queue::now_ms())
            .await
            .unwrap();
        assert!(tick.claimed);
    } else {
        server
            .jobs
            .queue
            .enqueue(owl_server::jobs::sleep::sleep_close_job())
            .await
            .unwrap();
    }
    let registry = server.jobs.registry();
    let jobs = server
        .jobs
        .queue
        .reserve("test", 10, Duration::ZERO)
        .await
        .unwrap();
    let job = jobs
        .iter()
        .find(|j| j.kind == owl_server::jobs::sleep::SLEEP_CLOSE_KIND)
        .expect("a sleep close job was enqueued");
    for _ in 0..times {
        registry
            .get(&job.kind)
            .unwrap()
            .handle(job, false)
            .await
            .unwrap();
    }
    server.jobs.queue.ack(job).await.unwrap();
}

#[tokio::test]
async fn sleep_phases_arriving_piecemeal_are_closed_into_one_session_once_quiet() {
    for vars in buffers() {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut vars = vars;
        vars.push(("SLEEP_END_GAP_MINUTES", "60"));
        let f = fixture_with(&vars).await;
        let night = NOW - 8 * HOUR; // 04:00 UTC; the night ends 20 minutes before the clock's now.
        let pieces = [
            vec![
                segment(
                    "p1",
                    "HKCategoryValueSleepAnalysisInBed",
                    night,
                    night + 600,
                ),
                segment(
                    "p2",
                    "HKCategoryValueSleepAnalysisAsleepCore",
                    night + 600,
                    night + 2 * HOUR,
                ),
            ],
            vec![segment(
                "p3",
                "HKCategoryValueSleepAnalysisAsleepDeep",
                night + 2 * HOUR,
                night + 4 * HOUR,
            )],
            vec![
                segment(
                    "p4",
                    "HKCategoryValueSleepAnalysisAsleepREM",
                    night + 4 * HOUR,
                    night + 6 * HOUR,
                ),
                segment(
                    "p5",
                    "HKCategoryValueSleepAnalysisAsleepCore",
                    night + 6 * HOUR,
                    night + 7 * HOUR + 2400,
                ),
                // Sent twice in one batch.
                segment(
                    "p5",
                    "HKCategoryValueSleepAnalysisAsleepCore",
                    night + 6 * HOUR,
                    night + 7 * HOUR + 2400,
                ),
            ],
        ];
        for piece in pieces {
            let result = f
                .push(pb::HealthBatch {
                    platform: pb::HealthPlatform::Healthkit as i32,
                    source: Some(watch()),
                    sleep_segments: piece,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(result.sleep_sessions_closed, 0, "{vars:?}");
            assert!(result.rejected.is_empty());
        }
        assert!(f.sleep_sessions().await.is_empty(), "still open: {vars:?}");

        // An hour of quiet later, the scheduled job closes it; a redelivery changes nothing.
        f.server.clock.advance(chrono::Duration::minutes(61));
        run_close_job(&f.server, true, 2).await;
        let sessions = f.sleep_sessions().await;
        assert_eq!(sessions.len(), 1, "{vars:?}");
        let s = &sessions[0];
        assert_eq!(
            (s.start_time, s.end_time),
            (at(night), at(night + 7 * HOUR + 2400))
        );
        assert_eq!(s.zone_offset, 3600);
        let stages: Vec<i32> = s.stages.iter().map(|i| i.stage).collect();
        use pb::SleepStage::*;
        assert_eq!(
            stages,
            vec![
                InBed as i32,
                Light as i32,
                Deep as i32,
                Rem as i32,
                Light as i32
            ]
        );
        // 10 of 460 minutes in bed awake.
        assert_eq!(s.efficiency_percent, Some(97.8));

        // A late duplicate phase adds nothing; a late phase right after the end extends the
        // session once its own quiet passed, replacing it.
        let late = |segments| pb::HealthBatch {
            platform: pb::HealthPlatform::Healthkit as i32,
            source: Some(watch()),
            sleep_segments: segments,
            ..Default::default()
        };
        let duplicate = f
            .push(late(vec![segment(
                "p3",
                "HKCategoryValueSleepAnalysisAsleepDeep",
                night + 2 * HOUR,
                night + 4 * HOUR,
            )]))
            .await
            .unwrap();
        assert_eq!((duplicate.accepted, duplicate.duplicates), (0, 1));
        let end = night + 7 * HOUR + 2400;
        let extension = f
            .push(late(vec![segment(
                "p6",
                "HKCategoryValueSleepAnalysisAwake",
                end,
                end + 900,
            )]))
            .await
            .unwrap();
        assert_eq!(
            (extension.accepted, extension.sleep_sessions_closed),
            (1, 0)
        );
        f.server.clock.advance(chrono::Duration::minutes(61));
        run_close_job(&f.server, false, 1).await;
        let sessions = f.sleep_sessions().await;
        assert_eq!(sessions.len(), 1, "replaced, not added: {vars:?}");
        assert_eq!(sessions[0].end_time, at(end + 900));
        assert_eq!(sessions[0].stages.len(), 6);
        assert_eq!(sessions[0].stages[5].stage, Awake as i32);
    }
}

#[tokio::test]
async fn health_connect_sleep_stages_close_when_the_source_is_quiet_for_the_default_gap() {
    let f = fixture().await;
    let night = NOW - 30 * HOUR;
    let stage = |id: &str, stage: &str, from: i64, to: i64| pb::SleepSegment {
        record_id: id.into(),
        stage: stage.into(),
        start_time: at(from),
        end_time: at(to),
        zone_offset: Some(-18_000),
        source: None,
    };
    let result = f
        .push(pb::HealthBatch {
            platform: pb::HealthPlatform::HealthConnect as i32,
            source: Some(pixel()),
            sleep_segments: vec![
                stage("n", "STAGE_TYPE_LIGHT", night, night + HOUR),
                stage("n", "5", night + HOUR, night + 2 * HOUR),
                stage(
                    "n",
                    "STAGE_TYPE_AWAKE",
                    night + 2 * HOUR,
                    night + 2 * HOUR + 300,
                ),
                stage("n", "STAGE_TYPE_WHATEVER", night, night + 60),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((result.accepted, result.sleep_sessions_closed), (3, 0));
    assert_eq!(result.rejected[0].index, 3);
    f.server.clock.advance(chrono::Duration::minutes(119));
    run_close_job(&f.server, true, 1).await;
    assert!(
        f.sleep_sessions().await.is_empty(),
        "SLEEP_END_GAP_MINUTES is 120 by default"
    );
    f.server.clock.advance(chrono::Duration::minutes(2));
    run_close_job(&f.server, false, 1).await;
    let sessions = f.sleep_sessions().await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].zone_offset, -18_000);
    assert_eq!(sessions[0].stages.len(), 3);
}

#[tokio::test]
async fn pushed_phases_join_across_exactly_the_gap_and_a_flights_night_keeps_its_end_offset() {
    let f = fixture().await;
    // NOW is 12:00 UTC; the nights lie two and one days before.
    let first = NOW - 2 * 24 * HOUR - 10 * HOUR; // 02:00 UTC
    let second = first + 24 * HOUR;
    let core = "HKCategoryValueSleepAnalysisAsleepCore";
    let on_landing = |mut s: pb::SleepSegment| {
        s.zone_offset = Some(-5 * 3600);
        s
    };
    let segments = vec![
        // First night: 02:00–03:00, then 05:00–06:00 (a gap of exactly 120 minutes joins), the
        // last phase recorded after landing at -05:00.
        segment("a", core, first, first + HOUR),
        on_landing(segment("b", core, first + 3 * HOUR, first + 4 * HOUR)),
        // Second night: 02:00–03:00, then 05:01–06:00 (121 minutes: another session).
        segment("c", core, second, second + HOUR),
        segment("d", core, second + 3 * HOUR + 60, second + 4 * HOUR),
    ];
    let result = f
        .push(pb::HealthBatch {
            platform: pb::HealthPlatform::Healthkit as i32,
            source: Some(watch()),
            sleep_segments: segments,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(result.accepted, 4);
    f.server.clock.advance(chrono::Duration::minutes(121));
    run_close_job(&f.server, true, 1).await;
    let spans: Vec<_> = f
        .sleep_sessions()
        .await
        .into_iter()
        .map(|s| (s.start_time, s.end_time, s.zone_offset, s.end_zone_offset))
        .collect();
    assert_eq!(
        spans,
        [
            (at(first), at(first + 4 * HOUR), 3600, Some(-5 * 3600)),
            (at(second), at(second + HOUR), 3600, None),
            (
                at(second + 3 * HOUR + 60),
                at(second + 4 * HOUR),
                3600,
                None
            ),
        ]
    );
}
