//! `owl-jobs-bench`: enqueue → start latency, trivial jobs per second through one worker, and
//! resident memory, on the embedded queue (SQLite in a temp dir, or `--postgres URL`) or on
//! Redis (`--redis URL`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clap::Parser;
use owl_server::bench::{ScratchDb, memory_mib};
use owl_server::domain::clock::SystemClock;
use owl_server::jobs::{
    Delivery, Handler, Jobs, JobsSettings, NewJob, QueueSettings, Registry, Worker, WorkerSettings,
};
use tokio::sync::mpsc;

/// Measures the job queue.
#[derive(Parser)]
struct Args {
    /// Use Redis at this URL (a fresh key prefix; keys are removed afterwards).
    #[arg(long)]
    redis: Option<String>,
    /// Keep the embedded queue in PostgreSQL instead of SQLite: a scratch database is created
    /// through this server URL and dropped afterwards.
    #[arg(long)]
    postgres: Option<String>,
    /// Jobs timed one by one for the latency.
    #[arg(long, default_value_t = 1000)]
    latency_jobs: usize,
    /// Jobs drained for the throughput.
    #[arg(long, default_value_t = 20_000)]
    throughput_jobs: usize,
    /// Worker concurrency for the throughput.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

/// Reports when each job started, relative to a shared origin.
struct Probe {
    origin: Instant,
    started: mpsc::UnboundedSender<Duration>,
    done: Arc<AtomicUsize>,
}

#[async_trait]
impl Handler for Probe {
    async fn handle(&self, job: &Delivery, _last_attempt: bool) -> anyhow::Result<()> {
        let now = self.origin.elapsed();
        if let Ok(enqueued_ns) = job.payload.parse::<u64>() {
            let _ = self
                .started
                .send(now.saturating_sub(Duration::from_nanos(enqueued_ns)));
        }
        self.done.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = ScratchDb::create(args.postgres.as_deref(), "owl_jobs_bench").await?;
    let store = Arc::new(owl_server::store::connect(&db.url).await?);
    store.migrate().await?;
    let settings = JobsSettings {
        queue: QueueSettings::default(),
        worker: WorkerSettings {
            concurrency: 1,
            poll_wait: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(5),
        },
        sync_interval: Duration::from_secs(3600),
    };
    let prefix = format!("owl-bench:{}:", uuid::Uuid::now_v7().simple());
    let pool = match &args.redis {
        Some(url) => Some(
            deadpool_redis::Config::from_url(url)
                .create_pool(Some(deadpool_redis::Runtime::Tokio1))?,
        ),
        None => None,
    };
    let jobs = match (&pool, &args.redis) {
        (Some(pool), Some(url)) => Jobs::redis(
            pool.clone(),
            url,
            &prefix,
            store.clone(),
            Arc::new(SystemClock),
            settings.clone(),
        ),
        _ => Jobs::embedded(store.clone(), Arc::new(SystemClock), settings.clone()),
    };
    let backend = match (&args.redis, &args.postgres) {
        (Some(_), _) => "redis",
        (None, Some(_)) => "embedded (postgresql)",
        (None, None) => "embedded (sqlite)",
    };
    println!("backend: {backend}");
    println!("resident memory at start: {:.1} MB", memory_mib("VmRSS:"));

    let origin = Instant::now();
    let done = Arc::new(AtomicUsize::new(0));
    let (tx, mut started) = mpsc::unbounded_channel();
    let mut registry = Registry::new();
    registry.register(
        "bench",
        Arc::new(Probe {
            origin,
            started: tx,
            done: done.clone(),
        }),
    );
    let registry = Arc::new(registry);

    // Latency: one job at a time, with an idle worker waiting.
    let worker = Worker::new(jobs.queue.clone(), registry.clone(), settings.worker);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "resident memory with an idle worker: {:.1} MB",
        memory_mib("VmRSS:")
    );
    let mut latencies = Vec::with_capacity(args.latency_jobs);
    for _ in 0..args.latency_jobs {
        let stamp = origin.elapsed().as_nanos() as u64;
        jobs.queue
            .enqueue(NewJob::new("bench", stamp.to_string()))
            .await?;
        match tokio::time::timeout(Duration::from_secs(10), started.recv()).await {
            Ok(Some(latency)) => latencies.push(latency),
            _ => anyhow::bail!("a job did not start within 10 s"),
        }
    }
    let _ = stop.send(());
    running.await?;
    latencies.sort();
    println!(
        "enqueue → start latency over {} jobs: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99)
    );

    // Throughput: enqueue a backlog, then drain it through one worker.
    let before = done.load(Ordering::Relaxed);
    let enqueue_started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = args.throughput_jobs.div_ceil(16);
    for t in 0..16 {
        let queue = jobs.queue.clone();
        let count = per_task.min(args.throughput_jobs.saturating_sub(t * per_task));
        tasks.spawn(async move {
            for _ in 0..count {
                queue.enqueue(NewJob::new("bench", "-")).await?;
            }
            Ok::<(), owl_server::domain::error::Error>(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    let enqueue_elapsed = enqueue_started.elapsed();
    println!(
        "enqueued {} jobs in {:.2} s: {:.0} enqueues/s (16 concurrent producers)",
        args.throughput_jobs,
        enqueue_elapsed.as_secs_f64(),
        args.throughput_jobs as f64 / enqueue_elapsed.as_secs_f64()
    );
    let worker = Worker::new(
        jobs.queue.clone(),
        registry,
        WorkerSettings {
            concurrency: args.concurrency,
            ..settings.worker
        },
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let drain_started = Instant::now();
    let running = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    let mut peak_rss: f64 = 0.0;
    while done.load(Ordering::Relaxed) - before < args.throughput_jobs {
        peak_rss = peak_rss.max(memory_mib("VmRSS:"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        if drain_started.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("drain took longer than 10 minutes");
        }
    }
    let drain = drain_started.elapsed();
    let _ = stop.send(());
    running.await?;
    println!(
        "drained {} trivial jobs through one worker (concurrency {}) in {:.2} s: {:.0} jobs/s",
        args.throughput_jobs,
        args.concurrency,
        drain.as_secs_f64(),
        args.throughput_jobs as f64 / drain.as_secs_f64()
    );
    println!("peak resident memory while draining: {peak_rss:.1} MB");

    drop(jobs);
    drop(store);
    db.drop_database().await?;
    if let Some(pool) = pool {
        let mut conn = pool.get().await?;
        let keys: Vec<String> = deadpool_redis::redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let _: i64 = deadpool_redis::redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut conn)
                .await?;
        }
    }
    Ok(())
}
