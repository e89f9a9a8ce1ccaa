//! Parse-only benchmark of the Apple Health export reader: `owl-parse-bench FILE [CHUNK]`
//! opens FILE (export.zip or export.xml), parses it in chunks of CHUNK records (default
//! 10,000) and prints records/s, samples, events and the skipped counts. Nothing is stored.

use std::time::Instant;

use owl_server::apple_health::{Limits, Parser, open};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: owl-parse-bench FILE [CHUNK]"))?;
    let chunk: usize = args
        .next()
        .map(|c| c.parse())
        .transpose()?
        .unwrap_or(10_000);
    let started = Instant::now();
    let mut parser = Parser::new(open(std::fs::File::open(&path)?, &Limits::default())?);
    let (mut chunks, mut batches) = (0u64, 0u64);
    while let Some(c) = parser.next_chunk(chunk)? {
        chunks += 1;
        batches += c.batches.len() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    let p = parser.progress();
    println!("file: {path}");
    println!(
        "xml bytes: {} ({:.1} MB/s)",
        p.bytes,
        p.bytes as f64 / seconds / 1e6
    );
    println!(
        "records: {} in {seconds:.2} s = {:.0} records/s",
        p.records,
        p.records as f64 / seconds
    );
    println!(
        "samples: {}, events: {}, chunks: {chunks}, batches: {batches}",
        p.samples, p.events
    );
    for (reason, n) in &p.skipped {
        println!("skipped {reason}: {n}");
    }
    Ok(())
}
