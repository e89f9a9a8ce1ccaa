//! Calls to providers' JSON APIs with one error mapping: 401 and 403 → `Unauthorized`, 429 →
//! `RateLimited` (with Retry-After, or the provider's own rule), 5xx and transport failures →
//! `Unavailable`, an unreadable body → `Malformed`.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{Http, ProviderError};

/// The HTTP status and body of a provider's answer, when it was not a failure.
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

/// Sends `request` and maps failures; `ok_statuses` beyond 2xx are passed through (Polar's 409
/// for an already registered user). `default_wait` says how long to wait after a 429 without
/// Retry-After.
pub async fn send(
    request: reqwest::RequestBuilder,
    what: &str,
    ok_statuses: &[u16],
    default_wait: fn() -> Option<Duration>,
) -> Result<Answer, ProviderError> {
    let response = request
        .send()
        .await
        .map_err(|e| ProviderError::Unavailable(format!("{what}: {e}")))?;
    let status = response.status();
    let headers = response.headers().clone();
    if status == http::StatusCode::TOO_MANY_REQUESTS {
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .or_else(default_wait);
        return Err(ProviderError::RateLimited { retry_after });
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| ProviderError::Unavailable(format!("{what}: {e}")))?
        .to_vec();
    if status.is_success() || ok_statuses.contains(&status.as_u16()) {
        return Ok(Answer {
            status,
            headers,
            body,
        });
    }
    let detail = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    Err(match status.as_u16() {
        401 | 403 => ProviderError::Unauthorized(format!("{what}: {status}")),
        500..=599 => ProviderError::Unavailable(format!("{what}: {status}")),
        _ => ProviderError::Malformed(format!("{what}: {status} {detail}")),
    })
}

/// GETs `url` with a bearer token and reads the JSON answer.
pub async fn get_json<T: DeserializeOwned>(
    http: &Http,
    url: &str,
    token: &str,
    what: &str,
    default_wait: fn() -> Option<Duration>,
) -> Result<T, ProviderError> {
    let request = http
        .client()
        .get(url)
        .bearer_auth(token)
        .header(http::header::ACCEPT, "application/json");
    send(request, what, &[], default_wait).await?.json(what)
}

/// An HMAC-SHA256 of `body` under `key`, compared with the hex `signature` in constant time
/// (either case).
pub fn hmac_sha256_hex_matches(key: &[u8], body: &[u8], signature: &str) -> bool {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return false;
    };
    mac.update(body);
    let Ok(given) = hex::decode(signature.trim().to_ascii_lowercase()) else {
        return false;
    };
    mac.verify_slice(&given).is_ok()
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
        assert!(hmac_sha256_hex_matches(b"secret", b"{}", &hex));
        assert!(hmac_sha256_hex_matches(
            b"secret",
            b"{}",
            &hex.to_uppercase()
        ));
        assert!(!hmac_sha256_hex_matches(b"secret", b"{ }", &hex));
        assert!(!hmac_sha256_hex_matches(b"other", b"{}", &hex));
        assert!(!hmac_sha256_hex_matches(b"secret", b"{}", "zz"));
    }
}
