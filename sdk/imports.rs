//! The ImportService part of the SDK: the generated client with credentials, one typed method
//! per unary RPC, the streaming upload and the progress watch.

use futures::{Stream, StreamExt};
use tonic::codegen::InterceptedService;
use tonic::transport::Channel;

use crate::client::{Auth, Client};
use crate::error::Error;
use crate::pb;
use crate::pb::import_service_client::ImportServiceClient;

/// Largest `data` of one upload message or chunk the server accepts.
pub const MAX_UPLOAD_CHUNK: usize = 4 * 1024 * 1024;

impl Client {
    /// The generated ImportService client with these credentials (messages up to a 4 MiB
    /// chunk and its envelope).
    pub fn imports(&self) -> ImportServiceClient<InterceptedService<Channel, Auth>> {
        ImportServiceClient::with_interceptor(self.channel(), self.auth())
            .max_encoding_message_size(MAX_UPLOAD_CHUNK + 64 * 1024)
    }

    /// Uploads an Apple Health export in one client stream (`ImportAppleHealth`): the first
    /// message names the user, every message carries the next bytes. Native gRPC only:
    /// browsers use `create_upload` and `append_upload_chunk`.
    pub async fn import_apple_health(
        &self,
        messages: impl Stream<Item = pb::ImportAppleHealthRequest> + Send + 'static,
    ) -> Result<pb::Import, Error> {
        Ok(self
            .imports()
            .import_apple_health(messages)
            .await?
            .into_inner())
    }

    /// Watches one import (`WatchImport`): its state now, then every change, ending after a
    /// terminal stage.
    pub async fn watch_import(
        &self,
        request: pb::WatchImportRequest,
    ) -> Result<impl Stream<Item = Result<pb::Import, Error>> + use<>, Error> {
        let stream = self.imports().watch_import(request).await?.into_inner();
        Ok(stream.map(|item| item.map_err(Error::from)))
    }

    /// Calls `CreateUpload`.
    pub async fn create_upload(
        &self,
        request: pb::CreateUploadRequest,
    ) -> Result<pb::Upload, Error> {
        Ok(self.imports().create_upload(request).await?.into_inner())
    }

    /// Calls `AppendUploadChunk`.
    pub async fn append_upload_chunk(
        &self,
        request: pb::AppendUploadChunkRequest,
    ) -> Result<pb::Upload, Error> {
        Ok(self
            .imports()
            .append_upload_chunk(request)
            .await?
            .into_inner())
    }

    /// Calls `GetUpload`.
    pub async fn get_upload(&self, request: pb::GetUploadRequest) -> Result<pb::Upload, Error> {
        Ok(self.imports().get_upload(request).await?.into_inner())
    }

    /// Calls `CompleteUpload`.
    pub async fn complete_upload(
        &self,
        request: pb::CompleteUploadRequest,
    ) -> Result<pb::Import, Error> {
        Ok(self.imports().complete_upload(request).await?.into_inner())
    }

    /// Calls `GetImport`.
    pub async fn get_import(&self, request: pb::GetImportRequest) -> Result<pb::Import, Error> {
        Ok(self.imports().get_import(request).await?.into_inner())
    }

    /// Calls `ListImports`.
    pub async fn list_imports(
        &self,
        request: pb::ListImportsRequest,
    ) -> Result<pb::ListImportsResponse, Error> {
        Ok(self.imports().list_imports(request).await?.into_inner())
    }
}
