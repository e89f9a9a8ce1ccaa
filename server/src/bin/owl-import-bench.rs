//! `owl-import-bench`: Apple Health imports end to end (upload through the SDK's
//! `ImportAppleHealth`, spool, parse, store, until WatchImport reports the terminal stage)
//! with the server in-process, on exports made by ../shared/bench/gen_apple_health.py; prints
//! records/s and peak RSS beside the reference's figures (../shared/bench/REFERENCE.md).
//!
//! ```text
//! cargo run --release -p owl-server --bin owl-import-bench                       # SQLite
//! cargo run --release -p owl-server --bin owl-import-bench -- --postgres postgres://postgres@127.0.0.1:5432/test
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use owl::{Client, pb};
use owl_server::bench::{BenchServer, ScratchDb, memory_mib};
use owl_server::import_cli::{upload_file, wait_for};

/// Import benchmark.
#[derive(Parser)]
struct Args {
    /// Admin URL of a PostgreSQL server; the benchmark creates and drops its own database.
    #[arg(long)]
    postgres: Option<String>,
    /// Export sizes, in `<Record>` elements (the generator's --records), imported in order.
    #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
    records: Vec<u64>,
    /// Where generated exports are kept between runs.
    #[arg(long, default_value = "/tmp/owl-import-bench")]
    exports: PathBuf,
    /// Upload the exports zipped, as the Health app shares them (export.zip).
    #[arg(long)]
    zip: bool,
    /// The generator.
    #[arg(long, default_value = "/work/shared/bench/gen_apple_health.py")]
    generator: PathBuf,
}

/// The export of `records` records with seed 42, generated once.
fn export(args: &Args, records: u64) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(&args.exports)?;
    let ext = if args.zip { "zip" } else { "xml" };
    let path = args.exports.join(format!("e{records}.{ext}"));
    if !path.exists() {
        eprintln!("generating {}", path.display());
        let status = std::process::Command::new("python3")
            .arg(&args.generator)
            .args(["--records", &records.to_string(), "--seed", "42", "--out"])
            .arg(&path)
            .args(args.zip.then_some("--zip"))
            .status()?;
        anyhow::ensure!(status.success(), "the generator failed");
    }
    Ok(path)
}

/// Samples the API returns for `user`, counted over every series type (weekly buckets), so
/// the figures are of data a client can read back, not of the import's own counters.
async fn stored(client: &Client, user: &pb::User) -> anyhow::Result<i64> {
    let types = client
        .list_series_types(pb::ListSeriesTypesRequest::default())
        .await?
        .series_types;
    let mut total = 0;
    for chunk in types.chunks(20) {
        let response = client
            .aggregate_samples(pb::AggregateSamplesRequest {
                parent: user.name.clone(),
                series_types: chunk.iter().map(|t| t.code.clone()).collect(),
                bucket: pb::Bucket::Week as i32,
                ..Default::default()
            })
            .await?;
        total += response
            .series
            .iter()
            .flat_map(|s| &s.buckets)
            .map(|b| b.count)
            .sum::<i64>();
    }
    Ok(total)
}

/// The reference's figures: records/s and peak RSS (MiB).
fn reference(records: u64) -> &'static str {
    match records {
        100_000 => "1,594 records/s, 527 MiB",
        1_000_000 => "1,749 records/s, 2,160 MiB",
        _ => "—",
    }
}

async fn import(
    client: &Client,
    user: &pb::User,
    path: &Path,
) -> anyhow::Result<(pb::Import, f64, f64)> {
    let started = Instant::now();
    let queued = upload_file(client, &user.name, path, None, |_| {}).await?;
    let uploaded = started.elapsed().as_secs_f64();
    let mut parsing = None;
    let done = wait_for(client, &queued, |i| {
        if i.stage == pb::ImportStage::Parsing as i32 && parsing.is_none() {
            parsing = Some(started.elapsed().as_secs_f64());
        }
    })
    .await?;
    let total = started.elapsed().as_secs_f64();
    eprintln!(
        "  upload {uploaded:.3} s, parsing from {:.3} s, done {total:.3} s",
        parsing.unwrap_or(f64::NAN)
    );
    Ok((done, uploaded, total))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // RUST_LOG=owl_server=debug shows what the server does, with times.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let files: Vec<(u64, PathBuf)> = args
        .records
        .iter()
        .map(|&n| export(&args, n).map(|p| (n, p)))
        .collect::<anyhow::Result<_>>()?;
    let db = ScratchDb::create(args.postgres.as_deref(), "owl_import_bench").await?;
    let engine = db.engine;
    let server = BenchServer::start(&db, &[], true).await?;
    let backend = server.backend.clone();
    println!(
        "owl-import-bench on {engine}, {} cores; RSS before imports {:.0} MiB",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_mib("VmRSS:")
    );
    println!(
        "| export | MB | upload s | total s | records/s end to end | samples stored | skipped | peak RSS so far | reference |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (run, (n, path)) in files.iter().enumerate() {
        let user = server.user(&format!("user-{run}-{n}")).await?;
        let size = std::fs::metadata(path)?.len() as f64 / 1e6;
        let (done, upload, total) = import(&backend, &user, path).await?;
        anyhow::ensure!(
            done.stage == pb::ImportStage::Succeeded as i32,
            "import failed: {}",
            done.error
        );
        let peak = memory_mib("VmHWM:");
        let readable = stored(&backend, &user).await?;
        anyhow::ensure!(
            readable == done.samples_stored,
            "the import reports {} samples stored, the API returns {readable}",
            done.samples_stored
        );
        println!(
            "| {n} records | {size:.0} | {upload:.2} | {total:.2} | {:.0} ({} elements) | {} (all read back) | {} | {peak:.0} MiB | {} |",
            done.records_parsed as f64 / total,
            done.records_parsed,
            done.samples_stored,
            done.skipped_total,
            reference(*n)
        );
    }
    println!(
        "peak RSS of the whole process (server, worker and client): {:.0} MiB",
        memory_mib("VmHWM:")
    );
    server.stop().await;
    db.drop_database().await
}
