//! Requests and answers are bounded: an upload over OWL_MAX_UPLOAD_BYTES is refused whether
//! or not it announced its size, a sleep session of 100,000 stages is refused, and a page of
//! sleep sessions ends early rather than pass 50,000 stage intervals.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, assert_error, violated_fields};
use owl::{Code, pb};
use prost_types::Timestamp;

/// 2026-11-20 00:00:00 UTC in seconds.
const NIGHT: i64 = 1_763_596_800;

fn at(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

/// A night starting `day` days after NIGHT, of `stages` back-to-back 10-second stages.
fn night(day: i64, stages: i64) -> pb::SleepSession {
    let start = NIGHT + day * 86_400;
    pb::SleepSession {
        start_time: at(start),
        end_time: at(start + stages * 10),
        stages: (0..stages)
            .map(|i| pb::SleepStageInterval {
                stage: if i % 2 == 0 {
                    pb::SleepStage::Light
                } else {
                    pb::SleepStage::Deep
                } as i32,
                start_time: at(start + i * 10),
                end_time: at(start + i * 10 + 10),
            })
            .collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn uploads_over_the_limit_are_refused_announced_or_not() {
    let server = TestServer::start_with(&[("OWL_MAX_UPLOAD_BYTES", "1000")]).await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "uploader").await;
    let create = |total_bytes| pb::CreateUploadRequest {
        parent: user.name.clone(),
        total_bytes,
        sha256: String::new(),
    };
    let error = assert_error(
        backend.create_upload(create(6 << 30)).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["total_bytes"]);
    // Unannounced: the bytes themselves are counted.
    let upload = backend.create_upload(create(0)).await.unwrap();
    let append = |offset: i64| pb::AppendUploadChunkRequest {
        name: upload.name.clone(),
        offset,
        data: vec![b'x'; 600],
    };
    backend.append_upload_chunk(append(0)).await.unwrap();
    let error = assert_error(
        backend.append_upload_chunk(append(600)).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["data"]);
}

#[tokio::test]
async fn sessions_of_too_many_stages_are_refused_and_pages_of_stages_are_bounded() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "sleeper").await;
    let write = |sessions: Vec<pb::SleepSession>| pb::WriteSleepSessionsRequest {
        parent: user.name.clone(),
        source: Some(pb::SourceDescriptor {
            provider: "garmin".into(),
            ..Default::default()
        }),
        sleep_sessions: sessions,
    };
    // 100,000 ten-second stages do not fit in a day either; the stage count is named.
    let error = assert_error(
        backend
            .write_sleep_sessions(write(vec![night(0, 100_000)]))
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert!(violated_fields(&error).contains(&"sleep_sessions[0].stages".to_string()));

    // Twelve nights of 5,000 stages each (the most a session may hold).
    for day in 0..12 {
        backend
            .write_sleep_sessions(write(vec![night(day, 5_000)]))
            .await
            .unwrap();
    }
    let mut sizes = Vec::new();
    let mut token = String::new();
    loop {
        let page = backend
            .list_sleep_sessions(pb::ListSleepSessionsRequest {
                parent: user.name.clone(),
                page_size: 100,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap();
        sizes.push(page.sleep_sessions.len());
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(sizes, [10, 2], "50,000 stages a page at most");
}
