//! Sleep sessions from HKCategoryTypeIdentifierSleepAnalysis records: per source, segments
//! that overlap or follow each other within the session gap (SLEEP_END_GAP_MINUTES, the same
//! rule as phone pushes; [`DEFAULT_SESSION_GAP_MS`] unless set) form one session whose stages
//! are the segments. `in_bed` segments set the session's bounds and fill only the time no
//! other stage covers (an iPhone's "in bed" around a watch's core/deep/REM), so stage
//! intervals never overlap.

use std::collections::HashMap;

use crate::domain::health::events::{EventBody, NewEvent, SleepDetails, StageInterval};
use crate::domain::health::sleep;

/// Segments further apart than this (SLEEP_END_GAP_MINUTES' default, 120 minutes) belong to
/// different sessions; a gap of exactly this joins.
pub const DEFAULT_SESSION_GAP_MS: i64 = 120 * 60 * 1000;
/// A session lasts at most a day (the event validation's limit).
const MAX_SESSION_MS: i64 = 24 * 3600 * 1000;
/// Sessions shorter than this that start in the daytime (09:00–20:00 local) are naps.
const NAP_MAX_MS: i64 = 3 * 3600 * 1000;

struct Open {
    start: i64,
    end: i64,
    offset: i32,
    /// The offset of the segment that ends last (a night on a flight ends elsewhere).
    end_offset: i32,
    segments: Vec<(&'static str, i64, i64)>,
}

/// One segment as the export holds it.
struct Segment {
    stage: &'static str,
    start: i64,
    end: i64,
    /// Offsets at the segment's start and end (the export writes each date with its own).
    offset: i32,
    end_offset: i32,
}

/// The segments of every source, grouped into sessions at the end of the document: a
/// segment that arrives out of order (a duplicate written after the next night began) still
/// joins its own night.
pub(crate) struct Sessions {
    segments: HashMap<u32, Vec<Segment>>,
    gap_ms: i64,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(DEFAULT_SESSION_GAP_MS)
    }
}

impl Sessions {
    /// No segments; segments at most `gap_ms` apart join.
    pub(crate) fn new(gap_ms: i64) -> Self {
        Sessions {
            segments: HashMap::new(),
            gap_ms,
        }
    }

    /// Adds a segment of `source` from `start` at `offset` to `end` at `end_offset`.
    pub(crate) fn push(
        &mut self,
        source: u32,
        stage: &'static str,
        (start, offset): (i64, i32),
        (end, end_offset): (i64, i32),
    ) {
        self.segments.entry(source).or_default().push(Segment {
            stage,
            start,
            end,
            offset,
            end_offset,
        });
    }

    /// The sessions of every source (at the end of the document), oldest first: in start
    /// order, a segment joins the session before it when it starts at most the gap after that
    /// session's end and the session stays within a day.
    pub(crate) fn finish_all(&mut self) -> Vec<(u32, NewEvent)> {
        let mut all: Vec<(u32, NewEvent)> = Vec::new();
        for (source, mut segments) in self.segments.drain() {
            segments.sort_by_key(|s| (s.start, s.end));
            let mut open: Option<Open> = None;
            for s in segments {
                if let Some(o) = open.as_mut()
                    && s.start <= o.end + self.gap_ms
                    && s.end.max(o.end) - o.start <= MAX_SESSION_MS
                {
                    if s.end > o.end {
                        o.end = s.end;
                        o.end_offset = s.end_offset;
                    }
                    o.segments.push((s.stage, s.start, s.end));
                    continue;
                }
                all.extend(open.take().map(|o| (source, finish(o))));
                open = Some(Open {
                    start: s.start,
                    end: s.end,
                    offset: s.offset,
                    end_offset: s.end_offset,
                    segments: vec![(s.stage, s.start, s.end)],
                });
            }
            all.extend(open.map(|o| (source, finish(o))));
        }
        all.sort_by_key(|(source, e)| (e.start, *source));
        all
    }
}

fn finish(open: Open) -> NewEvent {
    let mut segments = open.segments;
    segments.sort_by_key(|&(_, start, end)| (start, end));
    // Sleep stages in order, overlaps cut off the later one.
    let mut stages: Vec<StageInterval> = Vec::new();
    for &(stage, start, end) in segments.iter().filter(|s| s.0 != "in_bed") {
        let start = stages.last().map_or(start, |last| start.max(last.end));
        if start < end {
            push_merged(&mut stages, stage, start, end);
        }
    }
    let asleep: i64 = stages
        .iter()
        .filter(|s| s.stage != "awake")
        .map(|s| s.end - s.start)
        .sum();
    let has_sleep = !stages.is_empty();
    // In-bed time that no other stage covers.
    let covered = stages.clone();
    for &(_, start, end) in segments.iter().filter(|s| s.0 == "in_bed") {
        stages.extend(sleep::uncovered(&covered, start, end, "in_bed"));
    }
    stages.sort_by_key(|s| (s.start, s.end));
    let mut merged: Vec<StageInterval> = Vec::with_capacity(stages.len());
    for s in stages {
        // In-bed pieces of overlapping in-bed segments.
        let start = merged.last().map_or(s.start, |last| s.start.max(last.end));
        if start < s.end {
            push_merged(&mut merged, &s.stage, start, s.end);
        }
    }
    let length = open.end - open.start;
    let local_hour = (open.start / 1000 + i64::from(open.offset)).rem_euclid(86_400) / 3600;
    NewEvent {
        start: open.start,
        end: open.end,
        zone_offset: open.offset,
        body: EventBody::Sleep(SleepDetails {
            nap: length < NAP_MAX_MS && (9..20).contains(&local_hour),
            efficiency_percent: (has_sleep && length > 0)
                .then(|| (asleep as f64 * 100.0 / length as f64).clamp(0.0, 100.0)),
            stages: merged,
            end_zone_offset: (open.end_offset != open.offset).then_some(open.end_offset),
        }),
    }
}

/// Appends an interval, joining it to the last one when they touch and share the stage.
fn push_merged(stages: &mut Vec<StageInterval>, stage: &str, start: i64, end: i64) {
    if let Some(last) = stages.last_mut()
        && last.stage == stage
        && last.end == start
    {
        last.end = end;
        return;
    }
    stages.push(StageInterval {
        stage: stage.to_string(),
        start,
        end,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 60_000;

    fn stages(event: &NewEvent) -> Vec<(String, i64, i64)> {
        match &event.body {
            EventBody::Sleep(s) => s
                .stages
                .iter()
                .map(|s| (s.stage.clone(), s.start / M, s.end / M))
                .collect(),
            _ => panic!("not sleep"),
        }
    }

    #[test]
    fn adjacent_segments_form_one_session_and_a_gap_splits() {
        let mut s = Sessions::default();
        s.push(1, "light", (0, 3600), (30 * M, 3600));
        s.push(1, "deep", (30 * M, 3600), (60 * M, 3600));
        s.push(1, "light", (70 * M, 3600), (90 * M, 3600));
        // 90 → 210: a gap of exactly 120 minutes joins; 220 → 341: 121 minutes splits.
        s.push(1, "rem", (210 * M, 3600), (220 * M, 3600));
        s.push(1, "light", (341 * M, 3600), (350 * M, 3600));
        let all = s.finish_all();
        assert_eq!(all.len(), 2);
        let first = &all[0].1;
        assert_eq!((first.start, first.end), (0, 220 * M));
        assert_eq!(
            stages(first),
            vec![
                ("light".into(), 0, 30),
                ("deep".into(), 30, 60),
                ("light".into(), 70, 90),
                ("rem".into(), 210, 220)
            ]
        );
        assert_eq!(all[1].1.start, 341 * M);
        // A configured gap of 30 minutes splits at 31.
        let mut s = Sessions::new(30 * M);
        s.push(1, "light", (0, 0), (30 * M, 0));
        s.push(1, "deep", (60 * M, 0), (70 * M, 0));
        s.push(1, "deep", (101 * M, 0), (110 * M, 0));
        let starts: Vec<i64> = s.finish_all().iter().map(|(_, e)| e.start / M).collect();
        assert_eq!(starts, [0, 101]);
    }

    #[test]
    fn a_late_out_of_order_segment_joins_its_own_night_and_the_end_keeps_its_offset() {
        let mut s = Sessions::default();
        // Night one (+01:00 at bedtime, -05:00 on landing), then night two, then a
        // duplicate of night one's deep segment written after night two began.
        s.push(1, "light", (0, 3600), (60 * M, 3600));
        s.push(1, "deep", (60 * M, 3600), (120 * M, 3600));
        s.push(1, "rem", (120 * M, 3600), (480 * M, -18_000));
        s.push(1, "light", (1440 * M, -18_000), (1900 * M, -18_000));
        s.push(1, "deep", (60 * M, 3600), (120 * M, 3600));
        let all = s.finish_all();
        let spans: Vec<(i64, i64)> = all.iter().map(|(_, e)| (e.start / M, e.end / M)).collect();
        assert_eq!(spans, [(0, 480), (1440, 1900)]);
        match &all[0].1.body {
            EventBody::Sleep(d) => {
                assert_eq!(all[0].1.zone_offset, 3600);
                assert_eq!(d.end_zone_offset, Some(-18_000));
                assert_eq!(d.stages.len(), 3, "the duplicate adds no stage");
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn in_bed_fills_only_uncovered_time_and_sources_stay_apart() {
        let mut s = Sessions::default();
        s.push(1, "in_bed", (0, 0), (100 * M, 0));
        s.push(1, "light", (10 * M, 0), (50 * M, 0));
        s.push(1, "awake", (50 * M, 0), (55 * M, 0));
        s.push(1, "rem", (55 * M, 0), (90 * M, 0));
        s.push(2, "in_bed", (5 * M, 0), (95 * M, 0));
        let all = s.finish_all();
        assert_eq!(all.len(), 2);
        let (_, one) = &all[0];
        assert_eq!(
            stages(one),
            vec![
                ("in_bed".into(), 0, 10),
                ("light".into(), 10, 50),
                ("awake".into(), 50, 55),
                ("rem".into(), 55, 90),
                ("in_bed".into(), 90, 100)
            ]
        );
        match &one.body {
            EventBody::Sleep(d) => assert_eq!(d.efficiency_percent, Some(75.0)),
            _ => unreachable!(),
        }
        match &all[1].1.body {
            EventBody::Sleep(d) => assert_eq!(d.efficiency_percent, None),
            _ => unreachable!(),
        }
    }
}
