//! Events: workouts and sleep sessions. Identified per source by (kind, start, end), so a
//! replay changes nothing and a correction updates in place.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::catalog::{SLEEP_STAGES, is_workout_type};
use super::intake::{check_source, offset_ok};
use super::samples::Samples;
use super::{SourceKey, WriteStats};
use crate::domain::Context;
use crate::domain::auth::Caller;
use crate::domain::error::{Error, Result};
use crate::domain::page::{decode_token, encode_token, fingerprint};
use crate::domain::users::Users;
use crate::domain::validate::Violations;

/// Most stage intervals of one sleep session (30-second epochs for a whole day are 2,880).
pub const MAX_STAGES: usize = 5_000;
/// Most stage intervals of one page of sleep sessions: a page ends early rather than pass
/// this (~2 MB), so every answer stays below a stock client's 4 MB.
pub const MAX_PAGE_STAGES: usize = 50_000;

/// Most events one merged list considers.
const MAX_MERGED_CANDIDATES: u64 = 10_000;
/// Most events in one write.
pub const MAX_EVENTS_PER_WRITE: usize = 1000;
const DAY_MS: i64 = 86_400_000;

/// Details of a workout; `None` where the source did not say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkoutDetails {
    pub distance_m: Option<f64>,
    pub active_energy_kcal: Option<f64>,
    pub steps: Option<i64>,
    pub heart_rate_avg: Option<f64>,
    pub heart_rate_max: Option<f64>,
    pub elevation_gain_m: Option<f64>,
    /// Time spent moving (the workout's length less its pauses), seconds.
    pub moving_seconds: Option<i64>,
}

/// A provider's moving time, `seconds` (rounded), for a workout from `start` to `end` (UNIX
/// ms): `None` where it is not a finite number from zero to the workout's length, which the
/// write would refuse.
pub fn moving_within(seconds: Option<f64>, start: i64, end: i64) -> Option<i64> {
    let s = seconds.filter(|s| s.is_finite() && *s >= 0.0)?.round() as i64;
    (s.saturating_mul(1000) <= end - start).then_some(s)
}

/// One stage interval of a sleep session (UNIX ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageInterval {
    pub stage: String,
    pub start: i64,
    pub end: i64,
}

/// Details of a sleep session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SleepDetails {
    pub nap: bool,
    pub efficiency_percent: Option<f64>,
    pub stages: Vec<StageInterval>,
    /// Offset of local time from UTC at the session's end, seconds, where it differs from the
    /// start's or the source said (a night that crosses time zones); `None`: the start's.
    pub end_zone_offset: Option<i32>,
}

/// What an event is.
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    Workout {
        workout_type: String,
        details: WorkoutDetails,
    },
    Sleep(SleepDetails),
}

impl EventBody {
    /// The stored category.
    pub fn category(&self) -> Category {
        match self {
            EventBody::Workout { .. } => Category::Workout,
            EventBody::Sleep(_) => Category::Sleep,
        }
    }
}

impl EventBody {
    /// This body, with what it leaves unsaid taken from `stored`: a provider that sends one
    /// workout in two payloads (Garmin's activity summary and its details, in either order)
    /// completes the stored event instead of erasing the other payload's values.
    pub fn filled_from(&self, stored: &EventBody) -> EventBody {
        match (self, stored) {
            (
                EventBody::Workout {
                    workout_type,
                    details: new,
                },
                EventBody::Workout { details: old, .. },
            ) => EventBody::Workout {
                workout_type: workout_type.clone(),
                details: WorkoutDetails {
                    distance_m: new.distance_m.or(old.distance_m),
                    active_energy_kcal: new.active_energy_kcal.or(old.active_energy_kcal),
                    steps: new.steps.or(old.steps),
                    heart_rate_avg: new.heart_rate_avg.or(old.heart_rate_avg),
                    heart_rate_max: new.heart_rate_max.or(old.heart_rate_max),
                    elevation_gain_m: new.elevation_gain_m.or(old.elevation_gain_m),
                    moving_seconds: new.moving_seconds.or(old.moving_seconds),
                },
            },
            (EventBody::Sleep(new), EventBody::Sleep(old)) => EventBody::Sleep(SleepDetails {
                nap: new.nap,
                efficiency_percent: new.efficiency_percent.or(old.efficiency_percent),
                stages: if new.stages.is_empty() {
                    old.stages.clone()
                } else {
                    new.stages.clone()
                },
                end_zone_offset: new.end_zone_offset.or(old.end_zone_offset),
            }),
            _ => self.clone(),
        }
    }
}

/// How a write treats an event already stored at the same source and times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// The new event is the whole truth (API writes, imports, phones: complete records).
    Replace,
    /// The new event adds to the stored one: values it lacks are kept (provider syncs, whose
    /// payloads may each carry part of an event).
    Fill,
}

/// Kinds of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Workout,
    Sleep,
}

impl Category {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Workout => "workout",
            Category::Sleep => "sleep",
        }
    }
}

/// An event to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub start: i64,
    pub end: i64,
    pub zone_offset: i32,
    pub body: EventBody,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: Uuid,
    pub user_id: Uuid,
    pub source_uid: Uuid,
    pub start: i64,
    pub end: i64,
    pub zone_offset: i32,
    pub body: EventBody,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Event {
    /// Offset of local time at the event's end: a sleep session's own, else its start's.
    pub fn end_offset(&self) -> i32 {
        match &self.body {
            EventBody::Sleep(SleepDetails {
                end_zone_offset: Some(offset),
                ..
            }) => *offset,
            _ => self.zone_offset,
        }
    }
}

/// Of events ranked best source first, those no better-ranked event overlaps.
fn best_ranked(ranked: Vec<Event>) -> Vec<Event> {
    let mut kept: Vec<Event> = Vec::new();
    for event in ranked {
        if !kept
            .iter()
            .any(|k| k.start < event.end && event.start < k.end)
        {
            kept.push(event);
        }
    }
    kept
}

/// A query over a user's events of one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub user_id: Uuid,
    pub category: Category,
    pub workout_types: Vec<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// Continue after this (start, id).
    pub after: Option<(i64, Uuid)>,
    pub limit: u64,
}

fn finite_non_negative(value: Option<f64>, field: String, v: &mut Violations) {
    if let Some(x) = value
        && (!x.is_finite() || x < 0.0)
    {
        v.add(field, "must be a finite, non-negative number");
    }
}

/// Validates events named `{prefix}[i]`.
pub fn validate_events(events: &[NewEvent], prefix: &str, now_ms: i64, v: &mut Violations) {
    if events.len() > MAX_EVENTS_PER_WRITE {
        v.add(
            prefix,
            format!("at most {MAX_EVENTS_PER_WRITE} per request"),
        );
        return;
    }
    for (i, e) in events.iter().enumerate() {
        let at = format!("{prefix}[{i}]");
        v.check(
            e.start >= 0,
            &format!("{at}.start_time"),
            "must not be before 1970",
        );
        v.check(
            e.end > e.start,
            &format!("{at}.end_time"),
            "must be after start_time",
        );
        v.check(
            e.end <= now_ms + DAY_MS,
            &format!("{at}.end_time"),
            "must not be more than a day in the future",
        );
        v.check(
            offset_ok(e.zone_offset),
            &format!("{at}.zone_offset"),
            "must be within ±18 hours (seconds)",
        );
        match &e.body {
            EventBody::Workout {
                workout_type,
                details: d,
            } => {
                v.check(
                    is_workout_type(workout_type),
                    &format!("{at}.workout_type"),
                    "unknown workout type",
                );
                v.check(
                    e.end - e.start <= 7 * DAY_MS,
                    &format!("{at}.end_time"),
                    "a workout lasts at most 7 days",
                );
                finite_non_negative(d.distance_m, format!("{at}.distance_meters"), v);
                finite_non_negative(d.active_energy_kcal, format!("{at}.active_energy_kcal"), v);
                finite_non_negative(d.heart_rate_avg, format!("{at}.heart_rate_avg"), v);
                finite_non_negative(d.heart_rate_max, format!("{at}.heart_rate_max"), v);
                finite_non_negative(d.elevation_gain_m, format!("{at}.elevation_gain_meters"), v);
                v.check(
                    d.steps.is_none_or(|s| s >= 0),
                    &format!("{at}.steps"),
                    "must not be negative",
                );
                if let Some(moving) = d.moving_seconds {
                    let field = format!("{at}.moving_seconds");
                    v.check(moving >= 0, &field, "must not be negative");
                    v.check(
                        moving.saturating_mul(1000) <= e.end - e.start,
                        &field,
                        "must not be longer than the workout",
                    );
                }
            }
            EventBody::Sleep(s) => {
                v.check(
                    e.end - e.start <= DAY_MS,
                    &format!("{at}.end_time"),
                    "a sleep session lasts at most 24 hours",
                );
                v.check(
                    s.end_zone_offset.is_none_or(offset_ok),
                    &format!("{at}.end_zone_offset"),
                    "must be within ±18 hours (seconds)",
                );
                if let Some(eff) = s.efficiency_percent {
                    v.check(
                        (0.0..=100.0).contains(&eff),
                        &format!("{at}.efficiency_percent"),
                        "must be 0 to 100",
                    );
                }
                v.check(
                    s.stages.len() <= MAX_STAGES,
                    &format!("{at}.stages"),
                    "at most 5000 stage intervals per session",
                );
                for (j, stage) in s.stages.iter().enumerate().take(MAX_STAGES) {
                    let field = format!("{at}.stages[{j}]");
                    v.check(
                        SLEEP_STAGES.contains(&stage.stage.as_str()),
                        &format!("{field}.stage"),
                        "must be set",
                    );
                    v.check(
                        stage.start >= e.start && stage.end <= e.end && stage.start < stage.end,
                        &field,
                        "must lie inside the session and end after it starts",
                    );
                }
            }
        }
    }
}

const CURSOR_VERSION: u8 = 3;

/// Event use-cases.
pub struct Events<'a>(pub &'a Context);

impl Events<'_> {
    /// Stores events from one source atomically.
    pub async fn write(
        &self,
        caller: &Caller,
        user_id: Uuid,
        source: SourceKey,
        events: Vec<NewEvent>,
    ) -> Result<WriteStats> {
        let mut v = Violations::new();
        check_source(&source, "source", &mut v);
        let field = match events.first().map(|e| e.body.category()) {
            Some(Category::Sleep) => "sleep_sessions",
            _ => "workouts",
        };
        validate_events(
            &events,
            field,
            self.0.clock.now().timestamp_millis(),
            &mut v,
        );
        v.finish()?;
        Users(self.0).visible(caller, user_id).await?;
        self.0
            .events
            .write_events(
                user_id,
                &source,
                &events,
                WriteMode::Replace,
                self.0.clock.now(),
            )
            .await
    }

    /// Lists events of one category, oldest first; returns the page and the next token. In the
    /// merged view, of overlapping events only the one from the highest-priority source stays.
    pub async fn list(
        &self,
        caller: &Caller,
        mut query: EventQuery,
        page_size: i32,
        page_token: &str,
        merged: bool,
    ) -> Result<(Vec<Event>, String)> {
        let mut v = Violations::new();
        for (i, t) in query.workout_types.iter().enumerate() {
            v.check(
                is_workout_type(t),
                &format!("workout_types[{i}]"),
                "unknown workout type",
            );
        }
        v.range(query.start, query.end);
        let size = match page_size {
            n if n < 0 => {
                v.add("page_size", "must not be negative");
                50
            }
            0 => 50,
            n => (n as u64).min(1000),
        };
        let fp = fingerprint(&format!(
            "{}|{:?}|{:?}|{:?}",
            query.user_id, query.workout_types, query.start, query.end
        ));
        if !page_token.is_empty() {
            let cursor = decode_token(page_token, CURSOR_VERSION, 24, fp).and_then(|b| {
                Some((
                    i64::from_be_bytes(b[0..8].try_into().ok()?),
                    Uuid::from_slice(&b[8..24]).ok()?,
                ))
            });
            v.check(
                cursor.is_some(),
                "page_token",
                "is not a page token of this query",
            );
            query.after = cursor;
        }
        v.finish()?;
        Users(self.0).visible(caller, query.user_id).await?;
        query.limit = size + 1;
        let mut rows = if merged {
            self.merged(&query).await?
        } else {
            self.0.events.list_events(&query).await?
        };
        let mut next = String::new();
        let mut stages = 0;
        let within = rows.iter().position(|e| {
            stages += match &e.body {
                EventBody::Sleep(s) => s.stages.len(),
                EventBody::Workout { .. } => 0,
            };
            stages > MAX_PAGE_STAGES
        });
        let size = match within {
            // At least one event a page, so that paging always moves on.
            Some(i) => (i.max(1) as u64).min(size),
            None => size,
        };
        if rows.len() as u64 > size {
            rows.truncate(size as usize);
            if let Some(last) = rows.last() {
                let mut payload = last.start.to_be_bytes().to_vec();
                payload.extend_from_slice(last.id.as_bytes());
                next = encode_token(CURSOR_VERSION, &payload, fp);
            }
        }
        Ok((rows, next))
    }

    /// The merged view of `query`: overlapping events resolve to the highest-priority source's,
    /// then the page after the cursor.
    async fn merged(&self, query: &EventQuery) -> Result<Vec<Event>> {
        let candidates = EventQuery {
            after: None,
            limit: MAX_MERGED_CANDIDATES,
            ..query.clone()
        };
        let mut events = self.0.events.list_events(&candidates).await?;
        let sources = self.0.health.all_sources(query.user_id).await?;
        let (priority, _) = Samples(self.0).priority(query.user_id).await?;
        let rank_of_id: HashMap<i64, i32> = priority.ranks(&sources).into_iter().collect();
        let rank: HashMap<Uuid, i32> = sources
            .iter()
            .map(|s| (s.uid, rank_of_id.get(&s.id).copied().unwrap_or(i32::MAX)))
            .collect();
        events.sort_by_key(|e| {
            (
                rank.get(&e.source_uid).copied().unwrap_or(i32::MAX),
                e.start,
                e.id,
            )
        });
        let mut kept = if query.category == Category::Sleep {
            super::sleep::merge_nights(events)
        } else {
            best_ranked(events)
        };
        kept.sort_by_key(|e| (e.start, e.id));
        kept.retain(|e| {
            query
                .after
                .is_none_or(|(start, id)| (e.start, e.id) > (start, id))
        });
        kept.truncate(query.limit as usize);
        Ok(kept)
    }

    /// Every event of `query` in the merged view, oldest first (up to 10,000 candidates). The
    /// caller's access to the user must already be checked.
    pub async fn all_merged(&self, query: EventQuery) -> Result<Vec<Event>> {
        self.merged(&EventQuery {
            limit: MAX_MERGED_CANDIDATES,
            ..query
        })
        .await
    }

    /// One event of a category.
    pub async fn get(
        &self,
        caller: &Caller,
        user_id: Uuid,
        id: Uuid,
        category: Category,
    ) -> Result<Event> {
        Users(self.0).visible(caller, user_id).await?;
        let name = format!("users/{user_id}/workouts/{id}");
        match self.0.events.event(user_id, id).await? {
            Some(e) if e.body.category() == category => Ok(e),
            _ => Err(Error::not_found("owl.v1.Workout", name)),
        }
    }

    /// Deletes events by source and start range.
    pub async fn delete(
        &self,
        caller: &Caller,
        user_id: Uuid,
        source_uid: Option<Uuid>,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<u64> {
        let mut v = Violations::new();
        v.range(start, end);
        v.finish()?;
        Users(self.0).managed(caller, user_id).await?;
        if let Some(uid) = source_uid
            && self.0.health.source_id(user_id, uid).await?.is_none()
        {
            return Err(Error::not_found(
                "owl.v1.DataSource",
                format!("users/{user_id}/dataSources/{uid}"),
            ));
        }
        self.0
            .events
            .delete_events(user_id, source_uid, start, end)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moving_time_outside_the_workout_is_dropped() {
        let (start, end) = (1_000, 1_000 + 600_000);
        assert_eq!(moving_within(Some(599.6), start, end), Some(600));
        assert_eq!(moving_within(Some(600.4), start, end), Some(600));
        assert_eq!(moving_within(Some(601.0), start, end), None);
        assert_eq!(moving_within(Some(-1.0), start, end), None);
        assert_eq!(moving_within(Some(f64::NAN), start, end), None);
        assert_eq!(moving_within(None, start, end), None);
    }

    #[test]
    fn a_filled_event_keeps_what_the_new_one_leaves_unsaid() {
        let stored = EventBody::Workout {
            workout_type: "running".into(),
            details: WorkoutDetails {
                steps: Some(100),
                moving_seconds: Some(50),
                ..WorkoutDetails::default()
            },
        };
        let new = EventBody::Workout {
            workout_type: "running".into(),
            details: WorkoutDetails {
                steps: Some(120),
                distance_m: Some(1.5),
                ..WorkoutDetails::default()
            },
        };
        let EventBody::Workout { details, .. } = new.filled_from(&stored) else {
            panic!("a workout stays a workout");
        };
        assert_eq!(
            (details.steps, details.distance_m, details.moving_seconds),
            (Some(120), Some(1.5), Some(50))
        );
        let stage = StageInterval {
            stage: "deep".into(),
            start: 0,
            end: 10,
        };
        let night = EventBody::Sleep(SleepDetails {
            nap: false,
            efficiency_percent: Some(90.0),
            stages: vec![stage.clone()],
            end_zone_offset: Some(-18_000),
        });
        let bare = EventBody::Sleep(SleepDetails::default());
        assert_eq!(bare.filled_from(&night), night);
        assert_eq!(
            night.filled_from(&stored),
            night,
            "another kind is not mixed in"
        );
    }
}
