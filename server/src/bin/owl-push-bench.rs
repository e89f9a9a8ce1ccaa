//! `owl-push-bench`: measures mobile push through `SdkSyncService` in-process, through the SDK
//! with an SDK token: HealthKit batches of `--batch` records (heart rate, step count and
//! active energy, with record ids, units, offsets and a watch as source). First one stream
//! whose batches are built as they are sent (its peak RSS is the process's working set), then
//! with input built before the clock starts: once streamed, once pushed unary batch after
//! batch, then re-sent (all duplicates). Prints samples/s beside the reference's
//! (../shared/bench/REFERENCE.md: ~2,180 records/s).
//!
//! ```text
//! cargo run --release -p owl-server --bin owl-push-bench                       # SQLite
//! cargo run --release -p owl-server --bin owl-push-bench -- --postgres postgres://postgres@127.0.0.1:5432/test
//! ```

use std::time::Instant;

use clap::Parser;
use owl::pb;
use owl_server::bench::{BenchServer, ScratchDb, memory_mib};
use prost_types::Timestamp;

/// Mobile push benchmark.
#[derive(Parser)]
struct Args {
    /// Admin URL of a PostgreSQL server; the benchmark creates and drops its own database.
    #[arg(long)]
    postgres: Option<String>,
    /// Samples pushed in each timed run.
    #[arg(long, default_value_t = 1_000_000)]
    samples: usize,
    /// Records per batch (message).
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
}

/// 2024-01-01 00:00:00 UTC, seconds.
const T0: i64 = 1_704_067_200;

const TYPES: [(&str, &str, f64); 3] = [
    ("HKQuantityTypeIdentifierHeartRate", "count/min", 55.0),
    ("HKQuantityTypeIdentifierStepCount", "count", 10.0),
    ("HKQuantityTypeIdentifierActiveEnergyBurned", "kcal", 1.0),
];

/// Batch number `b` (of `per_batch` records, fewer at the end of `count`) of the samples from
/// `start` (seconds): a sample of each type every minute.
fn batch(start: i64, b: usize, per_batch: usize, count: usize) -> pb::HealthBatch {
    let source = pb::HealthSource {
        app_id: "com.apple.health.81A2F0C4".into(),
        app_name: "Apple Watch".into(),
        device_name: "Apple Watch".into(),
        device_model: "Watch7,1".into(),
        device_manufacturer: "Apple Inc.".into(),
        device_type: pb::DeviceType::Watch as i32,
        recording_method: pb::RecordingMethod::AutomaticallyRecorded as i32,
    };
    let samples = (b * per_batch..((b + 1) * per_batch).min(count))
        .map(|i| {
            let (kind, unit, base) = TYPES[i % TYPES.len()];
            let t = start + (i / TYPES.len()) as i64 * 60;
            pb::HealthSample {
                record_id: format!(
                    "{:08X}-4E1B-4C5D-9A7F-{:012X}",
                    i / 65_536,
                    start as usize + i
                ),
                r#type: kind.into(),
                field: String::new(),
                unit: unit.into(),
                value: base + (i % 50) as f64,
                start_time: Some(Timestamp {
                    seconds: t,
                    nanos: 0,
                }),
                end_time: Some(Timestamp {
                    seconds: t + 60,
                    nanos: 0,
                }),
                zone_offset: Some(3600),
                source: None,
            }
        })
        .collect();
    pb::HealthBatch {
        platform: pb::HealthPlatform::Healthkit as i32,
        source: Some(source),
        samples,
        ..Default::default()
    }
}

/// All batches of `count` samples from `start`.
fn batches(start: i64, count: usize, per_batch: usize) -> Vec<pb::HealthBatch> {
    (0..count.div_ceil(per_batch))
        .map(|b| batch(start, b, per_batch, count))
        .collect()
}

fn stream(parent: &str, batches: Vec<pb::HealthBatch>) -> Vec<pb::StreamHealthBatchesRequest> {
    batches
        .into_iter()
        .enumerate()
        .map(|(i, batch)| pb::StreamHealthBatchesRequest {
            parent: if i == 0 {
                parent.to_owned()
            } else {
                String::new()
            },
            batch: Some(batch),
        })
        .collect()
}

fn rate(n: usize, secs: f64) -> String {
    format!("{:>9.0} samples/s ({n} in {secs:.2} s)", n as f64 / secs)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = ScratchDb::create(args.postgres.as_deref(), "owl_push_bench").await?;
    let engine = db.engine;
    let server = BenchServer::start(&db, &[("TOKEN_LIFETIME", "86400")], false).await?;
    let backend = &server.backend;
    let user = server.user("phone").await?;
    let token = backend
        .create_sdk_token(pb::CreateSdkTokenRequest {
            user: user.name.clone(),
        })
        .await?;
    let phone = server.client.with_token(token.access_token);

    println!(
        "owl-push-bench on {engine}, {} cores, batches of {} records",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        args.batch
    );
    let n = args.samples;
    // First, before anything is built ahead: each batch is made as the stream sends it, so the
    // process's peak memory is the server's and the client's working set, not the input.
    let rss_before = memory_mib("VmRSS:");
    let parent = user.name.clone();
    let per_batch = args.batch;
    let lazy = (0..n.div_ceil(per_batch)).map(move |b| pb::StreamHealthBatchesRequest {
        parent: if b == 0 {
            parent.clone()
        } else {
            String::new()
        },
        batch: Some(batch(T0 + 2 * 365 * 86_400, b, per_batch, n)),
    });
    let started = Instant::now();
    let response = phone
        .stream_health_batches(tokio_stream::iter(lazy))
        .await?;
    let lazy_secs = started.elapsed().as_secs_f64();
    let total = response.total.unwrap_or_default();
    anyhow::ensure!(
        total.accepted == n as i64 && total.rejected.is_empty(),
        "lazy stream stored {total:?}"
    );
    let lazy_peak = memory_mib("VmHWM:");

    // Built before the clock starts: only the push is timed.
    let streamed = stream(&user.name, batches(T0, n, args.batch));
    let started = Instant::now();
    let response = phone
        .stream_health_batches(tokio_stream::iter(streamed))
        .await?;
    let stream_secs = started.elapsed().as_secs_f64();
    let total = response.total.unwrap_or_default();
    anyhow::ensure!(
        total.accepted == n as i64 && total.rejected.is_empty(),
        "stream stored {total:?}"
    );

    let unary = batches(T0 + 365 * 86_400, n, args.batch);
    let started = Instant::now();
    let mut accepted = 0;
    for batch in unary {
        let r = phone
            .push_health_batch(pb::PushHealthBatchRequest {
                parent: user.name.clone(),
                batch: Some(batch),
            })
            .await?;
        accepted += r.result.map_or(0, |r| r.accepted);
    }
    let unary_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(accepted == n as i64, "unary stored {accepted}");

    let again = stream(&user.name, batches(T0, n, args.batch));
    let started = Instant::now();
    let response = phone
        .stream_health_batches(tokio_stream::iter(again))
        .await?;
    let resend_secs = started.elapsed().as_secs_f64();
    let total = response.total.unwrap_or_default();
    anyhow::ensure!(
        total.accepted == 0 && total.duplicates == n as i64,
        "re-send stored {total:?}"
    );

    println!("| run | owl | reference |");
    println!("|---|---|---|");
    println!(
        "| StreamHealthBatches, new samples | {} | 2,180 records/s |",
        rate(n, stream_secs)
    );
    println!(
        "| PushHealthBatch (unary, one batch at a time), new samples | {} | 2,180 records/s |",
        rate(n, unary_secs)
    );
    println!(
        "| StreamHealthBatches, re-sent (all duplicates) | {} | — |",
        rate(n, resend_secs)
    );
    println!(
        "| StreamHealthBatches, each batch built as it is sent | {} | — |",
        rate(n, lazy_secs)
    );
    println!(
        "peak RSS of the process through that run: {lazy_peak:.0} MiB (before it {rss_before:.0} MiB); \
         the other runs build their input first"
    );

    server.stop().await;
    db.drop_database().await
}
