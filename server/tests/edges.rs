//! Edge values through the SDK: dates the model does not hold, zone offsets whose absolute
//! value overflows, timestamps whose milliseconds overflow and reversed ranges are all refused
//! with INVALID_ARGUMENT naming the field — never a panic, never stored.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, assert_error, violated_fields};
use owl::{Client, Code, pb};
use prost_types::Timestamp;

const T0: i64 = 1_763_625_600_000;

async fn setup() -> (TestServer, Client, pb::User) {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "edges").await;
    (server, backend, user)
}

fn range(start: Timestamp, end: Timestamp) -> Option<pb::TimeRange> {
    Some(pb::TimeRange {
        start_time: Some(start),
        end_time: Some(end),
    })
}

fn seconds(seconds: i64) -> Timestamp {
    Timestamp { seconds, nanos: 0 }
}

#[tokio::test]
async fn dates_outside_the_model_are_refused_and_its_first_day_answers() {
    let (_server, backend, user) = setup().await;
    let summaries = |start: &str, end: &str| pb::ListDailySummariesRequest {
        parent: user.name.clone(),
        start_date: start.into(),
        end_date: end.into(),
    };
    // Before: a panic in the handler, seen as CANCELLED.
    let error = assert_error(
        backend
            .list_daily_summaries(summaries("1969-01-01", "1969-01-02"))
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["start_date", "end_date"]);
    let first = backend
        .list_daily_summaries(summaries("1969-12-31", "1970-01-02"))
        .await
        .unwrap();
    assert!(first.daily_summaries.is_empty());
}

#[tokio::test]
async fn zone_offsets_that_overflow_their_absolute_value_are_refused() {
    let (_server, backend, user) = setup().await;
    let batch = pb::SampleBatch {
        source: Some(pb::SourceDescriptor {
            provider: "apple_health".into(),
            device_type: pb::DeviceType::Watch as i32,
            ..Default::default()
        }),
        series_type: "heart_rate".into(),
        unit: "count/min".into(),
        times: vec![T0, T0 + 60_000],
        values: vec![60.0, 61.0],
        zone_offsets: vec![i32::MIN, 18 * 3600 + 1],
        durations: vec![],
    };
    let error = assert_error(
        backend
            .write_samples(pb::WriteSamplesRequest {
                parent: user.name.clone(),
                batches: vec![batch],
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(
        violated_fields(&error),
        ["batches[0].zone_offsets[0]", "batches[0].zone_offsets[1]"]
    );
    let session = pb::SleepSession {
        start_time: Some(seconds(T0 / 1000)),
        end_time: Some(seconds(T0 / 1000 + 3600)),
        zone_offset: i32::MIN,
        ..Default::default()
    };
    let error = assert_error(
        backend
            .write_sleep_sessions(pb::WriteSleepSessionsRequest {
                parent: user.name.clone(),
                source: Some(pb::SourceDescriptor {
                    provider: "oura".into(),
                    ..Default::default()
                }),
                sleep_sessions: vec![session],
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["sleep_sessions[0].zone_offset"]);
}

#[tokio::test]
async fn timestamps_that_overflow_and_reversed_ranges_are_refused() {
    let (_server, backend, user) = setup().await;
    let huge = seconds(i64::MAX / 1000);
    let error = assert_error(
        backend
            .list_samples(pb::ListSamplesRequest {
                parent: user.name.clone(),
                series_types: vec!["heart_rate".into()],
                time_range: range(seconds(0), huge),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["time_range.end_time"]);
    // Year 10000 is past what a protobuf Timestamp holds.
    let error = assert_error(
        backend
            .aggregate_samples(pb::AggregateSamplesRequest {
                parent: user.name.clone(),
                series_types: vec!["heart_rate".into()],
                time_range: range(seconds(253_402_300_800), seconds(253_402_300_801)),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert!(violated_fields(&error).contains(&"time_range.start_time".to_string()));
    let error = assert_error(
        backend
            .delete_events(pb::DeleteEventsRequest {
                parent: user.name.clone(),
                time_range: range(seconds(T0 / 1000 + 3600), seconds(T0 / 1000)),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["time_range"]);
}
