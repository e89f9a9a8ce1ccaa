//! The one domain error type and its stable reasons; `api::status` maps it to gRPC.

use std::fmt;

/// A field that failed validation, named by its path in the request (`user.email`, `samples[3].value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request message.
    pub field: String,
    /// What is wrong with it, lowercase.
    pub description: String,
}

/// Machine-readable reasons: stable UPPER_SNAKE strings clients match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    MissingCredentials,
    InvalidCredentials,
    ExpiredCredentials,
    PermissionDenied,
    OnboardingClosed,
    InvitationNotPending,
    ApiKeyRevoked,
    ProviderDisabled,
    ProviderNotConfigured,
    RateLimited,
    ConnectionNotActive,
    ImportInProgress,
    UploadOffsetMismatch,
    UploadIncomplete,
    UploadClosed,
    ChecksumMismatch,
    StreamIdle,
    Unavailable,
    Internal,
}

impl Reason {
    /// The wire form of the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidArgument => "INVALID_ARGUMENT",
            Reason::NotFound => "NOT_FOUND",
            Reason::AlreadyExists => "ALREADY_EXISTS",
            Reason::MissingCredentials => "MISSING_CREDENTIALS",
            Reason::InvalidCredentials => "INVALID_CREDENTIALS",
            Reason::ExpiredCredentials => "EXPIRED_CREDENTIALS",
            Reason::PermissionDenied => "PERMISSION_DENIED",
            Reason::OnboardingClosed => "ONBOARDING_CLOSED",
            Reason::InvitationNotPending => "INVITATION_NOT_PENDING",
            Reason::ApiKeyRevoked => "API_KEY_REVOKED",
            Reason::ProviderDisabled => "PROVIDER_DISABLED",
            Reason::ProviderNotConfigured => "PROVIDER_NOT_CONFIGURED",
            Reason::RateLimited => "RATE_LIMITED",
            Reason::ConnectionNotActive => "CONNECTION_NOT_ACTIVE",
            Reason::ImportInProgress => "IMPORT_IN_PROGRESS",
            Reason::UploadOffsetMismatch => "UPLOAD_OFFSET_MISMATCH",
            Reason::UploadIncomplete => "UPLOAD_INCOMPLETE",
            Reason::UploadClosed => "UPLOAD_CLOSED",
            Reason::ChecksumMismatch => "CHECKSUM_MISMATCH",
            Reason::StreamIdle => "STREAM_IDLE",
            Reason::Unavailable => "UNAVAILABLE",
            Reason::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource that was looked up, for NOT_FOUND and ALREADY_EXISTS details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    /// Resource type, such as `owl.v1.User`.
    pub kind: &'static str,
    /// Resource name, such as `users/0190…`, or the conflicting field value.
    pub name: String,
}

/// Everything a use-case can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{} {} not found", .0.kind, .0.name)]
    NotFound(ResourceRef),
    #[error("{} {} already exists", .0.kind, .0.name)]
    AlreadyExists(ResourceRef),
    #[error("{message}")]
    FailedPrecondition { reason: Reason, message: String },
    #[error("{message}")]
    Unauthenticated { reason: Reason, message: String },
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unavailable(String),
    /// The client left a stream idle longer than the deployment allows.
    #[error("{0}")]
    StreamIdle(String),
    /// A request budget is spent; try again after `retry_after`.
    #[error("{message}")]
    ResourceExhausted {
        message: String,
        retry_after: std::time::Duration,
    },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// NOT_FOUND for a resource of `kind` named `name`.
    pub fn not_found(kind: &'static str, name: impl Into<String>) -> Self {
        Error::NotFound(ResourceRef {
            kind,
            name: name.into(),
        })
    }

    /// ALREADY_EXISTS for a resource of `kind` identified by `name`.
    pub fn already_exists(kind: &'static str, name: impl Into<String>) -> Self {
        Error::AlreadyExists(ResourceRef {
            kind,
            name: name.into(),
        })
    }

    /// UNAUTHENTICATED with `reason`.
    pub fn unauthenticated(reason: Reason, message: impl Into<String>) -> Self {
        Error::Unauthenticated {
            reason,
            message: message.into(),
        }
    }

    /// INVALID_ARGUMENT for one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Error::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    /// The caller may not do this.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Error::PermissionDenied(message.into())
    }
}

impl From<anyhow::Error> for Error {
    fn from(error: anyhow::Error) -> Self {
        Error::Internal(error)
    }
}

/// Result of a use-case.
pub type Result<T, E = Error> = std::result::Result<T, E>;
