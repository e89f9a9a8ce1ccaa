//! Conversions between protobuf messages and domain types: timestamps, resource names, pages.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;
use uuid::Uuid;

use crate::domain::error::Error;
use crate::domain::page::PageRequest;
use crate::domain::validate::Violations;

/// A protobuf timestamp of `time`.
pub fn timestamp(time: DateTime<Utc>) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    })
}

/// The seconds a protobuf Timestamp may hold: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
const TIMESTAMP_SECONDS: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;

/// UNIX ms of an optional timestamp; a malformed one (outside years 1 to 9999, or nanos out of
/// range) is a violation of `field`, so later arithmetic on it cannot overflow.
pub fn optional_millis(t: Option<Timestamp>, field: &str, v: &mut Violations) -> Option<i64> {
    let t = t?;
    if TIMESTAMP_SECONDS.contains(&t.seconds) && (0..1_000_000_000).contains(&t.nanos) {
        Some(t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
    } else {
        v.add(field, "is not a valid timestamp (years 1 to 9999)");
        Some(0)
    }
}

/// UNIX ms of a required timestamp; a missing or malformed one is a violation of `field`.
pub fn required_millis(t: Option<Timestamp>, field: &str, v: &mut Violations) -> i64 {
    optional_millis(t, field, v).unwrap_or_else(|| {
        v.add(field, "is required");
        0
    })
}

/// A protobuf timestamp of UNIX ms.
pub fn timestamp_ms(ms: i64) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    })
}

/// Start and end of a time range in UNIX ms.
pub fn time_range(
    range: Option<owl::pb::TimeRange>,
    v: &mut Violations,
) -> (Option<i64>, Option<i64>) {
    let range = range.unwrap_or_default();
    let start = optional_millis(range.start_time, "time_range.start_time", v);
    let end = optional_millis(range.end_time, "time_range.end_time", v);
    (start, end)
}

/// The id of a resource name `{collection}/{uuid}`; records a violation of `field` otherwise.
pub fn parse_name(value: &str, collection: &str, field: &str, v: &mut Violations) -> Option<Uuid> {
    match value
        .strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .map(Uuid::parse_str)
    {
        Some(Ok(id)) => Some(id),
        _ => {
            let shown: String = value.chars().take(80).collect();
            v.add(
                field,
                format!("must be {collection}/{{uuid}}, got {shown:?}"),
            );
            None
        }
    }
}

/// Like `parse_name`, but an empty value is allowed and means none.
pub fn parse_optional_name(
    value: &str,
    collection: &str,
    field: &str,
    v: &mut Violations,
) -> Option<Uuid> {
    if value.is_empty() {
        None
    } else {
        parse_name(value, collection, field, v)
    }
}

/// The two ids of a child resource name `{parent}/{uuid}/{child}/{uuid}`, such as
/// `applications/{uuid}/apiKeys/{uuid}`; records a violation of `field` otherwise.
pub fn parse_child_name(
    value: &str,
    parent: &str,
    child: &str,
    field: &str,
    v: &mut Violations,
) -> Option<(Uuid, Uuid)> {
    let parsed = value
        .strip_prefix(parent)
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|rest| rest.split_once(&format!("/{child}/")))
        .and_then(|(a, b)| Some((Uuid::parse_str(a).ok()?, Uuid::parse_str(b).ok()?)));
    if parsed.is_none() {
        let shown: String = value.chars().take(80).collect();
        v.add(
            field,
            format!("must be {parent}/{{uuid}}/{child}/{{uuid}}, got {shown:?}"),
        );
    }
    parsed
}

/// The two ids of a single child-name request field, or INVALID_ARGUMENT naming it.
pub fn one_child_name(
    value: &str,
    parent: &str,
    child: &str,
    field: &str,
) -> Result<(Uuid, Uuid), Error> {
    let mut v = Violations::new();
    let ids = parse_child_name(value, parent, child, field, &mut v);
    v.finish()?;
    ids.ok_or_else(|| Error::invalid(field, "is required"))
}

/// The user of a `parent` field and a time range, validated together.
pub fn user_and_range(
    parent: &str,
    range: Option<owl::pb::TimeRange>,
) -> Result<(Uuid, Option<i64>, Option<i64>), Error> {
    let mut v = Violations::new();
    let user = parse_name(parent, "users", "parent", &mut v);
    let (start, end) = time_range(range, &mut v);
    v.finish()?;
    Ok((
        user.ok_or_else(|| Error::invalid("parent", "is required"))?,
        start,
        end,
    ))
}

/// The id of a single-name request field, or INVALID_ARGUMENT naming it.
pub fn one_name(value: &str, collection: &str, field: &str) -> Result<Uuid, Error> {
    let mut v = Violations::new();
    let id = parse_name(value, collection, field, &mut v);
    v.finish()?;
    id.ok_or_else(|| Error::invalid(field, "is required"))
}

/// The page of an unfiltered list request.
pub fn page_request(page_size: i32, page_token: &str) -> Result<PageRequest, Error> {
    let mut v = Violations::new();
    let page = PageRequest::parse(page_size, page_token, "", &mut v);
    v.finish()?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_only_in_their_collection() {
        let id = Uuid::now_v7();
        let mut v = Violations::new();
        assert_eq!(
            parse_name(&format!("users/{id}"), "users", "name", &mut v),
            Some(id)
        );
        assert!(v.is_empty());
        assert_eq!(
            parse_name(&format!("applications/{id}"), "users", "name", &mut v),
            None
        );
        assert_eq!(
            parse_name("users/not-a-uuid", "users", "name", &mut v),
            None
        );
        assert_eq!(parse_name("", "users", "name", &mut v), None);
        assert!(
            parse_child_name(
                &format!("applications/{id}/apiKeys/{id}"),
                "applications",
                "apiKeys",
                "name",
                &mut v
            )
            .is_some()
        );
        assert!(v.finish().is_err());
    }
}
