//! Reads of samples: lists and aggregates, raw per source or merged across sources, computed
//! while the blocks of a query stream past, so that no more than a block of each source is held
//! besides the result.

use std::collections::HashMap;
use std::ops::ControlFlow;

use owl_migration::sample_codec::{BLOCK_MS, block_start};
use sea_orm::Value;

use super::SeaStore;
use super::blocks::{Block, Order, Scan};
use crate::domain::error::Result;
use crate::domain::health::catalog::{Aggregation, series_type_by_id};
use crate::domain::health::series::{Buckets, merge_covered};
use crate::domain::health::{
    AggregateQuery, BucketRow, MERGED, Sample, SampleCursor, SampleQuery, SampleRun,
};
use uuid::Uuid;

/// Samples gathered into runs, up to a limit.
struct Runs {
    runs: Vec<SampleRun>,
    room: usize,
}

impl Runs {
    fn new(limit: u64) -> Self {
        Runs {
            runs: Vec::new(),
            room: usize::try_from(limit).unwrap_or(usize::MAX),
        }
    }

    /// Appends samples (in query order); breaks once the limit is reached.
    fn push(
        &mut self,
        source_uid: Uuid,
        series_type_id: i32,
        mut samples: Vec<Sample>,
    ) -> ControlFlow<()> {
        samples.truncate(self.room);
        self.room -= samples.len();
        if !samples.is_empty() {
            match self.runs.last_mut() {
                Some(run)
                    if run.source_uid == source_uid && run.series_type_id == series_type_id =>
                {
                    run.samples.extend(samples)
                }
                _ => self.runs.push(SampleRun {
                    source_uid,
                    series_type_id,
                    samples,
                }),
            }
        }
        if self.room == 0 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// Each source's rank and its samples of one series type and day.
type DayOfSources = Vec<(i32, Vec<Sample>)>;

/// The blocks of every source for one series type and day, gathered for the merged view.
struct Day {
    series_type_id: i32,
    start: i64,
    sources: DayOfSources,
}

impl Day {
    /// Whether `other` is the day before or after this one, of the same series type: the only
    /// days whose samples can reach into this one's (a sample lasts at most a day).
    fn borders(&self, other: &Day) -> bool {
        self.series_type_id == other.series_type_id && (self.start - other.start).abs() == BLOCK_MS
    }
}

/// The merged view streamed day by day: each day is merged once the next one has been read,
/// with both neighbours as context, since a better source's record that crosses midnight
/// covers part of the day on either side.
struct MergeWindow<F> {
    previous: Option<Day>,
    current: Option<Day>,
    range: (Option<i64>, Option<i64>),
    each: F,
}

impl<F: FnMut(i32, Vec<Sample>) -> ControlFlow<()>> MergeWindow<F> {
    /// Adds one source's block, in the scan's order; merges the previous day when it starts a
    /// new one.
    fn add(&mut self, block: Block, rank: i32) -> ControlFlow<()> {
        if let Some(day) = &mut self.current
            && (day.series_type_id, day.start) == (block.series_type_id, block.start)
        {
            day.sources.push((rank, block.samples));
            return ControlFlow::Continue(());
        }
        let next = Day {
            series_type_id: block.series_type_id,
            start: block.start,
            sources: vec![(rank, block.samples)],
        };
        let flow = self.emit(Some(&next));
        self.previous = self.current.replace(next);
        flow
    }

    /// Merges the current day with its neighbours as context and hands on what starts within
    /// the range.
    fn emit(&mut self, next: Option<&Day>) -> ControlFlow<()> {
        let Some(day) = self.current.take() else {
            return ControlFlow::Continue(());
        };
        let mut context: Vec<(i32, &[Sample])> = Vec::new();
        for neighbour in [self.previous.as_ref(), next].into_iter().flatten() {
            if day.borders(neighbour) {
                context.extend(neighbour.sources.iter().map(|(r, s)| (*r, s.as_slice())));
            }
        }
        let series_type_id = day.series_type_id;
        let kind = series_type_by_id(series_type_id);
        let cumulative = kind.is_some_and(|k| k.aggregation == Aggregation::Sum);
        let mut merged = merge_covered(day.sources.clone(), &context, cumulative);
        let (start, end) = self.range;
        merged.retain(|s| start.is_none_or(|t| s.time >= t) && end.is_none_or(|t| s.time < t));
        // Keep the day as the next one's context.
        self.current = Some(day);
        if merged.is_empty() {
            ControlFlow::Continue(())
        } else {
            (self.each)(series_type_id, merged)
        }
    }
}

/// Keeps the samples after `cursor` in query order, when they are of the cursor's series.
fn after_cursor(samples: &mut Vec<Sample>, cursor: &SampleCursor, newest_first: bool) {
    samples.retain(|s| {
        if newest_first {
            s.time < cursor.time
        } else {
            s.time > cursor.time
        }
    });
}

fn bucket_rows(source_uid: Uuid, series_type_id: i32, buckets: Buckets, rows: &mut Vec<BucketRow>) {
    rows.extend(buckets.finish().map(|(key, a)| BucketRow {
        source_uid,
        series_type_id,
        key,
        first_time: a.first_time,
        first_offset: a.first_offset,
        min: a.min,
        max: a.max,
        sum: a.sum,
        count: a.count,
    }));
}

impl SeaStore {
    /// Streams the merged view of the sources ranked in `ranks`: for each series type and day
    /// (in the scan's order), `each` gets the merged samples that start within the scan's
    /// range, in time order, until it breaks. The scan reads a day more on each side, as
    /// context.
    async fn scan_merged(
        &self,
        ranks: &[(i64, i32)],
        mut scan: Scan<'_>,
        each: impl FnMut(i32, Vec<Sample>) -> ControlFlow<()>,
    ) -> Result<()> {
        let ids: Vec<i64> = ranks.iter().map(|&(id, _)| id).collect();
        let rank_of: HashMap<i64, i32> = ranks.iter().copied().collect();
        scan.source_ids = &ids;
        scan.order = Order::ByType;
        scan.margin = true;
        let mut window = MergeWindow {
            previous: None,
            current: None,
            range: (scan.start, scan.end),
            each,
        };
        let mut flow = ControlFlow::Continue(());
        self.scan_blocks(scan, |block| {
            let rank = rank_of.get(&block.source_id).copied().unwrap_or(i32::MAX);
            flow = window.add(block, rank);
            Ok(flow)
        })
        .await?;
        if flow.is_continue() {
            let _ = window.emit(None);
        }
        Ok(())
    }

    /// Samples of each source in (source, series type, time) order.
    pub(super) async fn list_raw(&self, q: &SampleQuery) -> Result<Vec<SampleRun>> {
        let sources = self.user_sources(q.user_id).await?;
        let ids: Vec<i64> = sources.keys().copied().collect();
        let after = match q.after {
            None => None,
            Some(c) => match sources.iter().find(|(_, uid)| **uid == c.source_uid) {
                Some((&id, _)) => Some((id, c)),
                None => return Ok(Vec::new()),
            },
        };
        let cmp = if q.newest_first { "<=" } else { ">=" };
        let extra = after.map(|(id, c)| {
            let t = c.series_type_id;
            (
                format!(
                    " AND (source_id > ? OR (source_id = ? AND (series_type_id > ? OR \
                     (series_type_id = ? AND block_start {cmp} ?))))"
                ),
                vec![
                    id.into(),
                    id.into(),
                    t.into(),
                    t.into(),
                    Value::from(block_start(c.time)),
                ],
            )
        });
        let mut out = Runs::new(q.limit);
        if q.limit == 0 {
            return Ok(out.runs);
        }
        let mut scan = Scan::new(&ids, &q.series_type_ids, q.start, q.end, Order::BySource);
        scan.newest_first = q.newest_first;
        scan.extra = extra;
        self.scan_blocks(scan, |mut block| {
            if let Some((id, c)) = &after
                && block.source_id == *id
                && block.series_type_id == c.series_type_id
            {
                after_cursor(&mut block.samples, c, q.newest_first);
            }
            if q.newest_first {
                block.samples.reverse();
            }
            let uid = sources.get(&block.source_id).copied().unwrap_or(MERGED);
            Ok(out.push(uid, block.series_type_id, block.samples))
        })
        .await?;
        Ok(out.runs)
    }

    /// The merged view in (series type, time) order (`series::merge_covered`).
    pub(super) async fn list_merged(
        &self,
        q: &SampleQuery,
        ranks: &[(i64, i32)],
    ) -> Result<Vec<SampleRun>> {
        let mut out = Runs::new(q.limit);
        if q.limit == 0 {
            return Ok(out.runs);
        }
        let cmp = if q.newest_first { "<=" } else { ">=" };
        let margin = if q.newest_first { -BLOCK_MS } else { BLOCK_MS };
        let mut scan = Scan::new(&[], &q.series_type_ids, q.start, q.end, Order::ByType);
        scan.newest_first = q.newest_first;
        scan.extra = q.after.map(|c| {
            let t = c.series_type_id;
            (
                format!(
                    " AND (series_type_id > ? OR (series_type_id = ? AND block_start {cmp} ?))"
                ),
                // A day more, as the cursor's day's context.
                vec![
                    t.into(),
                    t.into(),
                    Value::from(block_start(c.time) - margin),
                ],
            )
        });
        // The cursor filters after merging, so that its minute ranks as on the previous page.
        self.scan_merged(ranks, scan, |series_type_id, mut samples| {
            if let Some(c) = &q.after
                && c.series_type_id == series_type_id
            {
                after_cursor(&mut samples, c, q.newest_first);
            }
            if q.newest_first {
                samples.reverse();
            }
            out.push(MERGED, series_type_id, samples)
        })
        .await?;
        Ok(out.runs)
    }

    /// Buckets per source and series type, in (source, series type, bucket) order.
    pub(super) async fn aggregate_raw(&self, q: &AggregateQuery) -> Result<Vec<BucketRow>> {
        let sources = self.user_sources(q.user_id).await?;
        let ids: Vec<i64> = sources.keys().copied().collect();
        let uid = |id: i64| sources.get(&id).copied().unwrap_or(MERGED);
        let mut rows = Vec::new();
        let mut current: Option<(i64, i32, Buckets)> = None;
        let scan = Scan::new(&ids, &q.series_type_ids, q.start, q.end, Order::BySource);
        self.scan_blocks(scan, |block| {
            let same = matches!(&current, Some((s, t, _)) if *s == block.source_id && *t == block.series_type_id);
            if !same {
                if let Some((s, t, buckets)) = current.take() {
                    bucket_rows(uid(s), t, buckets, &mut rows);
                }
                current = Some((block.source_id, block.series_type_id, Buckets::new(q.bucket)));
            }
            if let Some((_, _, buckets)) = &mut current {
                block.samples.iter().for_each(|s| buckets.add(s));
            }
            Ok(ControlFlow::Continue(()))
        })
        .await?;
        if let Some((s, t, buckets)) = current {
            bucket_rows(uid(s), t, buckets, &mut rows);
        }
        Ok(rows)
    }

    /// Buckets of the merged view per series type, in (series type, bucket) order.
    pub(super) async fn aggregate_merged(
        &self,
        q: &AggregateQuery,
        ranks: &[(i64, i32)],
    ) -> Result<Vec<BucketRow>> {
        let mut rows = Vec::new();
        let mut current: Option<(i32, Buckets)> = None;
        let scan = Scan::new(&[], &q.series_type_ids, q.start, q.end, Order::ByType);
        self.scan_merged(ranks, scan, |series_type_id, samples| {
            if current.as_ref().is_none_or(|(t, _)| *t != series_type_id) {
                if let Some((t, buckets)) = current.take() {
                    bucket_rows(MERGED, t, buckets, &mut rows);
                }
                current = Some((series_type_id, Buckets::new(q.bucket)));
            }
            if let Some((_, buckets)) = &mut current {
                samples.iter().for_each(|s| buckets.add(s));
            }
            ControlFlow::Continue(())
        })
        .await?;
        if let Some((t, buckets)) = current {
            bucket_rows(MERGED, t, buckets, &mut rows);
        }
        Ok(rows)
    }
}
