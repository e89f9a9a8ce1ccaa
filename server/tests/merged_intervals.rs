//! Samples with intervals through the SDK: the merged view counts each moment once by interval
//! coverage (a watch and a phone counting the same walk), across midnight, DST and a change of
//! time zone; day buckets and daily summaries agree. Every expected figure is worked out by
//! hand in the comment beside it.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use common::{TestServer, assert_error, violated_fields};
use futures::TryStreamExt;
use owl::{Client, Code, pb};
use prost_types::Timestamp;

const MINUTE: i64 = 60_000;

fn source(device_type: pb::DeviceType) -> Option<pb::SourceDescriptor> {
    Some(pb::SourceDescriptor {
        provider: "apple_health".into(),
        device_type: device_type as i32,
        ..Default::default()
    })
}

fn watch() -> Option<pb::SourceDescriptor> {
    source(pb::DeviceType::Watch)
}

fn phone() -> Option<pb::SourceDescriptor> {
    source(pb::DeviceType::Phone)
}

/// UNIX ms of a UTC wall-clock time.
fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .timestamp_millis()
}

/// Interval records `(start, minutes, value)` recorded at `offset` seconds from UTC, as a
/// HealthKit export writes them (startDate and endDate).
fn records(
    source: Option<pb::SourceDescriptor>,
    code: &str,
    offset: i32,
    records: &[(i64, i64, f64)],
) -> pb::SampleBatch {
    pb::SampleBatch {
        source,
        series_type: code.into(),
        unit: String::new(),
        times: records.iter().map(|r| r.0).collect(),
        values: records.iter().map(|r| r.2).collect(),
        zone_offsets: vec![offset; records.len()],
        durations: records.iter().map(|r| r.1 * MINUTE).collect(),
    }
}

async fn setup() -> (TestServer, Client, pb::User) {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    (server, backend, user)
}

async fn write(backend: &Client, user: &pb::User, batches: Vec<pb::SampleBatch>) {
    backend
        .write_samples(pb::WriteSamplesRequest {
            parent: user.name.clone(),
            batches,
        })
        .await
        .unwrap();
}

fn range(start: Option<i64>, end: Option<i64>) -> Option<pb::TimeRange> {
    let ts = |ms: i64| Timestamp {
        seconds: ms / 1000,
        nanos: 0,
    };
    Some(pb::TimeRange {
        start_time: start.map(ts),
        end_time: end.map(ts),
    })
}

/// Day sums of one series type: (data source, local date) → sum.
async fn days(
    backend: &Client,
    user: &pb::User,
    code: &str,
    view: pb::View,
    time_range: Option<pb::TimeRange>,
) -> BTreeMap<(String, String), f64> {
    let response = backend
        .aggregate_samples(pb::AggregateSamplesRequest {
            parent: user.name.clone(),
            series_types: vec![code.into()],
            bucket: pb::Bucket::Day as i32,
            view: view as i32,
            time_range,
        })
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for series in response.series {
        let source = series
            .data_source
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_owned();
        for bucket in series.buckets {
            out.insert((source.clone(), bucket.local_date), bucket.sum);
        }
    }
    out
}

/// Merged day sums: local date → sum.
async fn merged_days(
    backend: &Client,
    user: &pb::User,
    code: &str,
    time_range: Option<pb::TimeRange>,
) -> Vec<(String, f64)> {
    days(backend, user, code, pb::View::Merged, time_range)
        .await
        .into_iter()
        .map(|((_, date), sum)| (date, sum))
        .collect()
}

/// Raw sums per source over every day.
async fn raw_totals(backend: &Client, user: &pb::User, code: &str) -> Vec<f64> {
    let mut per_source: BTreeMap<String, f64> = BTreeMap::new();
    for ((source, _), sum) in days(backend, user, code, pb::View::Raw, None).await {
        *per_source.entry(source).or_default() += sum;
    }
    let mut totals: Vec<f64> = per_source.into_values().collect();
    totals.sort_by(f64::total_cmp);
    totals
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn a_watch_and_a_phone_counting_the_same_walk_count_it_once() {
    let (_server, backend, user) = setup().await;
    // 2026-11-20 in Warsaw (+01:00); 10:00 local is 09:00 UTC.
    let t = |h: u32, m: u32| utc(2026, 11, 20, h - 1, m);
    // Steps. The watch: 10:00-10:10, 1000. The phone: 10:02-10:06, 400 (inside the watch's
    // record: 0); 10:05-10:15, 600 (half outside: 10:10-10:15, 300); 11:00-11:10, 800 (a walk
    // without the watch: 800). Merged: 1000 + 300 + 800 = 2100. Raw: watch 1000, phone 1800.
    // Walking distance, metres, same records: watch 800; phone 300 (0), 500 (250), 640 (640).
    // Merged: 800 + 250 + 640 = 1690.
    write(
        &backend,
        &user,
        vec![
            records(watch(), "steps", 3600, &[(t(10, 0), 10, 1000.0)]),
            records(
                phone(),
                "steps",
                3600,
                &[
                    (t(10, 2), 4, 400.0),
                    (t(10, 5), 10, 600.0),
                    (t(11, 0), 10, 800.0),
                ],
            ),
            records(
                watch(),
                "distance_walking_running",
                3600,
                &[(t(10, 0), 10, 800.0)],
            ),
            records(
                phone(),
                "distance_walking_running",
                3600,
                &[
                    (t(10, 2), 4, 300.0),
                    (t(10, 5), 10, 500.0),
                    (t(11, 0), 10, 640.0),
                ],
            ),
        ],
    )
    .await;

    let steps = merged_days(&backend, &user, "steps", None).await;
    assert_eq!(steps, [("2026-11-20".to_owned(), 2100.0)]);
    assert_eq!(raw_totals(&backend, &user, "steps").await, [1000.0, 1800.0]);
    let distance = merged_days(&backend, &user, "distance_walking_running", None).await;
    assert_eq!(distance.len(), 1);
    assert!(close(distance[0].1, 1690.0), "{distance:?}");
    assert_eq!(
        raw_totals(&backend, &user, "distance_walking_running").await,
        [800.0, 1440.0]
    );

    // The merged samples: the watch's record, the phone's uncovered piece 10:10-10:15 with its
    // 300 steps, the phone's walk at 11:00; each with its length.
    let series: Vec<pb::SampleSeries> = backend
        .stream_sample_series(pb::ListSamplesRequest {
            parent: user.name.clone(),
            series_types: vec!["steps".into()],
            view: pb::View::Merged as i32,
            page_size: 2,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    let samples: Vec<(i64, f64, i64)> = series
        .iter()
        .flat_map(|s| {
            assert_eq!(s.durations.len(), s.times.len());
            (0..s.times.len()).map(move |i| (s.times[i], s.values[i], s.durations[i]))
        })
        .collect();
    assert_eq!(
        samples,
        [
            (t(10, 0), 1000.0, 10 * MINUTE),
            (t(10, 10), 300.0, 5 * MINUTE),
            (t(11, 0), 800.0, 10 * MINUTE),
        ]
    );

    // The raw view returns every record as written, with its length.
    let raw = backend
        .list_samples(pb::ListSamplesRequest {
            parent: user.name.clone(),
            series_types: vec!["steps".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let phone_series = raw.series.iter().find(|s| s.values.len() == 3).unwrap();
    assert_eq!(
        phone_series.durations,
        [4 * MINUTE, 10 * MINUTE, 10 * MINUTE]
    );

    // The day's summary is the merged day bucket.
    let summary = backend
        .list_daily_summaries(pb::ListDailySummariesRequest {
            parent: user.name.clone(),
            start_date: "2026-11-20".into(),
            end_date: "2026-11-20".into(),
        })
        .await
        .unwrap();
    let activity = summary.daily_summaries[0].activity.as_ref().unwrap();
    assert_eq!(activity.steps, Some(2100.0));
    assert!(close(activity.distance_meters.unwrap(), 1690.0));
}

#[tokio::test]
async fn records_across_midnight_cover_the_neighbouring_days_and_count_on_their_start() {
    let (_server, backend, user) = setup().await;
    // At UTC (offset 0), so that local days are the stored days.
    // Watch W1 20th 23:55 - 21st 00:05, 100 steps (a day-20 record reaching into the 21st).
    // Phone P1 21st 00:00-00:10, 60: its first five minutes are W1's: keeps 00:05-00:10, 30.
    // Phone P2 20th 23:40-23:50, 50: untouched, 50.
    // Phone P3 21st 23:58 - 22nd 00:02, 40; watch W2 22nd 00:00-00:04, 80: P3 keeps
    // 23:58-00:00, 20.
    // Merged: 20th 100 + 50 = 150; 21st 30 + 20 = 50; 22nd 80.
    write(
        &backend,
        &user,
        vec![
            records(
                watch(),
                "steps",
                0,
                &[
                    (utc(2026, 11, 20, 23, 55), 10, 100.0),
                    (utc(2026, 11, 22, 0, 0), 4, 80.0),
                ],
            ),
            records(
                phone(),
                "steps",
                0,
                &[
                    (utc(2026, 11, 20, 23, 40), 10, 50.0),
                    (utc(2026, 11, 21, 0, 0), 10, 60.0),
                    (utc(2026, 11, 21, 23, 58), 4, 40.0),
                ],
            ),
        ],
    )
    .await;
    let expected = [
        ("2026-11-20".to_owned(), 150.0),
        ("2026-11-21".to_owned(), 50.0),
        ("2026-11-22".to_owned(), 80.0),
    ];
    assert_eq!(merged_days(&backend, &user, "steps", None).await, expected);
    // Asking for the 21st alone gives the same 50: the days around it still cover.
    let the_21st = range(Some(utc(2026, 11, 21, 0, 0)), Some(utc(2026, 11, 22, 0, 0)));
    assert_eq!(
        merged_days(&backend, &user, "steps", the_21st).await,
        [("2026-11-21".to_owned(), 50.0)]
    );
    // A record spanning midnight without competition counts whole on its start's day, raw
    // and merged: W1's 100 on the 20th.
    let raw = days(&backend, &user, "steps", pb::View::Raw, None).await;
    let watch_20th: Vec<f64> = raw
        .iter()
        .filter(|((_, date), _)| date == "2026-11-20")
        .map(|(_, sum)| *sum)
        .collect();
    assert_eq!(watch_20th.iter().sum::<f64>(), 150.0);
    assert!(watch_20th.contains(&100.0));
}

#[tokio::test]
async fn dst_and_a_flight_across_zones_keep_coverage_in_absolute_time() {
    let (_server, backend, user) = setup().await;
    // Warsaw leaves summer time on 2026-10-25: 03:00 CEST (+02:00) becomes 02:00 CET (+01:00).
    // The watch: 02:50 CEST (00:50 UTC) for 20 minutes, 200 steps, offset +02:00.
    // The phone: 02:05 CET (01:05 UTC) for 10 minutes, 100, offset +01:00: covered
    // 01:05-01:10 UTC, keeps 50. By wall clock it would look outside the watch's 02:50-03:10.
    // The phone: 23:30 CET (22:30 UTC) 70 steps, the 25th; 00:30 CET on the 26th (23:30 UTC
    // on the 25th) 90 steps, the 26th.
    // Merged: the 25th 200 + 50 + 70 = 320; the 26th 90.
    write(
        &backend,
        &user,
        vec![
            records(
                watch(),
                "steps",
                7200,
                &[(utc(2026, 10, 25, 0, 50), 20, 200.0)],
            ),
            records(
                phone(),
                "steps",
                3600,
                &[
                    (utc(2026, 10, 25, 1, 5), 10, 100.0),
                    (utc(2026, 10, 25, 22, 30), 5, 70.0),
                    (utc(2026, 10, 25, 23, 30), 5, 90.0),
                ],
            ),
        ],
    )
    .await;
    // A flight from Warsaw to New York on 2026-11-20. Before it, in Warsaw (+01:00): the watch
    // at 09:00 local (08:00 UTC), 500 steps. After landing, in New York (-05:00): the phone
    // 18:30-18:40 local (23:30-23:40 UTC), 300; the watch 18:35-18:45 (23:35-23:45 UTC), 200:
    // the phone keeps 18:30-18:35, 150; the phone at 21:00 local (02:00 UTC on the 21st), 40,
    // still the 20th in New York.
    // Merged on the 20th: 500 + 200 + 150 + 40 = 890.
    write(
        &backend,
        &user,
        vec![
            records(
                watch(),
                "steps",
                3600,
                &[(utc(2026, 11, 20, 8, 0), 10, 500.0)],
            ),
            records(
                watch(),
                "steps",
                -18000,
                &[(utc(2026, 11, 20, 23, 35), 10, 200.0)],
            ),
            records(
                phone(),
                "steps",
                -18000,
                &[
                    (utc(2026, 11, 20, 23, 30), 10, 300.0),
                    (utc(2026, 11, 21, 2, 0), 10, 40.0),
                ],
            ),
        ],
    )
    .await;
    assert_eq!(
        merged_days(&backend, &user, "steps", None).await,
        [
            ("2026-10-25".to_owned(), 320.0),
            ("2026-10-26".to_owned(), 90.0),
            ("2026-11-20".to_owned(), 890.0),
        ]
    );
    let summary = backend
        .list_daily_summaries(pb::ListDailySummariesRequest {
            parent: user.name.clone(),
            start_date: "2026-10-24".into(),
            end_date: "2026-11-21".into(),
        })
        .await
        .unwrap();
    let steps: Vec<(&str, Option<f64>)> = summary
        .daily_summaries
        .iter()
        .map(|d| (d.date.as_str(), d.activity.as_ref().unwrap().steps))
        .collect();
    assert_eq!(
        steps,
        [
            ("2026-10-25", Some(320.0)),
            ("2026-10-26", Some(90.0)),
            ("2026-11-20", Some(890.0)),
        ],
        "a day's summary is its merged day bucket; days without data are left out"
    );
}

#[tokio::test]
async fn instantaneous_samples_keep_the_minute_rule_and_read_back_without_durations() {
    let (_server, backend, user) = setup().await;
    let t0 = utc(2026, 11, 20, 9, 0);
    // Heart rate: the watch at 09:00:00 and 09:01:00; the phone at 09:00:30 (the watch's
    // minute: dropped) and 09:02:00 (kept). Samples written without durations.
    let hr = |source, times: Vec<i64>, values: Vec<f64>| pb::SampleBatch {
        source,
        series_type: "heart_rate".into(),
        zone_offsets: vec![3600; times.len()],
        times,
        values,
        ..Default::default()
    };
    write(
        &backend,
        &user,
        vec![
            hr(watch(), vec![t0, t0 + MINUTE], vec![60.0, 62.0]),
            hr(
                phone(),
                vec![t0 + 30_000, t0 + 2 * MINUTE],
                vec![90.0, 70.0],
            ),
        ],
    )
    .await;
    let merged = backend
        .list_samples(pb::ListSamplesRequest {
            parent: user.name.clone(),
            // The resource name ListSeriesTypes returns is accepted as well as the code.
            series_types: vec!["seriesTypes/heart_rate".into()],
            view: pb::View::Merged as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(merged.series.len(), 1);
    assert_eq!(merged.series[0].values, [60.0, 62.0, 70.0]);
    assert!(merged.series[0].durations.is_empty(), "instantaneous");

    let types = backend
        .list_series_types(pb::ListSeriesTypesRequest::default())
        .await
        .unwrap();
    let heart_rate = types
        .series_types
        .iter()
        .find(|t| t.name.ends_with("/heart_rate"))
        .unwrap();
    let aggregate = backend
        .aggregate_samples(pb::AggregateSamplesRequest {
            parent: user.name.clone(),
            series_types: vec![heart_rate.name.clone()],
            bucket: pb::Bucket::Day as i32,
            view: pb::View::Merged as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let bucket = &aggregate.series[0].buckets[0];
    assert_eq!((bucket.count, bucket.min, bucket.max), (3, 60.0, 70.0));
}

#[tokio::test]
async fn bad_durations_are_refused_with_every_violation() {
    let (_server, backend, user) = setup().await;
    let t0 = utc(2026, 11, 20, 9, 0);
    let mut wrong_length = records(phone(), "steps", 0, &[(t0, 5, 10.0), (t0 + MINUTE, 5, 9.0)]);
    wrong_length.durations.pop();
    let mut negative = records(phone(), "steps", 0, &[(t0, 5, 10.0)]);
    negative.durations[0] = -1;
    let too_long = records(phone(), "steps", 0, &[(t0, 24 * 60 + 1, 10.0)]);
    let error = assert_error(
        backend
            .write_samples(pb::WriteSamplesRequest {
                parent: user.name.clone(),
                batches: vec![wrong_length, negative, too_long],
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    let fields = violated_fields(&error);
    assert!(
        fields.contains(&"batches[0].durations".to_owned()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"batches[1].durations[0]".to_owned()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"batches[2].durations[0]".to_owned()),
        "{fields:?}"
    );
    // Nothing of the batch was written.
    let written = backend
        .list_samples(pb::ListSamplesRequest {
            parent: user.name.clone(),
            series_types: vec!["steps".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(written.series.is_empty());
}
