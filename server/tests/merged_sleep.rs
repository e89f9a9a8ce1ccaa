//! Sleep in the merged view through the SDK: a phone's in-bed session and a watch's stages for
//! the same night form one session; competing staged nights from two providers resolve to the
//! better-ranked; a night is dated by its end's own wall clock (an overnight flight). Expected
//! figures are worked out by hand in the comments.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::DateTime;
use common::{TestServer, assert_error, violated_fields};
use owl::{Client, pb};
use prost_types::Timestamp;

fn source(provider: &str, device_type: pb::DeviceType) -> Option<pb::SourceDescriptor> {
    Some(pb::SourceDescriptor {
        provider: provider.into(),
        device_type: device_type as i32,
        ..Default::default()
    })
}

/// An instant written as RFC 3339 with its offset ("2026-11-20T22:40:00+01:00").
fn at(text: &str) -> Option<Timestamp> {
    let t = DateTime::parse_from_rfc3339(text).unwrap();
    Some(Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

fn stage(stage: pb::SleepStage, from: &str, to: &str) -> pb::SleepStageInterval {
    pb::SleepStageInterval {
        stage: stage as i32,
        start_time: at(from),
        end_time: at(to),
    }
}

fn night(from: &str, to: &str, stages: Vec<pb::SleepStageInterval>) -> pb::SleepSession {
    pb::SleepSession {
        start_time: at(from),
        end_time: at(to),
        zone_offset: 3600,
        stages,
        ..Default::default()
    }
}

async fn write(
    backend: &Client,
    user: &pb::User,
    source: Option<pb::SourceDescriptor>,
    sessions: Vec<pb::SleepSession>,
) {
    backend
        .write_sleep_sessions(pb::WriteSleepSessionsRequest {
            parent: user.name.clone(),
            source,
            sleep_sessions: sessions,
        })
        .await
        .unwrap();
}

async fn sessions(backend: &Client, user: &pb::User, view: pb::View) -> Vec<pb::SleepSession> {
    backend
        .list_sleep_sessions(pb::ListSleepSessionsRequest {
            parent: user.name.clone(),
            view: view as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .sleep_sessions
}

async fn day_sleep(backend: &Client, user: &pb::User, from: &str, to: &str) -> Vec<(String, i64)> {
    backend
        .list_daily_summaries(pb::ListDailySummariesRequest {
            parent: user.name.clone(),
            start_date: from.into(),
            end_date: to.into(),
        })
        .await
        .unwrap()
        .daily_summaries
        .into_iter()
        .filter_map(|d| Some((d.date, d.sleep?.in_bed_seconds?)))
        .collect()
}

/// Back-to-back stages, each from its start to the next one's (the last to `end`).
fn hypnogram(stages: &[(pb::SleepStage, &str)], end: &str) -> Vec<pb::SleepStageInterval> {
    let ends = stages.iter().skip(1).map(|s| s.1).chain([end]);
    stages
        .iter()
        .zip(ends)
        .map(|(&(s, from), to)| stage(s, from, to))
        .collect()
}

/// The watch's night: 23:05–06:45 at +01:00, 450 minutes asleep and 10 awake.
fn watch_night() -> pb::SleepSession {
    use pb::SleepStage::*;
    let end = "2026-11-21T06:45:00+01:00";
    let stages = [
        (Light, "2026-11-20T23:05:00+01:00"),
        (Deep, "2026-11-21T00:30:00+01:00"),
        (Rem, "2026-11-21T01:30:00+01:00"),
        (Awake, "2026-11-21T02:00:00+01:00"),
        (Light, "2026-11-21T02:10:00+01:00"),
    ];
    night(stages[0].1, end, hypnogram(&stages, end))
}

/// The phone on the nightstand: in bed 22:40–07:10.
fn phone_in_bed() -> pb::SleepSession {
    let (from, to) = ("2026-11-20T22:40:00+01:00", "2026-11-21T07:10:00+01:00");
    night(from, to, vec![stage(pb::SleepStage::InBed, from, to)])
}

#[tokio::test]
async fn a_phones_in_bed_and_a_watchs_stages_are_one_night() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "sleeper").await;
    let watch = source("apple_health", pb::DeviceType::Watch);
    write(&backend, &user, watch, vec![watch_night()]).await;
    let phone = source("apple_health", pb::DeviceType::Phone);
    write(&backend, &user, phone, vec![phone_in_bed()]).await;

    assert_eq!(sessions(&backend, &user, pb::View::Raw).await.len(), 2);
    let merged = sessions(&backend, &user, pb::View::Merged).await;
    assert_eq!(merged.len(), 1, "{merged:#?}");
    let one = &merged[0];
    // The span is the union: 22:40 → 07:10.
    assert_eq!(
        (one.start_time, one.end_time),
        (
            at("2026-11-20T22:40:00+01:00"),
            at("2026-11-21T07:10:00+01:00")
        )
    );
    // The watch's stages, with the phone's in-bed time around them.
    let stages: Vec<(i32, Option<Timestamp>)> =
        one.stages.iter().map(|s| (s.stage, s.start_time)).collect();
    assert_eq!(
        stages,
        [
            (
                pb::SleepStage::InBed as i32,
                at("2026-11-20T22:40:00+01:00")
            ),
            (
                pb::SleepStage::Light as i32,
                at("2026-11-20T23:05:00+01:00")
            ),
            (pb::SleepStage::Deep as i32, at("2026-11-21T00:30:00+01:00")),
            (pb::SleepStage::Rem as i32, at("2026-11-21T01:30:00+01:00")),
            (
                pb::SleepStage::Awake as i32,
                at("2026-11-21T02:00:00+01:00")
            ),
            (
                pb::SleepStage::Light as i32,
                at("2026-11-21T02:10:00+01:00")
            ),
            (
                pb::SleepStage::InBed as i32,
                at("2026-11-21T06:45:00+01:00")
            ),
        ]
    );
    // 85 + 60 + 30 + 275 = 450 minutes asleep over 510 in bed: 88.2 %.
    assert_eq!(one.efficiency_percent, Some(88.2));
    let sources = backend
        .list_data_sources(pb::ListDataSourcesRequest {
            parent: user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .data_sources;
    let kind = sources
        .iter()
        .find(|s| s.name == one.data_source)
        .unwrap()
        .device_type;
    assert_eq!(kind, pb::DeviceType::Watch as i32, "the stages' source");

    // The summary of the 21st (the night ended then) reads the merged night.
    let summary = backend
        .list_daily_summaries(pb::ListDailySummariesRequest {
            parent: user.name.clone(),
            start_date: "2026-11-20".into(),
            end_date: "2026-11-21".into(),
        })
        .await
        .unwrap()
        .daily_summaries;
    let dates: Vec<&str> = summary.iter().map(|d| d.date.as_str()).collect();
    assert_eq!(dates, ["2026-11-21"]);
    let sleep = summary[0].sleep.as_ref().unwrap();
    assert_eq!(
        (
            sleep.in_bed_seconds,
            sleep.asleep_seconds,
            sleep.awake_seconds,
            sleep.total_asleep_seconds
        ),
        (Some(510 * 60), Some(450 * 60), 10 * 60, Some(450 * 60))
    );
    assert_eq!(
        (sleep.light_seconds, sleep.deep_seconds, sleep.rem_seconds),
        (360 * 60, 60 * 60, 30 * 60)
    );
}

#[tokio::test]
async fn competing_staged_nights_resolve_to_the_better_ranked_and_the_phone_still_widens_it() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "two-rings").await;
    let garmin = source("garmin", pb::DeviceType::Watch);
    write(&backend, &user, garmin, vec![watch_night()]).await;
    // Oura saw the same night a little differently: 23:00–06:50, all light.
    let (from, to) = ("2026-11-20T23:00:00+01:00", "2026-11-21T06:50:00+01:00");
    let oura = source("oura", pb::DeviceType::Ring);
    let ring = night(from, to, vec![stage(pb::SleepStage::Light, from, to)]);
    write(&backend, &user, oura, vec![ring]).await;
    let phone = source("apple_health", pb::DeviceType::Phone);
    write(&backend, &user, phone, vec![phone_in_bed()]).await;

    assert_eq!(sessions(&backend, &user, pb::View::Raw).await.len(), 3);
    let merged = sessions(&backend, &user, pb::View::Merged).await;
    assert_eq!(merged.len(), 1);
    // Garmin outranks Oura by default: its 450 asleep minutes, not Oura's 470, over 510.
    assert_eq!(merged[0].efficiency_percent, Some(88.2));
    assert_eq!(
        day_sleep(&backend, &user, "2026-11-21", "2026-11-21").await,
        [("2026-11-21".to_string(), 510 * 60)]
    );
}

#[tokio::test]
async fn an_overnight_flight_belongs_to_the_date_on_which_it_ends() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "flyer").await;
    // Asleep from 21:00 in Tokyo (+09:00) to 12:00 in Los Angeles (-08:00) the same calendar
    // day: 12:00Z → 20:00Z. At the start's offset the end would read 05:00 on the 21st.
    let (from, to) = ("2026-11-20T21:00:00+09:00", "2026-11-20T12:00:00-08:00");
    let flight = pb::SleepSession {
        zone_offset: 9 * 3600,
        end_zone_offset: Some(-8 * 3600),
        ..night(from, to, vec![stage(pb::SleepStage::Asleep, from, to)])
    };
    let watch = source("apple_health", pb::DeviceType::Watch);
    write(&backend, &user, watch, vec![flight]).await;
    let stored = sessions(&backend, &user, pb::View::Merged).await;
    assert_eq!(
        (stored[0].zone_offset, stored[0].end_zone_offset),
        (9 * 3600, Some(-8 * 3600))
    );
    assert_eq!(
        day_sleep(&backend, &user, "2026-11-19", "2026-11-22").await,
        [("2026-11-20".to_string(), 8 * 3600)]
    );

    let bad = pb::SleepSession {
        end_zone_offset: Some(19 * 3600),
        ..night(from, to, vec![])
    };
    let error = assert_error(
        backend
            .write_sleep_sessions(pb::WriteSleepSessionsRequest {
                parent: user.name.clone(),
                source: source("apple_health", pb::DeviceType::Watch),
                sleep_sessions: vec![bad],
            })
            .await,
        owl::Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(
        violated_fields(&error),
        ["sleep_sessions[0].end_zone_offset"]
    );
}
