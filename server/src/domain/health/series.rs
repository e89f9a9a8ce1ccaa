//! Pure operations on decoded samples: the merged view's choice of one source per minute, and
//! the accumulation of samples into aggregate buckets. The store feeds them what it reads; they
//! do no IO.

use std::collections::{BTreeMap, HashSet};

use super::{BucketWidth, Sample};

/// The interval within which the merged view picks one source.
pub const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

fn minute(time: i64) -> i64 {
    time.div_euclid(MINUTE_MS)
}

/// Per minute, the samples of the best-ranked source (lowest rank) that has data in it, so that
/// overlapping sources count once and gaps fill from the others. `sources` holds each source's
/// rank and its samples in time order; the result is in time order.
pub fn merge_minutes(mut sources: Vec<(i32, Vec<Sample>)>) -> Vec<Sample> {
    if sources.len() <= 1 {
        return sources.pop().map(|(_, s)| s).unwrap_or_default();
    }
    sources.sort_by_key(|(rank, _)| *rank);
    let mut claimed: HashSet<i64> = HashSet::new();
    let mut out: Vec<Sample> = Vec::new();
    for (_, samples) in sources {
        out.extend(
            samples
                .iter()
                .filter(|s| !claimed.contains(&minute(s.time))),
        );
        // Claimed only after the filter: a source keeps all of its own samples in a minute.
        claimed.extend(samples.iter().map(|s| minute(s.time)));
    }
    out.sort_unstable_by_key(|s| s.time);
    out
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
        Sample {
            time,
            value,
            zone_offset: 0,
        }
    }

    #[test]
    fn the_best_source_wins_its_minutes_and_others_fill_the_gaps() {
        let watch = vec![s(0, 1.0), s(30_000, 2.0), s(120_000, 3.0)];
        let phone = vec![s(10_000, 9.0), s(60_000, 8.0), s(121_000, 7.0)];
        let merged = merge_minutes(vec![(1, phone), (0, watch)]);
        let values: Vec<f64> = merged.iter().map(|s| s.value).collect();
        assert_eq!(values, vec![1.0, 2.0, 8.0, 3.0]);
    }

    #[test]
    fn one_source_is_returned_as_it_is() {
        let only = vec![s(0, 1.0), s(1, 2.0)];
        assert_eq!(merge_minutes(vec![(5, only.clone())]), only);
        assert!(merge_minutes(Vec::new()).is_empty());
    }

    #[test]
    fn local_days_follow_each_samples_offset() {
        let late_in_warsaw = Sample {
            time: DAY_MS - 1_800_000, // 23:30 UTC on day 0
            value: 1.0,
            zone_offset: 3600,
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
