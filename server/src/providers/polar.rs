//! Polar, through the AccessLink API v3 (`https://www.polaraccesslink.com/v3`): exercises
//! (workouts with heart-rate samples), sleep with hypnogram stages and heart rate, Nightly
//! Recharge (HRV and breathing rate during the night), continuous (24/7) heart rate and daily
//! activity (steps, energy, distance).
//!
//! Quirks:
//! - OAuth2 at `flow.polar.com` / `polarremote.com`, client credentials in HTTP Basic, no PKCE.
//!   The token response names the user (`x_user_id`) and carries a token valid for about ten
//!   years, with **no refresh token**: a refused token expires the connection and the user must
//!   connect again.
//! - After the token exchange the user must be **registered** with `POST /v3/users` before any
//!   data can be read; 409 means already registered. `DELETE /v3/users/{id}` deregisters and
//!   revokes the token.
//! - There is no paging: exercises cover the last 30 days of uploads, sleep and Nightly Recharge
//!   the last 28 nights, daily activity a `from`/`to` window of at most 28 days. Every list is
//!   read whole on each sync and written idempotently; the cursor (owl's own, `polar:v1:{ms}`)
//!   only narrows the daily-activity window. Continuous heart rate is read one day per request
//!   (`/v3/users/continuous-heart-rate/{date}`), the last seven days on a backfill.
//! - Exercise start times are local wall-clock times with `start_time_utc_offset` in minutes;
//!   sleep times carry their offset; hypnogram and sample keys are local `HH:MM` times anchored
//!   on the night's start. Daily activity and continuous heart rate have no offset: owl uses
//!   the newest offset the same sync saw (else UTC).
//! - Webhooks are signed: `Polar-Webhook-Signature` is the hex HMAC-SHA256 of the raw body
//!   under the webhook's `signature_secret_key` (POLAR_WEBHOOK_SECRET). The PING Polar sends
//!   when the webhook is created may come unsigned and is accepted. Polar sends no
//!   deauthorization event.
//! - Rate limits depend on the number of registered users (15-minute and 24-hour windows); a
//!   429 is retried after Retry-After, else after a minute.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::rest::{self, iso_duration_ms};
use super::{
    Defaults, Fetched, Http, OAuthApp, Provider, ProviderError, ProviderInfo, Tokens, WebhookEvent,
    WebhookOutcome, WebhookRequest,
};
use crate::config::Config;
use crate::domain::health::SourceKey;
use crate::domain::health::events::{
    EventBody, NewEvent, SleepDetails, StageInterval, WorkoutDetails,
};
use crate::domain::health::intake::RawBatch;

const DAY_MS: i64 = 86_400_000;
/// Daily activity is read at most this far back (Polar's window is 28 days).
const BACKFILL_DAYS: i64 = 28;
/// Days of continuous heart rate a backfill reads (one request per day).
const CONTINUOUS_HR_DAYS: i64 = 7;

const INFO: ProviderInfo = ProviderInfo {
    key: "polar",
    display_name: "Polar",
    pull: true,
    push: true,
    data_types: &["workouts", "sleep", "activity", "heart_rate", "recovery"],
    backfill_days: BACKFILL_DAYS as i32,
};

const DEFAULTS: Defaults = Defaults {
    auth_base: "https://flow.polar.com",
    authorize_path: "/oauth2/authorization",
    token_path: "https://polarremote.com/v2/oauth2/token",
    api_base: "https://www.polaraccesslink.com",
    pkce: false,
    credentials_in_body: false,
};

/// The Polar provider.
pub struct Polar {
    oauth: OAuthApp,
    api_base: String,
    webhook_secret: Option<SecretString>,
}

impl Polar {
    /// Polar as the deployment configured it.
    pub fn new(config: &Config, public_url: &str) -> Self {
        let setup = super::setup(config, public_url, INFO.key, DEFAULTS);
        Polar {
            oauth: setup.oauth,
            api_base: setup.api_base,
            webhook_secret: setup.config.extra_secret,
        }
    }

    /// GETs `path`; 204 (and, with `missing_ok`, 404) read as an empty answer.
    async fn get<T: serde::de::DeserializeOwned + Default>(
        &self,
        http: &Http,
        token: &str,
        path: &str,
        missing_ok: bool,
    ) -> Result<T, ProviderError> {
        let request = http
            .client()
            .get(format!("{}{path}", self.api_base))
            .bearer_auth(token)
            .header(http::header::ACCEPT, "application/json");
        let missing: &[u16] = if missing_ok { &[404] } else { &[] };
        let answer = rest::send(request, path, missing, a_minute).await?;
        // Polar answers 204 when there is nothing to list.
        if answer.status == http::StatusCode::NO_CONTENT
            || answer.status == http::StatusCode::NOT_FOUND
            || answer.body.is_empty()
        {
            return Ok(T::default());
        }
        answer.json(path)
    }
}

fn a_minute() -> Option<Duration> {
    Some(Duration::from_secs(60))
}

#[derive(Debug, Default, Deserialize)]
struct Exercise {
    #[serde(default)]
    device: Option<String>,
    start_time: String,
    #[serde(default)]
    start_time_utc_offset: Option<i32>,
    duration: String,
    #[serde(default)]
    calories: Option<f64>,
    #[serde(default)]
    distance: Option<f64>,
    #[serde(default)]
    heart_rate: Option<HeartRate>,
    #[serde(default)]
    sport: Option<String>,
    #[serde(default)]
    detailed_sport_info: Option<String>,
    #[serde(default)]
    samples: Vec<ExerciseSamples>,
}

#[derive(Debug, Default, Deserialize)]
struct HeartRate {
    average: Option<f64>,
    maximum: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct ExerciseSamples {
    #[serde(rename = "recording-rate")]
    recording_rate: i64,
    #[serde(rename = "sample-type")]
    sample_type: String,
    data: String,
}

#[derive(Debug, Default, Deserialize)]
struct Nights {
    #[serde(default)]
    nights: Vec<Night>,
}

#[derive(Debug, Default, Deserialize)]
struct Night {
    date: String,
    sleep_start_time: String,
    sleep_end_time: String,
    #[serde(default)]
    light_sleep: Option<i64>,
    #[serde(default)]
    deep_sleep: Option<i64>,
    #[serde(default)]
    rem_sleep: Option<i64>,
    #[serde(default)]
    unrecognized_sleep_stage: Option<i64>,
    #[serde(default)]
    hypnogram: BTreeMap<String, i64>,
    #[serde(default)]
    heart_rate_samples: BTreeMap<String, f64>,
}

#[derive(Debug, Default, Deserialize)]
struct Recharges {
    #[serde(default)]
    recharges: Vec<Recharge>,
}

#[derive(Debug, Default, Deserialize)]
struct Recharge {
    date: String,
    #[serde(default)]
    heart_rate_variability_avg: Option<f64>,
    #[serde(default)]
    breathing_rate_avg: Option<f64>,
    #[serde(default)]
    hrv_samples: BTreeMap<String, f64>,
    #[serde(default)]
    breathing_samples: BTreeMap<String, f64>,
}

#[derive(Debug, Default, Deserialize)]
struct DailyActivity {
    start_time: String,
    #[serde(default)]
    calories: Option<f64>,
    #[serde(default)]
    active_calories: Option<f64>,
    #[serde(default)]
    steps: Option<f64>,
    #[serde(default)]
    distance_from_steps: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct ContinuousHr {
    #[serde(default)]
    heart_rate_samples: Vec<HeartRateSample>,
}

#[derive(Debug, Default, Deserialize)]
struct HeartRateSample {
    heart_rate: f64,
    /// `HH:MM:SS`, device-local.
    sample_time: String,
}

/// Continuous heart rate of each day, at the device's local times placed with `offset`.
fn continuous(days: &[(NaiveDate, ContinuousHr)], offset: i32) -> RawBatch {
    let points = days
        .iter()
        .flat_map(|(date, day)| {
            day.heart_rate_samples.iter().filter_map(move |s| {
                let at = local_ms(&format!("{date}T{}", s.sample_time), offset)?;
                (s.heart_rate > 0.0).then_some((at, s.heart_rate))
            })
        })
        .collect();
    series("heart_rate", "bpm", offset, points)
}

/// owl's workout type for Polar's `sport` and `detailed_sport_info`; unknown → `other`.
pub fn workout_type(sport: &str, detail: Option<&str>) -> &'static str {
    let by_detail = match detail.unwrap_or_default() {
        "RUNNING_ROAD" => "running",
        "RUNNING_TRAIL" => "trail_running",
        "RUNNING_TREADMILL" => "treadmill",
        "CYCLING_ROAD" => "cycling",
        "CYCLING_MOUNTAIN" | "CYCLING_MOUNTAIN_BIKE" => "mountain_biking",
        "CYCLING_INDOOR" | "INDOOR_CYCLING" => "indoor_cycling",
        "CYCLING_CYCLOCROSS" => "cyclocross",
        "SWIMMING_POOL" => "pool_swimming",
        "SWIMMING_OPEN_WATER" => "open_water_swimming",
        "AQUATICS_SWIMMING" => "swimming",
        "WALKING" => "walking",
        "WALKING_NORDIC" => "walking_fitness",
        "HIKING" => "hiking",
        "MOUNTAINEERING" => "mountaineering",
        "WINTERSPORTS_CROSS_COUNTRY_SKIING" => "cross_country_skiing",
        "WINTERSPORTS_ALPINE_SKIING" => "alpine_skiing",
        "WINTERSPORTS_BACKCOUNTRY_SKIING" => "backcountry_skiing",
        "WINTERSPORTS_DOWNHILL_SKIING" => "downhill_skiing",
        "WINTERSPORTS_SNOWBOARDING" => "snowboarding",
        "WINTERSPORTS_SNOWSHOEING" => "snowshoeing",
        "WINTERSPORTS_ICE_SKATING" => "ice_skating",
        "FITNESS_CARDIO" | "JUMP_ROPE" => "cardio_training",
        "FITNESS_ELLIPTICAL" => "elliptical",
        "FITNESS_INDOOR_ROWING" => "rowing_machine",
        "FITNESS_STAIR_CLIMBING" => "stair_climbing",
        "FITNESS_YOGA" => "yoga",
        "FITNESS_PILATES" => "pilates",
        "FITNESS_STRETCHING" => "stretching",
        "WATERSPORTS_ROWING" => "rowing",
        "WATERSPORTS_KAYAKING" => "kayaking",
        "WATERSPORTS_CANOEING" => "canoeing",
        "WATERSPORTS_STAND_UP_PADDLING" => "stand_up_paddleboarding",
        "WATERSPORTS_SURFING" => "surfing",
        "WATERSPORTS_KITESURFING" => "kitesurfing",
        "WATERSPORTS_WINDSURFING" => "windsurfing",
        "WATERSPORTS_SAILING" => "sailing",
        "WATERSPORTS_WATERSKI" => "water_skiing",
        "TEAMSPORTS_SOCCER" => "soccer",
        "TEAMSPORTS_FOOTBALL" => "football",
        "TEAMSPORTS_AMERICAN_FOOTBALL" => "american_football",
        "TEAMSPORTS_BASEBALL" => "baseball",
        "TEAMSPORTS_BASKETBALL" => "basketball",
        "TEAMSPORTS_VOLLEYBALL" => "volleyball",
        "TEAMSPORTS_HANDBALL" => "handball",
        "TEAMSPORTS_RUGBY" => "rugby",
        "TEAMSPORTS_HOCKEY" => "hockey",
        "TEAMSPORTS_FLOORBALL" => "floorball",
        "RACKET_SPORTS_TENNIS" => "tennis",
        "RACKET_SPORTS_BADMINTON" => "badminton",
        "RACKET_SPORTS_SQUASH" => "squash",
        "RACKET_SPORTS_TABLE_TENNIS" => "table_tennis",
        "RACKET_SPORTS_PADEL" => "padel",
        "COMBAT_SPORTS_BOXING" => "boxing",
        "COMBAT_SPORTS_MARTIAL_ARTS" | "KICKBOXING_MARTIAL_ARTS" => "martial_arts",
        "OUTDOOR_CLIMBING" => "rock_climbing",
        "INDOOR_CLIMBING" => "indoor_climbing",
        "ORIENTEERING" => "orienteering",
        "GOLF" => "golf",
        "INLINE_SKATING" => "inline_skating",
        "SKATEBOARDING" => "skateboarding",
        "HORSEBACK_RIDING" => "horseback_riding",
        "TRIATHLON" => "triathlon",
        "MOTORSPORTS" => "motor_sports",
        "DANCE" => "dance",
        _ => "",
    };
    if !by_detail.is_empty() {
        return by_detail;
    }
    match sport {
        "RUNNING" => "running",
        "CYCLING" => "cycling",
        "SWIMMING" => "swimming",
        "WALKING" => "walking",
        "STRENGTH_TRAINING" => "strength_training",
        "BASKETBALL" => "basketball",
        "SOCCER" => "soccer",
        "TENNIS" => "tennis",
        "MULTISPORT" => "multisport",
        "OTHER" if detail.is_none_or(str::is_empty) => "generic",
        _ => "other",
    }
}

/// What kind of Polar device a model name is.
fn device_type(model: &str) -> &'static str {
    let m = model.to_ascii_uppercase();
    if ["H10", "H9", "H7"].iter().any(|s| m.contains(s)) {
        "chest_strap"
    } else if ["VERITY", "OH1", "LOOP"].iter().any(|s| m.contains(s)) {
        "band"
    } else {
        "watch"
    }
}

fn source(device_model: &str, device_type: &str) -> SourceKey {
    SourceKey {
        provider: INFO.key.into(),
        device_model: device_model.into(),
        device_type: device_type.into(),
        app_name: "Polar Flow".into(),
    }
}

/// The 24/7 data (sleep, recharge, daily activity) comes from the wrist device without a model.
fn daily_source() -> SourceKey {
    source("", "watch")
}

/// A local time without offset (`2026-11-20T17:05:00`, fractions allowed) as UNIX ms, given
/// its offset from UTC in seconds.
fn local_ms(value: &str, offset_s: i32) -> Option<i64> {
    let trimmed = value.trim_end_matches('Z');
    let naive = NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M"))
        .ok()?;
    Some(naive.and_utc().timestamp_millis() - i64::from(offset_s) * 1000)
}

fn with_offset(value: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(value).ok()
}

/// A night's `HH:MM` keys as instants, in order: each key is the first time of that wall-clock
/// time at or after (a few minutes before) the night's start, so keys roll past midnight.
fn anchored<V: Copy>(start: &DateTime<FixedOffset>, keys: &BTreeMap<String, V>) -> Vec<(i64, V)> {
    let start_ms = start.timestamp_millis();
    let local_seconds = i64::from(chrono::Timelike::num_seconds_from_midnight(
        &start.naive_local().time(),
    ));
    let mut out: Vec<(i64, V)> = keys
        .iter()
        .filter_map(|(key, &value)| {
            let (h, m) = key.split_once(':')?;
            let (h, m): (i64, i64) = (h.parse().ok()?, m.get(..2)?.parse().ok()?);
            let mut delta = (h * 3600 + m * 60 - local_seconds).rem_euclid(86_400);
            // A key a few minutes before the start belongs to the start, not the next day.
            if delta >= 86_400 - 600 {
                delta -= 86_400;
            }
            Some(((start_ms + delta * 1000).max(start_ms), value))
        })
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out
}

/// Polar's hypnogram codes as owl's stages; 5 (unknown, e.g. poor contact) is left out.
fn stage(code: i64) -> Option<&'static str> {
    match code {
        0 => Some("awake"),
        1 => Some("rem"),
        2 | 3 => Some("light"),
        4 => Some("deep"),
        _ => None,
    }
}

fn night(n: &Night) -> Option<(DateTime<FixedOffset>, NewEvent, RawBatch)> {
    let start = with_offset(&n.sleep_start_time)?;
    let end = with_offset(&n.sleep_end_time)?;
    let (start_ms, end_ms) = (start.timestamp_millis(), end.timestamp_millis());
    if end_ms <= start_ms {
        return None;
    }
    let points = anchored(&start, &n.hypnogram);
    let mut stages = Vec::new();
    for (i, &(at, code)) in points.iter().enumerate() {
        let until = points.get(i + 1).map_or(end_ms, |p| p.0).min(end_ms);
        if let Some(stage) = stage(code)
            && until > at
        {
            stages.push(StageInterval {
                stage: stage.into(),
                start: at,
                end: until,
            });
        }
    }
    let asleep_s = [
        n.light_sleep,
        n.deep_sleep,
        n.rem_sleep,
        n.unrecognized_sleep_stage,
    ]
    .iter()
    .flatten()
    .sum::<i64>();
    let efficiency = (asleep_s > 0).then(|| {
        let percent = asleep_s as f64 * 1000.0 / (end_ms - start_ms) as f64 * 100.0;
        (percent.min(100.0) * 10.0).round() / 10.0
    });
    let offset = start.offset().local_minus_utc();
    let event = NewEvent {
        start: start_ms,
        end: end_ms,
        zone_offset: offset,
        body: EventBody::Sleep(SleepDetails {
            nap: false,
            efficiency_percent: efficiency,
            stages,
        }),
    };
    let heart = anchored(&start, &n.heart_rate_samples);
    let batch = series("heart_rate", "bpm", offset, heart);
    Some((start, event, batch))
}

fn series(series_type: &str, unit: &str, offset: i32, points: Vec<(i64, f64)>) -> RawBatch {
    RawBatch {
        source: daily_source(),
        series_type: series_type.into(),
        unit: unit.into(),
        zone_offsets: vec![offset; points.len()],
        times: points.iter().map(|p| p.0).collect(),
        values: points.iter().map(|p| p.1).collect(),
    }
}

fn exercise(e: &Exercise) -> Option<(SourceKey, NewEvent, Option<RawBatch>)> {
    let offset = e.start_time_utc_offset.unwrap_or(0) * 60;
    let start = local_ms(&e.start_time, offset)?;
    let duration = iso_duration_ms(&e.duration)?;
    if duration <= 0 {
        return None;
    }
    let model = e.device.clone().unwrap_or_default();
    let source = source(&model, device_type(&model));
    let sport = e.sport.as_deref().unwrap_or("OTHER");
    let hr = e.heart_rate.as_ref();
    let event = NewEvent {
        start,
        end: start + duration,
        zone_offset: offset,
        body: EventBody::Workout {
            workout_type: workout_type(sport, e.detailed_sport_info.as_deref()).into(),
            details: WorkoutDetails {
                distance_m: e.distance,
                active_energy_kcal: e.calories,
                steps: None,
                heart_rate_avg: hr.and_then(|h| h.average),
                heart_rate_max: hr.and_then(|h| h.maximum),
                elevation_gain_m: None,
            },
        },
    };
    // Sample type 0 is heart rate in bpm, one value per `recording-rate` seconds.
    let heart = e
        .samples
        .iter()
        .find(|s| s.sample_type == "0" && s.recording_rate > 0)
        .map(|s| {
            let points: Vec<(i64, f64)> = s
                .data
                .split(',')
                .enumerate()
                .filter_map(|(i, v)| {
                    let value: f64 = v.trim().parse().ok()?;
                    let at = start + i as i64 * s.recording_rate * 1000;
                    (value > 0.0 && at < start + duration).then_some((at, value))
                })
                .collect();
            RawBatch {
                source: source.clone(),
                ..series("heart_rate", "bpm", offset, points)
            }
        });
    Some((source, event, heart))
}

fn recharge(r: &Recharge, night: &DateTime<FixedOffset>, end_ms: i64) -> Vec<RawBatch> {
    let offset = night.offset().local_minus_utc();
    let mut out = Vec::new();
    for (series_type, unit, samples, average) in [
        (
            "heart_rate_variability_rmssd",
            "ms",
            &r.hrv_samples,
            r.heart_rate_variability_avg,
        ),
        (
            "respiratory_rate",
            "breaths/min",
            &r.breathing_samples,
            r.breathing_rate_avg,
        ),
    ] {
        let mut points = anchored(night, samples);
        // Without samples, the night's average stands at its end.
        if points.is_empty()
            && let Some(avg) = average
        {
            points.push((end_ms, avg));
        }
        points.retain(|p| p.0 <= end_ms);
        if !points.is_empty() {
            out.push(series(series_type, unit, offset, points));
        }
    }
    out
}

/// Instants (UNIX ms) and values of one series.
type Points = Vec<(i64, f64)>;

fn daily(days: &[DailyActivity], offset: i32) -> Vec<RawBatch> {
    let mut columns: BTreeMap<&str, (&str, Points)> = BTreeMap::new();
    for day in days {
        let Some(at) = local_ms(&day.start_time, offset) else {
            continue;
        };
        let basal = match (day.calories, day.active_calories) {
            (Some(total), Some(active)) if total >= active => Some(total - active),
            _ => None,
        };
        for (series_type, unit, value) in [
            ("steps", "count", day.steps),
            ("energy", "kcal", day.active_calories),
            ("basal_energy", "kcal", basal),
            ("distance_walking_running", "m", day.distance_from_steps),
        ] {
            if let Some(v) = value.filter(|v| v.is_finite() && *v >= 0.0) {
                columns
                    .entry(series_type)
                    .or_insert((unit, Vec::new()))
                    .1
                    .push((at, v));
            }
        }
    }
    columns
        .into_iter()
        .map(|(series_type, (unit, points))| series(series_type, unit, offset, points))
        .collect()
}

/// Reads owl's Polar cursor: the instant (UNIX ms) of the last sync.
fn read_cursor(cursor: &str) -> Option<i64> {
    cursor.strip_prefix("polar:v1:")?.parse().ok()
}

#[derive(Debug, Deserialize)]
struct Delivery {
    event: String,
    #[serde(default)]
    user_id: Option<serde_json::Value>,
}

#[async_trait]
impl Provider for Polar {
    fn info(&self) -> &ProviderInfo {
        &INFO
    }

    fn oauth(&self) -> &OAuthApp {
        &self.oauth
    }

    async fn account(&self, http: &Http, tokens: &Tokens) -> Result<String, ProviderError> {
        let user = tokens
            .account_id
            .clone()
            .ok_or_else(|| ProviderError::Malformed("no x_user_id in the token response".into()))?;
        let request = http
            .client()
            .post(format!("{}/v3/users", self.api_base))
            .bearer_auth(tokens.access_token.expose_secret())
            .header(http::header::ACCEPT, "application/json")
            .json(&serde_json::json!({ "member-id": format!("owl-{user}") }));
        // 409: registered already (a reconnect).
        rest::send(request, "register user", &[409], a_minute).await?;
        Ok(user)
    }

    async fn fetch(
        &self,
        http: &Http,
        access_token: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Fetched, ProviderError> {
        let now_ms = now.timestamp_millis();
        let exercises: Vec<Exercise> = self
            .get(http, access_token, "/v3/exercises?samples=true", false)
            .await?;
        let nights: Nights = self
            .get(http, access_token, "/v3/users/sleep", false)
            .await?;
        let recharges: Recharges = self
            .get(http, access_token, "/v3/users/nightly-recharge", false)
            .await?;
        // Re-read two days before the last sync: today's totals grow during the day.
        let from_ms = cursor
            .and_then(read_cursor)
            .map_or(now_ms - BACKFILL_DAYS * DAY_MS, |c| c - 2 * DAY_MS)
            .max(now_ms - (BACKFILL_DAYS - 1) * DAY_MS);
        let date = |ms: i64| {
            DateTime::from_timestamp_millis(ms)
                .map(|d| d.date_naive())
                .unwrap_or(NaiveDate::MIN)
                .format("%Y-%m-%d")
                .to_string()
        };
        let days: Vec<DailyActivity> = self
            .get(
                http,
                access_token,
                &format!(
                    "/v3/users/activities?from={}&to={}",
                    date(from_ms),
                    date(now_ms)
                ),
                false,
            )
            .await?;
        // Continuous heart rate comes one day per request: the last week at most.
        let mut heart_days = Vec::new();
        let first = from_ms.max(now_ms - (CONTINUOUS_HR_DAYS - 1) * DAY_MS);
        let mut day = DateTime::from_timestamp_millis(first).map(|d| d.date_naive());
        let today = now.date_naive();
        while let Some(d) = day.filter(|d| *d <= today) {
            let path = format!("/v3/users/continuous-heart-rate/{}", d.format("%Y-%m-%d"));
            let samples: ContinuousHr = self.get(http, access_token, &path, true).await?;
            heart_days.push((d, samples));
            day = d.succ_opt();
        }

        let mut fetched = Fetched::default();
        // The newest offset seen places the daily totals, which carry none.
        let mut newest_offset: Option<(i64, i32)> = None;
        let mut seen = |at: i64, offset: i32| {
            if newest_offset.is_none_or(|(t, _)| at > t) {
                newest_offset = Some((at, offset));
            }
        };
        for e in &exercises {
            if let Some((source, event, heart)) = exercise(e) {
                seen(event.start, event.zone_offset);
                fetched.events.push((source, event));
                fetched
                    .samples
                    .extend(heart.filter(|b| !b.times.is_empty()));
            }
        }
        let mut night_starts = BTreeMap::new();
        for n in &nights.nights {
            if let Some((start, event, heart)) = night(n) {
                seen(event.start, event.zone_offset);
                night_starts.insert(n.date.clone(), (start, event.end));
                fetched.events.push((daily_source(), event));
                if !heart.times.is_empty() {
                    fetched.samples.push(heart);
                }
            }
        }
        // Nightly Recharge keys are local times of the night of the same date.
        for r in &recharges.recharges {
            if let Some((start, end)) = night_starts.get(&r.date) {
                fetched.samples.extend(recharge(r, start, *end));
            }
        }
        let offset = newest_offset.map_or(0, |(_, o)| o);
        fetched.samples.extend(daily(&days, offset));
        let heart = continuous(&heart_days, offset);
        if !heart.times.is_empty() {
            fetched.samples.push(heart);
        }
        fetched.cursor = Some(format!("polar:v1:{now_ms}"));
        fetched.more = false;
        Ok(fetched)
    }

    async fn revoke(&self, http: &Http, tokens: &Tokens) -> Result<(), ProviderError> {
        let Some(user) = &tokens.account_id else {
            return Ok(());
        };
        let request = http
            .client()
            .delete(format!("{}/v3/users/{user}", self.api_base))
            .bearer_auth(tokens.access_token.expose_secret());
        // 404: deregistered already.
        rest::send(request, "deregister user", &[404], a_minute).await?;
        Ok(())
    }

    fn webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome, ProviderError> {
        let signature = request
            .headers
            .get("polar-webhook-signature")
            .and_then(|v| v.to_str().ok());
        let parsed = serde_json::from_slice::<Delivery>(&request.body);
        let Some(signature) = signature else {
            // Polar's PING on webhook creation may come unsigned; it asks nothing of owl.
            return match parsed {
                Ok(d) if d.event == "PING" => Ok(WebhookOutcome::Events(Vec::new())),
                _ => Err(ProviderError::Unauthorized(
                    "no Polar-Webhook-Signature".into(),
                )),
            };
        };
        let secret = self.webhook_secret.as_ref().ok_or_else(|| {
            ProviderError::Unauthorized("POLAR_WEBHOOK_SECRET is not configured".into())
        })?;
        if !rest::hmac_sha256_hex_matches(
            secret.expose_secret().as_bytes(),
            &request.body,
            signature,
        ) {
            return Err(ProviderError::Unauthorized("bad signature".into()));
        }
        let delivery = parsed.map_err(|e| ProviderError::Malformed(e.to_string()))?;
        let account = delivery.user_id.map(|id| match id {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        });
        Ok(WebhookOutcome::Events(
            match (delivery.event.as_str(), account) {
                ("PING", _) | (_, None) => Vec::new(),
                (_, Some(account_id)) => vec![WebhookEvent::Data { account_id }],
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::health::catalog::is_workout_type;

    #[test]
    fn every_mapped_sport_is_an_owl_workout_type() {
        for (sport, detail) in [
            ("RUNNING", Some("RUNNING_TRAIL")),
            ("OTHER", Some("WATERSPORTS_WATERSKI")),
            ("OTHER", None),
            ("OTHER", Some("SOMETHING_NEW")),
            ("CYCLING", None),
            ("STRENGTH_TRAINING", None),
        ] {
            assert!(is_workout_type(workout_type(sport, detail)), "{sport}");
        }
        assert_eq!(
            workout_type("RUNNING", Some("RUNNING_TRAIL")),
            "trail_running"
        );
        assert_eq!(workout_type("OTHER", None), "generic");
        assert_eq!(workout_type("OTHER", Some("SOMETHING_NEW")), "other");
        assert_eq!(workout_type("UNHEARD_OF", None), "other");
    }

    #[test]
    fn hypnogram_keys_roll_past_midnight_from_the_night_start() {
        let start = with_offset("2026-11-20T23:41:07+01:00").unwrap();
        let keys: BTreeMap<String, i64> = [("23:41", 2), ("00:32", 4), ("23:55", 3)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let points = anchored(&start, &keys);
        let start_ms = start.timestamp_millis();
        assert_eq!(points[0], (start_ms, 2), "a key just before the start");
        assert_eq!(points[1], (start_ms + (14 * 60 - 7) * 1000, 3));
        assert_eq!(points[2], (start_ms + (51 * 60 - 7) * 1000, 4));
    }
}
