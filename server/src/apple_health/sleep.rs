//! Sleep sessions from HKCategoryTypeIdentifierSleepAnalysis records: per source, segments
//! that overlap or follow each other within the session gap (SLEEP_END_GAP_MINUTES, the same
//! rule as phone pushes; [`DEFAULT_SESSION_GAP_MS`] unless set) form one session whose stages
//! are the segments. `in_bed` segments set the session's bounds and fill only the time no
//! other stage covers (an iPhone's "in bed" around a watch's core/deep/REM), so stage
//! intervals never overlap.

use std::collections::HashMap;

use crate::domain::health::events::{EventBody, NewEvent, SleepDetails, StageInterval};

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
    segments: Vec<(&'static str, i64, i64)>,
}

/// Open sessions by source.
pub(crate) struct Sessions {
    open: HashMap<u32, Open>,
    gap_ms: i64,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(DEFAULT_SESSION_GAP_MS)
    }
}

impl Sessions {
    /// No open sessions; segments at most `gap_ms` apart join.
    pub(crate) fn new(gap_ms: i64) -> Self {
        Sessions {
            open: HashMap::new(),
            gap_ms,
        }
    }

    /// Adds a segment of `source`; returns the session it closed, if any.
    pub(crate) fn push(
        &mut self,
        source: u32,
        stage: &'static str,
        start: i64,
        end: i64,
        offset: i32,
    ) -> Option<NewEvent> {
        let mut closed = None;
        if let Some(open) = self.open.get_mut(&source) {
            let joins = start <= open.end + self.gap_ms
                && end >= open.start - self.gap_ms
                && end.max(open.end) - start.min(open.start) <= MAX_SESSION_MS;
            if joins {
                open.start = open.start.min(start);
                open.end = open.end.max(end);
                open.segments.push((stage, start, end));
                return None;
            }
            closed = self.open.remove(&source).map(finish);
        }
        self.open.insert(
            source,
            Open {
                start,
                end,
                offset,
                segments: vec![(stage, start, end)],
            },
        );
        closed
    }

    /// Closes every open session (at the end of the document).
    pub(crate) fn finish_all(&mut self) -> Vec<(u32, NewEvent)> {
        let mut all: Vec<(u32, NewEvent)> = self
            .open
            .drain()
            .map(|(source, open)| (source, finish(open)))
            .collect();
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
        let mut from = start;
        for c in covered.iter().filter(|c| c.end > start && c.start < end) {
            if c.start > from {
                stages.push(StageInterval {
                    stage: "in_bed".into(),
                    start: from,
                    end: c.start,
                });
            }
            from = from.max(c.end);
        }
        if from < end {
            stages.push(StageInterval {
                stage: "in_bed".into(),
                start: from,
                end,
            });
        }
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
        assert!(s.push(1, "light", 0, 30 * M, 3600).is_none());
        assert!(s.push(1, "deep", 30 * M, 60 * M, 3600).is_none());
        assert!(s.push(1, "light", 70 * M, 90 * M, 3600).is_none());
        // 90 → 210: a gap of exactly 120 minutes joins; 220 → 341: 121 minutes splits.
        assert!(s.push(1, "rem", 210 * M, 220 * M, 3600).is_none());
        let first = s
            .push(1, "light", 341 * M, 350 * M, 3600)
            .expect("gap closes");
        assert_eq!((first.start, first.end), (0, 220 * M));
        assert_eq!(
            stages(&first),
            vec![
                ("light".into(), 0, 30),
                ("deep".into(), 30, 60),
                ("light".into(), 70, 90),
                ("rem".into(), 210, 220)
            ]
        );
        let rest = s.finish_all();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].1.start, 341 * M);
        // A configured gap of 30 minutes splits at 31.
        let mut s = Sessions::new(30 * M);
        s.push(1, "light", 0, 30 * M, 0);
        assert!(s.push(1, "deep", 60 * M, 70 * M, 0).is_none());
        assert!(s.push(1, "deep", 101 * M, 110 * M, 0).is_some());
    }

    #[test]
    fn in_bed_fills_only_uncovered_time_and_sources_stay_apart() {
        let mut s = Sessions::default();
        s.push(1, "in_bed", 0, 100 * M, 0);
        s.push(1, "light", 10 * M, 50 * M, 0);
        s.push(1, "awake", 50 * M, 55 * M, 0);
        s.push(1, "rem", 55 * M, 90 * M, 0);
        s.push(2, "in_bed", 5 * M, 95 * M, 0);
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
