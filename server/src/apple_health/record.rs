//! Pieces of one element's attributes: Apple's dates with their offsets, the `device` string,
//! numbers, and the data source they make.

use crate::domain::health::intake::MAX_MANUFACTURER;
use crate::domain::health::{RecordingMethod, SourceKey};

/// A point in time as an export writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Instant {
    /// UNIX milliseconds, UTC.
    pub(crate) ms: i64,
    /// The written offset from UTC, seconds.
    pub(crate) offset: i32,
}

fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() {
        return None;
    }
    let mut n = 0i64;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(b - b'0');
    }
    Some(n)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `2024-03-10 08:15:00 -0800` (Apple's format) and the ISO 8601 variants
/// `2024-03-10T08:15:00-08:00` / `…Z`; `None` when it is anything else.
pub(crate) fn parse_date(text: &[u8]) -> Option<Instant> {
    if text.len() < 19 || text[4] != b'-' || text[7] != b'-' || text[13] != b':' || text[16] != b':'
    {
        return None;
    }
    if text[10] != b' ' && text[10] != b'T' {
        return None;
    }
    let (year, month, day) = (
        digits(&text[0..4])?,
        digits(&text[5..7])?,
        digits(&text[8..10])?,
    );
    let (hour, minute, second) = (
        digits(&text[11..13])?,
        digits(&text[14..16])?,
        digits(&text[17..19])?,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction_ms = 0;
    if let Some(after) = rest.strip_prefix(b".") {
        let end = after
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(after.len());
        let mut ms = 0;
        for (i, b) in after[..end].iter().take(3).enumerate() {
            ms += i64::from(b - b'0') * [100, 10, 1][i];
        }
        fraction_ms = ms;
        rest = &after[end..];
    }
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let offset = match rest {
        b"Z" | b"" => 0,
        [sign @ (b'+' | b'-'), h1, h2, tail @ ..] => {
            let minutes = match tail {
                [b':', m1, m2] | [m1, m2] => digits(&[*m1, *m2])?,
                _ => return None,
            };
            let hours = digits(&[*h1, *h2])?;
            if hours > 18 || minutes > 59 {
                return None;
            }
            let seconds = (hours * 3600 + minutes * 60) as i32;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(Instant {
        ms: (local - i64::from(offset)) * 1000 + fraction_ms,
        offset,
    })
}

/// Parses a decimal number; `None` for anything that is not a finite number.
pub(crate) fn parse_number(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let value: f64 = text.parse().ok()?;
    value.is_finite().then_some(value)
}

/// A number followed by a unit, as metadata writes it (`1234 cm`, `20 degF`).
pub(crate) fn parse_quantity(text: &str) -> Option<(f64, &str)> {
    let (number, unit) = text.trim().split_once(' ')?;
    let value: f64 = number.parse().ok()?;
    value.is_finite().then_some((value, unit.trim()))
}

/// The fields of an `HKDevice` description: `<<HKDevice: 0x…>, name:Apple Watch,
/// manufacturer:Apple Inc., model:Watch, hardware:Watch6,2, software:9.6>` (already unescaped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Device {
    pub(crate) name: String,
    pub(crate) manufacturer: String,
    pub(crate) model: String,
    pub(crate) hardware: String,
}

/// Parses a device string; fields that are absent stay empty. A value may itself hold `, `
/// (a device named "Jan, Watch"): a piece that does not start with `key:` continues the
/// previous value.
pub(crate) fn parse_device(text: &str) -> Device {
    const KEYS: [&str; 4] = ["name", "manufacturer", "model", "hardware"];
    let mut values: [String; 4] = Default::default();
    let body = text.trim();
    let body = body.strip_suffix('>').unwrap_or(body);
    let mut last: Option<usize> = None;
    for piece in body.split(", ") {
        let key = piece
            .split_once(':')
            .filter(|(key, _)| !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric()));
        match key {
            Some((key, value)) => {
                last = KEYS.iter().position(|k| *k == key);
                if let Some(i) = last {
                    values[i] = value.to_string();
                }
            }
            None => {
                if let Some(i) = last {
                    values[i].push_str(", ");
                    values[i].push_str(piece);
                }
            }
        }
    }
    let [name, manufacturer, model, hardware] = values;
    Device {
        name,
        manufacturer,
        model,
        hardware,
    }
}

/// Most characters of a source's names (the source validation's limit).
const MAX_NAME: usize = 255;

fn clean(text: &str, max: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

/// The data source of a record: the app that wrote it (`sourceName`) and its device. The
/// device model is the hardware identifier (`Watch6,2`), else the model, else the device name;
/// the device type is `watch`, `phone` or `tablet` from the model, else empty; the
/// manufacturer is the device's (`Apple Inc.`). `manual` (the record's `HKWasUserEntered`)
/// makes it a manual-entry source; other records do not say how they were recorded.
pub(crate) fn source_key(source_name: &str, device: Option<&str>, manual: bool) -> SourceKey {
    let device = device.map(parse_device).unwrap_or_default();
    let model = [&device.hardware, &device.model, &device.name]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .map(|s| clean(s, MAX_NAME))
        .unwrap_or_default();
    let kind = [&device.model, &device.hardware, &device.name]
        .iter()
        .find_map(|s| {
            if s.contains("Watch") {
                Some("watch")
            } else if s.contains("iPhone") {
                Some("phone")
            } else if s.contains("iPad") {
                Some("tablet")
            } else {
                None
            }
        })
        .unwrap_or("");
    SourceKey {
        provider: super::PROVIDER.to_string(),
        device_model: model,
        device_type: kind.to_string(),
        app_name: clean(source_name, MAX_NAME),
        manufacturer: clean(&device.manufacturer, MAX_MANUFACTURER),
        recording_method: if manual {
            RecordingMethod::Manual
        } else {
            RecordingMethod::Unspecified
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_keep_their_offsets() {
        let a = parse_date(b"2024-03-10 08:15:00 -0800").unwrap();
        assert_eq!(a.offset, -8 * 3600);
        assert_eq!(a.ms, 1_710_087_300_000);
        let b = parse_date(b"2024-03-10 17:15:00 +0100").unwrap();
        assert_eq!((b.ms, b.offset), (1_710_087_300_000, 3600));
        let c = parse_date(b"2024-03-10T16:15:00Z").unwrap();
        assert_eq!((c.ms, c.offset), (1_710_087_300_000, 0));
        assert_eq!(
            parse_date(b"2024-03-10T16:15:00.5+00:00").unwrap().ms,
            1_710_087_300_500
        );
        for bad in [
            &b"yesterday"[..],
            b"2024-13-10 08:15:00 -0800",
            b"2024-03-10 08:15:00 -08",
            b"",
        ] {
            assert!(parse_date(bad).is_none());
        }
        assert_eq!(parse_date(b"1969-12-31 23:59:59 +0000").unwrap().ms, -1000);
    }

    #[test]
    fn device_strings_give_the_source() {
        let text = "<<HKDevice: 0x2821a6d00>, name:Apple Watch, manufacturer:Apple Inc., \
                    model:Watch, hardware:Watch6,2, software:9.6>";
        let device = parse_device(text);
        assert_eq!(device.name, "Apple Watch");
        assert_eq!(device.manufacturer, "Apple Inc.");
        assert_eq!(device.model, "Watch");
        assert_eq!(device.hardware, "Watch6,2");
        let key = source_key("Jan\u{2019}s Apple\u{a0}Watch", Some(text), false);
        assert_eq!(key.provider, "apple_health");
        assert_eq!(key.device_model, "Watch6,2");
        assert_eq!(key.device_type, "watch");
        assert_eq!(key.app_name, "Jan\u{2019}s Apple\u{a0}Watch");
        assert_eq!(key.manufacturer, "Apple Inc.");
        assert_eq!(key.recording_method, RecordingMethod::Unspecified);
        let typed = source_key("Health", Some(text), true);
        assert_eq!(
            (typed.recording_method, typed.manufacturer.as_str()),
            (RecordingMethod::Manual, "Apple Inc.")
        );
        let long = format!("<<HKDevice: 0x1>, manufacturer:{}>", "m".repeat(100));
        assert_eq!(
            source_key("Health", Some(&long), false)
                .manufacturer
                .chars()
                .count(),
            MAX_MANUFACTURER,
            "a manufacturer is cut to what a source may hold"
        );
        let named = parse_device("<<HKDevice: 0x1>, name:Jan, the scale, model:WBS04>");
        assert_eq!(named.name, "Jan, the scale");
        let health = source_key("Health", None, false);
        assert_eq!(
            (health.device_model.as_str(), health.device_type.as_str()),
            ("", "")
        );
    }
}
