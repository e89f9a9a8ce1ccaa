//! Reads of samples: lists and aggregates, raw per source or merged across sources, computed
//! while the blocks of a query stream past, so that no more than a block of each source is held
//! besides the result.

use std::collections::HashMap;
use std::ops::ControlFlow;

use owl_migration::sample_codec::block_start;
use sea_orm::Value;

use super::SeaStore;
use super::blocks::{Order, Scan};
use crate::domain::error::Result;
use crate::domain::health::series::{Buckets, merge_minutes};
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
#[derive(Default)]
struct Group {
    key: Option<(i32, i64)>,
    sources: DayOfSources,
}

impl Group {
    /// Adds one source's block; returns the previous group when this block starts a new one.
    fn add(
        &mut self,
        key: (i32, i64),
        rank: i32,
        samples: Vec<Sample>,
    ) -> Option<(i32, DayOfSources)> {
        let previous = match self.key {
            Some(k) if k != key => self.take(),
            _ => None,
        };
        self.key = Some(key);
        self.sources.push((rank, samples));
        previous
    }

    /// The gathered group's series type and blocks.
    fn take(&mut self) -> Option<(i32, DayOfSources)> {
        let (series_type_id, _) = self.key.take()?;
        Some((series_type_id, std::mem::take(&mut self.sources)))
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
    /// (in the scan's order), `each` gets the samples of the best source of every minute, in
    /// time order, until it breaks.
    async fn scan_merged(
        &self,
        ranks: &[(i64, i32)],
        mut scan: Scan<'_>,
        mut each: impl FnMut(i32, Vec<Sample>) -> ControlFlow<()>,
    ) -> Result<()> {
        let ids: Vec<i64> = ranks.iter().map(|&(id, _)| id).collect();
        let rank_of: HashMap<i64, i32> = ranks.iter().copied().collect();
        scan.source_ids = &ids;
        scan.order = Order::ByType;
        let mut group = Group::default();
        let mut flow = ControlFlow::Continue(());
        self.scan_blocks(scan, |block| {
            let rank = rank_of.get(&block.source_id).copied().unwrap_or(i32::MAX);
            let key = (block.series_type_id, block.start);
            if let Some((series_type_id, sources)) = group.add(key, rank, block.samples) {
                flow = each(series_type_id, merge_minutes(sources));
            }
            Ok(flow)
        })
        .await?;
        if flow.is_continue()
            && let Some((series_type_id, sources)) = group.take()
        {
            let _ = each(series_type_id, merge_minutes(sources));
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

    /// The merged view in (series type, time) order: per minute, the best source's samples.
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
        let mut scan = Scan::new(&[], &q.series_type_ids, q.start, q.end, Order::ByType);
        scan.newest_first = q.newest_first;
        scan.extra = q.after.map(|c| {
            let t = c.series_type_id;
            (
                format!(
                    " AND (series_type_id > ? OR (series_type_id = ? AND block_start {cmp} ?))"
                ),
                vec![t.into(), t.into(), Value::from(block_start(c.time))],
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
