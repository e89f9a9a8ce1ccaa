//! A client that opens a stream and then neither sends nor closes must not hurt anyone else:
//! no database connection is held while owl waits on it, and the stream ends once it has been
//! idle for OWL_STREAM_IDLE_TIMEOUT_SECONDS.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{PASSWORD, TestServer, assert_error};
use owl::pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// 2026-11-20 08:00:00 UTC in ms.
const T0: i64 = 1_763_625_600_000;

fn heart_rate(parent: &str, minutes: i64) -> pb::StreamSamplesRequest {
    let times: Vec<i64> = (0..minutes).map(|m| T0 + m * 60_000).collect();
    pb::StreamSamplesRequest {
        parent: parent.into(),
        batches: vec![pb::SampleBatch {
            source: Some(pb::SourceDescriptor {
                provider: "apple_health".into(),
                device_type: pb::DeviceType::Watch as i32,
                ..Default::default()
            }),
            series_type: "heart_rate".into(),
            unit: "count/min".into(),
            values: vec![62.0; times.len()],
            zone_offsets: vec![3600; times.len()],
            times,
            durations: vec![],
        }],
    }
}

#[tokio::test]
async fn held_streams_do_not_block_sign_in_reads_or_writes() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "held").await;
    // Twelve streams, each sends one message and then holds the call open.
    let mut holders = Vec::new();
    for _ in 0..12 {
        let (tx, rx) = mpsc::channel(1);
        tx.send(heart_rate(&user.name, 60)).await.unwrap();
        let client = backend.clone();
        holders.push((
            tx,
            tokio::spawn(async move { client.stream_samples(ReceiverStream::new(rx)).await }),
        ));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let everyone_else = async {
        server
            .client
            .login(pb::LoginRequest {
                email: "admin@example.com".into(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap();
        let other = server.user(&backend, "other").await;
        backend
            .write_samples(pb::WriteSamplesRequest {
                parent: other.name.clone(),
                batches: heart_rate(&other.name, 30).batches,
            })
            .await
            .unwrap();
        let read = backend
            .list_samples(pb::ListSamplesRequest {
                parent: other.name.clone(),
                series_types: vec!["heart_rate".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(read.series[0].times.len(), 30);
    };
    // Before, every call waited out the pool's 30 s acquire timeout and failed.
    tokio::time::timeout(Duration::from_secs(5), everyone_else)
        .await
        .expect("sign-in, a write and a read answer while twelve streams are held");

    // The held streams still complete when their clients close them.
    for (tx, call) in holders {
        drop(tx);
        let done = call.await.unwrap().unwrap();
        assert_eq!(
            done.stats.unwrap().inserted + done.stats.unwrap().skipped,
            60
        );
    }
}

#[tokio::test]
async fn an_idle_stream_is_ended_and_stores_nothing() {
    let server = TestServer::start_with(&[("OWL_STREAM_IDLE_TIMEOUT_SECONDS", "1")]).await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "idle").await;
    let (tx, rx) = mpsc::channel(1);
    tx.send(heart_rate(&user.name, 60)).await.unwrap();
    let call = backend.stream_samples(ReceiverStream::new(rx));
    let result = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the server ends the idle stream");
    assert_error(result, owl::Code::DeadlineExceeded, "STREAM_IDLE");
    drop(tx);
    let read = backend
        .list_samples(pb::ListSamplesRequest {
            parent: user.name.clone(),
            series_types: vec!["heart_rate".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        read.series.is_empty(),
        "a stream that did not finish stores nothing"
    );
}
