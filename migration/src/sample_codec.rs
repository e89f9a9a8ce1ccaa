//! The stored form of a sample block: the samples of one source and series type within one UTC
//! day, sorted by time, packed into bytes. The server's store reads and writes it; the migration
//! that moved samples into blocks wrote the first ones.
//!
//! Layout (version 1): a header byte (version in the low nibble, flags above), the sample count,
//! the byte lengths of the time and offset sections, then three sections of varints (zigzag):
//! - times: the first instant, the first delta, then deltas of deltas (regular series: 1 byte);
//! - zone offsets: the first, then deltas (usually 0: 1 byte);
//! - values: when every value is a whole number, the first and then deltas; otherwise each
//!   value's 8 little-endian bytes.
//!
//! Version 2 adds each sample's duration (its end minus its start, milliseconds): the byte length
//! of a fourth section follows the offsets' length, and the durations section (the first, then
//! deltas: records of one length cost a byte each) sits between the offsets and the values. A
//! block whose samples are all instantaneous is written as version 1, byte for byte as before,
//! and every version 1 block reads as instantaneous samples (end = start): blocks stored before
//! samples had durations need no rewriting.

use integer_encoding::VarInt;

/// Width of a block: one UTC day in milliseconds. A whole number of minutes, so a minute never
/// spans two blocks.
pub const BLOCK_MS: i64 = 86_400_000;

const VERSION: u8 = 1;
/// The version with a durations section.
const VERSION_DURATIONS: u8 = 2;
/// Values are whole numbers, stored as varint deltas.
const WHOLE: u8 = 0x10;
/// Largest magnitude stored as a whole number: deltas of two such values still fit an i64, and
/// every such integer is exact in an f64.
const WHOLE_LIMIT: f64 = 4.0e15;

/// The start of the block that holds `time` (UNIX ms).
pub fn block_start(time: i64) -> i64 {
    time - time.rem_euclid(BLOCK_MS)
}

/// A block that does not decode: the bytes were damaged or written by a newer version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptBlock(pub &'static str);

impl std::fmt::Display for CorruptBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "corrupt sample block: {}", self.0)
    }
}

impl std::error::Error for CorruptBlock {}

fn push(out: &mut Vec<u8>, value: i64) {
    let mut buf = [0u8; 10];
    let n = value.encode_var(&mut buf);
    out.extend_from_slice(&buf[..n]);
}

fn push_u(out: &mut Vec<u8>, value: u64) {
    let mut buf = [0u8; 10];
    let n = value.encode_var(&mut buf);
    out.extend_from_slice(&buf[..n]);
}

/// Encodes `samples`, sorted by time with one sample per instant; `parts` gives each one's
/// (UNIX ms, zone offset in seconds, value), all instantaneous.
pub fn encode<T>(samples: &[T], parts: impl Fn(&T) -> (i64, i32, f64)) -> Vec<u8> {
    encode_intervals(samples, |s| {
        let (time, offset, value) = parts(s);
        (time, offset, value, 0)
    })
}

/// Encodes `samples`, sorted by time with one sample per start; `parts` gives each one's
/// (start in UNIX ms, zone offset in seconds, value, duration in ms).
pub fn encode_intervals<T>(samples: &[T], parts: impl Fn(&T) -> (i64, i32, f64, i64)) -> Vec<u8> {
    let whole = samples.iter().all(|s| {
        let v = parts(s).2;
        v.fract() == 0.0 && v.abs() < WHOLE_LIMIT
    });
    let timed = samples.iter().any(|s| parts(s).3 != 0);
    let mut times = Vec::with_capacity(samples.len() * 2);
    let mut offsets = Vec::with_capacity(samples.len());
    let mut durations = Vec::with_capacity(if timed { samples.len() } else { 0 });
    let mut values = Vec::with_capacity(samples.len() * if whole { 2 } else { 8 });
    let (mut last_time, mut last_delta, mut last_offset, mut last_value) = (0i64, 0i64, 0i64, 0i64);
    let mut last_duration = 0i64;
    for (i, s) in samples.iter().enumerate() {
        let (time, offset, value, duration) = parts(s);
        match i {
            0 => push(&mut times, time),
            1 => push(&mut times, time - last_time),
            _ => push(&mut times, (time - last_time) - last_delta),
        }
        if i > 0 {
            last_delta = time - last_time;
        }
        last_time = time;
        push(&mut offsets, i64::from(offset) - last_offset);
        last_offset = i64::from(offset);
        if timed {
            push(&mut durations, duration - last_duration);
            last_duration = duration;
        }
        if whole {
            let v = value as i64;
            push(&mut values, v - last_value);
            last_value = v;
        } else {
            values.extend_from_slice(&value.to_le_bytes());
        }
    }
    let mut out =
        Vec::with_capacity(32 + times.len() + offsets.len() + durations.len() + values.len());
    let version = if timed { VERSION_DURATIONS } else { VERSION };
    out.push(version | if whole { WHOLE } else { 0 });
    push_u(&mut out, samples.len() as u64);
    push_u(&mut out, times.len() as u64);
    push_u(&mut out, offsets.len() as u64);
    if timed {
        push_u(&mut out, durations.len() as u64);
    }
    out.extend_from_slice(&times);
    out.extend_from_slice(&offsets);
    out.extend_from_slice(&durations);
    out.extend_from_slice(&values);
    out
}

/// Reads varints from a section of a block.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn signed(&mut self) -> Result<i64, CorruptBlock> {
        let (v, n) = i64::decode_var(self.bytes).ok_or(CorruptBlock("truncated varint"))?;
        self.bytes = &self.bytes[n..];
        Ok(v)
    }

    fn unsigned(&mut self) -> Result<u64, CorruptBlock> {
        let (v, n) = u64::decode_var(self.bytes).ok_or(CorruptBlock("truncated varint"))?;
        self.bytes = &self.bytes[n..];
        Ok(v)
    }

    fn split(&mut self, len: u64) -> Result<Reader<'a>, CorruptBlock> {
        let len = usize::try_from(len).map_err(|_| CorruptBlock("section too long"))?;
        if len > self.bytes.len() {
            return Err(CorruptBlock("section past the end"));
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(Reader { bytes: head })
    }
}

/// The number of samples in a block, read from its header.
pub fn count(bytes: &[u8]) -> Result<usize, CorruptBlock> {
    let mut r = Reader {
        bytes: bytes.get(1..).ok_or(CorruptBlock("empty"))?,
    };
    usize::try_from(r.unsigned()?).map_err(|_| CorruptBlock("count too large"))
}

/// Decodes a block, calling `sample(time, zone_offset, value)` for each sample in time order
/// (durations, if any, are not read).
pub fn decode(bytes: &[u8], mut sample: impl FnMut(i64, i32, f64)) -> Result<usize, CorruptBlock> {
    decode_intervals(bytes, |time, offset, value, _| sample(time, offset, value))
}

/// Decodes a block, calling `sample(start, zone_offset, value, duration_ms)` for each sample in
/// time order; version 1 blocks give a duration of 0.
pub fn decode_intervals(
    bytes: &[u8],
    mut sample: impl FnMut(i64, i32, f64, i64),
) -> Result<usize, CorruptBlock> {
    let (&header, rest) = bytes.split_first().ok_or(CorruptBlock("empty"))?;
    let timed = match header & 0x0f {
        VERSION => false,
        VERSION_DURATIONS => true,
        _ => return Err(CorruptBlock("unknown version")),
    };
    let whole = header & WHOLE != 0;
    let mut r = Reader { bytes: rest };
    let count = usize::try_from(r.unsigned()?).map_err(|_| CorruptBlock("count too large"))?;
    let (times_len, offsets_len) = (r.unsigned()?, r.unsigned()?);
    let durations_len = if timed { r.unsigned()? } else { 0 };
    let mut times = r.split(times_len)?;
    let mut offsets = r.split(offsets_len)?;
    let mut durations = r.split(durations_len)?;
    let values = r.bytes;
    if !whole && Some(values.len()) != count.checked_mul(8) {
        return Err(CorruptBlock("value section length"));
    }
    let mut vr = Reader { bytes: values };
    let (mut time, mut delta, mut offset, mut value) = (0i64, 0i64, 0i64, 0i64);
    let mut duration = 0i64;
    for i in 0..count {
        let t = times.signed()?;
        match i {
            0 => time = t,
            1 => {
                delta = t;
                time = time.wrapping_add(delta);
            }
            _ => {
                delta = delta.wrapping_add(t);
                time = time.wrapping_add(delta);
            }
        }
        offset = offset.wrapping_add(offsets.signed()?);
        if timed {
            duration = duration.wrapping_add(durations.signed()?);
        }
        let v = if whole {
            value = value.wrapping_add(vr.signed()?);
            value as f64
        } else {
            let raw: [u8; 8] = values[i * 8..i * 8 + 8]
                .try_into()
                .map_err(|_| CorruptBlock("value bytes"))?;
            f64::from_le_bytes(raw)
        };
        let offset = i32::try_from(offset).map_err(|_| CorruptBlock("offset out of range"))?;
        sample(time, offset, v, duration);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(samples: &[(i64, i32, f64)]) -> Vec<(i64, i32, f64)> {
        let bytes = encode(samples, |s| *s);
        let mut out = Vec::new();
        let n = decode(&bytes, |t, o, v| out.push((t, o, v))).unwrap();
        assert_eq!(n, samples.len());
        assert_eq!(count(&bytes).unwrap(), samples.len());
        out
    }

    #[test]
    fn regular_whole_series_roundtrip_in_few_bytes() {
        let samples: Vec<_> = (0..1440)
            .map(|i| (1_700_000_000_000 + i * 60_000, 3600, 55.0 + (i % 60) as f64))
            .collect();
        assert_eq!(roundtrip(&samples), samples);
        // time, offset and value take a byte or two each.
        assert!(encode(&samples, |s| *s).len() < 1440 * 4);
    }

    #[test]
    fn fractional_irregular_values_and_changing_offsets_roundtrip() {
        let samples = vec![
            (0, -36_000, 0.25),
            (7, -36_000, -1.5e300),
            (1_000_000, 50_400, f64::MIN_POSITIVE),
            (1_000_001, 0, 72.0),
        ];
        assert_eq!(roundtrip(&samples), samples);
    }

    #[test]
    fn large_whole_values_fall_back_to_raw_bytes() {
        let samples = vec![(1, 0, 9.0e15), (2, 0, -9.0e15)];
        assert_eq!(roundtrip(&samples), samples);
    }

    #[test]
    fn an_empty_block_roundtrips() {
        assert!(roundtrip(&[]).is_empty());
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let samples: Vec<_> = (0..10).map(|i| (i * 1000, 0, 0.5)).collect();
        let bytes = encode(&samples, |s| *s);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], |_, _, _| {}).is_err(), "cut at {cut}");
        }
        assert!(decode(&[0x07], |_, _, _| {}).is_err());
    }

    fn roundtrip_intervals(samples: &[(i64, i32, f64, i64)]) -> Vec<(i64, i32, f64, i64)> {
        let bytes = encode_intervals(samples, |s| *s);
        let mut out = Vec::new();
        decode_intervals(&bytes, |t, o, v, d| out.push((t, o, v, d))).unwrap();
        out
    }

    #[test]
    fn durations_roundtrip_and_records_of_one_length_cost_a_byte_each() {
        let samples: Vec<_> = (0..1440)
            .map(|i| {
                (
                    1_700_000_000_000 + i * 60_000,
                    3600,
                    (i % 90) as f64,
                    60_000,
                )
            })
            .collect();
        assert_eq!(roundtrip_intervals(&samples), samples);
        let instants = encode(&samples, |s| (s.0, s.1, s.2)).len();
        let timed = encode_intervals(&samples, |s| *s).len();
        // One byte a sample, plus the first duration and the section's length.
        assert!(timed - instants <= 1440 + 8, "{timed} vs {instants}");
        let irregular = vec![
            (0, 0, 1.5, 420_000),
            (500_000, 0, 2.0, 0),
            (900_000, 60, 3.0, 86_400_000),
        ];
        assert_eq!(roundtrip_intervals(&irregular), irregular);
    }

    #[test]
    fn instantaneous_blocks_are_written_as_version_1_and_version_1_reads_as_instants() {
        let samples = vec![(1_000, 0, 62.0, 0), (2_000, 0, 63.0, 0)];
        let bytes = encode_intervals(&samples, |s| *s);
        assert_eq!(
            bytes,
            encode(&samples, |s| (s.0, s.1, s.2)),
            "same bytes as before"
        );
        assert_eq!(bytes[0] & 0x0f, 1);
        assert_eq!(roundtrip_intervals(&samples), samples);
    }

    #[test]
    fn damaged_interval_blocks_are_an_error_not_a_panic() {
        let samples: Vec<_> = (0..10).map(|i| (i * 1000, 0, 0.5, 300)).collect();
        let bytes = encode_intervals(&samples, |s| *s);
        for cut in 0..bytes.len() {
            assert!(
                decode_intervals(&bytes[..cut], |_, _, _, _| {}).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn blocks_start_at_utc_midnight() {
        assert_eq!(block_start(0), 0);
        assert_eq!(block_start(BLOCK_MS - 1), 0);
        assert_eq!(block_start(BLOCK_MS * 3 + 5), BLOCK_MS * 3);
    }
}
