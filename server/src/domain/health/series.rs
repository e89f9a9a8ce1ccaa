//! Pure operations on decoded samples: the merged view's coverage rule, which counts each moment
//! once across sources, and the accumulation of samples into aggregate buckets. The store feeds
//! them what it reads; they do no IO.
//!
//! The merged view, per series type: sources are ranked (the user's priority); a source covers
//! the union of its samples' spans, where a sample's span is its interval [start, end), or for an
//! instantaneous sample its clock minute. A sample of a lower-ranked source is measured against
//! the union of every better-ranked source's spans:
//! - a cumulative sample (steps, distance, energy …) with an interval contributes only its parts
//!   outside that union, each with its share of the value by length (a 10-minute phone record
//!   half covered by the watch contributes half its steps, as the uncovered five minutes);
//! - any other sample (an instantaneous measure, an average over an interval) is kept whole
//!   where its span is uncovered and dropped where a better source has data in it: the minute
//!   rule for instants.
//!
//! A source never covers itself: its own overlapping samples all count. Each sample or piece
//! counts in the bucket of its start, in the raw view as in the merged one.

use std::collections::BTreeMap;

use super::{BucketWidth, Sample};

/// The span an instantaneous sample covers: its clock minute.
pub const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

fn minute(time: i64) -> i64 {
    time.div_euclid(MINUTE_MS)
}

/// What a sample covers: its interval, or an instantaneous sample's clock minute.
fn span(s: &Sample) -> (i64, i64) {
    if s.duration_ms > 0 {
        (s.time, s.end())
    } else {
        let start = minute(s.time) * MINUTE_MS;
        (start, start + MINUTE_MS)
    }
}

/// A union of half-open intervals, sorted and disjoint.
#[derive(Debug, Default)]
struct Coverage {
    spans: Vec<(i64, i64)>,
}

impl Coverage {
    fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Adds the spans of `samples`.
    fn add(&mut self, samples: &[Sample]) {
        if samples.is_empty() {
            return;
        }
        self.spans.extend(samples.iter().map(span));
        self.spans.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(self.spans.len());
        for &(a, b) in &self.spans {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.spans = merged;
    }

    /// The index of the first span that ends after `a`.
    fn first_after(&self, a: i64) -> usize {
        self.spans.partition_point(|&(_, end)| end <= a)
    }

    /// Whether any part of [a, b) is covered.
    fn touches(&self, a: i64, b: i64) -> bool {
        self.spans
            .get(self.first_after(a))
            .is_some_and(|&(start, _)| start < b)
    }

    /// The parts of [a, b) outside the union, in order.
    fn uncovered(&self, a: i64, b: i64, out: &mut Vec<(i64, i64)>) {
        out.clear();
        let mut from = a;
        for &(start, end) in &self.spans[self.first_after(a)..] {
            if start >= b {
                break;
            }
            if start > from {
                out.push((from, start));
            }
            from = from.max(end);
            if from >= b {
                return;
            }
        }
        if from < b {
            out.push((from, b));
        }
    }
}

/// The merged view of one series type over one stretch of time (a stored day). `sources` holds
/// each source's rank (lower wins) and its samples to merge, in time order; `context` holds
/// samples just outside the stretch (the neighbouring days, or outside the query's range) that
/// cover but are not returned. `cumulative` for series that sum. The result is in time order.
pub fn merge_covered(
    mut sources: Vec<(i32, Vec<Sample>)>,
    context: &[(i32, &[Sample])],
    cumulative: bool,
) -> Vec<Sample> {
    sources.retain(|(_, samples)| !samples.is_empty());
    sources.sort_by_key(|(rank, _)| *rank);
    let Some(best) = sources.first().map(|(rank, _)| *rank) else {
        return Vec::new();
    };
    let mut context: Vec<(i32, &[Sample])> = context
        .iter()
        .filter(|(rank, samples)| *rank < sources[sources.len() - 1].0 && !samples.is_empty())
        .copied()
        .collect();
    if sources.len() == 1 && context.iter().all(|(rank, _)| *rank >= best) {
        return sources.pop().map(|(_, s)| s).unwrap_or_default();
    }
    context.sort_by_key(|(rank, _)| *rank);
    let mut context = context.into_iter().peekable();
    let mut covered = Coverage::default();
    let mut pieces = Vec::new();
    let mut out: Vec<Sample> = Vec::new();
    for (i, (rank, samples)) in sources.iter().enumerate() {
        // Everything ranked better covers: the sources before this one (each added once the
        // rank changes, so that equal ranks do not cover each other) and the context.
        if i > 0 && sources[i - 1].0 < *rank {
            for (_, earlier) in sources[..i]
                .iter()
                .rev()
                .take_while(|(r, _)| *r == sources[i - 1].0)
            {
                covered.add(earlier);
            }
        }
        while let Some((_, ctx)) = context.next_if(|(r, _)| r < rank) {
            covered.add(ctx);
        }
        for s in samples {
            keep_uncovered(s, &covered, cumulative, &mut pieces, &mut out);
        }
    }
    out.sort_by_key(|s| s.time);
    out
}

/// Appends what of `s` the `covered` union leaves: the uncovered pieces of a cumulative interval
/// with their share of the value, or the whole sample when its span is untouched.
fn keep_uncovered(
    s: &Sample,
    covered: &Coverage,
    cumulative: bool,
    pieces: &mut Vec<(i64, i64)>,
    out: &mut Vec<Sample>,
) {
    if covered.is_empty() {
        out.push(*s);
    } else if cumulative && s.duration_ms > 0 {
        covered.uncovered(s.time, s.end(), pieces);
        if pieces.as_slice() == [(s.time, s.end())] {
            out.push(*s);
            return;
        }
        let length = f64::from(s.duration_ms);
        out.extend(pieces.iter().map(|&(a, b)| Sample {
            time: a,
            value: s.value * (b - a) as f64 / length,
            zone_offset: s.zone_offset,
            // A piece is shorter than its sample, whose duration fits an i32.
            duration_ms: (b - a) as i32,
        }));
    } else {
        let (a, b) = span(s);
        if !covered.touches(a, b) {
            out.push(*s);
        }
    }
}

/// The bucket of a sample: the start of a fixed-width interval (UNIX ms), or the local day
/// number since 1970-01-01 (days), or that of the week's Monday (weeks), on the calendar where
/// the sample was recorded.
pub fn bucket_key(bucket: BucketWidth, s: &Sample) -> i64 {
    let local_day = || (s.time + i64::from(s.zone_offset) * 1000).div_euclid(DAY_MS);
    match bucket {
        BucketWidth::Fixed(width) => s.time - s.time.rem_euclid(width),
        BucketWidth::Day => local_day(),
        // Day 0 (1970-01-01) was a Thursday: Mondays are days ≡ 4 (mod 7).
        BucketWidth::Week => (local_day() + 3).div_euclid(7) * 7 - 3,
    }
}

/// What one bucket has seen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accumulated {
    /// Instant and zone offset of the bucket's earliest sample.
    pub first_time: i64,
    pub first_offset: i32,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub count: i64,
}

impl Accumulated {
    fn new(s: &Sample) -> Self {
        Accumulated {
            first_time: s.time,
            first_offset: s.zone_offset,
            min: s.value,
            max: s.value,
            sum: s.value,
            count: 1,
        }
    }

    fn add(&mut self, s: &Sample) {
        if s.time < self.first_time {
            self.first_time = s.time;
            self.first_offset = s.zone_offset;
        }
        self.min = self.min.min(s.value);
        self.max = self.max.max(s.value);
        self.sum += s.value;
        self.count += 1;
    }

    fn merge(&mut self, other: &Accumulated) {
        if other.first_time < self.first_time {
            self.first_time = other.first_time;
            self.first_offset = other.first_offset;
        }
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
        self.count += other.count;
    }
}

/// Buckets of one series, filled sample by sample in any order.
#[derive(Debug)]
pub struct Buckets {
    bucket: BucketWidth,
    done: BTreeMap<i64, Accumulated>,
    /// The bucket being filled: consecutive samples usually share it.
    current: Option<(i64, Accumulated)>,
}

impl Buckets {
    /// Empty buckets of `bucket` width.
    pub fn new(bucket: BucketWidth) -> Self {
        Buckets {
            bucket,
            done: BTreeMap::new(),
            current: None,
        }
    }

    /// Adds one sample.
    pub fn add(&mut self, s: &Sample) {
        let key = bucket_key(self.bucket, s);
        match &mut self.current {
            Some((k, acc)) if *k == key => acc.add(s),
            _ => {
                self.flush();
                self.current = Some((key, Accumulated::new(s)));
            }
        }
    }

    fn flush(&mut self) {
        if let Some((key, acc)) = self.current.take() {
            self.done
                .entry(key)
                .and_modify(|d| d.merge(&acc))
                .or_insert(acc);
        }
    }

    /// Every bucket with its key, in key order.
    pub fn finish(mut self) -> impl Iterator<Item = (i64, Accumulated)> {
        self.flush();
        self.done.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(time: i64, value: f64) -> Sample {
        Sample::at(time, value, 0)
    }

    /// A sample over [start, start + minutes).
    fn iv(start_min: i64, minutes: i64, value: f64) -> Sample {
        Sample {
            time: start_min * MINUTE_MS,
            value,
            zone_offset: 0,
            duration_ms: (minutes * MINUTE_MS) as i32,
        }
    }

    fn total(samples: &[Sample]) -> f64 {
        samples.iter().map(|s| s.value).sum()
    }

    #[test]
    fn the_best_source_wins_its_minutes_and_others_fill_the_gaps() {
        let watch = vec![s(0, 1.0), s(30_000, 2.0), s(120_000, 3.0)];
        let phone = vec![s(10_000, 9.0), s(60_000, 8.0), s(121_000, 7.0)];
        let merged = merge_covered(vec![(1, phone), (0, watch)], &[], false);
        let values: Vec<f64> = merged.iter().map(|s| s.value).collect();
        assert_eq!(values, vec![1.0, 2.0, 8.0, 3.0]);
    }

    #[test]
    fn one_source_is_returned_as_it_is() {
        let only = vec![s(0, 1.0), s(1, 2.0)];
        assert_eq!(merge_covered(vec![(5, only.clone())], &[], true), only);
        assert!(merge_covered(Vec::new(), &[], true).is_empty());
    }

    #[test]
    fn cumulative_intervals_count_only_their_uncovered_parts() {
        // Watch 10:00-10:10 1000 steps; phone 10:02-10:06 400 (inside: 0), 10:05-10:15 600
        // (half outside: 300), 11:00-11:10 800 (outside: 800). By hand: 1000 + 300 + 800.
        let watch = vec![iv(600, 10, 1000.0)];
        let phone = vec![iv(602, 4, 400.0), iv(605, 10, 600.0), iv(660, 10, 800.0)];
        let merged = merge_covered(vec![(1, phone.clone()), (0, watch)], &[], true);
        assert_eq!(total(&merged), 2100.0);
        let piece = merged.iter().find(|s| s.time == 610 * MINUTE_MS).unwrap();
        assert_eq!((piece.value, piece.duration_ms), (300.0, 300_000));
        // The phone's own overlapping records all count: a source never covers itself.
        assert_eq!(total(&merge_covered(vec![(1, phone)], &[], true)), 1800.0);
    }

    #[test]
    fn a_record_split_by_two_better_sources_keeps_each_gap() {
        // Watch 10:00-10:02 and 10:04-10:06, ring (rank 1) 10:05-10:08; phone (rank 2)
        // 10:00-10:10 100 steps: uncovered 10:02-10:04 and 10:08-10:10, 4 of 10 minutes = 40.
        let watch = vec![iv(600, 2, 20.0), iv(604, 2, 20.0)];
        let ring = vec![iv(605, 3, 30.0)];
        let phone = vec![iv(600, 10, 100.0)];
        let merged = merge_covered(vec![(2, phone), (1, ring), (0, watch)], &[], true);
        // The ring keeps 10:06-10:08 (2 of 3 minutes, 20); the phone 40.
        assert_eq!(total(&merged), 20.0 + 20.0 + 20.0 + 40.0);
        assert_eq!(merged.len(), 5);
    }

    #[test]
    fn context_covers_but_is_not_returned() {
        // The watch's record that started yesterday 23:55-00:05 covers the phone's 00:00-00:10
        // (half): the phone keeps 00:05-00:10.
        let yesterday = [iv(-5, 10, 100.0)];
        let phone = vec![iv(0, 10, 60.0)];
        let merged = merge_covered(vec![(1, phone)], &[(0, &yesterday)], true);
        assert_eq!(merged.len(), 1);
        assert_eq!((merged[0].time, merged[0].value), (5 * MINUTE_MS, 30.0));
        // Context of a worse or the same source does not cover.
        let merged = merge_covered(vec![(0, vec![iv(0, 10, 60.0)])], &[(0, &yesterday)], true);
        assert_eq!(total(&merged), 60.0);
    }

    #[test]
    fn instants_lose_a_minute_an_interval_of_a_better_source_touches() {
        // Heart rate: the watch's workout average 10:00-10:10; the phone's readings at 10:09:59
        // (dropped) and 10:10:00 (kept).
        let watch = vec![iv(600, 10, 120.0)];
        let phone = vec![s(610 * MINUTE_MS - 1_000, 90.0), s(610 * MINUTE_MS, 91.0)];
        let merged = merge_covered(vec![(1, phone), (0, watch)], &[], false);
        let values: Vec<f64> = merged.iter().map(|s| s.value).collect();
        assert_eq!(values, vec![120.0, 91.0]);
    }

    #[test]
    fn local_days_follow_each_samples_offset() {
        let late_in_warsaw = Sample {
            time: DAY_MS - 1_800_000, // 23:30 UTC on day 0
            value: 1.0,
            zone_offset: 3600,
            duration_ms: 0,
        };
        assert_eq!(bucket_key(BucketWidth::Day, &late_in_warsaw), 1);
        // 1970-01-05 was a Monday (day 4): Sunday the 11th (day 10) is in its week, the
        // next Monday (day 11) starts the next one.
        assert_eq!(bucket_key(BucketWidth::Week, &s(10 * DAY_MS, 0.0)), 4);
        assert_eq!(bucket_key(BucketWidth::Week, &s(11 * DAY_MS, 0.0)), 11);
        assert_eq!(
            bucket_key(BucketWidth::Fixed(3_600_000), &s(3_700_000, 0.0)),
            3_600_000
        );
    }

    #[test]
    fn buckets_revisited_out_of_order_merge_into_one() {
        let mut buckets = Buckets::new(BucketWidth::Fixed(100));
        for (time, value) in [(150, 2.0), (10, 5.0), (160, 4.0), (20, 1.0)] {
            buckets.add(&s(time, value));
        }
        let rows: Vec<_> = buckets.finish().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, 0);
        assert_eq!(
            (rows[0].1.min, rows[0].1.max, rows[0].1.count),
            (1.0, 5.0, 2)
        );
        assert_eq!(rows[0].1.first_time, 10);
        assert_eq!(
            (rows[1].0, rows[1].1.sum, rows[1].1.first_time),
            (100, 6.0, 150)
        );
    }
}
