//! Import jobs (kind `import`): what imports share in a process ([`ImportRuntime`]: records,
//! spool files, open upload writers, the queue, the status bus) and the handler that parses a
//! spooled Apple Health export and stores it.
//!
//! The job carries only the import's id; the file stays in the spool. The parser
//! (`apple_health`) runs on a blocking thread and hands chunks of `XML_CHUNK_SIZE` records
//! through a channel of two, so the next chunk is parsed while the previous one is written.
//! Each chunk is stored in its own transaction (samples through the sample writer, events per
//! source through the event store) and the import's counters follow; a failure in the file
//! keeps what was stored before it, and the stores' uniqueness makes a re-import add nothing.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use uuid::Uuid;

use super::import_status::ImportBus;
use super::queue::{DeadLetter, Delivery, NewJob, Queue, clip_error};
use super::worker::Handler;
use crate::apple_health::{self, Chunk, ExportError, Limits, Parser};
use crate::domain::Context;
use crate::domain::error::{Error, Result};
use crate::domain::health::SourceKey;
use crate::domain::health::events::{NewEvent, WriteMode, validate_events};
use crate::domain::health::intake::{OffsetRule, sanitize_batches};
use crate::domain::imports::{
    ErrorLocation, Import, ImportProgress, ImportStage, Spool, SpoolWriter,
};
use crate::domain::validate::Violations;
use crate::store::imports::ImportStore;

/// The job kind of imports.
pub const IMPORT_KIND: &str = "import";
/// Records parsed and stored per chunk (and per transaction).
pub const XML_CHUNK_SIZE: usize = 20_000;

/// The input of an import job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportPayload {
    /// The import to run; its file is the spool file of this id.
    pub import_id: Uuid,
}

type WriterSlot = Arc<tokio::sync::Mutex<Option<SpoolWriter>>>;

/// What imports share in one process.
pub struct ImportRuntime {
    /// Import records.
    pub store: Arc<dyn ImportStore>,
    /// Spool files.
    pub spool: Spool,
    /// Live changes of imports.
    pub bus: ImportBus,
    queue: Arc<dyn Queue>,
    /// Open spool files of uploads this process is receiving.
    writers: Mutex<HashMap<Uuid, WriterSlot>>,
    /// The largest upload accepted, bytes (OWL_MAX_UPLOAD_BYTES).
    pub max_upload_bytes: i64,
}

/// OWL_MAX_UPLOAD_BYTES' default: 4 GiB, a generous bound for an Apple Health export (zip or
/// XML) while refusing the 6 GiB announcements of the issue-16 probe.
pub const DEFAULT_MAX_UPLOAD_BYTES: i64 = 4 << 30;

impl ImportRuntime {
    /// Imports recorded in `store`, spooled in `spool`, queued on `queue`, announced on `bus`.
    pub fn new(
        store: Arc<dyn ImportStore>,
        spool: Spool,
        bus: ImportBus,
        queue: Arc<dyn Queue>,
    ) -> Self {
        ImportRuntime {
            store,
            spool,
            bus,
            queue,
            writers: Mutex::new(HashMap::new()),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
        }
    }

    fn writers(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, WriterSlot>> {
        self.writers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Holds the open spool file of upload `id`.
    pub fn put_writer(&self, id: Uuid, writer: SpoolWriter) {
        self.writers()
            .insert(id, Arc::new(tokio::sync::Mutex::new(Some(writer))));
    }

    /// The open spool file of upload `id`; reopened after `len` bytes when this process does
    /// not hold it (a restart, or another replica received the start).
    pub async fn writer(&self, id: Uuid, len: u64) -> Result<WriterSlot> {
        if let Some(slot) = self.writers().get(&id) {
            return Ok(slot.clone());
        }
        let spool = self.spool.clone();
        let writer = tokio::task::spawn_blocking(move || spool.reopen(id, len))
            .await
            .map_err(|e| Error::Internal(e.into()))?
            .map_err(|e| Error::Internal(anyhow::Error::new(e).context("spool file")))?;
        let slot = Arc::new(tokio::sync::Mutex::new(Some(writer)));
        Ok(self.writers().entry(id).or_insert(slot).clone())
    }

    /// Bytes held by this process's open spool file of upload `id`.
    pub async fn held_len(&self, id: Uuid) -> Option<u64> {
        let slot = self.writers().get(&id).cloned()?;
        let guard = slot.lock().await;
        guard.as_ref().map(SpoolWriter::len)
    }

    /// Forgets (closes) the open spool file of upload `id`.
    pub fn drop_writer(&self, id: Uuid) {
        self.writers().remove(&id);
    }

    /// Queues the job of import `id`.
    pub async fn enqueue(&self, id: Uuid) -> Result<()> {
        let payload =
            serde_json::to_string(&ImportPayload { import_id: id }).map_err(anyhow::Error::from)?;
        self.queue
            .enqueue(NewJob::new(IMPORT_KIND, payload).dedup(format!("import:{id}")))
            .await?;
        Ok(())
    }

    /// Announces `import`'s state.
    pub async fn announce(&self, import: &Import) {
        self.bus.publish(import).await;
    }

    /// Announces the stored state of import `id`.
    async fn announce_stored(&self, id: Uuid) {
        match self.store.import(id).await {
            Ok(Some(import)) => self.bus.publish(&import).await,
            Ok(None) => {}
            Err(error) => tracing::debug!(import = %id, %error, "import status: not announced"),
        }
    }
}

/// How a parse ended.
enum Outcome {
    /// The whole document was read.
    Done,
    /// The file is at fault; what came before is stored.
    Failed(ExportError),
}

/// Runs import jobs.
pub struct ImportHandler {
    rt: Arc<ImportRuntime>,
    ctx: Arc<Context>,
}

impl ImportHandler {
    /// A handler storing through `ctx`.
    pub fn new(rt: Arc<ImportRuntime>, ctx: Arc<Context>) -> Self {
        ImportHandler { rt, ctx }
    }

    async fn offsets(&self, user_id: Uuid) -> Result<Option<OffsetRule>> {
        let Some(user) = self.ctx.users.user(user_id).await? else {
            return Ok(None);
        };
        if let Some(tz) = user
            .time_zone
            .as_deref()
            .and_then(|z| chrono_tz::Tz::from_str(z).ok())
        {
            return Ok(Some(OffsetRule::Zone(tz)));
        }
        let latest = self.ctx.health.latest_zone_offset(user_id).await?;
        Ok(Some(OffsetRule::Fixed(latest.unwrap_or(0))))
    }

    /// Stores one chunk in its own transactions and counts what it did into `progress`.
    async fn store(
        &self,
        user_id: Uuid,
        chunk: Chunk,
        offsets: &OffsetRule,
        progress: &mut ImportProgress,
    ) -> Result<()> {
        let now = self.ctx.clock.now();
        let before = (
            progress.samples_stored + progress.events_stored,
            progress.skipped_total(),
        );
        for (reason, n) in &chunk.skipped {
            progress.skip(reason, *n as i64);
        }
        let (batches, dropped) = sanitize_batches(chunk.batches, now.timestamp_millis(), offsets);
        for (reason, n) in dropped.0 {
            progress.skip(reason, n as i64);
        }
        if !batches.is_empty() {
            let mut writer = self.ctx.health.begin_samples(user_id).await?;
            for batch in &batches {
                let stats = writer.write(batch).await?;
                progress.samples_stored += (stats.inserted + stats.updated) as i64;
                progress.skip("already_stored", stats.skipped as i64);
            }
            writer.commit().await?;
        }
        let mut by_source: HashMap<SourceKey, Vec<NewEvent>> = HashMap::new();
        let now_ms = now.timestamp_millis();
        for (source, event) in chunk.events {
            let mut v = Violations::new();
            validate_events(std::slice::from_ref(&event), "event", now_ms, &mut v);
            if v.is_empty() {
                by_source.entry(source).or_default().push(event);
            } else {
                progress.skip("invalid_event", 1);
            }
        }
        for (source, events) in by_source {
            let stats = self
                .ctx
                .events
                .write_events(user_id, &source, &events, WriteMode::Replace, now)
                .await?;
            progress.events_stored += (stats.inserted + stats.updated) as i64;
            progress.skip("already_stored", stats.skipped as i64);
        }
        let stored = progress.samples_stored + progress.events_stored - before.0;
        let skipped = progress.skipped_total() - before.1;
        metrics::counter!(crate::metrics::IMPORT_RECORDS, "outcome" => "stored")
            .increment(stored.max(0) as u64);
        metrics::counter!(crate::metrics::IMPORT_RECORDS, "outcome" => "skipped")
            .increment(skipped.max(0) as u64);
        Ok(())
    }

    /// Parses the spool file of `import` and stores it, chunk by chunk.
    async fn run(
        &self,
        import: &Import,
        offsets: OffsetRule,
    ) -> anyhow::Result<(Outcome, ImportProgress)> {
        let file = std::fs::File::open(self.rt.spool.path(import.id))?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(Chunk, u64, u64)>(2);
        let gap_ms = self.ctx.settings.sleep_end_gap.num_milliseconds();
        let parse = tokio::task::spawn_blocking(move || -> std::result::Result<(), ExportError> {
            let mut parser =
                Parser::new(apple_health::open(file, &Limits::default())?).with_sleep_gap(gap_ms);
            while let Some(chunk) = parser.next_chunk(XML_CHUNK_SIZE)? {
                let (bytes, records) = (parser.progress().bytes, parser.progress().records);
                if tx.blocking_send((chunk, bytes, records)).is_err() {
                    // The storing side gave up (its error ends the job).
                    break;
                }
            }
            Ok(())
        });
        let mut progress = ImportProgress::default();
        while let Some((chunk, bytes, records)) = rx.recv().await {
            self.store(import.user_id, chunk, &offsets, &mut progress)
                .await?;
            progress.bytes_parsed = bytes as i64;
            progress.records_parsed = records as i64;
            self.rt
                .store
                .update_progress(import.id, &progress, self.ctx.clock.now())
                .await?;
            self.rt.announce_stored(import.id).await;
        }
        let outcome = match parse.await? {
            Ok(()) => Outcome::Done,
            Err(ExportError::Io(error)) => {
                return Err(anyhow::Error::new(error).context("reading the spool file"));
            }
            Err(error) => Outcome::Failed(error),
        };
        Ok((outcome, progress))
    }

    async fn fail(&self, id: Uuid, message: &str, location: Option<ErrorLocation>) -> Result<()> {
        self.rt
            .store
            .finish_import(
                id,
                ImportStage::Failed,
                Some((clip_error(message), location)),
                self.ctx.clock.now(),
            )
            .await?;
        self.rt.spool.remove(id);
        self.rt.announce_stored(id).await;
        Ok(())
    }
}

fn location(error: &ExportError) -> Option<ErrorLocation> {
    match error {
        ExportError::Malformed {
            line, column, byte, ..
        } => Some(ErrorLocation {
            line: *line as i64,
            column: *column as i64,
            byte: *byte as i64,
        }),
        _ => None,
    }
}

#[async_trait]
impl Handler for ImportHandler {
    async fn lost(&self, job: &DeadLetter) {
        let Ok(payload) = serde_json::from_str::<ImportPayload>(&job.payload) else {
            return;
        };
        if let Err(error) = self
            .fail(payload.import_id, clip_error(&job.last_error), None)
            .await
        {
            tracing::warn!(import = %payload.import_id, %error, "could not mark a lost import failed");
        }
    }

    async fn handle(&self, job: &Delivery, last_attempt: bool) -> anyhow::Result<()> {
        let payload: ImportPayload = serde_json::from_str(&job.payload)?;
        let id = payload.import_id;
        let Some(import) = self.rt.store.import(id).await? else {
            // Deleted with its user.
            self.rt.spool.remove(id);
            return Ok(());
        };
        if import.stage.is_terminal() || !import.complete {
            return Ok(());
        }
        let Some(offsets) = self.offsets(import.user_id).await? else {
            self.rt.spool.remove(id);
            return Ok(());
        };
        if !self.rt.spool.path(id).exists() {
            self.fail(id, "the uploaded file is gone from the spool", None)
                .await?;
            return Ok(());
        }
        let started = std::time::Instant::now();
        self.rt.store.start_import(id, self.ctx.clock.now()).await?;
        self.rt.announce_stored(id).await;
        match self.run(&import, offsets).await {
            Ok((Outcome::Done, progress)) => {
                self.rt
                    .store
                    .finish_import(id, ImportStage::Succeeded, None, self.ctx.clock.now())
                    .await?;
                self.rt.spool.remove(id);
                self.rt.announce_stored(id).await;
                let seconds = started.elapsed().as_secs_f64();
                tracing::info!(
                    import = %id,
                    records = progress.records_parsed,
                    samples = progress.samples_stored,
                    events = progress.events_stored,
                    skipped = progress.skipped_total(),
                    seconds,
                    "import succeeded"
                );
                Ok(())
            }
            Ok((Outcome::Failed(error), progress)) => {
                tracing::info!(import = %id, %error, records = progress.records_parsed, "import failed: the file is unreadable");
                self.fail(id, &error.to_string(), location(&error)).await?;
                Ok(())
            }
            Err(error) => {
                if last_attempt {
                    self.fail(id, &format!("{error:#}"), None).await?;
                }
                Err(error)
            }
        }
    }
}

impl ImportRuntime {
    /// The runtime of a server: spool files under OWL_DATA_DIR/imports, status through Redis
    /// pub/sub when Redis is configured.
    pub fn from_config(
        config: &crate::config::Config,
        store: Arc<crate::store::SeaStore>,
        cache: Option<&deadpool_redis::Pool>,
        queue: Arc<dyn Queue>,
    ) -> anyhow::Result<Self> {
        use secrecy::ExposeSecret;
        let spool = Spool::new(config.data_dir.join("imports"))?;
        let bus = match (cache, &config.redis) {
            (Some(pool), Some(redis)) => ImportBus::redis(
                pool.clone(),
                redis.url.expose_secret(),
                &config.jobs.redis_key_prefix,
                store.clone(),
            ),
            _ => ImportBus::in_process(),
        };
        Ok(ImportRuntime {
            max_upload_bytes: config.max_upload_bytes,
            ..ImportRuntime::new(store, spool, bus, queue)
        })
    }
}
