//! The use-cases of imports: start an upload, append to it (resumably, by offset), complete
//! it (which queues the import's job), abort it, and read or watch imports. Access follows
//! the user (`Users::visible`): their application's API key, developers, their SDK token.
//!
//! Decisions: one import per user at a time (a second is FAILED_PRECONDITION
//! IMPORT_IN_PROGRESS, not queued; an upload idle for [`UPLOAD_IDLE_TIMEOUT`] is abandoned
//! and no longer counts); a file already imported completely (same SHA-256, succeeded) is
//! ALREADY_EXISTS naming the existing import, and the new upload is discarded.

use std::sync::Arc;

use chrono::Duration;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{APPLE_HEALTH, Import, ImportProgress, ImportStage, import_name, upload_name};
use crate::domain::Context;
use crate::domain::auth::Caller;
use crate::domain::error::{Error, Reason, Result};
use crate::domain::page::{Page, PageRequest};
use crate::domain::users::Users;
use crate::domain::validate::Violations;
use crate::jobs::import::ImportRuntime;

/// Largest chunk of one AppendUploadChunk call or ImportAppleHealth message.
pub const MAX_CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// An upload that received nothing for this long no longer blocks its user's next import.
pub const UPLOAD_IDLE_TIMEOUT: Duration = Duration::hours(1);

const IMPORT: &str = "owl.v1.Import";
const UPLOAD: &str = "owl.v1.Upload";

/// Import use-cases.
pub struct Imports<'a> {
    /// Users, clock.
    pub ctx: &'a Context,
    /// Import records, spool files, the job queue and the status bus.
    pub rt: &'a ImportRuntime,
}

fn internal(error: impl Into<anyhow::Error>) -> Error {
    Error::Internal(error.into())
}

/// Runs blocking file IO off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(internal)?
        .map_err(internal)
}

impl Imports<'_> {
    /// The import `id` of user `user_id`, when the caller may see the user; else NOT_FOUND
    /// (named as `kind`).
    async fn own(
        &self,
        caller: &Caller,
        user_id: Uuid,
        id: Uuid,
        kind: &'static str,
    ) -> Result<Import> {
        Users(self.ctx).visible(caller, user_id).await?;
        let name = if kind == UPLOAD {
            upload_name(user_id, id)
        } else {
            import_name(user_id, id)
        };
        self.rt
            .store
            .import(id)
            .await?
            .filter(|i| i.user_id == user_id)
            .ok_or_else(|| Error::not_found(kind, name))
    }

    /// Starts an Apple Health import of user `user_id` in stage RECEIVING, with an empty
    /// spool file.
    pub async fn create(
        &self,
        caller: &Caller,
        user_id: Uuid,
        total_bytes: i64,
        sha256: &str,
    ) -> Result<Import> {
        let mut v = Violations::new();
        v.check(total_bytes >= 0, "total_bytes", "must not be negative");
        let max = self.rt.max_upload_bytes;
        v.check(
            total_bytes <= max,
            "total_bytes",
            &format!("must be at most {max} bytes (OWL_MAX_UPLOAD_BYTES)"),
        );
        let sha256 = sha256.trim().to_ascii_lowercase();
        v.check(
            sha256.is_empty()
                || (sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit())),
            "sha256",
            "must be 64 hex digits",
        );
        v.finish()?;
        Users(self.ctx).visible(caller, user_id).await?;
        if !sha256.is_empty()
            && let Some(existing) = self.rt.store.succeeded_import(user_id, &sha256).await?
        {
            return Err(Error::already_exists(IMPORT, existing.name()));
        }
        let now = self.ctx.clock.now();
        let import = Import {
            id: Uuid::now_v7(),
            user_id,
            format: APPLE_HEALTH.to_owned(),
            stage: ImportStage::Receiving,
            bytes_received: 0,
            total_bytes,
            sha256: (!sha256.is_empty()).then_some(sha256),
            complete: false,
            progress: ImportProgress::default(),
            error: None,
            error_location: None,
            created_at: now,
            upload_complete_at: None,
            finished_at: None,
            updated_at: now,
        };
        let mut inserted = self.rt.store.insert_import(&import).await?;
        if !inserted && let Some(active) = self.rt.store.active_import(user_id).await? {
            if active.stage == ImportStage::Receiving
                && active.updated_at + UPLOAD_IDLE_TIMEOUT < now
            {
                self.abort(active.id, "the upload was abandoned").await?;
                inserted = self.rt.store.insert_import(&import).await?;
            } else {
                return Err(Error::FailedPrecondition {
                    reason: Reason::ImportInProgress,
                    message: format!(
                        "user already has import {} in stage {}; one import at a time",
                        active.name(),
                        active.stage.as_str()
                    ),
                });
            }
        }
        if !inserted {
            return Err(Error::FailedPrecondition {
                reason: Reason::ImportInProgress,
                message: "user already has an import in progress; one import at a time".into(),
            });
        }
        let spool = self.rt.spool.clone();
        let id = import.id;
        let writer = match blocking(move || spool.create(id)).await {
            Ok(writer) => writer,
            Err(error) => {
                self.abort(id, "the spool file could not be created")
                    .await?;
                return Err(error);
            }
        };
        self.rt.put_writer(id, writer);
        tracing::info!(user = %user_id, import = %id, "import upload started");
        self.rt.announce(&import).await;
        Ok(import)
    }

    /// Appends `data` at `offset` of upload `id`. A resent chunk (already received) changes
    /// nothing; a gap is FAILED_PRECONDITION UPLOAD_OFFSET_MISMATCH with the expected offset.
    /// `persist` false records the received bytes only every few MiB (streams, which cannot
    /// resume anyway).
    pub async fn append(
        &self,
        caller: &Caller,
        user_id: Uuid,
        id: Uuid,
        offset: i64,
        data: Vec<u8>,
        persist: bool,
    ) -> Result<Import> {
        let mut v = Violations::new();
        v.check(offset >= 0, "offset", "must not be negative");
        v.check(!data.is_empty(), "data", "must not be empty");
        v.check(
            data.len() <= MAX_CHUNK_BYTES,
            "data",
            "must be at most 4 MiB",
        );
        v.finish()?;
        let mut import = self.own(caller, user_id, id, UPLOAD).await?;
        if import.stage != ImportStage::Receiving || import.complete {
            return Err(closed(&import));
        }
        let slot = self.rt.writer(id, import.bytes_received as u64).await?;
        let mut guard = slot.lock().await;
        let Some(writer) = guard.take() else {
            return Err(closed(&import));
        };
        let len = writer.len() as i64;
        let end = offset + data.len() as i64;
        if offset > len {
            *guard = Some(writer);
            return Err(Error::FailedPrecondition {
                reason: Reason::UploadOffsetMismatch,
                message: format!("chunk starts at offset {offset}, expected offset {len}"),
            });
        }
        if end > self.rt.max_upload_bytes {
            *guard = Some(writer);
            return Err(Error::invalid(
                "data",
                format!(
                    "the upload would pass {} bytes (OWL_MAX_UPLOAD_BYTES)",
                    self.rt.max_upload_bytes
                ),
            ));
        }
        if import.total_bytes > 0 && end > import.total_bytes {
            *guard = Some(writer);
            return Err(Error::invalid(
                "data",
                format!("goes past total_bytes ({})", import.total_bytes),
            ));
        }
        if end <= len {
            // A resend of bytes already kept.
            *guard = Some(writer);
            import.bytes_received = len;
            return Ok(import);
        }
        let skip = (len - offset) as usize;
        let written = blocking(move || {
            let mut writer = writer;
            writer.append(&data[skip..]).map(|()| writer)
        })
        .await;
        let writer = match written {
            Ok(writer) => writer,
            Err(error) => {
                drop(guard);
                self.abort(id, "the spool file could not be written")
                    .await?;
                return Err(error);
            }
        };
        let previous = import.bytes_received;
        import.bytes_received = writer.len() as i64;
        *guard = Some(writer);
        drop(guard);
        const PERSIST_EVERY: i64 = 16 << 20;
        if persist || import.bytes_received / PERSIST_EVERY != previous / PERSIST_EVERY {
            let now = self.ctx.clock.now();
            self.rt
                .store
                .set_received(id, import.bytes_received, now)
                .await?;
            import.updated_at = now;
            self.rt.announce(&import).await;
        }
        Ok(import)
    }

    /// Ends upload `id` and queues its import; returns the import.
    pub async fn complete(&self, caller: &Caller, user_id: Uuid, id: Uuid) -> Result<Import> {
        let import = self.own(caller, user_id, id, UPLOAD).await?;
        match import.stage {
            ImportStage::Receiving => {}
            // Completing twice (a retried call whose answer was lost) is fine.
            _ if import.complete => return Ok(import),
            _ => return Err(closed(&import)),
        }
        let slot = self.rt.writer(id, import.bytes_received as u64).await?;
        let mut guard = slot.lock().await;
        let Some(writer) = guard.take() else {
            return Err(closed(&import));
        };
        if import.total_bytes > 0 && (writer.len() as i64) < import.total_bytes {
            let message = format!(
                "received {} of {} bytes; resume at offset {}",
                writer.len(),
                import.total_bytes,
                writer.len()
            );
            *guard = Some(writer);
            return Err(Error::FailedPrecondition {
                reason: Reason::UploadIncomplete,
                message,
            });
        }
        let finished = blocking(move || writer.finish()).await;
        drop(guard);
        self.rt.drop_writer(id);
        let (len, sha256) = match finished {
            Ok(done) => done,
            Err(error) => {
                self.abort(id, "the spool file could not be written")
                    .await?;
                return Err(error);
            }
        };
        if let Some(announced) = &import.sha256
            && *announced != sha256
        {
            let message = format!("the file's sha256 is {sha256}, not the announced {announced}");
            self.abort(id, &message).await?;
            return Err(Error::FailedPrecondition {
                reason: Reason::ChecksumMismatch,
                message,
            });
        }
        if let Some(existing) = self.rt.store.succeeded_import(user_id, &sha256).await? {
            self.rt.spool.remove(id);
            self.rt.store.delete_import(id).await?;
            tracing::info!(user = %user_id, import = %existing.id, "file already imported");
            return Err(Error::already_exists(IMPORT, existing.name()));
        }
        let now = self.ctx.clock.now();
        self.rt
            .store
            .complete_upload(id, len as i64, &sha256, now)
            .await?;
        if let Err(error) = self.rt.enqueue(id).await {
            self.abort(id, "the import could not be queued").await?;
            return Err(error);
        }
        let import = self
            .rt
            .store
            .import(id)
            .await?
            .ok_or_else(|| Error::not_found(IMPORT, import_name(user_id, id)))?;
        tracing::info!(user = %user_id, import = %id, bytes = len, "import upload complete");
        self.rt.announce(&import).await;
        Ok(import)
    }

    /// Fails a receiving import (a broken upload) and removes its spool file.
    pub async fn abort(&self, id: Uuid, reason: &str) -> Result<()> {
        abort(self.rt, self.ctx, id, reason).await
    }

    /// An upload: its import.
    pub async fn get_upload(&self, caller: &Caller, user_id: Uuid, id: Uuid) -> Result<Import> {
        let mut import = self.own(caller, user_id, id, UPLOAD).await?;
        if let Some(len) = self.rt.held_len(id).await {
            import.bytes_received = len as i64;
        }
        Ok(import)
    }

    /// An import.
    pub async fn get(&self, caller: &Caller, user_id: Uuid, id: Uuid) -> Result<Import> {
        self.own(caller, user_id, id, IMPORT).await
    }

    /// A user's imports, newest first.
    pub async fn list(
        &self,
        caller: &Caller,
        user_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<Import>> {
        Users(self.ctx).visible(caller, user_id).await?;
        let rows = self.rt.store.list_imports(user_id, &page).await?;
        Ok(page.page(rows, |i| i.id))
    }

    /// An import as it is now and its changes from now on (subscribed before the read, so
    /// nothing falls between).
    pub async fn watch(
        &self,
        caller: &Caller,
        user_id: Uuid,
        id: Uuid,
    ) -> Result<(Import, broadcast::Receiver<Import>)> {
        Users(self.ctx).visible(caller, user_id).await?;
        let live = self.rt.bus.subscribe();
        let import = self.own(caller, user_id, id, IMPORT).await?;
        Ok((import, live))
    }
}

/// FAILED_PRECONDITION UPLOAD_CLOSED for an upload that takes no more bytes.
fn closed(import: &Import) -> Error {
    Error::FailedPrecondition {
        reason: Reason::UploadClosed,
        message: format!(
            "upload {} is closed (import stage {})",
            upload_name(import.user_id, import.id),
            import.stage.as_str()
        ),
    }
}

/// Fails receiving import `id` with `reason`, forgets its writer and removes its spool file.
pub async fn abort(rt: &ImportRuntime, ctx: &Context, id: Uuid, reason: &str) -> Result<()> {
    rt.drop_writer(id);
    rt.spool.remove(id);
    rt.store
        .finish_import(
            id,
            ImportStage::Failed,
            Some((reason, None)),
            ctx.clock.now(),
        )
        .await?;
    tracing::info!(import = %id, reason, "import upload aborted");
    if let Some(import) = rt.store.import(id).await? {
        rt.announce(&import).await;
    }
    Ok(())
}

/// Fails import `id` when dropped while armed: the RPC streaming its file ended early (the
/// client went away, so the handler's future was dropped).
pub struct AbortOnDrop {
    rt: Arc<ImportRuntime>,
    ctx: Arc<Context>,
    id: Uuid,
    armed: bool,
}

impl AbortOnDrop {
    /// Armed for import `id`.
    pub fn new(rt: Arc<ImportRuntime>, ctx: Arc<Context>, id: Uuid) -> Self {
        AbortOnDrop {
            rt,
            ctx,
            id,
            armed: true,
        }
    }

    /// The upload ended as it should: dropping does nothing.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (rt, ctx, id) = (self.rt.clone(), self.ctx.clone(), self.id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = abort(&rt, &ctx, id, "the upload broke off").await {
                    tracing::warn!(import = %id, %error, "broken upload not marked failed");
                }
            });
        }
    }
}
