//! EventService through the SDK: workouts and sleep sessions, idempotent writes, listing,
//! details, deletion and bad input.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, assert_error, violated_fields};
use owl::{Client, Code, pb};
use prost_types::Timestamp;

/// 2026-11-20 00:00:00 UTC, seconds.
const T0: i64 = 1_763_596_800;

fn at(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

fn garmin() -> Option<pb::SourceDescriptor> {
    Some(pb::SourceDescriptor {
        provider: "garmin".into(),
        device_model: "Forerunner 965".into(),
        device_type: pb::DeviceType::Watch as i32,
        ..Default::default()
    })
}

fn run(start: i64, minutes: i64, distance: f64) -> pb::Workout {
    pb::Workout {
        workout_type: "running".into(),
        start_time: at(start),
        end_time: at(start + minutes * 60),
        zone_offset: 3600,
        distance_meters: Some(distance),
        active_energy_kcal: Some(420.0),
        heart_rate_avg: Some(151.0),
        heart_rate_max: Some(178.0),
        ..Default::default()
    }
}

async fn setup() -> (TestServer, Client, pb::User) {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    (server, backend, user)
}

async fn write(
    client: &Client,
    user: &pb::User,
    workouts: Vec<pb::Workout>,
) -> Result<pb::WriteStats, owl::Error> {
    let request = pb::WriteWorkoutsRequest {
        parent: user.name.clone(),
        source: garmin(),
        workouts,
    };
    client
        .write_workouts(request)
        .await
        .map(|r| r.stats.unwrap())
}

#[tokio::test]
async fn workouts_are_written_once_corrected_in_place_and_read_back_with_details() {
    let (_server, backend, user) = setup().await;
    let workouts = vec![run(T0, 30, 5000.0), run(T0 + 86_400, 45, 8000.0)];
    let first = write(&backend, &user, workouts.clone()).await.unwrap();
    assert_eq!((first.inserted, first.updated, first.skipped), (2, 0, 0));
    let replay = write(&backend, &user, workouts.clone()).await.unwrap();
    assert_eq!((replay.inserted, replay.updated, replay.skipped), (0, 0, 2));
    let mut corrected = workouts;
    corrected[1].distance_meters = Some(8100.0);
    corrected[1].moving_seconds = Some(43 * 60);
    let fix = write(&backend, &user, corrected).await.unwrap();
    assert_eq!((fix.inserted, fix.updated, fix.skipped), (0, 1, 1));

    let listed = backend
        .list_workouts(pb::ListWorkoutsRequest {
            parent: user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.workouts.len(), 2);
    let second = backend
        .get_workout(pb::GetWorkoutRequest {
            name: listed.workouts[1].name.clone(),
        })
        .await
        .unwrap();
    assert_eq!(second.distance_meters, Some(8100.0));
    assert_eq!(second.moving_seconds, Some(43 * 60));
    assert_eq!(
        listed.workouts[0].moving_seconds, None,
        "not given, not made up"
    );
    assert_eq!((second.heart_rate_avg, second.steps), (Some(151.0), None));
    assert_eq!(second.start_time, at(T0 + 86_400));
    assert!(
        second
            .data_source
            .starts_with(&format!("{}/dataSources/", user.name))
    );
}

#[tokio::test]
async fn workouts_list_by_type_and_range_page_by_page() {
    let (_server, backend, user) = setup().await;
    let mut workouts: Vec<pb::Workout> = (0..7).map(|i| run(T0 + i * 3600, 20, 3000.0)).collect();
    workouts[3].workout_type = "cycling".into();
    write(&backend, &user, workouts).await.unwrap();
    let all: Vec<pb::Workout> =
        futures::TryStreamExt::try_collect(backend.stream_workouts(pb::ListWorkoutsRequest {
            parent: user.name.clone(),
            page_size: 2,
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(all.len(), 7);
    assert!(
        all.windows(2)
            .all(|w| w[0].start_time.unwrap().seconds < w[1].start_time.unwrap().seconds)
    );
    let cycling = backend
        .list_workouts(pb::ListWorkoutsRequest {
            parent: user.name.clone(),
            workout_types: vec!["cycling".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(cycling.workouts.len(), 1);
    let range = pb::TimeRange {
        start_time: at(T0 + 3600),
        end_time: at(T0 + 3 * 3600),
    };
    let ranged = backend
        .list_workouts(pb::ListWorkoutsRequest {
            parent: user.name.clone(),
            time_range: Some(range),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ranged.workouts.len(), 2);
}

fn night(start: i64) -> pb::SleepSession {
    let stage = |s: pb::SleepStage, from: i64, to: i64| pb::SleepStageInterval {
        stage: s as i32,
        start_time: at(start + from * 60),
        end_time: at(start + to * 60),
    };
    pb::SleepSession {
        start_time: at(start),
        end_time: at(start + 480 * 60),
        zone_offset: 3600,
        nap: false,
        efficiency_percent: Some(91.5),
        stages: vec![
            stage(pb::SleepStage::InBed, 0, 15),
            stage(pb::SleepStage::Light, 15, 200),
            stage(pb::SleepStage::Deep, 200, 290),
            stage(pb::SleepStage::Rem, 290, 400),
            stage(pb::SleepStage::Awake, 400, 410),
            stage(pb::SleepStage::Light, 410, 480),
        ],
        ..Default::default()
    }
}

#[tokio::test]
async fn sleep_sessions_keep_their_stages() {
    let (_server, backend, user) = setup().await;
    let request = pb::WriteSleepSessionsRequest {
        parent: user.name.clone(),
        source: garmin(),
        sleep_sessions: vec![night(T0), night(T0 + 86_400)],
    };
    assert_eq!(
        backend
            .write_sleep_sessions(request.clone())
            .await
            .unwrap()
            .stats
            .unwrap()
            .inserted,
        2
    );
    assert_eq!(
        backend
            .write_sleep_sessions(request)
            .await
            .unwrap()
            .stats
            .unwrap()
            .skipped,
        2
    );
    let listed = backend
        .list_sleep_sessions(pb::ListSleepSessionsRequest {
            parent: user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.sleep_sessions.len(), 2);
    let first = &listed.sleep_sessions[0];
    assert_eq!(first.stages, night(T0).stages);
    assert_eq!(first.efficiency_percent, Some(91.5));
    // A sleep session is not a workout.
    let as_workout = first.name.replace("sleepSessions", "workouts");
    assert_error(
        backend
            .get_workout(pb::GetWorkoutRequest { name: as_workout })
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let workouts = backend
        .list_workouts(pb::ListWorkoutsRequest {
            parent: user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(workouts.workouts.is_empty());
}

#[tokio::test]
async fn bad_events_are_named_and_nothing_is_stored() {
    let (_server, backend, user) = setup().await;
    let mut backwards = run(T0, 30, 1.0);
    backwards.end_time = at(T0 - 60);
    let mut unknown = run(T0, 30, 1.0);
    unknown.workout_type = "quidditch".into();
    let mut negative = run(T0, 30, -5.0);
    negative.heart_rate_avg = Some(f64::NAN);
    let missing = pb::Workout {
        workout_type: "running".into(),
        ..Default::default()
    };
    let error = assert_error(
        write(
            &backend,
            &user,
            vec![run(T0, 10, 1.0), backwards, unknown, negative, missing],
        )
        .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(
        violated_fields(&error),
        ["workouts[4].start_time", "workouts[4].end_time"],
        "missing timestamps are reported first"
    );
    let mut backwards = run(T0, 30, 1.0);
    backwards.end_time = at(T0 - 60);
    let mut unknown = run(T0, 30, 1.0);
    unknown.workout_type = "quidditch".into();
    let mut negative = run(T0, 30, -5.0);
    negative.heart_rate_avg = Some(f64::NAN);
    let mut moving_too_long = run(T0, 30, 1.0);
    moving_too_long.moving_seconds = Some(30 * 60 + 1);
    let mut moving_negative = run(T0, 30, 1.0);
    moving_negative.moving_seconds = Some(-1);
    let error = assert_error(
        write(
            &backend,
            &user,
            vec![
                run(T0, 10, 1.0),
                backwards,
                unknown,
                negative,
                moving_too_long,
                moving_negative,
            ],
        )
        .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(
        violated_fields(&error),
        [
            "workouts[1].end_time",
            "workouts[2].workout_type",
            "workouts[3].distance_meters",
            "workouts[3].heart_rate_avg",
            "workouts[4].moving_seconds",
            "workouts[5].moving_seconds"
        ]
    );
    let mut outside = night(T0);
    outside.stages[0].start_time = at(T0 - 600);
    let request = pb::WriteSleepSessionsRequest {
        parent: user.name.clone(),
        source: garmin(),
        sleep_sessions: vec![outside],
    };
    let error = assert_error(
        backend.write_sleep_sessions(request).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["sleep_sessions[0].stages[0]"]);
    let listed = backend
        .list_workouts(pb::ListWorkoutsRequest {
            parent: user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(listed.workouts.is_empty());
}

#[tokio::test]
async fn events_are_deleted_by_source_and_range_and_invisible_to_other_applications() {
    let (server, backend, user) = setup().await;
    write(
        &backend,
        &user,
        vec![run(T0, 30, 1.0), run(T0 + 86_400, 30, 1.0)],
    )
    .await
    .unwrap();
    let session = server
        .client
        .login(pb::LoginRequest {
            email: "admin@example.com".into(),
            password: common::PASSWORD.into(),
        })
        .await
        .unwrap();
    let (_, other) = server
        .application(&server.client.with_token(session.access_token), "Other")
        .await;
    let list = pb::ListWorkoutsRequest {
        parent: user.name.clone(),
        ..Default::default()
    };
    assert_error(
        other.list_workouts(list.clone()).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_error(
        write(&other, &user, vec![run(T0, 5, 1.0)]).await,
        Code::NotFound,
        "NOT_FOUND",
    );

    let range = pb::TimeRange {
        start_time: at(T0 + 3600),
        end_time: None,
    };
    backend
        .delete_events(pb::DeleteEventsRequest {
            parent: user.name.clone(),
            data_source: String::new(),
            time_range: Some(range),
        })
        .await
        .unwrap();
    assert_eq!(
        backend
            .list_workouts(list.clone())
            .await
            .unwrap()
            .workouts
            .len(),
        1
    );
    let source = backend.list_workouts(list.clone()).await.unwrap().workouts[0]
        .data_source
        .clone();
    backend
        .delete_events(pb::DeleteEventsRequest {
            parent: user.name.clone(),
            data_source: source,
            time_range: None,
        })
        .await
        .unwrap();
    assert!(
        backend
            .list_workouts(list)
            .await
            .unwrap()
            .workouts
            .is_empty()
    );
    let types = backend
        .list_workout_types(Default::default())
        .await
        .unwrap();
    assert!(types.workout_types.len() >= 117);
}
