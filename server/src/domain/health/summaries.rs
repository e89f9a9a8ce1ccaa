//! Daily summaries: activity, sleep, body and recovery per local calendar day, computed from
//! the merged view of the user's sources.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use uuid::Uuid;

use super::catalog::series_type;
use super::events::{Category, Event, EventBody, EventQuery, Events};
use super::samples::Samples;
use super::{AggregateQuery, BucketRow, BucketWidth, SampleQuery};
use crate::domain::Context;
use crate::domain::auth::Caller;
use crate::domain::error::Result;
use crate::domain::users::Users;
use crate::domain::validate::Violations;

const DAY_MS: i64 = 86_400_000;
/// The widest zone offset: local days of samples lie within this of UTC days.
const ZONE_MARGIN_MS: i64 = 14 * 3_600_000;
/// Most days in one request.
pub const MAX_DAYS: i64 = 400;

/// Activity of a day; `None` where no source had data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    pub steps: Option<f64>,
    pub distance_m: Option<f64>,
    pub floors: Option<f64>,
    pub active_energy_kcal: Option<f64>,
    pub basal_energy_kcal: Option<f64>,
    pub active_minutes: Option<f64>,
    pub heart_rate: Option<(f64, f64, f64)>,
}

/// Sleep that ended on a day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SleepDay {
    pub main: Option<Event>,
    pub naps: i32,
    /// Time asleep in every session that ended on the day, naps included, ms.
    pub total_asleep_ms: i64,
    /// Time asleep in the day's naps, ms.
    pub nap_asleep_ms: i64,
}

/// Time asleep in a sleep session, ms: its stages but in bed and awake, or the whole session
/// when it has no stages.
pub fn asleep_ms(session: &Event) -> i64 {
    let EventBody::Sleep(details) = &session.body else {
        return 0;
    };
    if details.stages.is_empty() {
        return session.end - session.start;
    }
    details
        .stages
        .iter()
        .filter(|s| super::sleep::asleep(&s.stage))
        .map(|s| s.end - s.start)
        .sum()
}

/// Body measurements as of the end of a day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body {
    pub weight_kg: Option<f64>,
    pub height_cm: Option<f64>,
    pub body_fat_percent: Option<f64>,
    pub bmi: Option<f64>,
}

/// Recovery markers of a day (means).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovery {
    pub resting_heart_rate: Option<f64>,
    pub hrv_sdnn_ms: Option<f64>,
    pub hrv_rmssd_ms: Option<f64>,
    pub respiratory_rate: Option<f64>,
    pub oxygen_saturation: Option<f64>,
}

/// One day's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct DailySummary {
    pub date: NaiveDate,
    pub activity: Activity,
    pub sleep: SleepDay,
    pub body: Body,
    pub recovery: Recovery,
}

const DAILY_TYPES: [&str; 12] = [
    "steps",
    "distance_walking_running",
    "flights_climbed",
    "energy",
    "basal_energy",
    "exercise_time",
    "heart_rate",
    "resting_heart_rate",
    "heart_rate_variability_sdnn",
    "heart_rate_variability_rmssd",
    "respiratory_rate",
    "oxygen_saturation",
];
const BODY_TYPES: [&str; 4] = ["weight", "height", "body_fat_percentage", "body_mass_index"];

fn id(code: &str) -> i32 {
    series_type(code).map_or(-1, |t| t.id)
}

fn day_number(date: NaiveDate) -> i64 {
    date.signed_duration_since(NaiveDate::default()).num_days()
}

/// The local day of an instant recorded at `offset` seconds from UTC.
fn local_day(time: i64, offset: i32) -> i64 {
    (time + i64::from(offset) * 1000).div_euclid(DAY_MS)
}

/// The dates owl holds data for: samples start at or after 1970-01-01 UTC (a day's local
/// time reaches 14 hours before that), and nothing is accepted after 9999.
fn date_in_model(date: NaiveDate) -> bool {
    let first = NaiveDate::from_ymd_opt(1969, 12, 31).unwrap_or_default();
    let last = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default();
    (first..=last).contains(&date)
}

/// Parses `YYYY-MM-DD`, within the dates the model holds (1969-12-31 to 9999-12-31).
pub fn parse_date(value: &str, field: &str, v: &mut Violations) -> Option<NaiveDate> {
    let parsed = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok();
    match parsed {
        None => v.add(field, "must be a date YYYY-MM-DD"),
        Some(date) if !date_in_model(date) => v.add(field, "must be from 1969-12-31 to 9999-12-31"),
        Some(_) => {}
    }
    parsed.filter(|d| date_in_model(*d))
}

/// Summary use-cases.
pub struct Summaries<'a>(pub &'a Context);

impl Summaries<'_> {
    /// Daily summaries from `first` to `last` (inclusive); days without data are left out.
    pub async fn daily(
        &self,
        caller: &Caller,
        user_id: Uuid,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<DailySummary>> {
        let mut v = Violations::new();
        v.check(first <= last, "end_date", "must not be before start_date");
        v.check(
            (last - first).num_days() < MAX_DAYS,
            "end_date",
            "at most 400 days per request",
        );
        v.finish()?;
        Users(self.0).visible(caller, user_id).await?;
        let (d0, d1) = (day_number(first), day_number(last));
        let (start, end) = (
            d0 * DAY_MS - ZONE_MARGIN_MS,
            (d1 + 1) * DAY_MS + ZONE_MARGIN_MS,
        );
        let ranks = Samples(self.0).ranks(user_id).await?;

        let aggregate = AggregateQuery {
            user_id,
            series_type_ids: DAILY_TYPES.iter().map(|c| id(c)).collect(),
            start: Some(start),
            end: Some(end),
            bucket: BucketWidth::Day,
            ranks: Some(ranks.clone()),
        };
        let mut buckets: HashMap<(i32, i64), BucketRow> = HashMap::new();
        for row in self.0.health.aggregate_samples(&aggregate).await? {
            buckets.insert((row.series_type_id, row.key), row);
        }
        let body = self.body(user_id, &ranks, start, end).await?;
        let sleep = self.sleep(user_id, start - DAY_MS, end).await?;

        let mut days = Vec::new();
        for day in d0..=d1 {
            let get = |code: &str| buckets.get(&(id(code), day));
            let sum = |code: &str| get(code).map(|b| b.sum);
            let avg = |code: &str| get(code).map(|b| b.sum / b.count.max(1) as f64);
            let activity = Activity {
                steps: sum("steps"),
                distance_m: sum("distance_walking_running"),
                floors: sum("flights_climbed"),
                active_energy_kcal: sum("energy"),
                basal_energy_kcal: sum("basal_energy"),
                active_minutes: sum("exercise_time"),
                heart_rate: get("heart_rate")
                    .map(|b| (b.min, b.sum / b.count.max(1) as f64, b.max)),
            };
            let recovery = Recovery {
                resting_heart_rate: avg("resting_heart_rate"),
                hrv_sdnn_ms: avg("heart_rate_variability_sdnn"),
                hrv_rmssd_ms: avg("heart_rate_variability_rmssd"),
                respiratory_rate: avg("respiratory_rate"),
                oxygen_saturation: avg("oxygen_saturation"),
            };
            let latest = |code: &str| {
                body.get(&id(code))
                    .and_then(|series| series.range(..=day).next_back().map(|(_, v)| *v))
            };
            let body_of_day = Body {
                weight_kg: latest("weight"),
                height_cm: latest("height"),
                body_fat_percent: latest("body_fat_percentage"),
                bmi: latest("body_mass_index"),
            };
            let sleep = sleep.get(&day).cloned().unwrap_or_default();
            // Body values carry forward to later days, but only a day's own measurement makes
            // it a day with data.
            let measured = body.values().any(|series| series.contains_key(&day));
            let empty = activity == Activity::default()
                && recovery == Recovery::default()
                && sleep == SleepDay::default()
                && !measured;
            let date = NaiveDate::default().checked_add_signed(chrono::Duration::days(day));
            if let (false, Some(date)) = (empty, date) {
                days.push(DailySummary {
                    date,
                    activity,
                    sleep,
                    body: body_of_day,
                    recovery,
                });
            }
        }
        Ok(days)
    }

    /// Per body series type: local day → the day's last value, from the latest before `start`
    /// to `end`.
    async fn body(
        &self,
        user_id: Uuid,
        ranks: &[(i64, i32)],
        start: i64,
        end: i64,
    ) -> Result<HashMap<i32, BTreeMap<i64, f64>>> {
        let mut out: HashMap<i32, BTreeMap<i64, f64>> = HashMap::new();
        for code in BODY_TYPES {
            let base = SampleQuery {
                user_id,
                series_type_ids: vec![id(code)],
                start: None,
                end: Some(start),
                newest_first: true,
                after: None,
                limit: 1,
                ranks: Some(ranks.to_vec()),
            };
            let before = self.0.health.list_samples(&base).await?;
            let within = SampleQuery {
                start: Some(start),
                end: Some(end),
                newest_first: false,
                limit: 100_000,
                ..base
            };
            let inside = self.0.health.list_samples(&within).await?;
            let series = out.entry(id(code)).or_default();
            for run in before.iter().chain(&inside) {
                for s in &run.samples {
                    // Oldest first: a later sample of the same day replaces an earlier one.
                    series.insert(local_day(s.time, s.zone_offset), s.value);
                }
            }
        }
        Ok(out)
    }

    /// Per local day: the main sleep session that ended then, and the number of naps.
    async fn sleep(&self, user_id: Uuid, start: i64, end: i64) -> Result<HashMap<i64, SleepDay>> {
        let query = EventQuery {
            user_id,
            category: Category::Sleep,
            workout_types: vec![],
            start: Some(start),
            end: Some(end),
            after: None,
            limit: 0,
        };
        let sessions = Events(self.0).all_merged(query).await?;
        let mut days: HashMap<i64, SleepDay> = HashMap::new();
        for session in sessions {
            let day = days
                .entry(local_day(session.end, session.end_offset()))
                .or_default();
            let EventBody::Sleep(details) = &session.body else {
                continue;
            };
            let asleep = asleep_ms(&session);
            day.total_asleep_ms += asleep;
            if details.nap {
                day.naps += 1;
                day.nap_asleep_ms += asleep;
            } else if day
                .main
                .as_ref()
                .is_none_or(|m| m.end - m.start < session.end - session.start)
            {
                day.main = Some(session);
            }
        }
        Ok(days)
    }
}
