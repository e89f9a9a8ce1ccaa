//! The merged view: source priority, overlapping sources counted once, gaps filled from
//! lower-priority sources, overlapping sleep sessions resolved to one.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, assert_error, violated_fields};
use futures::TryStreamExt;
use owl::{Client, Code, pb};
use prost_types::Timestamp;

/// 2026-11-20 08:00:00 UTC in ms.
const T0: i64 = 1_763_625_600_000;
const MINUTE: i64 = 60_000;

fn source(provider: &str, device_type: pb::DeviceType) -> Option<pb::SourceDescriptor> {
    Some(pb::SourceDescriptor {
        provider: provider.into(),
        device_model: String::new(),
        device_type: device_type as i32,
        ..Default::default()
    })
}

/// 10 steps a minute from `from` to `to` (minutes after T0) from `source`.
fn steps(
    source: Option<pb::SourceDescriptor>,
    from: i64,
    to: i64,
    per_minute: f64,
) -> pb::SampleBatch {
    let times: Vec<i64> = (from..to).map(|m| T0 + m * MINUTE).collect();
    pb::SampleBatch {
        source,
        series_type: "steps".into(),
        unit: String::new(),
        values: vec![per_minute; times.len()],
        zone_offsets: vec![0; times.len()],
        times,
        durations: vec![],
    }
}

async fn setup() -> (TestServer, Client, pb::User) {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    // The watch walked minutes 0–59; the phone, in the pocket, counted 30–89.
    let batches = vec![
        steps(source("apple_health", pb::DeviceType::Watch), 0, 60, 10.0),
        steps(source("apple_health", pb::DeviceType::Phone), 30, 90, 7.0),
    ];
    backend
        .write_samples(pb::WriteSamplesRequest {
            parent: user.name.clone(),
            batches,
        })
        .await
        .unwrap();
    (server, backend, user)
}

async fn day_sum(backend: &Client, user: &pb::User, view: pb::View) -> Vec<(String, f64)> {
    let result = backend
        .aggregate_samples(pb::AggregateSamplesRequest {
            parent: user.name.clone(),
            series_types: vec!["steps".into()],
            bucket: pb::Bucket::Day as i32,
            view: view as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    result
        .series
        .iter()
        .map(|s| (s.data_source.clone(), s.buckets[0].sum))
        .collect()
}

#[tokio::test]
async fn overlapping_minutes_count_once_and_gaps_are_filled_from_the_phone() {
    let (_server, backend, user) = setup().await;
    let raw = day_sum(&backend, &user, pb::View::Raw).await;
    assert_eq!(
        raw.iter().map(|(_, sum)| *sum).sum::<f64>(),
        600.0 + 420.0,
        "the raw view shows both sources"
    );
    // Merged: the watch wins 0–59 (600), the phone fills 60–89 (210).
    assert_eq!(
        day_sum(&backend, &user, pb::View::Merged).await,
        [(String::new(), 810.0)]
    );
}

#[tokio::test]
async fn a_users_priority_override_changes_the_winner() {
    let (server, backend, user) = setup().await;
    let name = format!("{}/sourcePriority", user.name);
    let default = backend
        .get_source_priority(pb::GetSourcePriorityRequest { name: name.clone() })
        .await
        .unwrap();
    assert!(default.deployment_default);
    assert_eq!(
        default.device_types.first(),
        Some(&(pb::DeviceType::ChestStrap as i32))
    );

    let phone_first = pb::SourcePriority {
        name: name.clone(),
        providers: vec!["apple_health".into()],
        device_types: vec![pb::DeviceType::Phone as i32, pb::DeviceType::Watch as i32],
        deployment_default: false,
    };
    let stored = backend
        .update_source_priority(pb::UpdateSourcePriorityRequest {
            source_priority: Some(phone_first),
        })
        .await
        .unwrap();
    assert!(!stored.deployment_default);
    // Merged: the phone wins 30–89 (420), the watch fills 0–29 (300).
    assert_eq!(
        day_sum(&backend, &user, pb::View::Merged).await,
        [(String::new(), 720.0)]
    );

    // Empty lists return to the deployment's default.
    let cleared = pb::SourcePriority {
        name: name.clone(),
        ..Default::default()
    };
    let back = backend
        .update_source_priority(pb::UpdateSourcePriorityRequest {
            source_priority: Some(cleared),
        })
        .await
        .unwrap();
    assert!(back.deployment_default);
    assert_eq!(
        day_sum(&backend, &user, pb::View::Merged).await,
        [(String::new(), 810.0)]
    );

    let bad = pb::SourcePriority {
        name: name.clone(),
        providers: vec!["Not A Provider".into()],
        ..Default::default()
    };
    let error = assert_error(
        backend
            .update_source_priority(pb::UpdateSourcePriorityRequest {
                source_priority: Some(bad),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(
        violated_fields(&error),
        ["source_priority.providers[0].provider"]
    );
    let token = backend
        .create_sdk_token(pb::CreateSdkTokenRequest {
            user: user.name.clone(),
        })
        .await
        .unwrap();
    let phone = server.client.with_token(token.access_token);
    let attempt = phone
        .update_source_priority(pb::UpdateSourcePriorityRequest {
            source_priority: Some(pb::SourcePriority {
                name,
                ..Default::default()
            }),
        })
        .await;
    assert_error(attempt, Code::PermissionDenied, "PERMISSION_DENIED");
}

#[tokio::test]
async fn merged_samples_page_through_the_winners_only() {
    let (_server, backend, user) = setup().await;
    for order in [pb::TimeOrder::OldestFirst, pb::TimeOrder::NewestFirst] {
        let request = pb::ListSamplesRequest {
            parent: user.name.clone(),
            series_types: vec!["steps".into()],
            view: pb::View::Merged as i32,
            order: order as i32,
            page_size: 7,
            ..Default::default()
        };
        let series: Vec<pb::SampleSeries> = backend
            .stream_sample_series(request)
            .try_collect()
            .await
            .unwrap();
        let mut times: Vec<i64> = series.iter().flat_map(|s| s.times.clone()).collect();
        let values: Vec<f64> = series.iter().flat_map(|s| s.values.clone()).collect();
        assert!(series.iter().all(|s| s.data_source.is_empty()));
        assert_eq!(times.len(), 90, "{order:?}");
        assert_eq!(values.iter().sum::<f64>(), 810.0, "{order:?}");
        if order == pb::TimeOrder::NewestFirst {
            times.reverse();
        }
        assert_eq!(times, (0..90).map(|m| T0 + m * MINUTE).collect::<Vec<_>>());
    }
}

fn session(start_minute: i64, minutes: i64, nap: bool) -> pb::SleepSession {
    let at = |m: i64| {
        Some(Timestamp {
            seconds: (T0 + m * MINUTE) / 1000,
            nanos: 0,
        })
    };
    pb::SleepSession {
        start_time: at(start_minute),
        end_time: at(start_minute + minutes),
        nap,
        ..Default::default()
    }
}

#[tokio::test]
async fn overlapping_sleep_sessions_from_two_providers_resolve_to_one() {
    let (_server, backend, user) = setup().await;
    let write = |provider: &str, sessions: Vec<pb::SleepSession>| pb::WriteSleepSessionsRequest {
        parent: user.name.clone(),
        source: source(
            provider,
            if provider == "oura" {
                pb::DeviceType::Ring
            } else {
                pb::DeviceType::Watch
            },
        ),
        sleep_sessions: sessions,
    };
    backend
        .write_sleep_sessions(write("garmin", vec![session(0, 480, false)]))
        .await
        .unwrap();
    backend
        .write_sleep_sessions(write(
            "oura",
            vec![session(-20, 500, false), session(700, 30, true)],
        ))
        .await
        .unwrap();
    let list = |view: pb::View| pb::ListSleepSessionsRequest {
        parent: user.name.clone(),
        view: view as i32,
        ..Default::default()
    };
    assert_eq!(
        backend
            .list_sleep_sessions(list(pb::View::Raw))
            .await
            .unwrap()
            .sleep_sessions
            .len(),
        3
    );
    let merged = backend
        .list_sleep_sessions(list(pb::View::Merged))
        .await
        .unwrap()
        .sleep_sessions;
    let sources = backend
        .list_data_sources(pb::ListDataSourcesRequest {
            parent: user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let provider = |name: &str| {
        sources
            .data_sources
            .iter()
            .find(|s| s.name == name)
            .unwrap()
            .provider
            .clone()
    };
    let kept: Vec<(String, bool)> = merged
        .iter()
        .map(|s| (provider(&s.data_source), s.nap))
        .collect();
    assert_eq!(
        kept,
        [("garmin".into(), false), ("oura".into(), true)],
        "garmin outranks oura by default; the nap does not overlap"
    );
}
