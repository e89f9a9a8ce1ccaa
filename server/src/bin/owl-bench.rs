//! `owl-bench`: measures owl's health-data paths in-process, through the SDK, and prints the
//! figures beside the reference's (../shared/bench/REFERENCE.md).
//!
//! ```text
//! cargo run --release -p owl-server --bin owl-bench                       # SQLite
//! cargo run --release -p owl-server --bin owl-bench -- --postgres postgres://postgres@127.0.0.1:5432/test
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use owl::pb;
use owl_server::bench::{BenchServer, ScratchDb, memory_mib};

/// Health-data benchmark.
#[derive(Parser)]
struct Args {
    /// Admin URL of a PostgreSQL server; the benchmark creates and drops its own database.
    #[arg(long)]
    postgres: Option<String>,
    /// Samples already stored for the user before the timed ingest.
    #[arg(long, default_value_t = 1_000_000)]
    preload: i64,
    /// Samples streamed in the timed ingest.
    #[arg(long, default_value_t = 1_000_000)]
    ingest: i64,
    /// Samples per StreamSamples message.
    #[arg(long, default_value_t = 10_000)]
    message: i64,
    /// Repetitions of each query.
    #[arg(long, default_value_t = 50)]
    iterations: usize,
}

const MINUTE: i64 = 60_000;
/// 2021-01-01 00:00:00 UTC, ms: room for a few million minutes before today.
const T0: i64 = 1_609_459_200_000;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Heart-rate messages covering `count` minutes from `start`.
fn messages(
    parent: &str,
    start: i64,
    count: i64,
    per_message: i64,
) -> Vec<pb::StreamSamplesRequest> {
    shaped_messages(
        parent,
        "heart_rate",
        "count/min",
        start,
        count,
        per_message,
        WATCH,
    )
}

/// A watch writing an instantaneous sample every minute.
const WATCH: Shape = Shape {
    device_type: pb::DeviceType::Watch,
    model: "Watch7,1",
    every_minutes: 1,
    durations: false,
};

/// How a device writes a series: its kind, and a sample every `every_minutes`, each lasting
/// that long when `durations` (HealthKit's step records), else instantaneous.
#[derive(Clone, Copy)]
struct Shape {
    device_type: pb::DeviceType,
    model: &'static str,
    every_minutes: i64,
    durations: bool,
}

/// Messages of `count` samples of `series_type` shaped as `shape`, from `start`.
fn shaped_messages(
    parent: &str,
    series_type: &str,
    unit: &str,
    start: i64,
    count: i64,
    per_message: i64,
    shape: Shape,
) -> Vec<pb::StreamSamplesRequest> {
    let step = shape.every_minutes * MINUTE;
    (0..count)
        .step_by(per_message as usize)
        .map(|offset| {
            let n = per_message.min(count - offset);
            let times: Vec<i64> = (0..n).map(|i| start + (offset + i) * step).collect();
            // Whole numbers for counts and rates; distances with centimetres, as trackers report.
            let fraction = if series_type.starts_with("distance") {
                0.37
            } else {
                0.0
            };
            let values: Vec<f64> = (0..n)
                .map(|i| 55.0 + ((offset + i) % 60) as f64 + fraction)
                .collect();
            let durations = if shape.durations {
                vec![step; n as usize]
            } else {
                Vec::new()
            };
            pb::StreamSamplesRequest {
                parent: if offset == 0 {
                    parent.to_owned()
                } else {
                    String::new()
                },
                batches: vec![pb::SampleBatch {
                    source: Some(pb::SourceDescriptor {
                        provider: "apple_health".into(),
                        device_model: shape.model.into(),
                        device_type: shape.device_type as i32,
                        ..Default::default()
                    }),
                    series_type: series_type.into(),
                    unit: unit.into(),
                    zone_offsets: vec![3600; n as usize],
                    times,
                    values,
                    durations,
                }],
            }
        })
        .collect()
}

async fn timed<F, Fut, T>(iterations: usize, mut call: F) -> anyhow::Result<(Duration, Duration)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, owl::Error>>,
{
    call().await?; // warm-up
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        call().await?;
        samples.push(started.elapsed());
    }
    Ok((
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = ScratchDb::create(args.postgres.as_deref(), "owl_bench").await?;
    let engine = db.engine;
    let server = BenchServer::start(&db, &[], false).await?;
    let backend = Arc::new(server.backend.clone());
    let ingest_user = server.user("ingest").await?;
    let query_user = server.user("query").await?;
    let year_user = server.user("year").await?;

    println!(
        "owl-bench on {engine}, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    // Built before the clock starts: only the upload is timed.
    let preload_messages = messages(&ingest_user.name, T0, args.preload, args.message);
    let started = Instant::now();
    backend
        .stream_samples(tokio_stream::iter(preload_messages))
        .await?;
    let preload = started.elapsed();
    let later = T0 + args.preload * MINUTE;
    let ingest_messages = messages(&ingest_user.name, later, args.ingest, args.message);
    let started = Instant::now();
    let stats = backend
        .stream_samples(tokio_stream::iter(ingest_messages))
        .await?;
    let ingest = started.elapsed();
    anyhow::ensure!(
        stats.stats.map(|s| s.inserted) == Some(args.ingest),
        "ingest stored {:?}",
        stats.stats
    );
    let ingest_rate = args.ingest as f64 / ingest.as_secs_f64();
    let replay_messages = messages(&ingest_user.name, later, args.ingest, args.message);
    let replay_started = Instant::now();
    let replay = backend
        .stream_samples(tokio_stream::iter(replay_messages))
        .await?;
    let replay_time = replay_started.elapsed();
    anyhow::ensure!(
        replay.stats.map(|s| s.skipped) == Some(args.ingest),
        "replay stored something new"
    );

    // The same amount of fractional values (distances), whose blocks are ~4x larger.
    let distances = shaped_messages(
        &ingest_user.name,
        "distance_walking_running",
        "m",
        later,
        args.ingest,
        args.message,
        WATCH,
    );
    let started = Instant::now();
    let stored = backend
        .stream_samples(tokio_stream::iter(distances))
        .await?;
    let fractional = started.elapsed();
    anyhow::ensure!(
        stored.stats.map(|s| s.inserted) == Some(args.ingest),
        "fractional ingest stored {:?}",
        stored.stats
    );

    // The same amount of 1-minute step records with their durations (whole numbers).
    let watch_steps = Shape {
        durations: true,
        ..WATCH
    };
    let steps = shaped_messages(
        &ingest_user.name,
        "steps",
        "count",
        later,
        args.ingest,
        args.message,
        watch_steps,
    );
    let started = Instant::now();
    let stored = backend.stream_samples(tokio_stream::iter(steps)).await?;
    let with_durations = started.elapsed();
    anyhow::ensure!(
        stored.stats.map(|s| s.inserted) == Some(args.ingest),
        "ingest with durations stored {:?}",
        stored.stats
    );

    // 30 days of 1-minute heart rate: 43,200 samples.
    let month = 30 * 24 * 60;
    backend
        .stream_samples(tokio_stream::iter(messages(
            &query_user.name,
            T0,
            month,
            10_000,
        )))
        .await?;
    let list = |page_size: i32| pb::ListSamplesRequest {
        parent: query_user.name.clone(),
        series_types: vec!["heart_rate".into()],
        page_size,
        ..Default::default()
    };
    let (all_p50, all_p99) = timed(args.iterations, || {
        let backend = backend.clone();
        let request = list(50_000);
        async move {
            let page = backend.list_samples(request).await?;
            assert_eq!(page.series[0].times.len(), 43_200);
            Ok::<_, owl::Error>(())
        }
    })
    .await?;
    let (page_p50, page_p99) = timed(args.iterations, || {
        let backend = backend.clone();
        let request = list(100);
        async move { backend.list_samples(request).await }
    })
    .await?;
    let aggregate = |bucket: pb::Bucket| pb::AggregateSamplesRequest {
        parent: query_user.name.clone(),
        series_types: vec!["heart_rate".into()],
        bucket: bucket as i32,
        ..Default::default()
    };
    let (hour_p50, hour_p99) = timed(args.iterations, || {
        let backend = backend.clone();
        let request = aggregate(pb::Bucket::Hour);
        async move { backend.aggregate_samples(request).await }
    })
    .await?;
    let (day_p50, day_p99) = timed(args.iterations, || {
        let backend = backend.clone();
        let request = aggregate(pb::Bucket::Day);
        async move { backend.aggregate_samples(request).await }
    })
    .await?;

    let merged_list = pb::ListSamplesRequest {
        view: pb::View::Merged as i32,
        ..list(50_000)
    };
    let (merged_p50, merged_p99) = timed(args.iterations, || {
        let backend = backend.clone();
        let request = merged_list.clone();
        async move {
            let page = backend.list_samples(request).await?;
            assert_eq!(page.series[0].times.len(), 43_200);
            Ok::<_, owl::Error>(())
        }
    })
    .await?;

    // A month of steps from a watch (1-minute records) and a phone (5-minute records, two
    // minutes later) overlapping everywhere: 43,200 + 8,640 intervals, merged by coverage.
    let phone_steps = Shape {
        device_type: pb::DeviceType::Phone,
        model: "iPhone14,2",
        every_minutes: 5,
        durations: true,
    };
    for (start, count, shape) in [
        (T0, month, watch_steps),
        (T0 + 2 * MINUTE, month / 5, phone_steps),
    ] {
        let messages = shaped_messages(
            &query_user.name,
            "steps",
            "count",
            start,
            count,
            10_000,
            shape,
        );
        backend.stream_samples(tokio_stream::iter(messages)).await?;
    }
    let two_sources = pb::AggregateSamplesRequest {
        parent: query_user.name.clone(),
        series_types: vec!["steps".into()],
        bucket: pb::Bucket::Day as i32,
        view: pb::View::Merged as i32,
        ..Default::default()
    };
    let (overlap_p50, overlap_p99) = timed(args.iterations, || {
        let backend = backend.clone();
        let request = two_sources.clone();
        async move {
            let response = backend.aggregate_samples(request).await?;
            assert_eq!(
                response.series[0].buckets.len(),
                31,
                "30 UTC days at +01:00"
            );
            Ok::<_, owl::Error>(())
        }
    })
    .await?;

    // A year of 1-minute steps and heart rate (1,051,200 samples), then daily summaries.
    let year = 365 * 24 * 60;
    for (code, unit) in [("steps", "count"), ("heart_rate", "count/min")] {
        backend
            .stream_samples(tokio_stream::iter(shaped_messages(
                &year_user.name,
                code,
                unit,
                T0,
                year,
                10_000,
                WATCH,
            )))
            .await?;
    }
    let (year_p50, year_p99) = timed(args.iterations.min(20), || {
        let backend = backend.clone();
        let request = pb::ListDailySummariesRequest {
            parent: year_user.name.clone(),
            start_date: "2021-01-01".into(),
            end_date: "2021-12-31".into(),
        };
        async move {
            let response = backend.list_daily_summaries(request).await?;
            assert_eq!(response.daily_summaries.len(), 365);
            Ok::<_, owl::Error>(())
        }
    })
    .await?;

    println!();
    println!("| work | owl ({engine}) | reference | target |");
    println!("|---|---|---|---|");
    println!(
        "| preload {} samples (StreamSamples) | {:.0} samples/s | — | — |",
        args.preload,
        args.preload as f64 / preload.as_secs_f64()
    );
    println!(
        "| ingest {} samples into a user with {} (StreamSamples, messages of {}) | {:.0} samples/s | ~2,180 records/s (SDK push) | ≥ 200,000/s |",
        args.ingest, args.preload, args.message, ingest_rate
    );
    println!(
        "| ingest {} fractional samples (distances) into the same user | {:.0} samples/s | — | ≥ 200,000/s |",
        args.ingest,
        args.ingest as f64 / fractional.as_secs_f64()
    );
    println!(
        "| replay of the same {} (all skipped) | {:.0} samples/s | — | — |",
        args.ingest,
        args.ingest as f64 / replay_time.as_secs_f64()
    );
    println!(
        "| ingest {} 1-minute step records with durations | {:.0} samples/s | — | ≥ 5,000,000/s (SQLite) |",
        args.ingest,
        args.ingest as f64 / with_durations.as_secs_f64()
    );
    println!(
        "| 30 days of 1-minute heart rate (43,200) in one call | p50 {} / p99 {} | 91 pages, 2.44 s | p50 ≤ 15 ms |",
        ms(all_p50),
        ms(all_p99)
    );
    println!(
        "| first 100-sample page | p50 {} / p99 {} | p50 20.9 ms / p99 39.1 ms | — |",
        ms(page_p50),
        ms(page_p99)
    );
    println!(
        "| hourly aggregate of the 30 days | p50 {} / p99 {} | (ignored resolution=) | ≤ 5 ms |",
        ms(hour_p50),
        ms(hour_p99)
    );
    println!(
        "| daily aggregate of the 30 days | p50 {} / p99 {} | — | — |",
        ms(day_p50),
        ms(day_p99)
    );
    println!(
        "| the same 30 days in the merged view | p50 {} / p99 {} | — | — |",
        ms(merged_p50),
        ms(merged_p99)
    );
    println!(
        "| merged daily aggregate of a month of watch and phone steps overlapping (43,200 + 8,640 intervals) | p50 {} / p99 {} | — | — |",
        ms(overlap_p50),
        ms(overlap_p99)
    );
    println!(
        "| a year of daily summaries (1-minute steps and heart rate, merged) | p50 {} / p99 {} | — | ≤ 50 ms |",
        ms(year_p50),
        ms(year_p99)
    );
    println!(
        "| peak RSS of the process (server and client) | {:.0} MiB | — | flat |",
        memory_mib("VmHWM:")
    );

    server.stop().await;
    db.drop_database().await
}
