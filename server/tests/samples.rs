//! TimeSeriesService through the SDK: writes with unit conversion and offsets, idempotent
//! replay, lists, aggregates on the local calendar, deletion, tenancy and bad input.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{TimeZone, Utc};
use common::{TestServer, assert_error, violated_fields};
use owl::{Client, Code, pb};

fn watch() -> Option<pb::SourceDescriptor> {
    Some(pb::SourceDescriptor {
        provider: "apple_health".into(),
        device_model: "Watch7,1".into(),
        device_type: pb::DeviceType::Watch as i32,
        ..Default::default()
    })
}

fn phone() -> Option<pb::SourceDescriptor> {
    Some(pb::SourceDescriptor {
        provider: "apple_health".into(),
        device_model: "iPhone16,1".into(),
        device_type: pb::DeviceType::Phone as i32,
        ..Default::default()
    })
}

fn batch(series_type: &str, unit: &str, times: &[i64], values: &[f64]) -> pb::SampleBatch {
    pb::SampleBatch {
        source: watch(),
        series_type: series_type.into(),
        unit: unit.into(),
        times: times.to_vec(),
        values: values.to_vec(),
        zone_offsets: vec![3600; times.len()],
        durations: vec![],
    }
}

/// 2026-11-20 00:00:00 UTC in ms.
const T0: i64 = 1_763_596_800_000;
const MINUTE: i64 = 60_000;

struct Fixture {
    server: TestServer,
    backend: Client,
    user: pb::User,
}

async fn fixture() -> Fixture {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    Fixture {
        server,
        backend,
        user,
    }
}

impl Fixture {
    async fn write(&self, batches: Vec<pb::SampleBatch>) -> Result<pb::WriteStats, owl::Error> {
        let request = pb::WriteSamplesRequest {
            parent: self.user.name.clone(),
            batches,
        };
        self.backend
            .write_samples(request)
            .await
            .map(|r| r.stats.unwrap())
    }

    async fn list(&self, series_types: &[&str]) -> pb::ListSamplesResponse {
        self.backend
            .list_samples(pb::ListSamplesRequest {
                parent: self.user.name.clone(),
                series_types: series_types.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            })
            .await
            .unwrap()
    }

    async fn count(&self, series_types: &[&str]) -> usize {
        self.list(series_types)
            .await
            .series
            .iter()
            .map(|s| s.times.len())
            .sum()
    }
}

#[tokio::test]
async fn values_are_stored_in_canonical_units_with_their_offsets() {
    let f = fixture().await;
    let stats = f
        .write(vec![
            batch("weight", "lb", &[T0], &[150.0]),
            batch("body_temperature", "degF", &[T0], &[98.6]),
            batch("blood_glucose", "mmol/L", &[T0], &[5.5]),
            batch("oxygen_saturation", "fraction", &[T0], &[0.97]),
            batch("heart_rate", "", &[T0, T0 + MINUTE], &[61.0, 64.0]),
        ])
        .await
        .unwrap();
    assert_eq!((stats.inserted, stats.updated, stats.skipped), (6, 0, 0));
    let listed = f
        .list(&[
            "weight",
            "body_temperature",
            "blood_glucose",
            "oxygen_saturation",
            "heart_rate",
        ])
        .await;
    let value = |code: &str| {
        listed
            .series
            .iter()
            .find(|s| s.series_type == code)
            .unwrap()
            .values
            .clone()
    };
    assert!((value("weight")[0] - 68.038_855_5).abs() < 1e-6);
    assert!((value("body_temperature")[0] - 37.0).abs() < 1e-9);
    assert!((value("blood_glucose")[0] - 99.0858).abs() < 1e-4);
    assert!((value("oxygen_saturation")[0] - 97.0).abs() < 1e-9);
    let heart = listed
        .series
        .iter()
        .find(|s| s.series_type == "heart_rate")
        .unwrap();
    assert_eq!(
        (
            heart.unit.as_str(),
            heart.times.clone(),
            heart.zone_offsets.clone()
        ),
        ("bpm", vec![T0, T0 + MINUTE], vec![3600, 3600])
    );
    assert!(
        heart
            .data_source
            .starts_with(&format!("{}/dataSources/", f.user.name))
    );
}

#[tokio::test]
async fn replaying_a_batch_stores_nothing_new_and_corrections_update() {
    let f = fixture().await;
    let times: Vec<i64> = (0..500).map(|i| T0 + i * MINUTE).collect();
    let values: Vec<f64> = (0..500).map(|i| 60.0 + (i % 30) as f64).collect();
    let first = f
        .write(vec![batch("heart_rate", "bpm", &times, &values)])
        .await
        .unwrap();
    assert_eq!((first.inserted, first.updated, first.skipped), (500, 0, 0));
    let again = f
        .write(vec![batch("heart_rate", "bpm", &times, &values)])
        .await
        .unwrap();
    assert_eq!((again.inserted, again.updated, again.skipped), (0, 0, 500));
    let mut corrected = values.clone();
    corrected[7] = 99.0;
    let fix = f
        .write(vec![batch("heart_rate", "bpm", &times, &corrected)])
        .await
        .unwrap();
    assert_eq!((fix.inserted, fix.updated, fix.skipped), (0, 1, 499));
    assert_eq!(f.list(&["heart_rate"]).await.series[0].values[7], 99.0);
    // Duplicates inside one batch: the last one wins.
    let dup = f
        .write(vec![batch(
            "heart_rate",
            "bpm",
            &[T0 - MINUTE, T0 - MINUTE],
            &[70.0, 71.0],
        )])
        .await
        .unwrap();
    assert_eq!((dup.inserted, dup.skipped), (1, 1));
    assert_eq!(f.count(&["heart_rate"]).await, 501);
}

#[tokio::test]
async fn lists_follow_page_tokens_across_sources_in_either_order() {
    let f = fixture().await;
    let times: Vec<i64> = (0..250).map(|i| T0 + i * MINUTE).collect();
    let mut from_phone = batch("steps", "count", &times, &vec![10.0; 250]);
    from_phone.source = phone();
    f.write(vec![
        batch("steps", "count", &times, &vec![20.0; 250]),
        from_phone,
        batch("heart_rate", "", &times, &vec![70.0; 250]),
    ])
    .await
    .unwrap();
    for order in [pb::TimeOrder::OldestFirst, pb::TimeOrder::NewestFirst] {
        let request = pb::ListSamplesRequest {
            parent: f.user.name.clone(),
            series_types: vec!["steps".into(), "heart_rate".into()],
            order: order as i32,
            page_size: 100,
            ..Default::default()
        };
        let mut seen = std::collections::HashMap::<(String, String), Vec<i64>>::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = f
                .backend
                .list_samples(pb::ListSamplesRequest {
                    page_token: token.clone(),
                    ..request.clone()
                })
                .await
                .unwrap();
            pages += 1;
            assert!(page.series.iter().map(|s| s.times.len()).sum::<usize>() <= 100);
            for s in page.series {
                seen.entry((s.series_type, s.data_source))
                    .or_default()
                    .extend(s.times);
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(pages, 8, "750 samples in pages of 100");
        assert_eq!(seen.len(), 3, "two step sources and one heart-rate source");
        for times_seen in seen.values() {
            let mut expected = times.clone();
            if order == pb::TimeOrder::NewestFirst {
                expected.reverse();
            }
            assert_eq!(times_seen, &expected, "{order:?}");
        }
    }
}

#[tokio::test]
async fn hourly_aggregates_compute_every_function() {
    let f = fixture().await;
    let times: Vec<i64> = (0..120).map(|i| T0 + i * MINUTE).collect();
    let values: Vec<f64> = (0..120).map(|i| i as f64).collect();
    f.write(vec![batch("heart_rate", "", &times, &values)])
        .await
        .unwrap();
    let result = f
        .backend
        .aggregate_samples(pb::AggregateSamplesRequest {
            parent: f.user.name.clone(),
            series_types: vec!["heart_rate".into()],
            bucket: pb::Bucket::Hour as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let buckets = &result.series[0].buckets;
    assert_eq!(buckets.len(), 2);
    assert_eq!(
        (
            buckets[0].start_time,
            buckets[0].count,
            buckets[0].min,
            buckets[0].max
        ),
        (T0, 60, 0.0, 59.0)
    );
    assert_eq!(
        (buckets[1].sum, buckets[1].avg),
        ((60..120).sum::<i64>() as f64, 89.5)
    );
}

/// Steps of 1 every 30 minutes from `from` to `to` (UTC ms), without offsets.
fn half_hourly_steps(from: i64, to: i64) -> pb::SampleBatch {
    let times: Vec<i64> = (from..to).step_by(30 * MINUTE as usize).collect();
    let values = vec![1.0; times.len()];
    pb::SampleBatch {
        source: phone(),
        series_type: "steps".into(),
        unit: String::new(),
        times,
        values,
        zone_offsets: vec![],
        durations: vec![],
    }
}

async fn daily(f: &Fixture, bucket: pb::Bucket) -> Vec<(String, i64, f64)> {
    let result = f
        .backend
        .aggregate_samples(pb::AggregateSamplesRequest {
            parent: f.user.name.clone(),
            series_types: vec!["steps".into()],
            bucket: bucket as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    result.series[0]
        .buckets
        .iter()
        .map(|b| (b.local_date.clone(), b.start_time, b.sum))
        .collect()
}

#[tokio::test]
async fn day_buckets_follow_the_local_calendar_across_a_dst_change() {
    let f = fixture().await;
    f.backend
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::User {
                name: f.user.name.clone(),
                time_zone: "Europe/Warsaw".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["time_zone".into()],
            }),
        })
        .await
        .unwrap();
    // Warsaw moves from +01:00 to +02:00 at 2026-03-29 01:00 UTC.
    let start = Utc
        .with_ymd_and_hms(2026, 3, 27, 23, 0, 0)
        .unwrap()
        .timestamp_millis(); // Mar 28 00:00 local
    let end = Utc
        .with_ymd_and_hms(2026, 3, 30, 22, 0, 0)
        .unwrap()
        .timestamp_millis(); // Mar 31 00:00 local
    f.write(vec![half_hourly_steps(start, end)]).await.unwrap();
    let days = daily(&f, pb::Bucket::Day).await;
    let summary: Vec<(&str, f64)> = days.iter().map(|(d, _, s)| (d.as_str(), *s)).collect();
    // The DST day has 23 local hours: 46 half-hours.
    assert_eq!(
        summary,
        [
            ("2026-03-28", 48.0),
            ("2026-03-29", 46.0),
            ("2026-03-30", 48.0)
        ]
    );
    assert_eq!(days[0].1, start, "local midnight at +01:00");
    assert_eq!(
        days[2].1,
        Utc.with_ymd_and_hms(2026, 3, 29, 22, 0, 0)
            .unwrap()
            .timestamp_millis(),
        "local midnight at +02:00"
    );
    let weeks = daily(&f, pb::Bucket::Week).await;
    let weeks: Vec<(&str, f64)> = weeks.iter().map(|(d, _, s)| (d.as_str(), *s)).collect();
    assert_eq!(
        weeks,
        [("2026-03-23", 94.0), ("2026-03-30", 48.0)],
        "ISO weeks start on Monday"
    );
}

#[tokio::test]
async fn day_buckets_follow_each_samples_own_zone_when_the_user_moves() {
    let f = fixture().await;
    // Two days in Warsaw (+01:00), then a flight to New York (-05:00).
    let warsaw = Utc
        .with_ymd_and_hms(2026, 11, 1, 23, 0, 0)
        .unwrap()
        .timestamp_millis(); // Nov 2 00:00 local
    let mut first = half_hourly_steps(warsaw, warsaw + 48 * 60 * MINUTE);
    first.zone_offsets = vec![3600; first.times.len()];
    let new_york = Utc
        .with_ymd_and_hms(2026, 11, 4, 5, 0, 0)
        .unwrap()
        .timestamp_millis(); // Nov 4 00:00 local
    let mut second = half_hourly_steps(new_york, new_york + 24 * 60 * MINUTE);
    second.zone_offsets = vec![-5 * 3600; second.times.len()];
    f.write(vec![first, second]).await.unwrap();
    let days: Vec<(String, f64)> = daily(&f, pb::Bucket::Day)
        .await
        .into_iter()
        .map(|(d, _, s)| (d, s))
        .collect();
    assert_eq!(
        days,
        [
            ("2026-11-02".into(), 48.0),
            ("2026-11-03".into(), 48.0),
            ("2026-11-04".into(), 48.0)
        ]
    );
}

#[tokio::test]
async fn samples_without_offsets_take_the_latest_known_offset_when_the_user_has_no_zone() {
    let f = fixture().await;
    f.write(vec![batch("heart_rate", "", &[T0], &[60.0])])
        .await
        .unwrap(); // recorded at +01:00
    let mut bare = batch("heart_rate", "", &[T0 + MINUTE], &[61.0]);
    bare.zone_offsets.clear();
    f.write(vec![bare]).await.unwrap();
    assert_eq!(
        f.list(&["heart_rate"]).await.series[0].zone_offsets,
        [3600, 3600]
    );
}

#[tokio::test]
async fn data_sources_are_created_on_first_use_and_listed() {
    let f = fixture().await;
    let mut from_phone = batch("steps", "", &[T0], &[5.0]);
    from_phone.source = phone();
    f.write(vec![
        batch("steps", "", &[T0], &[5.0]),
        from_phone.clone(),
        from_phone,
    ])
    .await
    .unwrap();
    let sources = f
        .backend
        .list_data_sources(pb::ListDataSourcesRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let models: Vec<(&str, i32)> = sources
        .data_sources
        .iter()
        .map(|s| (s.device_model.as_str(), s.device_type))
        .collect();
    assert_eq!(
        models,
        [
            ("Watch7,1", pb::DeviceType::Watch as i32),
            ("iPhone16,1", pb::DeviceType::Phone as i32)
        ]
    );
    let types = f
        .backend
        .list_series_types(Default::default())
        .await
        .unwrap();
    assert!(types.series_types.len() >= 93);
    let heart = types
        .series_types
        .iter()
        .find(|t| t.code == "heart_rate")
        .unwrap();
    assert_eq!(
        (heart.unit.as_str(), heart.loinc.as_str()),
        ("bpm", "8867-4")
    );
}

#[tokio::test]
async fn manufacturer_and_recording_method_are_kept_and_set_sources_apart() {
    let f = fixture().await;
    let descriptor = |method: pb::RecordingMethod| {
        Some(pb::SourceDescriptor {
            manufacturer: "Apple Inc.".into(),
            recording_method: method as i32,
            ..watch().unwrap()
        })
    };
    let mut measured = batch("weight", "kg", &[T0], &[70.0]);
    measured.source = descriptor(pb::RecordingMethod::AutomaticallyRecorded);
    let mut typed = batch("weight", "kg", &[T0], &[71.0]);
    typed.source = descriptor(pb::RecordingMethod::ManualEntry);
    let stats = f.write(vec![measured, typed.clone()]).await.unwrap();
    assert_eq!(stats.inserted, 2, "the same instant in two sources");
    f.write(vec![typed]).await.unwrap();
    let sources = f
        .backend
        .list_data_sources(pb::ListDataSourcesRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .data_sources;
    let fields: Vec<(&str, &str, i32)> = sources
        .iter()
        .map(|s| {
            (
                s.device_model.as_str(),
                s.manufacturer.as_str(),
                s.recording_method,
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            (
                "Watch7,1",
                "Apple Inc.",
                pb::RecordingMethod::AutomaticallyRecorded as i32
            ),
            (
                "Watch7,1",
                "Apple Inc.",
                pb::RecordingMethod::ManualEntry as i32
            ),
        ]
    );

    // A manufacturer past 64 characters is reported with the request's other violations.
    let mut long = batch("weight", "kg", &[T0 + MINUTE], &[70.0]);
    long.source = Some(pb::SourceDescriptor {
        manufacturer: "m".repeat(65),
        ..watch().unwrap()
    });
    let mut control = batch("weight", "kg", &[T0 + MINUTE], &[70.0]);
    control.source = Some(pb::SourceDescriptor {
        manufacturer: "Apple\u{7}".into(),
        ..watch().unwrap()
    });
    let error = assert_error(
        f.write(vec![long, batch("nope", "", &[T0], &[1.0]), control])
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(
        violated_fields(&error),
        [
            "batches[0].source.manufacturer",
            "batches[1].series_type",
            "batches[2].source.manufacturer"
        ]
    );
}

#[tokio::test]
async fn deletion_by_source_by_type_and_range_or_everything() {
    let f = fixture().await;
    let times: Vec<i64> = (0..10).map(|i| T0 + i * MINUTE).collect();
    let mut from_phone = batch("steps", "", &times, &[1.0; 10]);
    from_phone.source = phone();
    f.write(vec![
        batch("steps", "", &times, &[1.0; 10]),
        from_phone,
        batch("heart_rate", "", &times, &[60.0; 10]),
    ])
    .await
    .unwrap();
    let sources = f
        .backend
        .list_data_sources(pb::ListDataSourcesRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let phone_source = sources
        .data_sources
        .iter()
        .find(|s| s.device_type == pb::DeviceType::Phone as i32)
        .unwrap()
        .name
        .clone();
    let delete = |data_source: String,
                  series_types: Vec<String>,
                  time_range: Option<pb::TimeRange>| pb::DeleteSamplesRequest {
        parent: f.user.name.clone(),
        data_source,
        series_types,
        time_range,
    };
    let by_source = f
        .backend
        .delete_samples(delete(phone_source, vec![], None))
        .await
        .unwrap();
    assert_eq!(by_source.deleted, 10);
    let range = pb::TimeRange {
        start_time: Some(prost_types::Timestamp {
            seconds: T0 / 1000,
            nanos: 0,
        }),
        end_time: Some(prost_types::Timestamp {
            seconds: (T0 + 5 * MINUTE) / 1000,
            nanos: 0,
        }),
    };
    let by_range = f
        .backend
        .delete_samples(delete(
            String::new(),
            vec!["heart_rate".into()],
            Some(range),
        ))
        .await
        .unwrap();
    assert_eq!(by_range.deleted, 5);
    assert_eq!(f.count(&["steps", "heart_rate"]).await, 15);
    let everything = f
        .backend
        .delete_samples(delete(String::new(), vec![], None))
        .await
        .unwrap();
    assert_eq!(everything.deleted, 15);
    assert_eq!(f.count(&["steps", "heart_rate"]).await, 0);
}

#[tokio::test]
async fn dense_days_of_fractional_values_are_kept_exactly_through_corrections_and_deletion() {
    let f = fixture().await;
    // Two days every two seconds (86,400 samples): blocks far larger than one statement.
    let step = 2_000;
    let times: Vec<i64> = (0..86_400).map(|i| T0 + i * step).collect();
    let values: Vec<f64> = (0..86_400)
        .map(|i| 40.0 + i as f64 * 0.37 + 0.001)
        .collect();
    let stats = f
        .write(vec![batch("heart_rate", "", &times, &values)])
        .await
        .unwrap();
    assert_eq!(stats.inserted, 86_400);
    // Correct every 50th sample of the first day.
    let fixed: Vec<usize> = (0..43_200).step_by(50).collect();
    let fixed_times: Vec<i64> = fixed.iter().map(|&i| times[i]).collect();
    let fixed_values: Vec<f64> = fixed.iter().map(|&i| values[i] + 0.5).collect();
    let stats = f
        .write(vec![batch("heart_rate", "", &fixed_times, &fixed_values)])
        .await
        .unwrap();
    assert_eq!((stats.inserted, stats.updated), (0, fixed.len() as i64));
    let mut expected = values.clone();
    for &i in &fixed {
        expected[i] += 0.5;
    }
    let page = f
        .backend
        .list_samples(pb::ListSamplesRequest {
            parent: f.user.name.clone(),
            series_types: vec!["heart_rate".into()],
            page_size: 100_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.series.len(), 1);
    assert_eq!(page.series[0].times, times);
    assert_eq!(page.series[0].values, expected);
    // From noon of the first day to noon of the second: cuts both days' blocks.
    let noon = |day: i64| prost_types::Timestamp {
        seconds: (T0 + day * 86_400_000 + 43_200_000) / 1000,
        nanos: 0,
    };
    let deleted = f
        .backend
        .delete_samples(pb::DeleteSamplesRequest {
            parent: f.user.name.clone(),
            data_source: String::new(),
            series_types: vec![],
            time_range: Some(pb::TimeRange {
                start_time: Some(noon(0)),
                end_time: Some(noon(1)),
            }),
        })
        .await
        .unwrap();
    assert_eq!(deleted.deleted, 43_200);
    let rest = f.list(&["heart_rate"]).await;
    let kept: Vec<i64> = times
        .iter()
        .copied()
        .filter(|t| !(T0 + 43_200_000..T0 + 86_400_000 + 43_200_000).contains(t))
        .collect();
    assert_eq!(rest.series[0].times, kept);
}

#[tokio::test]
async fn another_application_sees_nothing_and_a_phone_writes_only_its_own_user() {
    let f = fixture().await;
    let developer = f
        .server
        .client
        .login(pb::LoginRequest {
            email: "admin@example.com".into(),
            password: common::PASSWORD.into(),
        })
        .await
        .unwrap();
    let (_, other_app) = f
        .server
        .application(&f.server.client.with_token(developer.access_token), "Other")
        .await;
    let write = pb::WriteSamplesRequest {
        parent: f.user.name.clone(),
        batches: vec![batch("steps", "", &[T0], &[1.0])],
    };
    assert_error(
        other_app.write_samples(write.clone()).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let list = pb::ListSamplesRequest {
        parent: f.user.name.clone(),
        series_types: vec!["steps".into()],
        ..Default::default()
    };
    assert_error(
        other_app.list_samples(list.clone()).await,
        Code::NotFound,
        "NOT_FOUND",
    );

    let token = f
        .backend
        .create_sdk_token(pb::CreateSdkTokenRequest {
            user: f.user.name.clone(),
        })
        .await
        .unwrap();
    let phone = f.server.client.with_token(token.access_token);
    assert_eq!(
        phone
            .write_samples(write)
            .await
            .unwrap()
            .stats
            .unwrap()
            .inserted,
        1
    );
    assert_eq!(phone.list_samples(list).await.unwrap().series.len(), 1);
    let someone_else = f.server.user(&f.backend, "someone else").await;
    let foreign = pb::WriteSamplesRequest {
        parent: someone_else.name,
        batches: vec![batch("steps", "", &[T0], &[1.0])],
    };
    assert_error(
        phone.write_samples(foreign).await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn bad_samples_are_named_by_index_and_nothing_of_the_request_is_stored() {
    let f = fixture().await;
    let future = Utc::now().timestamp_millis() + 3 * 86_400_000;
    let cases: Vec<(pb::SampleBatch, &str)> = vec![
        (
            batch("heart_rate", "", &[T0, T0 + 1], &[60.0, f64::NAN]),
            "batches[1].values[1]",
        ),
        (
            batch("heart_rate", "", &[T0], &[f64::INFINITY]),
            "batches[1].values[0]",
        ),
        (
            batch("heart_rate", "", &[-1], &[60.0]),
            "batches[1].times[0]",
        ),
        (
            batch("heart_rate", "", &[future], &[60.0]),
            "batches[1].times[0]",
        ),
        (
            batch("heart_rates", "", &[T0], &[60.0]),
            "batches[1].series_type",
        ),
        (batch("heart_rate", "kg", &[T0], &[60.0]), "batches[1].unit"),
        (batch("steps", "", &[T0], &[-5.0]), "batches[1].values[0]"),
        (
            batch("steps", "", &[T0, T0 + 1], &[5.0]),
            "batches[1].values",
        ),
        (
            pb::SampleBatch {
                zone_offsets: vec![99 * 3600],
                ..batch("steps", "", &[T0], &[5.0])
            },
            "batches[1].zone_offsets[0]",
        ),
        (
            pb::SampleBatch {
                source: None,
                ..batch("steps", "", &[T0], &[5.0])
            },
            "batches[1].source.provider",
        ),
    ];
    for (bad, field) in cases {
        let good = batch("heart_rate", "", &[T0 + 10 * MINUTE], &[70.0]);
        let error = assert_error(
            f.write(vec![good, bad]).await,
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        );
        assert_eq!(violated_fields(&error), [field]);
    }
    assert_eq!(
        f.count(&["heart_rate", "steps"]).await,
        0,
        "the good batch of each request was not stored either"
    );

    let too_many: Vec<i64> = (0..100_001).map(|i| T0 + i).collect();
    let error = assert_error(
        f.write(vec![batch(
            "heart_rate",
            "",
            &too_many,
            &vec![60.0; 100_001],
        )])
        .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["batches"]);
    // The connection is still usable.
    f.write(vec![batch("heart_rate", "", &[T0], &[60.0])])
        .await
        .unwrap();
}

#[tokio::test]
async fn query_parameters_are_validated() {
    let f = fixture().await;
    let request = pb::ListSamplesRequest {
        parent: f.user.name.clone(),
        series_types: vec!["nope".into()],
        time_range: Some(pb::TimeRange {
            start_time: Some(prost_types::Timestamp {
                seconds: 100,
                nanos: 0,
            }),
            end_time: Some(prost_types::Timestamp {
                seconds: 50,
                nanos: 0,
            }),
        }),
        page_size: -3,
        page_token: "garbage".into(),
        ..Default::default()
    };
    let error = assert_error(
        f.backend.list_samples(request).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(
        violated_fields(&error),
        ["series_types[0]", "time_range", "page_size", "page_token"]
    );
    let no_bucket = pb::AggregateSamplesRequest {
        parent: f.user.name.clone(),
        series_types: vec!["steps".into()],
        ..Default::default()
    };
    let error = assert_error(
        f.backend.aggregate_samples(no_bucket).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["bucket"]);
}

fn stream_message(parent: &str, start: i64, n: i64) -> pb::StreamSamplesRequest {
    let times: Vec<i64> = (0..n).map(|i| start + i * MINUTE).collect();
    pb::StreamSamplesRequest {
        parent: parent.into(),
        batches: vec![batch("heart_rate", "", &times, &vec![65.0; n as usize])],
    }
}

#[tokio::test]
async fn a_stream_of_batches_is_stored_as_one_write() {
    let f = fixture().await;
    let messages: Vec<pb::StreamSamplesRequest> = (0..5)
        .map(|k| {
            stream_message(
                if k == 0 { &f.user.name } else { "" },
                T0 + k * 1000 * MINUTE,
                1000,
            )
        })
        .collect();
    let response = f
        .backend
        .stream_samples(tokio_stream::iter(messages.clone()))
        .await
        .unwrap();
    assert_eq!(response.stats.unwrap().inserted, 5000);
    let replay = f
        .backend
        .stream_samples(tokio_stream::iter(messages))
        .await
        .unwrap();
    assert_eq!(replay.stats.unwrap().skipped, 5000);
    assert_eq!(f.count(&["heart_rate"]).await, 5000);
}

#[tokio::test]
async fn an_invalid_message_mid_stream_rejects_the_whole_stream() {
    let f = fixture().await;
    let mut bad = stream_message("", T0 + 2000 * MINUTE, 10);
    bad.batches[0].values[3] = f64::NAN;
    let messages = vec![
        stream_message(&f.user.name, T0, 1000),
        stream_message("", T0 + 1000 * MINUTE, 1000),
        bad,
    ];
    let error = assert_error(
        f.backend.stream_samples(tokio_stream::iter(messages)).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(
        violated_fields(&error),
        ["messages[2].batches[0].values[3]"]
    );
    assert_eq!(f.count(&["heart_rate"]).await, 0);
    f.write(vec![batch("heart_rate", "", &[T0], &[60.0])])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stream_that_breaks_halfway_stores_nothing_and_the_server_stays_usable() {
    use prost::Message;
    let f = fixture().await;
    let key = match f.backend.credentials() {
        owl::Credentials::ApiKey(key) => key.clone(),
        _ => unreachable!(),
    };
    // Two well-formed messages on the wire, then the request body fails: the client resets the
    // HTTP/2 stream instead of closing it.
    let frame = |m: pb::StreamSamplesRequest| {
        let payload = m.encode_to_vec();
        let mut out = vec![0u8];
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    };
    let first = frame(stream_message(&f.user.name, T0, 1000));
    let second = frame(stream_message("", T0 + 1000 * MINUTE, 1000));
    let body = async_stream_body(vec![first, second]);
    let http = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let result = http
        .post(format!(
            "{}/owl.v1.TimeSeriesService/StreamSamples",
            f.server.url
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("x-api-key", key)
        .body(body)
        .send()
        .await;
    if let Ok(response) = result {
        assert_ne!(
            response
                .headers()
                .get("grpc-status")
                .map(|v| v.to_str().unwrap().to_owned()),
            Some("0".into())
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(f.count(&["heart_rate"]).await, 0);
    let stats = f
        .write(vec![batch("heart_rate", "", &[T0], &[60.0])])
        .await
        .unwrap();
    assert_eq!(stats.inserted, 1, "the aborted transaction holds no lock");
}

/// A request body that yields `chunks`, pauses so the server can store them, then fails.
fn async_stream_body(chunks: Vec<Vec<u8>>) -> reqwest::Body {
    use futures::StreamExt;
    let items = futures::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let failure = futures::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        Err(std::io::Error::other("connection lost"))
    });
    reqwest::Body::wrap_stream(items.chain(failure))
}

#[tokio::test]
async fn a_stream_must_name_one_user() {
    let f = fixture().await;
    let other = f.server.user(&f.backend, "other").await;
    let messages = vec![
        stream_message(&f.user.name, T0, 10),
        stream_message(&other.name, T0, 10),
    ];
    let error = assert_error(
        f.backend.stream_samples(tokio_stream::iter(messages)).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["parent"]);
    let empty = f
        .backend
        .stream_samples(tokio_stream::iter(Vec::<pb::StreamSamplesRequest>::new()))
        .await;
    assert_error(empty, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(f.count(&["heart_rate"]).await, 0);
}
