//! The Rust SDK of owl: generated `owl.v1` messages and clients, and a `Client` that adds
//! authentication, one typed method per RPC, page-following streams and an error type that
//! exposes the gRPC code and owl's reason.
//!
//! ```no_run
//! # async fn demo() -> Result<(), owl::Error> {
//! let client = owl::Client::connect("http://127.0.0.1:8000").await?.with_api_key("owl_…");
//! let user = client.create_user(owl::pb::CreateUserRequest::default()).await?;
//! # Ok(()) }
//! ```

mod client;
mod error;
mod imports;
mod paging;

pub use client::{Client, Credentials};
pub use error::Error;
pub use imports::MAX_UPLOAD_CHUNK;
pub use paging::paginate;

/// Generated messages and service stubs of package `owl.v1`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("owl.v1");
}

/// The encoded `FileDescriptorSet` of every owl proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/owl_descriptor.bin"));

/// Re-exported so that callers need no direct tonic dependency for codes.
pub use tonic::Code;
