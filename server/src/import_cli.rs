//! `owl import apple-health FILE --user USER`: uploads an export through the SDK
//! (`ImportAppleHealth`), follows the import with `WatchImport` on a progress bar (bytes while
//! uploading, then records, with rate and ETA) and prints the summary. [`upload_file`] and
//! [`wait_for`] are shared with the `owl-import-bench` benchmark.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use owl::{Client, pb};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

/// Bytes per upload message.
pub const MESSAGE_BYTES: usize = 1 << 20;

/// File imports.
#[derive(Debug, clap::Subcommand)]
pub enum ImportCommand {
    /// Import an Apple Health export (export.zip or export.xml) into a user's data.
    AppleHealth {
        /// The export file.
        file: PathBuf,
        /// The user: users/{uuid} or the bare uuid.
        #[arg(long)]
        user: String,
        /// The owl server.
        #[arg(long, env = "OWL_SERVER_URL", default_value = "http://127.0.0.1:8000")]
        server: String,
        /// An API key of the user's application.
        #[arg(long, env = "OWL_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// The user's SDK token (instead of an API key).
        #[arg(
            long,
            env = "OWL_SDK_TOKEN",
            hide_env_values = true,
            conflicts_with = "api_key"
        )]
        token: Option<String>,
    },
}

/// The SHA-256 of a file, lowercase hex (read in a blocking thread).
pub async fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher)?;
        Ok(hex::encode(hasher.finalize()))
    })
    .await?
}

/// Streams `path` to the server as an Apple Health import of `parent` (`users/{user}`);
/// `sent` is called with the bytes read so far. Returns the queued import.
pub async fn upload_file(
    client: &Client,
    parent: &str,
    path: &Path,
    sha256: Option<String>,
    sent: impl Fn(u64) + Send + 'static,
) -> Result<pb::Import, owl::Error> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| owl::Error::InvalidInput(format!("{}: {e}", path.display())))?;
    let total = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::ImportAppleHealthRequest>(4);
    let parent = parent.to_owned();
    let reader = tokio::spawn(async move {
        let mut first = Some((parent, sha256.unwrap_or_default()));
        let mut read = 0u64;
        loop {
            let mut data = vec![0u8; MESSAGE_BYTES];
            let mut filled = 0;
            while filled < data.len() {
                match file.read(&mut data[filled..]).await {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    // The stream ends short; the server fails the import (total_bytes).
                    Err(_) => return,
                }
            }
            data.truncate(filled);
            read += filled as u64;
            let (parent, sha256) = first.take().unwrap_or_default();
            let message = pb::ImportAppleHealthRequest {
                total_bytes: if parent.is_empty() { 0 } else { total as i64 },
                parent,
                sha256,
                data,
            };
            if tx.send(message).await.is_err() {
                return;
            }
            sent(read);
            if filled == 0 || read >= total {
                return;
            }
        }
    });
    let result = client
        .import_apple_health(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await;
    reader.abort();
    result
}

/// Follows `import` until a terminal stage; `changed` sees every state. Returns the last.
pub async fn wait_for(
    client: &Client,
    import: &pb::Import,
    mut changed: impl FnMut(&pb::Import),
) -> Result<pb::Import, owl::Error> {
    let mut last = import.clone();
    let mut stream = client
        .watch_import(pb::WatchImportRequest {
            name: import.name.clone(),
        })
        .await?;
    while let Some(next) = stream.next().await {
        last = next?;
        changed(&last);
    }
    Ok(last)
}

/// Whether `stage` is SUCCEEDED or FAILED.
pub fn is_terminal(import: &pb::Import) -> bool {
    matches!(
        pb::ImportStage::try_from(import.stage),
        Ok(pb::ImportStage::Succeeded | pb::ImportStage::Failed)
    )
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Runs the command; prints errors and returns the exit code.
pub async fn main(command: ImportCommand) -> std::process::ExitCode {
    match run(command).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(error) => {
            eprintln!("owl import: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: ImportCommand) -> anyhow::Result<bool> {
    let ImportCommand::AppleHealth {
        file,
        user,
        server,
        api_key,
        token,
    } = command;
    let parent = if user.starts_with("users/") {
        user
    } else {
        format!("users/{user}")
    };
    let client = Client::connect(server.clone()).await?;
    let client = match (api_key, token) {
        (Some(key), _) => client.with_api_key(key),
        (None, Some(token)) => client.with_token(token),
        (None, None) => {
            anyhow::bail!("give --api-key (or OWL_API_KEY) or --token (or OWL_SDK_TOKEN)")
        }
    };
    let size = tokio::fs::metadata(&file).await?.len();
    let started = Instant::now();
    let sha256 = sha256_of(&file).await?;
    let upload = bar(
        size,
        "uploading {bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
    );
    let progress = upload.clone();
    let queued = match upload_file(&client, &parent, &file, Some(sha256), move |n| {
        progress.set_position(n)
    })
    .await
    {
        Ok(import) => import,
        Err(error) if error.code() == owl::Code::AlreadyExists => {
            upload.finish_and_clear();
            let existing = error.resource_name().unwrap_or_default();
            println!("already imported: {existing} holds this file; nothing to do");
            return Ok(true);
        }
        Err(error) => return Err(error.into()),
    };
    upload.finish_and_clear();
    let upload_seconds = started.elapsed().as_secs_f64();
    let parsing = bar(
        queued.bytes_received.max(1) as u64,
        "importing {bar:40} {msg} eta {eta}",
    );
    let parse_started = Instant::now();
    let shown = parsing.clone();
    let done = wait_for(&client, &queued, move |i| {
        shown.set_position((i.bytes_parsed as u64).min(i.bytes_received.max(1) as u64));
        let rate = i.records_parsed as f64 / parse_started.elapsed().as_secs_f64().max(1e-3);
        shown.set_message(format!(
            "{} records, {:.0} records/s",
            i.records_parsed, rate
        ));
    })
    .await?;
    parsing.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    println!("import {}: {}", done.name, stage_name(done.stage));
    println!(
        "  records {}, samples stored {}, workouts and sleep sessions stored {}, skipped {}",
        done.records_parsed, done.samples_stored, done.events_stored, done.skipped_total
    );
    let mut skipped: Vec<_> = done.skipped.iter().collect();
    skipped.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (reason, n) in skipped {
        println!("    {reason}: {n}");
    }
    println!(
        "  {:.1} s ({:.1} s upload), {:.0} records/s",
        seconds,
        upload_seconds,
        done.records_parsed as f64 / seconds.max(1e-3)
    );
    if !done.error.is_empty() {
        match &done.error_location {
            Some(l) => println!(
                "  error at line {}, column {}: {}",
                l.line, l.column, done.error
            ),
            None => println!("  error: {}", done.error),
        }
    }
    Ok(done.stage == pb::ImportStage::Succeeded as i32)
}

fn stage_name(stage: i32) -> &'static str {
    match pb::ImportStage::try_from(stage) {
        Ok(pb::ImportStage::Succeeded) => "succeeded",
        Ok(pb::ImportStage::Failed) => "failed",
        Ok(pb::ImportStage::Parsing) => "parsing",
        Ok(pb::ImportStage::Queued) => "queued",
        Ok(pb::ImportStage::Receiving) => "receiving",
        _ => "unknown",
    }
}
