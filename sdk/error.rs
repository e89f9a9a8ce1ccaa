//! The SDK's error: a gRPC status with owl's machine-readable reason, or a transport failure.

use tonic::Code;
use tonic_types::StatusExt;

/// An error from an owl call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-OK status.
    #[error("{}: {}", .0.code(), .0.message())]
    Status(Box<tonic::Status>),
    /// The connection could not be made.
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// A URL or credential could not be used.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Error::Status(Box::new(status))
    }
}

impl Error {
    /// The gRPC code (UNAVAILABLE for transport failures).
    pub fn code(&self) -> Code {
        match self {
            Error::Status(status) => status.code(),
            Error::Transport(_) => Code::Unavailable,
            Error::InvalidInput(_) => Code::InvalidArgument,
        }
    }

    /// owl's reason from the `google.rpc.ErrorInfo` detail, such as `ONBOARDING_CLOSED`.
    pub fn reason(&self) -> Option<String> {
        match self {
            Error::Status(status) => status.get_details_error_info().map(|info| info.reason),
            _ => None,
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> String {
        match self {
            Error::Status(status) => status.message().to_owned(),
            other => other.to_string(),
        }
    }

    /// Every `(field, description)` of a `google.rpc.BadRequest` detail.
    pub fn field_violations(&self) -> Vec<(String, String)> {
        match self {
            Error::Status(status) => status
                .get_details_bad_request()
                .map(|bad| {
                    bad.field_violations
                        .into_iter()
                        .map(|v| (v.field, v.description))
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// The resource named by a `google.rpc.ResourceInfo` detail (NOT_FOUND, ALREADY_EXISTS),
    /// such as the import that already holds an uploaded file.
    pub fn resource_name(&self) -> Option<String> {
        match self {
            Error::Status(status) => status
                .get_details_resource_info()
                .map(|info| info.resource_name),
            _ => None,
        }
    }

    /// How long to wait before trying again, from a `google.rpc.RetryInfo` detail
    /// (RESOURCE_EXHAUSTED, UNAVAILABLE).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::Status(status) => status.get_details_retry_info()?.retry_delay,
            _ => None,
        }
    }

    /// The underlying status, when the server answered.
    pub fn status(&self) -> Option<&tonic::Status> {
        match self {
            Error::Status(status) => Some(status),
            _ => None,
        }
    }
}
