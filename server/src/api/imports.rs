//! `owl.v1.ImportService` over gRPC: converts messages and delegates to `domain::imports`;
//! `ImportAppleHealth` feeds its client stream into the same upload as the unary chunks, and
//! `WatchImport` turns the import bus into a server stream.

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use owl::pb;
use owl::pb::import_service_server::{ImportService, ImportServiceServer};
use tokio::sync::broadcast;
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;

use super::auth::caller;
use super::convert::{one_child_name, one_name, page_request, timestamp};
use super::stream::next_message;
use crate::AppState;
use crate::domain::Context;
use crate::domain::error::Error;
use crate::domain::imports::uploads::{AbortOnDrop, MAX_CHUNK_BYTES};
use crate::domain::imports::{Import, ImportStage, Imports, import_name, upload_name};
use crate::jobs::StatusBus;
use crate::jobs::import::ImportRuntime;

/// The ImportService implementation.
pub struct ImportApi {
    ctx: Arc<Context>,
    rt: Option<Arc<ImportRuntime>>,
    /// Closes open watches at shutdown.
    status: StatusBus,
}

/// The service with its message limit (a chunk of 4 MiB and its envelope).
pub fn service(state: &AppState) -> ImportServiceServer<ImportApi> {
    ImportServiceServer::new(ImportApi {
        ctx: state.ctx.clone(),
        rt: state.jobs.imports.clone(),
        status: state.jobs.status.clone(),
    })
    .max_decoding_message_size(MAX_CHUNK_BYTES + 64 * 1024)
}

impl ImportApi {
    fn rt(&self) -> Result<&Arc<ImportRuntime>, Error> {
        self.rt
            .as_ref()
            .ok_or_else(|| Error::Unavailable("imports are not set up in this process".into()))
    }

    fn imports(&self) -> Result<Imports<'_>, Error> {
        Ok(Imports {
            ctx: &self.ctx,
            rt: self.rt()?,
        })
    }
}

fn stage(s: ImportStage) -> pb::ImportStage {
    match s {
        ImportStage::Receiving => pb::ImportStage::Receiving,
        ImportStage::Queued => pb::ImportStage::Queued,
        ImportStage::Parsing => pb::ImportStage::Parsing,
        ImportStage::Succeeded => pb::ImportStage::Succeeded,
        ImportStage::Failed => pb::ImportStage::Failed,
    }
}

/// The message of an import.
pub fn import(i: Import) -> pb::Import {
    let skipped_total = i.progress.skipped_total();
    pb::Import {
        name: import_name(i.user_id, i.id),
        format: pb::ImportFormat::AppleHealth as i32,
        stage: stage(i.stage) as i32,
        bytes_received: i.bytes_received,
        total_bytes: i.total_bytes,
        bytes_parsed: i.progress.bytes_parsed,
        sha256: if i.complete {
            i.sha256.unwrap_or_default()
        } else {
            String::new()
        },
        records_parsed: i.progress.records_parsed,
        samples_stored: i.progress.samples_stored,
        events_stored: i.progress.events_stored,
        skipped: i.progress.skipped.into_iter().collect(),
        skipped_total,
        error: i.error.unwrap_or_default(),
        error_location: i.error_location.map(|l| pb::ImportErrorLocation {
            line: l.line,
            column: l.column,
            byte_offset: l.byte,
        }),
        create_time: timestamp(i.created_at),
        upload_complete_time: i.upload_complete_at.and_then(timestamp),
        finish_time: i.finished_at.and_then(timestamp),
        update_time: timestamp(i.updated_at),
    }
}

fn upload(i: Import) -> pb::Upload {
    pb::Upload {
        name: upload_name(i.user_id, i.id),
        import: import_name(i.user_id, i.id),
        next_offset: i.bytes_received,
        total_bytes: i.total_bytes,
        complete: i.complete,
    }
}

/// The next change of import `id`; `None` when the bus closes.
/// How often a watch re-reads its import when changes do not travel between processes.
const WATCH_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// The next change of import `id` past `seen`, from the bus. When the bus stays in this
/// process (no Redis), the import is also re-read every WATCH_POLL: a worker in another
/// process on the same database (`owl worker`, or another `owl serve`) changes it without
/// telling this one.
async fn next_change(
    live: &mut broadcast::Receiver<Import>,
    rt: &ImportRuntime,
    id: Uuid,
    seen: (u8, i64, i64),
) -> Option<Import> {
    let mut poll = tokio::time::interval(WATCH_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.tick().await;
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(i) if i.id == id => return Some(i),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "import watcher lagged");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            },
            _ = poll.tick(), if rt.bus.is_in_process() => match rt.store.import(id).await {
                Ok(Some(i)) if progress_mark(&i) > seen => return Some(i),
                Ok(Some(_)) => {}
                // Deleted with its user: the watch ends.
                Ok(None) => return None,
                Err(error) => tracing::debug!(import = %id, %error, "import watch: re-read failed"),
            },
        }
    }
}

/// How far an import is, ordered: later states compare greater.
fn progress_mark(i: &Import) -> (u8, i64, i64) {
    let rank = match i.stage {
        ImportStage::Receiving => 0,
        ImportStage::Queued => 1,
        ImportStage::Parsing => 2,
        ImportStage::Succeeded | ImportStage::Failed => 3,
    };
    (rank, i.bytes_received, i.progress.records_parsed)
}

type ImportStream = Pin<Box<dyn Stream<Item = Result<pb::Import, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl ImportService for ImportApi {
    async fn import_apple_health(
        &self,
        request: Request<Streaming<pb::ImportAppleHealthRequest>>,
    ) -> Result<Response<pb::Import>, Status> {
        let caller = caller(&self.ctx, &request).await?;
        let mut stream = request.into_inner();
        let idle = self.ctx.settings.stream_idle_timeout;
        let Some(first) = next_message(&mut stream, idle).await? else {
            return Err(Error::invalid("parent", "is required in the first message").into());
        };
        let user = one_name(&first.parent, "users", "parent")?;
        let imports = self.imports()?;
        let started = imports
            .create(&caller, user, first.total_bytes, &first.sha256)
            .await?;
        // Dropped before disarming (an error, or the client went away): the import fails
        // and its spool file goes.
        let mut guard = AbortOnDrop::new(self.rt()?.clone(), self.ctx.clone(), started.id);
        let mut offset = 0i64;
        let mut data = first.data;
        loop {
            if !data.is_empty() {
                let len = data.len() as i64;
                imports
                    .append(&caller, user, started.id, offset, data, false)
                    .await?;
                offset += len;
            }
            match next_message(&mut stream, idle).await? {
                Some(message) => data = message.data,
                None => break,
            }
        }
        let done = imports.complete(&caller, user, started.id).await?;
        guard.disarm();
        Ok(Response::new(import(done)))
    }

    async fn create_upload(
        &self,
        request: Request<pb::CreateUploadRequest>,
    ) -> Result<Response<pb::Upload>, Status> {
        let caller = caller(&self.ctx, &request).await?;
        let r = request.into_inner();
        let user = one_name(&r.parent, "users", "parent")?;
        let created = self
            .imports()?
            .create(&caller, user, r.total_bytes, &r.sha256)
            .await?;
        Ok(Response::new(upload(created)))
    }

    async fn append_upload_chunk(
        &self,
        request: Request<pb::AppendUploadChunkRequest>,
    ) -> Result<Response<pb::Upload>, Status> {
        let caller = caller(&self.ctx, &request).await?;
        let r = request.into_inner();
        let (user, id) = one_child_name(&r.name, "users", "uploads", "name")?;
        let appended = self
            .imports()?
            .append(&caller, user, id, r.offset, r.data, true)
            .await?;
        Ok(Response::new(upload(appended)))
    }

    async fn get_upload(
        &self,
        request: Request<pb::GetUploadRequest>,
    ) -> Result<Response<pb::Upload>, Status> {
        let caller = caller(&self.ctx, &request).await?;
        let (user, id) = one_child_name(&request.get_ref().name, "users", "uploads", "name")?;
        let found = self.imports()?.get_upload(&caller, user, id).await?;
        Ok(Response::new(upload(found)))
    }

    async fn complete_upload(
        &self,
        request: Request<pb::CompleteUploadRequest>,
    ) -> Result<Response<pb::Import>, Status> {
        let caller = caller(&self.ctx, &request).await?;
        let (user, id) = one_child_name(&request.get_ref().name, "users", "uploads", "name")?;
        let done = self.imports()?.complete(&caller, user, id).await?;
        Ok(Response::new(import(done)))
    }

    async fn get_import(
        &self,
        request: Request<pb::GetImportRequest>,
    ) -> Result<Response<pb::Import>, Status> {
        let caller = caller(&self.ctx, &request).await?;
        let (user, id) = one_child_name(&request.get_ref().name, "users", "imports", "name")?;
        let found = self.imports()?.get(&caller, user, id).await?;
        Ok(Response::new(import(found)))
    }

    async fn list_imports(
        &self,
        request: Request<pb::ListImportsRequest>,
    ) -> Result<Response<pb::ListImportsResponse>, Status> {
        let caller = caller(&self.ctx, &request).await?;
        let r = request.into_inner();
        let user = one_name(&r.parent, "users", "parent")?;
        let page = page_request(r.page_size, &r.page_token)?;
        let result = self.imports()?.list(&caller, user, page).await?;
        Ok(Response::new(pb::ListImportsResponse {
            imports: result.items.into_iter().map(import).collect(),
            next_page_token: result.next_page_token,
        }))
    }

    type WatchImportStream = ImportStream;

    async fn watch_import(
        &self,
        request: Request<pb::WatchImportRequest>,
    ) -> Result<Response<Self::WatchImportStream>, Status> {
        let caller = caller(&self.ctx, &request).await?;
        let (user, id) = one_child_name(&request.get_ref().name, "users", "imports", "name")?;
        let (current, live) = self.imports()?.watch(&caller, user, id).await?;
        let done = current.stage.is_terminal();
        let seen = progress_mark(&current);
        let rt = self.rt()?.clone();
        let changes =
            futures::stream::unfold((live, done, seen), move |(mut live, done, mut seen)| {
                let rt = rt.clone();
                async move {
                    if done {
                        return None;
                    }
                    loop {
                        let next = next_change(&mut live, &rt, id, seen).await?;
                        // A change published before the first read may arrive after it.
                        if progress_mark(&next) < seen {
                            continue;
                        }
                        seen = progress_mark(&next);
                        let done = next.stage.is_terminal();
                        return Some((Ok(import(next)), (live, done, seen)));
                    }
                }
            })
            .take_until(self.status.closed());
        let stream = futures::stream::iter([Ok(import(current))]).chain(changes);
        Ok(Response::new(Box::pin(stream)))
    }
}
