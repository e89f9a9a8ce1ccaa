//! Sleep-session assembly: sleep phases that arrive piecemeal (mobile push, later webhooks)
//! wait per user and source in a `store::SleepBuffer` (Redis with REDIS_SLEEP_TTL_SECONDS, or
//! the database) and are closed into one sleep session once the source has been quiet for
//! SLEEP_END_GAP_MINUTES.
//!
//! The rules:
//! - phases of one source belong to one session while each starts within the gap of the end
//!   of the phases before it; a longer pause starts another session;
//! - a source's buffered phases are due once no phase of it arrived for the gap (arrival by
//!   owl's clock, so a night uploaded in pieces over an hour stays one session); the pushes
//!   after that and the scheduled `sleep_close` job close them;
//! - closing merges the phases with the stored sleep sessions of the same source that lie
//!   within the gap of them (a late phase extends or fills the session it belongs to, which is
//!   replaced), writes the one merged session (identified by source, start and end, so writing
//!   it again changes nothing), deletes the sessions it replaced, and only then removes the
//!   phases from the buffer: a redelivered or crashed close converges on the same session;
//! - overlapping phases keep the earlier-starting one; touching phases of one stage merge.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::SourceKey;
use super::events::{
    Category, Event, EventBody, EventQuery, NewEvent, SleepDetails, StageInterval, WriteMode,
};
use crate::domain::Context;
use crate::domain::error::Result;

const DAY_MS: i64 = 86_400_000;
/// Buffers of quiet sources closed per round of the scheduled job.
const CLOSE_PAGE: usize = 200;

/// One phase of sleep as a source reported it (UNIX ms).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SleepPhase {
    pub start: i64,
    pub end: i64,
    /// An owl sleep stage (catalog::SLEEP_STAGES).
    pub stage: String,
    /// Offset of local time from UTC, seconds.
    pub zone_offset: i32,
}

/// The stages that count as asleep (for efficiency and time asleep).
pub fn asleep(stage: &str) -> bool {
    matches!(stage, "asleep" | "light" | "deep" | "rem")
}

/// The share of [start, end) that `stages` spend asleep, percent to one decimal.
fn efficiency(stages: &[StageInterval], start: i64, end: i64) -> f64 {
    let slept: i64 = stages
        .iter()
        .filter(|s| asleep(&s.stage))
        .map(|s| s.end - s.start)
        .sum();
    (slept as f64 * 1000.0 / (end - start) as f64).round() / 10.0
}

/// Splits phases (any order) into groups, one per session: a phase that starts more than
/// `gap_ms` after the latest end so far opens a new group.
pub fn group(mut phases: Vec<SleepPhase>, gap_ms: i64) -> Vec<Vec<SleepPhase>> {
    phases.sort();
    phases.dedup();
    let mut groups: Vec<Vec<SleepPhase>> = Vec::new();
    let mut end = i64::MIN;
    for phase in phases {
        match groups.last_mut() {
            Some(current) if phase.start <= end.saturating_add(gap_ms) => {
                end = end.max(phase.end);
                current.push(phase);
            }
            _ => {
                end = phase.end;
                groups.push(vec![phase]);
            }
        }
    }
    groups
}

/// The stage intervals of `phases`: sorted, overlaps cut (the earlier-starting phase keeps the
/// time), touching intervals of one stage merged.
pub fn stages(mut phases: Vec<StageInterval>) -> Vec<StageInterval> {
    phases.sort_by(|a, b| (a.start, a.end, &a.stage).cmp(&(b.start, b.end, &b.stage)));
    let mut out: Vec<StageInterval> = Vec::with_capacity(phases.len());
    let mut covered = i64::MIN;
    for p in phases {
        let start = p.start.max(covered);
        if start >= p.end {
            continue;
        }
        covered = p.end;
        match out.last_mut() {
            Some(last) if last.stage == p.stage && last.end == start => last.end = p.end,
            _ => out.push(StageInterval {
                stage: p.stage,
                start,
                end: p.end,
            }),
        }
    }
    out
}

/// The session of stage intervals (non-empty, as `stages` returns them) that began at
/// `zone_offset` and ended at `end_offset`.
pub fn session(stages: Vec<StageInterval>, zone_offset: i32, end_offset: i32) -> Option<NewEvent> {
    let start = stages.first()?.start;
    let end = stages.iter().map(|s| s.end).max()?;
    let efficiency = efficiency(&stages, start, end);
    Some(NewEvent {
        start,
        end,
        zone_offset,
        body: EventBody::Sleep(SleepDetails {
            nap: false,
            efficiency_percent: Some(efficiency),
            stages,
            end_zone_offset: (end_offset != zone_offset).then_some(end_offset),
        }),
    })
}

/// The pieces of [from, to) that no interval of `covered` (sorted, not overlapping) covers,
/// as intervals of `stage`: a phone's "in bed" around a watch's stages.
pub fn uncovered(covered: &[StageInterval], from: i64, to: i64, stage: &str) -> Vec<StageInterval> {
    let mut out = Vec::new();
    let mut at = from;
    for c in covered.iter().filter(|c| c.end > from && c.start < to) {
        if c.start > at {
            out.push(StageInterval {
                stage: stage.into(),
                start: at,
                end: c.start,
            });
        }
        at = at.max(c.end);
    }
    if at < to {
        out.push(StageInterval {
            stage: stage.into(),
            start: at,
            end: to,
        });
    }
    out
}

/// Whether a session says when its user slept: it has an asleep stage, or no stages at all (a
/// provider's session without a hypnogram). One of only in-bed and awake time (a phone on the
/// nightstand) says when they were in bed.
fn says_asleep(event: &Event) -> bool {
    match &event.body {
        EventBody::Sleep(s) => s.stages.is_empty() || s.stages.iter().any(|i| asleep(&i.stage)),
        EventBody::Workout { .. } => true,
    }
}

fn overlap(a: &Event, b: &Event) -> i64 {
    (a.end.min(b.end) - a.start.max(b.start)).max(0)
}

/// The merged view of a user's sleep sessions, `ranked` best source first:
/// - of the sessions that say when the user slept, one per night: a session overlapping a
///   better-ranked one is left out (Garmin and Oura for the same night: the better-ranked);
/// - a session of only in-bed time (a phone's) widens the kept session it overlaps most: the
///   span becomes the union, the time its stages leave uncovered is in bed, and efficiency is
///   recomputed over the whole span; one that overlaps none stays, unless a better-ranked
///   in-bed session overlaps it.
///
/// The widened session keeps the id and source of the session its stages come from.
pub fn merge_nights(ranked: Vec<Event>) -> Vec<Event> {
    let (sleeping, in_bed): (Vec<Event>, Vec<Event>) = ranked.into_iter().partition(says_asleep);
    let mut kept: Vec<Event> = Vec::new();
    for event in sleeping {
        if !kept.iter().any(|k| overlap(k, &event) > 0) {
            kept.push(event);
        }
    }
    let mut alone: Vec<Event> = Vec::new();
    for bed in in_bed {
        let best = kept
            .iter_mut()
            .filter(|k| overlap(k, &bed) > 0)
            .max_by_key(|k| overlap(k, &bed));
        match best {
            Some(night) => widen(night, &bed),
            None if !alone.iter().any(|a| overlap(a, &bed) > 0) => alone.push(bed),
            None => {}
        }
    }
    kept.extend(alone);
    kept
}

/// Widens `night` by the in-bed session `bed` (see [`merge_nights`]); a union longer than a
/// day is not one night and leaves `night` as it is.
fn widen(night: &mut Event, bed: &Event) {
    let (start, end) = (night.start.min(bed.start), night.end.max(bed.end));
    if end - start > DAY_MS {
        return;
    }
    let end_offset = if bed.end > night.end {
        bed.end_offset()
    } else {
        night.end_offset()
    };
    if bed.start < night.start {
        night.zone_offset = bed.zone_offset;
    }
    let EventBody::Sleep(details) = &mut night.body else {
        return;
    };
    let mut stages = std::mem::take(&mut details.stages);
    if stages.is_empty() {
        stages.push(StageInterval {
            stage: "asleep".into(),
            start: night.start,
            end: night.end,
        });
    }
    let filler = uncovered(&stages, start, end, "in_bed");
    stages.extend(filler);
    stages.sort_by_key(|s| (s.start, s.end));
    details.efficiency_percent = Some(efficiency(&stages, start, end));
    details.stages = stages;
    details.end_zone_offset = (end_offset != night.zone_offset).then_some(end_offset);
    night.start = start;
    night.end = end;
}

fn intervals(phases: &[SleepPhase]) -> Vec<StageInterval> {
    phases
        .iter()
        .map(|p| StageInterval {
            stage: p.stage.clone(),
            start: p.start,
            end: p.end,
        })
        .collect()
}

/// Sleep assembly use-cases. The caller's access to the user is checked before.
pub struct Sleep<'a>(pub &'a Context);

impl Sleep<'_> {
    fn gap_ms(&self) -> i64 {
        self.0.settings.sleep_end_gap.num_milliseconds()
    }

    /// The stored sleep sessions of `source_uid` that may touch [start, end) within the gap.
    async fn stored_near(
        &self,
        user_id: Uuid,
        source_uid: Option<Uuid>,
        start: i64,
        end: i64,
    ) -> Result<Vec<Event>> {
        let Some(source_uid) = source_uid else {
            return Ok(Vec::new());
        };
        let gap = self.gap_ms();
        let query = EventQuery {
            user_id,
            category: Category::Sleep,
            workout_types: Vec::new(),
            start: Some(start - DAY_MS - gap),
            end: Some(end + gap + 1),
            after: None,
            limit: 1000,
        };
        let mut events = self.0.events.list_events(&query).await?;
        events
            .retain(|e| e.source_uid == source_uid && e.start <= end + gap && e.end + gap >= start);
        Ok(events)
    }

    async fn source_uid(&self, user_id: Uuid, source: &SourceKey) -> Result<Option<Uuid>> {
        let sources = self.0.health.all_sources(user_id).await?;
        Ok(sources
            .into_iter()
            .find(|s| &s.key == source)
            .map(|s| s.uid))
    }

    /// Buffers phases of one source; returns (new, duplicates): a phase already buffered, or
    /// already inside a stored session of the source with the same stage, is a duplicate.
    pub async fn add(
        &self,
        user_id: Uuid,
        source: &SourceKey,
        phases: Vec<SleepPhase>,
    ) -> Result<(u64, u64)> {
        let (Some(start), Some(end)) = (
            phases.iter().map(|p| p.start).min(),
            phases.iter().map(|p| p.end).max(),
        ) else {
            return Ok((0, 0));
        };
        let uid = self.source_uid(user_id, source).await?;
        let stored = self.stored_near(user_id, uid, start, end).await?;
        let known = |p: &SleepPhase| {
            stored.iter().any(|e| match &e.body {
                EventBody::Sleep(s) => s
                    .stages
                    .iter()
                    .any(|i| i.stage == p.stage && i.start <= p.start && p.end <= i.end),
                EventBody::Workout { .. } => false,
            })
        };
        let total = phases.len() as u64;
        let unique: BTreeSet<SleepPhase> = phases.into_iter().filter(|p| !known(p)).collect();
        let fresh: Vec<SleepPhase> = unique.into_iter().collect();
        if fresh.is_empty() {
            // Nothing new: not an arrival that would hold the session open.
            return Ok((0, total));
        }
        let now = self.0.clock.now().timestamp_millis();
        let added = self.0.sleep.add(user_id, source, &fresh, now).await?;
        Ok((added, total - added))
    }

    /// Closes the buffered phases of one source when none arrived for the gap; returns how
    /// many sessions it wrote.
    pub async fn close_due(&self, user_id: Uuid, source: &SourceKey) -> Result<u64> {
        let now = self.0.clock.now().timestamp_millis();
        let gap = self.gap_ms();
        let (pending, arrived) = self.0.sleep.pending(user_id, source).await?;
        if arrived.is_some_and(|at| at.saturating_add(gap) > now) {
            return Ok(0);
        }
        let mut closed = 0;
        let mut done: Vec<SleepPhase> = Vec::new();
        for phases in group(pending, gap) {
            if self.close(user_id, source, &phases).await? {
                closed += 1;
            }
            done.extend(phases);
        }
        // Also drops an expired or empty buffer's index entry.
        self.0.sleep.remove(user_id, source, &done).await?;
        Ok(closed)
    }

    /// Writes the session of `phases` merged with the stored sessions near them; true when a
    /// session was written or changed.
    async fn close(
        &self,
        user_id: Uuid,
        source: &SourceKey,
        phases: &[SleepPhase],
    ) -> Result<bool> {
        let start = phases.iter().map(|p| p.start).min().unwrap_or(0);
        let end = phases.iter().map(|p| p.end).max().unwrap_or(0);
        let uid = self.source_uid(user_id, source).await?;
        let stored = self.stored_near(user_id, uid, start, end).await?;
        let mut all = intervals(phases);
        for event in &stored {
            if let EventBody::Sleep(s) = &event.body {
                all.extend(s.stages.iter().cloned());
                if s.stages.is_empty() {
                    all.push(StageInterval {
                        stage: "asleep".into(),
                        start: event.start,
                        end: event.end,
                    });
                }
            }
        }
        let offset = phases.first().map_or(0, |p| p.zone_offset);
        let end_offset = phases
            .iter()
            .max_by_key(|p| p.end)
            .map_or(offset, |p| p.zone_offset);
        let mut merged = stages(all.clone());
        let mut replaced: Vec<&Event> = stored.iter().collect();
        if merged.last().map(|s| s.end).unwrap_or(0) - merged.first().map(|s| s.start).unwrap_or(0)
            > DAY_MS
        {
            // Too long to be one night: keep the stored sessions, write the phases alone.
            merged = stages(intervals(phases));
            replaced.clear();
        }
        let Some(event) = session(merged, offset, end_offset) else {
            return Ok(false);
        };
        let stats = self
            .0
            .events
            .write_events(
                user_id,
                source,
                std::slice::from_ref(&event),
                WriteMode::Replace,
                self.0.clock.now(),
            )
            .await?;
        for old in replaced {
            if (old.start, old.end) != (event.start, event.end) {
                self.0.events.delete_event(user_id, old.id).await?;
            }
        }
        tracing::info!(user = %user_id, start = event.start, end = event.end, "sleep session closed");
        Ok(stats.inserted + stats.updated > 0)
    }

    /// Closes the due sessions of every quiet source (the scheduled job); returns how many
    /// sessions it wrote.
    pub async fn close_quiet(&self) -> Result<u64> {
        let before = self.0.clock.now().timestamp_millis() - self.gap_ms();
        let mut closed = 0;
        let mut seen = std::collections::HashSet::new();
        loop {
            let quiet = self.0.sleep.quiet(before, CLOSE_PAGE).await?;
            let fresh: Vec<_> = quiet
                .into_iter()
                .filter(|q| seen.insert(q.clone()))
                .collect();
            if fresh.is_empty() {
                return Ok(closed);
            }
            for (user_id, source) in fresh {
                closed += self.close_due(user_id, &source).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(stage: &str, start: i64, end: i64) -> SleepPhase {
        SleepPhase {
            start,
            end,
            stage: stage.into(),
            zone_offset: 0,
        }
    }

    #[test]
    fn phases_split_into_sessions_at_pauses_longer_than_the_gap() {
        let groups = group(
            vec![
                p("deep", 10, 20),
                p("light", 0, 10),
                p("rem", 25, 30),
                p("light", 200, 210),
            ],
            50,
        );
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].len(), 3);
        assert_eq!(groups[1], vec![p("light", 200, 210)]);
    }

    #[test]
    fn stages_cut_overlaps_and_merge_touching_intervals_of_one_stage() {
        let s = |stage: &str, start, end| StageInterval {
            stage: stage.into(),
            start,
            end,
        };
        let out = stages(vec![
            s("light", 0, 10),
            s("light", 10, 20),
            s("deep", 15, 30),
            s("deep", 15, 30),
        ]);
        assert_eq!(out, vec![s("light", 0, 20), s("deep", 20, 30)]);
        let event = session(out, 3600, 3600).unwrap();
        assert_eq!((event.start, event.end), (0, 30));
        match event.body {
            EventBody::Sleep(d) => assert_eq!(d.efficiency_percent, Some(100.0)),
            EventBody::Workout { .. } => unreachable!(),
        }
    }

    #[test]
    fn awake_time_lowers_efficiency() {
        let s = |stage: &str, start, end| StageInterval {
            stage: stage.into(),
            start,
            end,
        };
        let event = session(stages(vec![s("in_bed", 0, 10), s("deep", 10, 40)]), 0, 0).unwrap();
        match event.body {
            EventBody::Sleep(d) => assert_eq!(d.efficiency_percent, Some(75.0)),
            EventBody::Workout { .. } => unreachable!(),
        }
    }
}
