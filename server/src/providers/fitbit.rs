//! Fitbit, read through the **Google Health API** (`https://health.googleapis.com/v4`): the
//! wearer's exercises, sleep with stages, steps, heart rate, resting heart rate and HRV,
//! pulled with Google OAuth 2.0. The provider key stays `fitbit` (and its `FITBIT_*`
//! variables), so Open Wearables deployments keep their configuration.
//!
//! - **Why not the Fitbit Web API**: Google renamed the Fitbit Web API to the Google Health API
//!   and rebuilt it on Google infrastructure (<https://developers.google.com/health/about>).
//!   The legacy API (`api.fitbit.com`) reaches end of support on 30 Sep 2026 and is turned down
//!   in autumn 2026 (30 Oct or 2 Nov, depending on the copy of the page), after which it and
//!   Fitbit's OAuth endpoints answer 410 Gone. Legacy tokens cannot be migrated: every user
//!   consents again through Google (<https://developers.google.com/health/migration>).
//! - **OAuth2**: consent at `accounts.google.com/o/oauth2/v2/auth` with **PKCE** (S256) and
//!   `access_type=offline` plus `prompt=consent` (the shared `OAuthApp::authorize_params`), so
//!   that Google issues a refresh token on every consent; tokens at
//!   `oauth2.googleapis.com/token` with the client credentials in the form body. Google does not
//!   rotate refresh tokens, so a refresh answer without one keeps the stored one. Access is
//!   revoked with `POST oauth2.googleapis.com/revoke?token=…` (the refresh token, which revokes
//!   the whole grant). The scopes are `googlehealth.activity_and_fitness.readonly`,
//!   `googlehealth.health_metrics_and_measurements.readonly` and `googlehealth.sleep.readonly`;
//!   a `FITBIT_DEFAULT_SCOPE` of legacy Fitbit scope names (`activity heartrate sleep profile`,
//!   as Open Wearables `.env` files have it) is replaced by them. **All Google Health API
//!   scopes are "restricted"**: a production deployment needs Google's verification (a
//!   restricted-scope security assessment); until then the OAuth client stays in testing, for
//!   at most 100 hand-added test users. The account id is `healthUserId` of
//!   `GET /v4/users/me/identity`.
//! - **Data** (`GET /v4/users/me/dataTypes/{data-type}/dataPoints`, pages of
//!   `{dataPoints: [...], nextPageToken}` continued with `pageToken`, `pageSize=1000`): the
//!   data type is kebab-case in the path and snake_case in the AIP-160 `filter`. `exercise` is
//!   listed without a filter (Open Wearables found its list takes no time range) and filtered
//!   here by start; `sleep` by `sleep.interval.end_time`; `steps` by `interval.start_time`;
//!   `heart-rate` and `heart-rate-variability` by `sample_time.physical_time`;
//!   `daily-resting-heart-rate` by `date`. A data type the user withheld the scope of answers
//!   403 and is skipped.
//! - **Units and zones**: distances and elevation come in **millimetres** (÷ 1000 → m),
//!   energy in kcal, durations and UTC offsets as protobuf durations (`"3600s"`); int64 values
//!   may come as JSON strings. Instants are RFC 3339 UTC; each interval and sample carries its
//!   own `startUtcOffset`/`utcOffset`, used as the zone offset (missing: the user's zone fills
//!   samples in, events get 0). Daily values (resting heart rate) name a civil `date`
//!   `{year, month, day}` only: they are stored at 12:00 UTC of that date, which falls on the
//!   same civil day in every zone from −12 h to +12 h, without an offset.
//! - **Normalized as**: workouts by `exerciseType` (see `exercise_types`; unknown → `other`)
//!   with `metricsSummary` distance, energy, steps, average heart rate and elevation gain, and
//!   `activeDuration` as the moving time;
//!   sleep sessions (`metadata.nap`) with their stage intervals (`AWAKE`, `LIGHT`, `DEEP`,
//!   `REM`, and the classic `ASLEEP`; `RESTLESS` counts as awake) clipped to the session; steps
//!   (count) at their interval's start; heart rate (bpm); resting heart rate (bpm); HRV as
//!   rMSSD and SDNN (ms). The source is the point's `dataSource.device` (`displayName`, else
//!   manufacturer and form factor).
//! - **Confirmed and inferred field names**: confirmed by Google's generated v4 client
//!   references (`Google.Apis.GoogleHealthAPI.v4.Data`, googleapis.dev / pub.dev):
//!   `ListDataPointsResponse{dataPoints, nextPageToken}` (the token is empty on the last page),
//!   `HeartRate{beatsPerMinute, sampleTime}`, `ObservationSampleTime{physicalTime, utcOffset}`
//!   (a protobuf duration) and `ObservationTimeInterval{startTime, endTime, civilStartTime …}`;
//!   the endpoint paths, kebab/snake data-type names, the filter syntax and the scopes by
//!   Google's endpoints, data-type and REST reference pages. **Inferred** from Open Wearables'
//!   Google Health parsers and UNCONFIRMED against Google's reference: `interval.startUtcOffset`,
//!   `exercise.exerciseType` and its values, `metricsSummary.*` (`caloriesKcal`,
//!   `distanceMillimeters`, `steps`, `averageHeartRateBeatsPerMinute`,
//!   `elevationGainMillimeters`), `sleep.metadata.nap`, `sleep.stages[]{type, startTime,
//!   endTime}`, `steps.count`, `dailyRestingHeartRate{date, beatsPerMinute}`,
//!   `heartRateVariability{rootMeanSquareOfSuccessiveDifferencesMilliseconds,
//!   standardDeviationMilliseconds}`, `dataSource.device{displayName, manufacturer, formFactor}`
//!   and `identity.healthUserId`; the revoke endpoint is Google OAuth's general one, not named on
//!   the Health API pages; that `exercise` takes no filter rests on Open Wearables alone.
//! - **Sync cursor** (`rest::Walk`): the six data types are walked page by page over a window,
//!   30 days back for a new connection, then from two days before the last window's end (late
//!   uploads); writes are idempotent, so the overlap changes nothing.
//! - **Rate limits**: Google's per-project quotas are not published for this API (they show in
//!   the Cloud console; excess answers 429 `RESOURCE_EXHAUSTED`). The budget is therefore the
//!   legacy Fitbit limit, 150 requests an hour, applied conservatively to the whole deployment.
//! - **No webhooks**: Google Health "subscribers" are project-level and managed with a service
//!   account, and their notification signing is not documented well enough to verify, so owl
//!   only pulls. A revoked grant shows as a refused refresh (`invalid_grant`).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer};

use super::rest::{self, Samples, Walk};
use super::{Defaults, Fetched, Http, OAuthApp, Provider, ProviderError, ProviderInfo, Tokens};
use crate::config::Config;
use crate::domain::health::events::{
    EventBody, NewEvent, SleepDetails, StageInterval, WorkoutDetails, moving_within,
};
use crate::domain::health::intake::MAX_MANUFACTURER;
use crate::domain::health::{RecordingMethod, SourceKey};

mod exercise_types;

pub use exercise_types::workout_type;

const BACKFILL_DAYS: i64 = 30;
/// Recent days are re-read on every sync: devices upload late.
const OVERLAP_MS: i64 = 2 * 86_400_000;
/// The page size Open Wearables lists with.
const PAGE_SIZE: &str = "1000";
/// The read-only scopes owl asks for, after `https://www.googleapis.com/auth/`.
const SCOPES: [&str; 3] = [
    "googlehealth.activity_and_fitness.readonly",
    "googlehealth.health_metrics_and_measurements.readonly",
    "googlehealth.sleep.readonly",
];
const SCOPE_BASE: &str = "https://www.googleapis.com/auth/";
/// Largest UTC offset a zone has, in seconds.
const MAX_OFFSET_S: f64 = 18.0 * 3600.0;

const INFO: ProviderInfo = ProviderInfo {
    key: "fitbit",
    display_name: "Fitbit",
    pull: true,
    push: false,
    data_types: &["workouts", "sleep", "activity", "heart_rate", "recovery"],
    backfill_days: BACKFILL_DAYS as i32,
    // Unpublished quotas: the legacy 150 requests an hour, for the whole deployment.
    budget: Some((150, std::time::Duration::from_secs(3600))),
};

const DEFAULTS: Defaults = Defaults {
    auth_base: "https://accounts.google.com",
    authorize_path: "/o/oauth2/v2/auth",
    token_path: "https://oauth2.googleapis.com/token",
    api_base: "https://health.googleapis.com",
    pkce: true,
    credentials_in_body: true,
};

/// The data types a sync walks, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Exercise,
    Sleep,
    Steps,
    HeartRate,
    RestingHeartRate,
    HeartRateVariability,
}

const STEPS: [Step; 6] = [
    Step::Exercise,
    Step::Sleep,
    Step::Steps,
    Step::HeartRate,
    Step::RestingHeartRate,
    Step::HeartRateVariability,
];

impl Step {
    /// The data type as the path names it.
    fn data_type(self) -> &'static str {
        match self {
            Step::Exercise => "exercise",
            Step::Sleep => "sleep",
            Step::Steps => "steps",
            Step::HeartRate => "heart-rate",
            Step::RestingHeartRate => "daily-resting-heart-rate",
            Step::HeartRateVariability => "heart-rate-variability",
        }
    }

    /// The `filter` bounding a list to the walk's window, if the data type takes one.
    fn filter(self, walk: &Walk) -> Option<String> {
        let at = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let (from, to) = (at(walk.from_time()), at(walk.to_time()));
        let between = |member: &str| format!("{member} >= \"{from}\" AND {member} < \"{to}\"");
        match self {
            Step::Exercise => None,
            Step::Sleep => Some(format!("sleep.interval.end_time >= \"{from}\"")),
            Step::Steps => Some(between("steps.interval.start_time")),
            Step::HeartRate => Some(between("heart_rate.sample_time.physical_time")),
            Step::RestingHeartRate => {
                // Days are the wearer's civil days: a day of slack either side.
                let day = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
                let member = "daily_resting_heart_rate.date";
                Some(format!(
                    "{member} >= \"{}\" AND {member} < \"{}\"",
                    day(walk.from_time() - chrono::Days::new(1)),
                    day(walk.to_time() + chrono::Days::new(1)),
                ))
            }
            Step::HeartRateVariability => {
                Some(between("heart_rate_variability.sample_time.physical_time"))
            }
        }
    }
}

/// The Fitbit provider, over the Google Health API.
pub struct Fitbit {
    oauth: OAuthApp,
    api_base: String,
    revoke_url: String,
}

impl Fitbit {
    /// Fitbit as the deployment configured it (`FITBIT_*` variables).
    pub fn new(config: &Config, public_url: &str) -> Self {
        let mut setup = super::setup(config, public_url, INFO.key, DEFAULTS);
        let oauth = &mut setup.oauth;
        if !oauth.scopes.iter().any(|s| s.starts_with(SCOPE_BASE)) {
            if !oauth.scopes.is_empty() {
                tracing::warn!(
                    scopes = %oauth.scopes.join(" "),
                    "legacy fitbit scopes replaced by the google health api scopes"
                );
            }
            oauth.scopes = SCOPES.iter().map(|s| format!("{SCOPE_BASE}{s}")).collect();
        }
        oauth.authorize_params = vec![
            ("access_type".into(), "offline".into()),
            ("prompt".into(), "consent".into()),
        ];
        // Google's revocation endpoint sits beside its token endpoint.
        let revoke_url = match oauth.token_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/revoke"),
            None => oauth.token_url.clone(),
        };
        Fitbit {
            oauth: setup.oauth,
            api_base: setup.api_base,
            revoke_url,
        }
    }

    fn url(&self, path: &str) -> Result<url::Url, ProviderError> {
        url::Url::parse(&format!("{}{path}", self.api_base))
            .map_err(|e| ProviderError::Malformed(format!("google health api url: {e}")))
    }

    fn page_url(&self, step: Step, walk: &Walk) -> Result<url::Url, ProviderError> {
        let mut url = self.url(&format!(
            "/v4/users/me/dataTypes/{}/dataPoints",
            step.data_type()
        ))?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("pageSize", PAGE_SIZE);
            if let Some(filter) = step.filter(walk) {
                query.append_pair("filter", &filter);
            }
            if let Some(token) = &walk.token {
                query.append_pair("pageToken", token);
            }
        }
        Ok(url)
    }
}

/// A number that protobuf JSON may send as a string (int64) or as a number.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
    .map(|n| n.filter(|v| v.is_finite()))
}

/// A protobuf duration (`"3600s"`, `"1.5s"`) in seconds.
fn seconds(value: Option<&str>) -> Option<f64> {
    value?.trim().strip_suffix('s')?.parse().ok()
}

/// A protobuf duration (`"3600s"`, `"-18000s"`) as a zone offset in seconds.
fn offset(value: Option<&str>) -> Option<i32> {
    let seconds = seconds(value)?;
    (seconds.abs() <= MAX_OFFSET_S).then(|| seconds.round() as i32)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default)]
    data_points: Vec<serde_json::Value>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Point {
    data_source: Option<DataSource>,
    exercise: Option<Exercise>,
    sleep: Option<Sleep>,
    steps: Option<StepCount>,
    heart_rate: Option<HeartRate>,
    daily_resting_heart_rate: Option<RestingHeartRate>,
    heart_rate_variability: Option<Variability>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DataSource {
    device: Option<Device>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Device {
    display_name: Option<String>,
    manufacturer: Option<String>,
    form_factor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Interval {
    start_time: String,
    end_time: String,
    start_utc_offset: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Exercise {
    exercise_type: Option<String>,
    interval: Interval,
    /// The time spent exercising, pauses excluded, as a protobuf duration (`"3120s"`).
    active_duration: Option<String>,
    metrics_summary: Option<Metrics>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    #[serde(default, deserialize_with = "number")]
    calories_kcal: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    distance_millimeters: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    steps: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    average_heart_rate_beats_per_minute: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    elevation_gain_millimeters: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Sleep {
    interval: Interval,
    metadata: Option<SleepMetadata>,
    #[serde(default)]
    stages: Vec<Stage>,
}

#[derive(Debug, Deserialize)]
struct SleepMetadata {
    nap: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stage {
    #[serde(rename = "type")]
    kind: String,
    start_time: String,
    end_time: String,
}

#[derive(Debug, Deserialize)]
struct StepCount {
    interval: Interval,
    #[serde(default, deserialize_with = "number")]
    count: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SampleTime {
    physical_time: String,
    utc_offset: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeartRate {
    sample_time: SampleTime,
    #[serde(default, deserialize_with = "number")]
    beats_per_minute: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestingHeartRate {
    date: CivilDate,
    #[serde(default, deserialize_with = "number")]
    beats_per_minute: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct CivilDate {
    year: i32,
    month: u32,
    day: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Variability {
    sample_time: SampleTime,
    #[serde(default, deserialize_with = "number")]
    root_mean_square_of_successive_differences_milliseconds: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    standard_deviation_milliseconds: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    health_user_id: String,
}

/// The source of a data point: its device, else the Fitbit account as a whole.
fn source(data_source: Option<&DataSource>) -> SourceKey {
    let device = data_source.and_then(|d| d.device.as_ref());
    let text = |s: &Option<String>| s.as_deref().map(str::trim).unwrap_or_default().to_owned();
    let model = device
        .map(|d| {
            let name = text(&d.display_name);
            if name.is_empty() {
                let parts = [text(&d.manufacturer), text(&d.form_factor).to_lowercase()];
                parts
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                name
            }
        })
        .unwrap_or_default();
    let form = device
        .map(|d| text(&d.form_factor).to_ascii_uppercase())
        .unwrap_or_default();
    let device_type = if form.contains("WATCH") {
        "watch"
    } else if form.contains("BAND") || form.contains("TRACKER") {
        "band"
    } else if form.contains("RING") {
        "ring"
    } else if form.contains("PHONE") {
        "phone"
    } else if form.contains("SCALE") {
        "scale"
    } else {
        ""
    };
    // A device names its maker (a Pixel Watch is Google's); the account as a whole says nothing.
    let manufacturer = device
        .map(|d| {
            text(&d.manufacturer)
                .chars()
                .take(MAX_MANUFACTURER)
                .collect()
        })
        .unwrap_or_default();
    SourceKey {
        provider: INFO.key.into(),
        device_model: model,
        device_type: device_type.into(),
        app_name: String::new(),
        recording_method: if device.is_some() {
            RecordingMethod::Automatic
        } else {
            RecordingMethod::Unspecified
        },
        manufacturer,
    }
}

/// Reads the data points of one page into events and samples; a point owl cannot read is
/// logged and skipped, so that it does not stop every later sync.
fn read(step: Step, points: Vec<serde_json::Value>, walk: &Walk, fetched: &mut Fetched) {
    let mut by_source: Vec<(SourceKey, Samples)> = Vec::new();
    for document in points {
        let point: Point = match serde_json::from_value(document) {
            Ok(point) => point,
            Err(error) => {
                tracing::warn!(data_type = step.data_type(), %error, "google health data point skipped");
                continue;
            }
        };
        let source = source(point.data_source.as_ref());
        let index = match by_source.iter().position(|(s, _)| *s == source) {
            Some(index) => index,
            None => {
                by_source.push((source.clone(), Samples::default()));
                by_source.len() - 1
            }
        };
        let samples = &mut by_source[index].1;
        let read = match step {
            Step::Exercise => point
                .exercise
                .is_some_and(|e| exercise(e, source, walk.from, fetched)),
            Step::Sleep => point.sleep.is_some_and(|s| sleep(s, source, fetched)),
            Step::Steps => point.steps.is_some_and(|s| steps(s, samples)),
            Step::HeartRate => point.heart_rate.is_some_and(|h| heart_rate(h, samples)),
            Step::RestingHeartRate => point
                .daily_resting_heart_rate
                .is_some_and(|r| resting_heart_rate(r, samples)),
            Step::HeartRateVariability => point
                .heart_rate_variability
                .is_some_and(|v| variability(v, samples)),
        };
        if !read {
            tracing::debug!(
                data_type = step.data_type(),
                "google health data point without usable values"
            );
        }
    }
    for (source, samples) in by_source {
        fetched.samples.extend(samples.into_batches(&source));
    }
}

/// The start and end of an interval (UNIX ms), if it is one.
fn span(interval: &Interval) -> Option<(i64, i64)> {
    let (start, _) = rest::instant(&interval.start_time)?;
    let (end, _) = rest::instant(&interval.end_time)?;
    (end > start).then_some((start, end))
}

fn exercise(e: Exercise, source: SourceKey, from: i64, fetched: &mut Fetched) -> bool {
    let Some((start, end)) = span(&e.interval) else {
        return false;
    };
    // The list takes no time range: what started before the window was read before.
    if start < from {
        return true;
    }
    let m = e.metrics_summary.unwrap_or_default();
    let metres = |mm: Option<f64>| mm.filter(|v| *v >= 0.0).map(|v| v / 1000.0);
    fetched.events.push((
        source,
        NewEvent {
            start,
            end,
            zone_offset: offset(e.interval.start_utc_offset.as_deref()).unwrap_or(0),
            body: EventBody::Workout {
                workout_type: workout_type(e.exercise_type.as_deref().unwrap_or_default()).into(),
                details: WorkoutDetails {
                    distance_m: metres(m.distance_millimeters),
                    active_energy_kcal: m.calories_kcal.filter(|c| *c >= 0.0),
                    steps: m.steps.filter(|s| *s >= 0.0).map(|s| s.round() as i64),
                    heart_rate_avg: m.average_heart_rate_beats_per_minute.filter(|h| *h > 0.0),
                    heart_rate_max: None,
                    elevation_gain_m: metres(m.elevation_gain_millimeters),
                    moving_seconds: moving_within(
                        seconds(e.active_duration.as_deref()),
                        start,
                        end,
                    ),
                },
            },
        },
    ));
    true
}

/// owl's sleep stage of a Google stage `type`.
fn stage(kind: &str) -> Option<&'static str> {
    match kind.trim().to_ascii_uppercase().as_str() {
        "AWAKE" | "RESTLESS" => Some("awake"),
        "LIGHT" => Some("light"),
        "DEEP" => Some("deep"),
        "REM" => Some("rem"),
        "ASLEEP" => Some("asleep"),
        _ => None,
    }
}

fn sleep(s: Sleep, source: SourceKey, fetched: &mut Fetched) -> bool {
    let Some((start, end)) = span(&s.interval) else {
        return false;
    };
    let mut stages: Vec<StageInterval> = s
        .stages
        .iter()
        .filter_map(|st| {
            let stage = stage(&st.kind)?;
            let (from, _) = rest::instant(&st.start_time)?;
            let (to, _) = rest::instant(&st.end_time)?;
            let (from, to) = (from.max(start), to.min(end));
            (to > from).then(|| StageInterval {
                stage: stage.into(),
                start: from,
                end: to,
            })
        })
        .collect();
    stages.sort_by_key(|st| st.start);
    fetched.events.push((
        source,
        NewEvent {
            start,
            end,
            zone_offset: offset(s.interval.start_utc_offset.as_deref()).unwrap_or(0),
            body: EventBody::Sleep(SleepDetails {
                nap: s.metadata.and_then(|m| m.nap).unwrap_or(false),
                efficiency_percent: None,
                stages,
                end_zone_offset: None,
            }),
        },
    ));
    true
}

fn steps(s: StepCount, samples: &mut Samples) -> bool {
    let Some((at, _)) = rest::instant(&s.interval.start_time) else {
        return false;
    };
    let at_offset = offset(s.interval.start_utc_offset.as_deref());
    let count = s.count.filter(|c| *c >= 0.0);
    // The count covers its interval; an end before the start or over a day counts as none.
    let duration = rest::instant(&s.interval.end_time)
        .map(|(end, _)| end - at)
        .filter(|d| (0..=86_400_000).contains(d))
        .unwrap_or(0);
    samples.push_interval("steps", "count", (at, duration), count, at_offset);
    count.is_some()
}

fn heart_rate(h: HeartRate, samples: &mut Samples) -> bool {
    let Some((at, _)) = rest::instant(&h.sample_time.physical_time) else {
        return false;
    };
    let bpm = h.beats_per_minute.filter(|b| *b > 0.0);
    let at_offset = offset(h.sample_time.utc_offset.as_deref());
    samples.push("heart_rate", "bpm", at, bpm, at_offset);
    bpm.is_some()
}

fn resting_heart_rate(r: RestingHeartRate, samples: &mut Samples) -> bool {
    let Some(noon) = NaiveDate::from_ymd_opt(r.date.year, r.date.month, r.date.day)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
    else {
        return false;
    };
    let at = noon.and_utc().timestamp_millis();
    let bpm = r.beats_per_minute.filter(|b| *b > 0.0);
    samples.push("resting_heart_rate", "bpm", at, bpm, None);
    bpm.is_some()
}

fn variability(v: Variability, samples: &mut Samples) -> bool {
    let Some((at, _)) = rest::instant(&v.sample_time.physical_time) else {
        return false;
    };
    let at_offset = offset(v.sample_time.utc_offset.as_deref());
    let rmssd = v
        .root_mean_square_of_successive_differences_milliseconds
        .filter(|ms| *ms >= 0.0);
    let sdnn = v.standard_deviation_milliseconds.filter(|ms| *ms >= 0.0);
    samples.push("heart_rate_variability_rmssd", "ms", at, rmssd, at_offset);
    samples.push("heart_rate_variability_sdnn", "ms", at, sdnn, at_offset);
    rmssd.is_some() || sdnn.is_some()
}

#[async_trait]
impl Provider for Fitbit {
    fn info(&self) -> &ProviderInfo {
        &INFO
    }

    fn oauth(&self) -> &OAuthApp {
        &self.oauth
    }

    async fn account(&self, http: &Http, tokens: &Tokens) -> Result<String, ProviderError> {
        let url = self.url("/v4/users/me/identity")?;
        let identity: Option<Identity> =
            rest::get_json(http, url, tokens.access_token.expose_secret()).await?;
        identity
            .map(|i| i.health_user_id)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ProviderError::Malformed("identity refused: no healthUserId".into()))
    }

    async fn fetch(
        &self,
        http: &Http,
        access_token: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Fetched, ProviderError> {
        let walk = Walk::resume(cursor, now, BACKFILL_DAYS, OVERLAP_MS, STEPS.len());
        let mut fetched = Fetched::default();
        let next = match STEPS.get(walk.step) {
            Some(&step) => {
                let page: Option<Page> =
                    rest::get_json(http, self.page_url(step, &walk)?, access_token).await?;
                page.and_then(|page| {
                    read(step, page.data_points, &walk, &mut fetched);
                    page.next_page_token
                })
            }
            None => None,
        };
        let (cursor, more) = walk.after(next, STEPS.len());
        fetched.cursor = Some(cursor);
        fetched.more = more;
        Ok(fetched)
    }

    async fn revoke(&self, http: &Http, tokens: &Tokens) -> Result<(), ProviderError> {
        // Revoking the refresh token ends the whole grant, its access tokens with it.
        let token = tokens
            .refresh_token
            .as_ref()
            .unwrap_or(&tokens.access_token);
        let mut url = url::Url::parse(&self.revoke_url)
            .map_err(|e| ProviderError::Malformed(format!("google revoke url: {e}")))?;
        url.query_pairs_mut()
            .append_pair("token", token.expose_secret());
        let request = http.client().post(url.as_str()).header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
        rest::send(request, "/revoke").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk() -> Walk {
        Walk {
            from: 1_795_000_000_000,
            to: 1_795_100_000_000,
            step: 0,
            token: None,
        }
    }

    #[test]
    fn offsets_are_protobuf_durations_within_a_day() {
        assert_eq!(offset(Some("3600s")), Some(3600));
        assert_eq!(offset(Some("-18000s")), Some(-18000));
        assert_eq!(offset(Some("19800.0s")), Some(19800));
        assert_eq!(offset(Some("3600")), None, "a duration ends in s");
        assert_eq!(offset(Some("90000s")), None, "beyond 18 hours");
        assert_eq!(offset(None), None);
    }

    #[test]
    fn int64_values_are_read_from_strings_and_numbers() {
        let m: Metrics = serde_json::from_value(serde_json::json!({
            "caloriesKcal": 612.5,
            "distanceMillimeters": "10012400",
            "steps": "x"
        }))
        .unwrap();
        assert_eq!(m.calories_kcal, Some(612.5));
        assert_eq!(m.distance_millimeters, Some(10_012_400.0));
        assert_eq!(m.steps, None);
    }

    #[test]
    fn filters_name_the_snake_case_member_of_each_data_type() {
        let w = walk();
        assert_eq!(Step::Exercise.filter(&w), None);
        assert_eq!(
            Step::HeartRate.filter(&w).unwrap(),
            "heart_rate.sample_time.physical_time >= \"2026-11-18T11:06:40Z\" \
             AND heart_rate.sample_time.physical_time < \"2026-11-19T14:53:20Z\""
        );
        assert_eq!(
            Step::Sleep.filter(&w).unwrap(),
            "sleep.interval.end_time >= \"2026-11-18T11:06:40Z\""
        );
        assert_eq!(
            Step::RestingHeartRate.filter(&w).unwrap(),
            "daily_resting_heart_rate.date >= \"2026-11-17\" \
             AND daily_resting_heart_rate.date < \"2026-11-20\""
        );
    }

    #[test]
    fn the_source_is_the_device_by_display_name_else_maker_and_form() {
        let ds: DataSource = serde_json::from_value(serde_json::json!({
            "device": {"manufacturer": "Google", "formFactor": "WATCH"}
        }))
        .unwrap();
        let s = source(Some(&ds));
        assert_eq!(
            (s.device_model.as_str(), s.device_type.as_str()),
            ("Google watch", "watch")
        );
        let ds: DataSource = serde_json::from_value(serde_json::json!({
            "device": {"displayName": "Charge 6", "formFactor": "FITNESS_BAND"}
        }))
        .unwrap();
        let s = source(Some(&ds));
        assert_eq!(
            (s.device_model.as_str(), s.device_type.as_str()),
            ("Charge 6", "band")
        );
        assert_eq!(source(None).provider, "fitbit");
    }

    #[test]
    fn sleep_stages_are_mapped_clipped_and_sorted() {
        let s: Sleep = serde_json::from_value(serde_json::json!({
            "interval": {"startTime": "2026-01-12T22:00:00Z", "endTime": "2026-01-13T06:00:00Z"},
            "stages": [
                {"type": "DEEP", "startTime": "2026-01-12T23:00:00Z", "endTime": "2026-01-12T23:30:00Z"},
                {"type": "AWAKE", "startTime": "2026-01-12T21:50:00Z", "endTime": "2026-01-12T22:10:00Z"},
                {"type": "UNKNOWN_STAGE", "startTime": "2026-01-12T23:30:00Z", "endTime": "2026-01-12T23:40:00Z"}
            ]
        }))
        .unwrap();
        let mut fetched = Fetched::default();
        assert!(sleep(s, source(None), &mut fetched));
        let (_, event) = &fetched.events[0];
        let EventBody::Sleep(details) = &event.body else {
            panic!("{event:?}");
        };
        let got: Vec<_> = details
            .stages
            .iter()
            .map(|s| (s.stage.as_str(), (s.end - s.start) / 60_000))
            .collect();
        assert_eq!(got, [("awake", 10), ("deep", 30)]);
        assert!(!details.nap);
    }
}
