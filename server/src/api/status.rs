//! The one mapping from the domain error to `tonic::Status`, with google.rpc details.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::error::{Error, FieldViolation, Reason, ResourceRef};

/// `ErrorInfo.domain` of every owl error.
pub const ERROR_DOMAIN: &str = "owl.v1";

/// Violations listed in an error's details; the rest are counted in one more entry.
const MAX_LISTED_VIOLATIONS: usize = 10;
/// Longest field path, description or resource name in an error.
const MAX_PART_BYTES: usize = 120;
/// Longest `grpc-message`. With the details (base64 in `grpc-status-details-bin`) an error
/// stays far under a stock client's 16 KiB metadata limit whatever the input echoed.
const MAX_MESSAGE_BYTES: usize = 1024;

/// `text` cut to at most `max` bytes at a character boundary, with "…" when cut.
fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// `error` with every part bounded: at most [`MAX_LISTED_VIOLATIONS`] violations (and one
/// saying how many more), every field, description and name at most [`MAX_PART_BYTES`].
fn bounded(error: Error) -> Error {
    match error {
        Error::InvalidArgument(violations) => {
            let more = violations.len().saturating_sub(MAX_LISTED_VIOLATIONS);
            let mut listed: Vec<FieldViolation> = violations
                .into_iter()
                .take(MAX_LISTED_VIOLATIONS)
                .map(|v| FieldViolation {
                    field: clip(&v.field, MAX_PART_BYTES),
                    description: clip(&v.description, MAX_PART_BYTES),
                })
                .collect();
            if more > 0 {
                listed.push(FieldViolation {
                    field: String::new(),
                    description: format!("and {more} more violations not listed"),
                });
            }
            Error::InvalidArgument(listed)
        }
        Error::NotFound(r) => Error::NotFound(ResourceRef {
            name: clip(&r.name, MAX_PART_BYTES),
            ..r
        }),
        Error::AlreadyExists(r) => Error::AlreadyExists(ResourceRef {
            name: clip(&r.name, MAX_PART_BYTES),
            ..r
        }),
        other => other,
    }
}

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let error = bounded(error);
        let message = clip(&error.to_string(), MAX_MESSAGE_BYTES);
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
            Error::StreamIdle(_) => (Code::DeadlineExceeded, Reason::StreamIdle),
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

    #[test]
    fn errors_are_bounded_whatever_they_echo() {
        let huge = "é".repeat(1 << 14);
        let violations: Vec<FieldViolation> = (0..500)
            .map(|i| FieldViolation {
                field: format!("batches[{i}].series_type"),
                description: format!("unknown series type {huge:?}"),
            })
            .collect();
        let status = Status::from(Error::InvalidArgument(violations));
        assert!(status.message().len() <= MAX_MESSAGE_BYTES);
        let listed = status.get_error_details().bad_request().unwrap().clone();
        assert_eq!(listed.field_violations.len(), MAX_LISTED_VIOLATIONS + 1);
        assert!(
            listed
                .field_violations
                .iter()
                .all(|v| v.description.len() <= MAX_PART_BYTES)
        );
        assert_eq!(
            listed.field_violations[MAX_LISTED_VIOLATIONS].description,
            "and 490 more violations not listed"
        );
        assert!(status.details().len() < 8 * 1024);
    }
}
