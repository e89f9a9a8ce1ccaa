//! The one mapping from the domain error to `tonic::Status`, with google.rpc details.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::error::{Error, Reason};

/// `ErrorInfo.domain` of every owl error.
pub const ERROR_DOMAIN: &str = "owl.v1";

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let message = error.to_string();
        let mut details = ErrorDetails::new();
        let (code, reason) = match error {
            Error::InvalidArgument(violations) => {
                for v in violations {
                    details.add_bad_request_violation(v.field, v.description);
                }
                (Code::InvalidArgument, Reason::InvalidArgument)
            }
            Error::NotFound(resource) => {
                details.set_resource_info(resource.kind, resource.name, "", "");
                (Code::NotFound, Reason::NotFound)
            }
            Error::AlreadyExists(resource) => {
                details.set_resource_info(resource.kind, resource.name, "", "");
                (Code::AlreadyExists, Reason::AlreadyExists)
            }
            Error::FailedPrecondition { reason, .. } => {
                details.add_precondition_failure_violation(reason.as_str(), "", message.clone());
                (Code::FailedPrecondition, reason)
            }
            Error::Unauthenticated { reason, .. } => (Code::Unauthenticated, reason),
            Error::PermissionDenied(_) => (Code::PermissionDenied, Reason::PermissionDenied),
            Error::Unavailable(_) => {
                details.set_retry_info(Some(std::time::Duration::from_secs(5)));
                (Code::Unavailable, Reason::Unavailable)
            }
            Error::ResourceExhausted { retry_after, .. } => {
                details.set_retry_info(Some(retry_after));
                (Code::ResourceExhausted, Reason::RateLimited)
            }
            Error::Internal(source) => {
                tracing::error!(error = ?source, "request failed");
                details.set_error_info(Reason::Internal.as_str(), ERROR_DOMAIN, HashMap::new());
                return Status::with_error_details(Code::Internal, "internal error", details);
            }
        };
        details.set_error_info(reason.as_str(), ERROR_DOMAIN, HashMap::new());
        Status::with_error_details(code, message, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::FieldViolation;

    #[test]
    fn invalid_argument_carries_every_violation_and_the_reason() {
        let status = Status::from(Error::InvalidArgument(vec![
            FieldViolation {
                field: "a".into(),
                description: "x".into(),
            },
            FieldViolation {
                field: "b".into(),
                description: "y".into(),
            },
        ]));
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        assert_eq!(
            details.bad_request().map(|b| b.field_violations.len()),
            Some(2)
        );
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some("INVALID_ARGUMENT")
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let status = Status::from(Error::Internal(anyhow::anyhow!(
            "password=hunter2 in query"
        )));
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }
}
