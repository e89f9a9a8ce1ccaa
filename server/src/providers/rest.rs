//! What the REST-pull providers (Oura, WHOOP, Polar, Strava) share: authenticated calls whose
//! HTTP failures become `ProviderError`s (401 → `Unauthorized`, 429 → `RateLimited` with the
//! provider's delay, 5xx and transport failures → `Unavailable`, unreadable bodies →
//! `Malformed`), the sync cursor of a provider that walks a fixed list of endpoints over a time
//! window, page by page, and the checks of webhook deliveries (HMAC signatures, tokens).
//!
//! The cursor is opaque to the rest of owl. Between syncs it reads `done:{until}` (every
//! endpoint was read up to `until`, UNIX ms); inside a window it reads
//! `walk:{from}:{to}:{step}:{token}`: endpoint `step` of the window `[from, to)`, continuing at
//! the provider's page token (empty for the first page). An unreadable cursor starts over with
//! the backfill window, which is harmless: writes are idempotent.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::{Http, ProviderError};
use crate::domain::health::SourceKey;
use crate::domain::health::intake::RawBatch;

/// Largest error body quoted in an error message.
const QUOTED_BYTES: usize = 200;

/// An authenticated GET of JSON. `Ok(None)` when the provider refuses this one resource but not
/// the token (403: a scope the user did not grant; 404): the caller skips it.
pub async fn get_json<T: DeserializeOwned>(
    http: &Http,
    url: url::Url,
    access_token: &str,
) -> Result<Option<T>, ProviderError> {
    let response = http
        .client()
        .get(url.as_str())
        .bearer_auth(access_token)
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| ProviderError::Unavailable(format!("{}: {e}", url.path())))?;
    let status = response.status();
    if status == http::StatusCode::FORBIDDEN || status == http::StatusCode::NOT_FOUND {
        tracing::info!(path = url.path(), %status, "provider refused a resource; skipped");
        return Ok(None);
    }
    let body = checked(response, url.path()).await?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| ProviderError::Malformed(format!("{}: {e}", url.path())))
}

/// Sends `request` and accepts any 2xx answer (revocations).
pub async fn send(request: reqwest::RequestBuilder, what: &str) -> Result<(), ProviderError> {
    let response = request
        .send()
        .await
        .map_err(|e| ProviderError::Unavailable(format!("{what}: {e}")))?;
    checked(response, what).await.map(|_| ())
}

/// The body of a successful response; the error of any other.
async fn checked(response: reqwest::Response, what: &str) -> Result<Vec<u8>, ProviderError> {
    let status = response.status();
    let retry_after = retry_after(response.headers(), Utc::now());
    let body = response
        .bytes()
        .await
        .map_err(|e| ProviderError::Unavailable(format!("{what}: {e}")))?;
    if status.is_success() {
        return Ok(body.to_vec());
    }
    let quoted = String::from_utf8_lossy(&body[..body.len().min(QUOTED_BYTES)]).into_owned();
    Err(match status.as_u16() {
        401 => ProviderError::Unauthorized(format!("{what}: {status} {quoted}")),
        429 => ProviderError::RateLimited { retry_after },
        500..=599 => ProviderError::Unavailable(format!("{what}: {status}")),
        _ => ProviderError::Malformed(format!("{what}: unexpected {status} {quoted}")),
    })
}

/// The delay a 429 asks for: `Retry-After` in seconds or as an HTTP date, else WHOOP's
/// `X-RateLimit-Reset` (seconds until the window resets).
pub fn retry_after(headers: &http::HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = text("retry-after") {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(at) = DateTime::parse_from_rfc2822(value) {
            let wait = at.with_timezone(&Utc) - now;
            return Some(wait.to_std().unwrap_or(Duration::ZERO));
        }
    }
    text("x-ratelimit-reset")
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Where a walk over a provider's endpoints is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walk {
    /// Start of the window, UNIX ms.
    pub from: i64,
    /// End of the window, UNIX ms.
    pub to: i64,
    /// Index of the endpoint being read.
    pub step: usize,
    /// The provider's token of the next page of that endpoint.
    pub token: Option<String>,
}

impl Walk {
    /// Continues the walk of `cursor`, or starts a new window ending at `now`: after a finished
    /// one it starts `overlap_ms` before where that one ended (providers revise recent days),
    /// without a cursor `backfill_days` back.
    pub fn resume(
        cursor: Option<&str>,
        now: DateTime<Utc>,
        backfill_days: i64,
        overlap_ms: i64,
        steps: usize,
    ) -> Walk {
        let now = now.timestamp_millis();
        let fresh = |from: i64| Walk {
            from: from.min(now),
            to: now,
            step: 0,
            token: None,
        };
        match cursor.and_then(parse) {
            Some(Parsed::Walk(walk)) if walk.step < steps => walk,
            Some(Parsed::Walk(walk)) => fresh(walk.to - overlap_ms),
            Some(Parsed::Done(until)) => fresh(until - overlap_ms),
            None => fresh(now - backfill_days * 86_400_000),
        }
    }

    /// The cursor after a page of the current endpoint that ended with the provider's `next`
    /// page token, and whether there is more to read in this window.
    pub fn after(&self, next: Option<String>, steps: usize) -> (String, bool) {
        match next.filter(|t| !t.is_empty()) {
            Some(token) => (self.encode(self.step, Some(&token)), true),
            None if self.step + 1 < steps => (self.encode(self.step + 1, None), true),
            None => (format!("done:{}", self.to), false),
        }
    }

    fn encode(&self, step: usize, token: Option<&str>) -> String {
        format!(
            "walk:{}:{}:{step}:{}",
            self.from,
            self.to,
            token.unwrap_or_default()
        )
    }

    /// The window's start as a UTC time.
    pub fn from_time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.from).unwrap_or_default()
    }

    /// The window's end as a UTC time.
    pub fn to_time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.to).unwrap_or_default()
    }
}

enum Parsed {
    Done(i64),
    Walk(Walk),
}

fn parse(cursor: &str) -> Option<Parsed> {
    if let Some(until) = cursor.strip_prefix("done:") {
        return until.parse().ok().map(Parsed::Done);
    }
    let mut parts = cursor.strip_prefix("walk:")?.splitn(4, ':');
    let from = parts.next()?.parse().ok()?;
    let to = parts.next()?.parse().ok()?;
    let step = parts.next()?.parse().ok()?;
    let token = parts.next()?;
    Some(Parsed::Walk(Walk {
        from,
        to,
        step,
        token: (!token.is_empty()).then(|| token.to_owned()),
    }))
}

/// A zone offset in seconds from `+hh:mm`, `-hh:mm`, `+hhmm` or `Z`.
pub fn offset_seconds(value: &str) -> Option<i32> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, rest) = match value.as_bytes().first()? {
        b'+' => (1, &value[1..]),
        b'-' => (-1, &value[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    (hours <= 18 && minutes < 60).then_some(sign * (hours * 3600 + minutes * 60))
}

/// An RFC 3339 instant as UNIX ms and its zone offset in seconds.
pub fn instant(value: &str) -> Option<(i64, i32)> {
    let t = DateTime::parse_from_rfc3339(value.trim()).ok()?;
    Some((t.timestamp_millis(), t.offset().local_minus_utc()))
}

/// Samples gathered per series type while reading a page, each with its zone offset or none
/// (the user's zone then fills it in).
#[derive(Debug, Default)]
pub struct Samples {
    series: BTreeMap<(&'static str, bool), RawBatch>,
}

impl Samples {
    /// Adds a value of `series_type` in `unit` at `time` (UNIX ms); missing and non-finite values
    /// are left out.
    pub fn push(
        &mut self,
        series_type: &'static str,
        unit: &'static str,
        time: i64,
        value: Option<f64>,
        offset: Option<i32>,
    ) {
        self.push_interval(series_type, unit, (time, 0), value, offset);
    }

    /// Adds a value of `series_type` in `unit` over `(start, duration)` (UNIX ms, ms): a count
    /// or total of that interval, such as a day's steps. Durations outside 0 to a day are
    /// left to the intake's validation, which drops the sample.
    pub fn push_interval(
        &mut self,
        series_type: &'static str,
        unit: &'static str,
        (time, duration_ms): (i64, i64),
        value: Option<f64>,
        offset: Option<i32>,
    ) {
        let Some(value) = value.filter(|v| v.is_finite()) else {
            return;
        };
        let batch = self
            .series
            .entry((series_type, offset.is_some()))
            .or_insert_with(|| RawBatch {
                series_type: series_type.to_owned(),
                unit: unit.to_owned(),
                ..RawBatch::default()
            });
        batch.times.push(time);
        batch.values.push(value);
        batch.durations.push(duration_ms);
        if let Some(offset) = offset {
            batch.zone_offsets.push(offset);
        }
    }

    /// The batches of `source`: one per series type, two where only some values had offsets.
    pub fn into_batches(self, source: &SourceKey) -> Vec<RawBatch> {
        self.series
            .into_values()
            .map(|mut batch| {
                batch.source = source.clone();
                if batch.durations.iter().all(|&d| d == 0) {
                    batch.durations.clear();
                }
                batch
            })
            .collect()
    }
}

/// The status, headers and body of a provider's answer that was not a failure.
pub struct Answer {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body read as `T`.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ProviderError::Malformed(format!("{what}: {e}")))
    }
}

/// Sends `request` for providers that need more than `get_json` and `send`: the answer's
/// headers (Strava's usage), statuses beyond 2xx that are no failure (`also_ok`: Polar's 409 for
/// a registered user), and their own wait after a 429 without a delay (`default_wait`). 401 and
/// 403 are `Unauthorized` (a token the provider no longer honours); the rest as in `send`.
pub async fn call(
    request: reqwest::RequestBuilder,
    what: &str,
    also_ok: &[u16],
    default_wait: fn() -> Option<Duration>,
) -> Result<Answer, ProviderError> {
    let response = request
        .send()
        .await
        .map_err(|e| ProviderError::Unavailable(format!("{what}: {e}")))?;
    let status = response.status();
    let headers = response.headers().clone();
    if status == http::StatusCode::TOO_MANY_REQUESTS {
        let retry_after = retry_after(&headers, Utc::now()).or_else(default_wait);
        return Err(ProviderError::RateLimited { retry_after });
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| ProviderError::Unavailable(format!("{what}: {e}")))?
        .to_vec();
    if status.is_success() || also_ok.contains(&status.as_u16()) {
        return Ok(Answer {
            status,
            headers,
            body,
        });
    }
    let quoted = String::from_utf8_lossy(&body[..body.len().min(QUOTED_BYTES)]).into_owned();
    Err(match status.as_u16() {
        401 | 403 => ProviderError::Unauthorized(format!("{what}: {status}")),
        500..=599 => ProviderError::Unavailable(format!("{what}: {status}")),
        _ => ProviderError::Malformed(format!("{what}: unexpected {status} {quoted}")),
    })
}

/// Whether `signature` is the HMAC-SHA256 under `key` of `parts` one after the other (hex in
/// either case); constant-time.
pub fn hmac_sha256_hex_matches(key: &[u8], parts: &[&[u8]], signature: &str) -> bool {
    hex::decode(signature.trim().to_ascii_lowercase())
        .is_ok_and(|given| hmac_sha256_matches(key, parts, &given))
}

/// The same with a base64 signature.
pub fn hmac_sha256_base64_matches(key: &[u8], parts: &[&[u8]], signature: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .is_ok_and(|given| hmac_sha256_matches(key, parts, &given))
}

fn hmac_sha256_matches(key: &[u8], parts: &[&[u8]], given: &[u8]) -> bool {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return false;
    };
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(given).is_ok()
}

/// Constant-time equality of two secrets.
pub fn secrets_match(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// An ISO-8601 duration such as `PT52M30S`, `PT2H44M` or `PT210.026S`, in milliseconds.
pub fn iso_duration_ms(value: &str) -> Option<i64> {
    let rest = value.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut total = 0.0;
    let mut read = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
            } else {
                let scale = units.iter().find(|(u, _)| *u == c)?.1;
                total += number.parse::<f64>().ok()? * scale;
                number.clear();
            }
        }
        number.is_empty().then_some(())
    };
    read(days, &[('D', 86_400_000.0), ('W', 7.0 * 86_400_000.0)])?;
    read(time, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1000.0)])?;
    Some(total.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    #[test]
    fn a_walk_pages_through_every_endpoint_and_ends_done() {
        let first = Walk::resume(None, now(), 30, 0, 2);
        assert_eq!(first.to - first.from, 30 * 86_400_000);
        assert_eq!((first.step, first.token.as_deref()), (0, None));
        let (cursor, more) = first.after(Some("p:2".into()), 2);
        assert!(more);
        let second = Walk::resume(Some(&cursor), now(), 30, 0, 2);
        assert_eq!(
            (second.step, second.token.as_deref()),
            (0, Some("p:2")),
            "tokens may hold colons"
        );
        let (cursor, more) = second.after(None, 2);
        assert!(more);
        let third = Walk::resume(Some(&cursor), now(), 30, 0, 2);
        assert_eq!(
            (third.step, third.from, third.to),
            (1, first.from, first.to)
        );
        let (cursor, more) = third.after(Some(String::new()), 2);
        assert!(!more);
        assert_eq!(cursor, format!("done:{}", first.to));
        let later = now() + chrono::Duration::hours(1);
        let next = Walk::resume(Some(&cursor), later, 30, 3_600_000, 2);
        assert_eq!(next.from, first.to - 3_600_000);
        assert_eq!(next.to, later.timestamp_millis());
    }

    #[test]
    fn an_unreadable_cursor_starts_the_backfill_again() {
        let walk = Walk::resume(Some("garbage"), now(), 7, 0, 3);
        assert_eq!(walk.to - walk.from, 7 * 86_400_000);
        let stale = Walk::resume(Some("walk:1:2:9:"), now(), 7, 0, 3);
        assert_eq!((stale.from, stale.step), (2, 0));
    }

    #[test]
    fn samples_with_and_without_offsets_go_into_separate_batches_of_one_source() {
        let mut samples = Samples::default();
        samples.push("heart_rate", "bpm", 1, Some(60.0), None);
        samples.push("heart_rate", "bpm", 2, Some(61.0), Some(3600));
        samples.push("heart_rate", "bpm", 3, Some(f64::NAN), Some(3600));
        samples.push("steps", "count", 1, None, Some(0));
        samples.push("steps", "count", 2, Some(12.0), Some(0));
        let source = SourceKey {
            provider: "oura".into(),
            ..SourceKey::default()
        };
        let batches = samples.into_batches(&source);
        let got: Vec<_> = batches
            .iter()
            .map(|b| {
                (
                    b.series_type.as_str(),
                    b.times.clone(),
                    b.zone_offsets.clone(),
                    b.source.provider.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("heart_rate", vec![1], vec![], "oura"),
                ("heart_rate", vec![2], vec![3600], "oura"),
                ("steps", vec![2], vec![0], "oura"),
            ]
        );
    }

    #[test]
    fn offsets_and_retry_delays_are_read_in_every_documented_form() {
        assert_eq!(offset_seconds("+01:00"), Some(3600));
        assert_eq!(offset_seconds("-05:30"), Some(-19800));
        assert_eq!(offset_seconds("Z"), Some(0));
        assert_eq!(offset_seconds("+0200"), Some(7200));
        assert_eq!(offset_seconds("01:00"), None);
        assert_eq!(
            instant("2026-01-13T07:15:00+01:00"),
            Some((1_768_284_900_000, 3600))
        );
        let mut headers = http::HeaderMap::new();
        assert_eq!(retry_after(&headers, now()), None);
        headers.insert("x-ratelimit-reset", "3".parse().unwrap());
        assert_eq!(retry_after(&headers, now()), Some(Duration::from_secs(3)));
        headers.insert("retry-after", "120".parse().unwrap());
        assert_eq!(retry_after(&headers, now()), Some(Duration::from_secs(120)));
        headers.insert(
            "retry-after",
            "Sun, 22 Nov 2026 12:01:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers, now()), Some(Duration::from_secs(60)));
    }

    #[test]
    fn iso_durations_read_hours_minutes_and_fractional_seconds() {
        assert_eq!(iso_duration_ms("PT52M30S"), Some(3_150_000));
        assert_eq!(iso_duration_ms("PT2H44M"), Some(9_840_000));
        assert_eq!(iso_duration_ms("PT210.026S"), Some(210_026));
        assert_eq!(iso_duration_ms("P1DT1S"), Some(86_401_000));
        assert_eq!(iso_duration_ms("52 minutes"), None);
        assert_eq!(iso_duration_ms("PT5X"), None);
    }

    #[test]
    fn signatures_match_in_either_case_and_only_for_the_same_body() {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"{}");
        let hex = hex::encode(mac.finalize().into_bytes());
        assert!(hmac_sha256_hex_matches(b"secret", &[b"{}"], &hex));
        assert!(hmac_sha256_hex_matches(
            b"secret",
            &[b"{", b"}"],
            &hex.to_uppercase()
        ));
        assert!(!hmac_sha256_hex_matches(b"secret", &[b"{ }"], &hex));
        assert!(!hmac_sha256_hex_matches(b"other", &[b"{}"], &hex));
        assert!(!hmac_sha256_hex_matches(b"secret", &[b"{}"], "zz"));
        assert!(secrets_match("tok", "tok") && !secrets_match("tok", "tik"));
    }
}
