//! Oura (API v2, `https://api.ouraring.com/v2/usercollection/...`): the ring's workouts, sleep
//! periods with stages, daily activity, readiness and heart rate, pulled with OAuth2 and
//! announced by webhooks.
//!
//! - **OAuth2**: consent at `cloud.ouraring.com/oauth/authorize` (space-separated scopes, no
//!   PKCE), tokens at `api.ouraring.com/oauth/token` with the client credentials in the form body.
//!   Refresh tokens are **single-use and rotate**: every refresh answers a new one, which owl
//!   stores at once; presenting a spent one is refused (the connection then expires). Access is
//!   revoked with `POST /oauth/revoke?access_token=…`. The account id is `personal_info.id`
//!   (scope `personal`), the id webhooks name.
//! - **Data** (`{data: [...], next_token}` pages): `workout`, `sleep`, `daily_activity` and
//!   `daily_readiness` take a `start_date`/`end_date` day window; `heartrate` takes
//!   `start_datetime`/`end_datetime`. Times carry the wearer's UTC offset (heart rate is in UTC,
//!   so its offsets come from the user's zone). A collection the user withheld the scope of
//!   answers 403 and is skipped.
//! - **Normalized as**: workouts by `activity` (see `workout_type`; unknown → `other`), calories
//!   kcal, distance m; sleep periods (`deleted` ones skipped, all but `long_sleep` are naps)
//!   with stages from the **5-minute hypnogram** `sleep_phase_5_min` (`1` deep, `2` light,
//!   `3` REM, `4` awake) and efficiency; the main sleep's lowest heart rate (resting heart rate),
//!   average HRV (rMSSD, ms) and breathing rate as samples at its end; daily steps, active and
//!   basal energy and equivalent walking distance at the day's `timestamp`; readiness
//!   temperature deviations; the heart-rate time series in bpm.
//! - **Sync cursor** (`rest::Walk`): the five collections are walked page by page over a window,
//!   30 days back for a new connection, then from two days before the last window's end (Oura
//!   revises recent days); writes are idempotent, so the overlap changes nothing.
//! - **Webhooks** (`/api/v1/providers/oura/webhooks`): subscriptions are app-level; creating one
//!   makes Oura `GET` the callback with `verification_token` and `challenge`, answered with
//!   `{"challenge": …}` when the token is `OURA_WEBHOOK_VERIFICATION_TOKEN`. Deliveries are
//!   notifications (`{event_type, data_type, object_id, user_id}`) signed in `x-oura-signature`:
//!   upper-case hex of HMAC-SHA256 keyed with the client secret over the `x-oura-timestamp`
//!   header followed by the raw body (compared case-insensitively). The timestamp's format is
//!   not documented, so its age is not checked: a replayed delivery only asks for a sync, which
//!   joins the one already pending. `create`/`update` events sync
//!   the account; `delete` events are ignored (owl does not mirror deletions). Oura sends no
//!   deauthorization event: a revoked grant shows as a refused refresh.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::rest::{self, Samples, Walk};
use super::{
    Defaults, Fetched, Http, OAuthApp, Provider, ProviderError, ProviderInfo, Tokens, WebhookEvent,
    WebhookOutcome, WebhookRequest,
};
use crate::config::Config;
use crate::domain::health::events::{
    EventBody, NewEvent, SleepDetails, StageInterval, WorkoutDetails,
};
use crate::domain::health::{RecordingMethod, SourceKey};

const BACKFILL_DAYS: i64 = 30;
/// Recent days are re-read on every sync: Oura finishes a day's documents after it ends.
const OVERLAP_MS: i64 = 2 * 86_400_000;
/// One character of `sleep_phase_5_min` covers five minutes.
const EPOCH_MS: i64 = 300_000;

const INFO: ProviderInfo = ProviderInfo {
    key: "oura",
    display_name: "Oura",
    pull: true,
    push: true,
    data_types: &["workouts", "sleep", "activity", "heart_rate", "recovery"],
    backfill_days: BACKFILL_DAYS as i32,
    // 5,000 requests per 5 minutes; a page is one request.
    budget: Some((5_000, std::time::Duration::from_secs(300))),
};

const DEFAULTS: Defaults = Defaults {
    auth_base: "https://cloud.ouraring.com",
    authorize_path: "/oauth/authorize",
    token_path: "https://api.ouraring.com/oauth/token",
    api_base: "https://api.ouraring.com",
    pkce: false,
    credentials_in_body: true,
};

/// The collections a sync walks, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Workouts,
    Sleep,
    DailyActivity,
    Readiness,
    HeartRate,
}

const STEPS: [Step; 5] = [
    Step::Workouts,
    Step::Sleep,
    Step::DailyActivity,
    Step::Readiness,
    Step::HeartRate,
];

impl Step {
    fn path(self) -> &'static str {
        match self {
            Step::Workouts => "/v2/usercollection/workout",
            Step::Sleep => "/v2/usercollection/sleep",
            Step::DailyActivity => "/v2/usercollection/daily_activity",
            Step::Readiness => "/v2/usercollection/daily_readiness",
            Step::HeartRate => "/v2/usercollection/heartrate",
        }
    }
}

/// The Oura provider.
pub struct Oura {
    oauth: OAuthApp,
    api_base: String,
    revoke_url: String,
    verification_token: Option<SecretString>,
}

impl Oura {
    /// Oura as the deployment configured it (`OURA_*` variables).
    pub fn new(config: &Config, public_url: &str) -> Self {
        let setup = super::setup(config, public_url, INFO.key, DEFAULTS);
        // The revocation endpoint sits beside the token endpoint.
        let revoke_url = match setup.oauth.token_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/revoke"),
            None => setup.oauth.token_url.clone(),
        };
        Oura {
            oauth: setup.oauth,
            api_base: setup.api_base,
            revoke_url,
            verification_token: setup.config.extra_secret,
        }
    }

    fn url(&self, path: &str) -> Result<url::Url, ProviderError> {
        url::Url::parse(&format!("{}{path}", self.api_base))
            .map_err(|e| ProviderError::Malformed(format!("oura api url: {e}")))
    }

    fn page_url(&self, step: Step, walk: &Walk) -> Result<url::Url, ProviderError> {
        let mut url = self.url(step.path())?;
        {
            let mut query = url.query_pairs_mut();
            if step == Step::HeartRate {
                let at = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                query
                    .append_pair("start_datetime", &at(walk.from_time()))
                    .append_pair("end_datetime", &at(walk.to_time()));
            } else {
                // Documents are filed by the wearer's local day: a day of slack either side.
                let day = |t: DateTime<Utc>| t.format("%Y-%m-%d").to_string();
                query
                    .append_pair("start_date", &day(walk.from_time() - chrono::Days::new(1)))
                    .append_pair("end_date", &day(walk.to_time() + chrono::Days::new(1)));
            }
            if let Some(token) = &walk.token {
                query.append_pair("next_token", token);
            }
        }
        Ok(url)
    }
}

fn source() -> SourceKey {
    SourceKey {
        provider: INFO.key.into(),
        device_model: "Oura Ring".into(),
        device_type: "ring".into(),
        app_name: String::new(),
        manufacturer: "Oura".into(),
        recording_method: RecordingMethod::Automatic,
    }
}

/// owl's workout type of an Oura `activity`; unknown activities are `other`.
pub fn workout_type(activity: &str) -> &'static str {
    match activity.trim().to_ascii_lowercase().as_str() {
        "running" => "running",
        "trail_running" => "trail_running",
        "treadmill_running" | "treadmill" => "treadmill",
        "walking" => "walking",
        "hiking" => "hiking",
        "cycling" => "cycling",
        "mountain_biking" => "mountain_biking",
        "indoor_cycling" | "spinning" => "indoor_cycling",
        "swimming" => "swimming",
        "rowing" => "rowing",
        "kayaking" => "kayaking",
        "canoeing" => "canoeing",
        "stand_up_paddling" => "stand_up_paddleboarding",
        "surfing" => "surfing",
        "sailing" => "sailing",
        "water_polo" => "water_polo",
        "strength_training" | "weightlifting" | "functional_training" => "strength_training",
        "hiit" | "circuit_training" | "jump_rope" | "cardio" => "cardio_training",
        "elliptical" => "elliptical",
        "stair_climbing" | "stair_exercise" => "stair_climbing",
        "yoga" => "yoga",
        "pilates" => "pilates",
        "stretching" => "stretching",
        "meditation" | "breathwork" => "meditation",
        "skiing" | "downhill_skiing" => "alpine_skiing",
        "cross_country_skiing" => "cross_country_skiing",
        "snowboarding" => "snowboarding",
        "ice_skating" => "ice_skating",
        "soccer" => "soccer",
        "basketball" => "basketball",
        "volleyball" => "volleyball",
        "baseball" => "baseball",
        "rugby" => "rugby",
        "cricket" => "cricket",
        "handball" => "handball",
        "lacrosse" => "lacrosse",
        "american_football" => "american_football",
        "ice_hockey" | "field_hockey" | "hockey" => "hockey",
        "tennis" => "tennis",
        "squash" => "squash",
        "badminton" => "badminton",
        "table_tennis" => "table_tennis",
        "pickleball" => "pickleball",
        "padel" => "padel",
        "boxing" => "boxing",
        "martial_arts" => "martial_arts",
        "wrestling" => "wrestling",
        "rock_climbing" | "climbing" => "rock_climbing",
        "golf" => "golf",
        "inline_skating" => "inline_skating",
        "skateboarding" => "skateboarding",
        "horseback_riding" => "horseback_riding",
        "dancing" | "dance" => "dance",
        "group_exercise" => "group_exercise",
        "aerobics" => "aerobics",
        "gymnastics" => "gymnastics",
        "triathlon" => "triathlon",
        "activity" | "workout" => "generic",
        "rest" | "recovery" => "recovery",
        _ => "other",
    }
}

/// Stage intervals of a 5-minute hypnogram starting at `start`, merged where the stage repeats
/// and clipped to `end`; characters other than `1`–`4` leave a gap.
pub fn hypnogram_stages(phases: &str, start: i64, end: i64) -> Vec<StageInterval> {
    let mut stages: Vec<StageInterval> = Vec::new();
    for (i, c) in phases.chars().enumerate() {
        let stage = match c {
            '1' => "deep",
            '2' => "light",
            '3' => "rem",
            '4' => "awake",
            _ => continue,
        };
        let from = start + i as i64 * EPOCH_MS;
        let to = (from + EPOCH_MS).min(end);
        if from >= to {
            break;
        }
        match stages.last_mut() {
            Some(last) if last.stage == stage && last.end == from => last.end = to,
            _ => stages.push(StageInterval {
                stage: stage.into(),
                start: from,
                end: to,
            }),
        }
    }
    stages
}

#[derive(Debug, Deserialize)]
struct Page {
    data: Vec<serde_json::Value>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Workout {
    activity: String,
    calories: Option<f64>,
    distance: Option<f64>,
    start_datetime: String,
    end_datetime: String,
}

#[derive(Debug, Deserialize)]
struct Sleep {
    #[serde(rename = "type")]
    kind: Option<String>,
    bedtime_start: String,
    bedtime_end: String,
    efficiency: Option<f64>,
    sleep_phase_5_min: Option<String>,
    lowest_heart_rate: Option<f64>,
    average_hrv: Option<f64>,
    average_breath: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct DailyActivity {
    timestamp: String,
    steps: Option<f64>,
    active_calories: Option<f64>,
    total_calories: Option<f64>,
    equivalent_walking_distance: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Readiness {
    timestamp: String,
    temperature_deviation: Option<f64>,
    temperature_trend_deviation: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct HeartRate {
    bpm: f64,
    timestamp: String,
}

#[derive(Debug, Deserialize)]
struct PersonalInfo {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Notification {
    event_type: String,
    #[serde(default)]
    data_type: Option<String>,
    user_id: String,
}

/// Reads the documents of one page into events and samples; a document owl cannot read is
/// logged and skipped, so that it does not stop every later sync.
fn read(step: Step, data: Vec<serde_json::Value>, fetched: &mut Fetched) {
    let mut samples = Samples::default();
    for document in data {
        let read = match step {
            Step::Workouts => serde_json::from_value(document).map(|w| workout(w, fetched)),
            Step::Sleep => {
                serde_json::from_value(document).map(|s| sleep(s, fetched, &mut samples))
            }
            Step::DailyActivity => {
                serde_json::from_value(document).map(|d| activity(d, &mut samples))
            }
            Step::Readiness => serde_json::from_value(document).map(|r| readiness(r, &mut samples)),
            Step::HeartRate => {
                serde_json::from_value(document).map(|h| heart_rate(h, &mut samples))
            }
        };
        match read {
            Ok(true) => {}
            Ok(false) => tracing::debug!(path = step.path(), "oura document without usable times"),
            Err(error) => tracing::warn!(path = step.path(), %error, "oura document skipped"),
        }
    }
    fetched.samples = samples.into_batches(&source());
}

fn workout(w: Workout, fetched: &mut Fetched) -> bool {
    let (Some((start, offset)), Some((end, _))) = (
        rest::instant(&w.start_datetime),
        rest::instant(&w.end_datetime),
    ) else {
        return false;
    };
    if end <= start {
        return false;
    }
    fetched.events.push((
        source(),
        NewEvent {
            start,
            end,
            zone_offset: offset,
            body: EventBody::Workout {
                workout_type: workout_type(&w.activity).into(),
                details: WorkoutDetails {
                    distance_m: w.distance.filter(|d| *d >= 0.0),
                    active_energy_kcal: w.calories.filter(|c| *c >= 0.0),
                    ..WorkoutDetails::default()
                },
            },
        },
    ));
    true
}

fn sleep(s: Sleep, fetched: &mut Fetched, samples: &mut Samples) -> bool {
    let kind = s.kind.as_deref().unwrap_or("long_sleep");
    if kind == "deleted" {
        return true;
    }
    let (Some((start, offset)), Some((end, end_offset))) = (
        rest::instant(&s.bedtime_start),
        rest::instant(&s.bedtime_end),
    ) else {
        return false;
    };
    if end <= start {
        return false;
    }
    let nap = kind != "long_sleep";
    if !nap {
        let at = Some(end_offset);
        samples.push("resting_heart_rate", "bpm", end, s.lowest_heart_rate, at);
        samples.push("heart_rate_variability_rmssd", "ms", end, s.average_hrv, at);
        samples.push("respiratory_rate", "breaths/min", end, s.average_breath, at);
    }
    fetched.events.push((
        source(),
        NewEvent {
            start,
            end,
            zone_offset: offset,
            body: EventBody::Sleep(SleepDetails {
                nap,
                efficiency_percent: s.efficiency.filter(|e| (0.0..=100.0).contains(e)),
                stages: s
                    .sleep_phase_5_min
                    .as_deref()
                    .map(|p| hypnogram_stages(p, start, end))
                    .unwrap_or_default(),
                // bedtime_end carries its own offset (a night on a flight ends elsewhere).
                end_zone_offset: (end_offset != offset).then_some(end_offset),
            }),
        },
    ));
    true
}

fn activity(d: DailyActivity, samples: &mut Samples) -> bool {
    let Some((at, offset)) = rest::instant(&d.timestamp) else {
        return false;
    };
    let offset = Some(offset);
    samples.push("steps", "count", at, d.steps, offset);
    samples.push("energy", "kcal", at, d.active_calories, offset);
    let basal = d
        .total_calories
        .zip(d.active_calories)
        .map(|(total, active)| total - active)
        .filter(|b| *b >= 0.0);
    samples.push("basal_energy", "kcal", at, basal, offset);
    samples.push(
        "distance_walking_running",
        "m",
        at,
        d.equivalent_walking_distance,
        offset,
    );
    true
}

fn readiness(r: Readiness, samples: &mut Samples) -> bool {
    let Some((at, offset)) = rest::instant(&r.timestamp) else {
        return false;
    };
    let offset = Some(offset);
    let deviation = r.temperature_deviation;
    samples.push("skin_temperature_deviation", "degC", at, deviation, offset);
    let trend = r.temperature_trend_deviation;
    samples.push(
        "skin_temperature_trend_deviation",
        "degC",
        at,
        trend,
        offset,
    );
    true
}

fn heart_rate(h: HeartRate, samples: &mut Samples) -> bool {
    let Some((at, offset)) = rest::instant(&h.timestamp) else {
        return false;
    };
    // Rows come in UTC: a zero offset says nothing of where the wearer was.
    let offset = (offset != 0).then_some(offset);
    samples.push("heart_rate", "bpm", at, Some(h.bpm), offset);
    true
}

/// Whether `signature` is the HMAC-SHA256 of `timestamp` and `body` under `key`.
fn signed(key: &[u8], timestamp: &str, body: &[u8], signature: &str) -> bool {
    super::rest::hmac_sha256_hex_matches(key, &[timestamp.as_bytes(), body], signature)
}

#[async_trait]
impl Provider for Oura {
    fn info(&self) -> &ProviderInfo {
        &INFO
    }

    fn oauth(&self) -> &OAuthApp {
        &self.oauth
    }

    async fn account(&self, http: &Http, tokens: &Tokens) -> Result<String, ProviderError> {
        let url = self.url("/v2/usercollection/personal_info")?;
        let info: Option<PersonalInfo> =
            rest::get_json(http, url, tokens.access_token.expose_secret()).await?;
        info.map(|i| i.id)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                ProviderError::Malformed(
                    "personal_info refused: the personal scope is needed".into(),
                )
            })
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
                    read(step, page.data, &mut fetched);
                    page.next_token
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
        let mut url = url::Url::parse(&self.revoke_url)
            .map_err(|e| ProviderError::Malformed(format!("oura revoke url: {e}")))?;
        url.query_pairs_mut()
            .append_pair("access_token", tokens.access_token.expose_secret());
        rest::send(http.client().post(url.as_str()), "/oauth/revoke").await
    }

    fn webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome, ProviderError> {
        if request.method == http::Method::GET {
            let token = request.query.get("verification_token");
            let expected = self.verification_token.as_ref();
            let matches = match (token, expected) {
                (Some(token), Some(expected)) => {
                    crate::crypto::digests_match(token, expected.expose_secret())
                }
                _ => false,
            };
            if !matches {
                return Err(ProviderError::Unauthorized(
                    "unknown subscription verification token".into(),
                ));
            }
            let challenge = request.query.get("challenge").cloned().unwrap_or_default();
            return Ok(WebhookOutcome::Challenge(
                serde_json::json!({ "challenge": challenge }).to_string(),
            ));
        }
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        };
        let secret =
            self.oauth.client_secret.as_ref().ok_or_else(|| {
                ProviderError::Unauthorized("no client secret to verify with".into())
            })?;
        let (signature, timestamp) = (header("x-oura-signature"), header("x-oura-timestamp"));
        if signature.is_empty()
            || timestamp.is_empty()
            || !signed(
                secret.expose_secret().as_bytes(),
                timestamp,
                &request.body,
                signature,
            )
        {
            return Err(ProviderError::Unauthorized("bad x-oura-signature".into()));
        }
        let note: Notification = serde_json::from_slice(&request.body)
            .map_err(|e| ProviderError::Malformed(format!("oura notification: {e}")))?;
        tracing::debug!(event = %note.event_type, data = ?note.data_type, "oura notification");
        if note.event_type == "delete" {
            return Ok(WebhookOutcome::Events(Vec::new()));
        }
        Ok(WebhookOutcome::Events(vec![WebhookEvent::Data {
            account_id: note.user_id,
        }]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::health::catalog::is_workout_type;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    #[test]
    fn every_mapped_activity_is_an_owl_workout_type() {
        for activity in [
            "running",
            "trail_running",
            "walking",
            "hiking",
            "cycling",
            "mountain_biking",
            "indoor_cycling",
            "swimming",
            "rowing",
            "kayaking",
            "stand_up_paddling",
            "surfing",
            "sailing",
            "water_polo",
            "strength_training",
            "weightlifting",
            "functional_training",
            "hiit",
            "circuit_training",
            "elliptical",
            "stair_climbing",
            "jump_rope",
            "yoga",
            "pilates",
            "stretching",
            "meditation",
            "breathwork",
            "skiing",
            "cross_country_skiing",
            "snowboarding",
            "ice_skating",
            "soccer",
            "basketball",
            "volleyball",
            "baseball",
            "rugby",
            "cricket",
            "handball",
            "lacrosse",
            "american_football",
            "ice_hockey",
            "field_hockey",
            "tennis",
            "squash",
            "badminton",
            "table_tennis",
            "pickleball",
            "padel",
            "boxing",
            "martial_arts",
            "wrestling",
            "rock_climbing",
            "climbing",
            "golf",
            "inline_skating",
            "skateboarding",
            "horseback_riding",
            "dancing",
            "dance",
            "group_exercise",
            "aerobics",
            "gymnastics",
            "triathlon",
            "other",
            "activity",
            "workout",
            "rest",
            "recovery",
            "treadmill",
            "canoeing",
        ] {
            let code = workout_type(activity);
            assert!(is_workout_type(code), "{activity} → {code}");
        }
        assert_eq!(workout_type("Stand_Up_Paddling"), "stand_up_paddleboarding");
        assert_eq!(workout_type("underwater_basket_weaving"), "other");
    }

    #[test]
    fn the_hypnogram_becomes_merged_stage_intervals_clipped_to_the_session() {
        let stages = hypnogram_stages("4422x13", 0, 6 * EPOCH_MS + 60_000);
        let got: Vec<_> = stages
            .iter()
            .map(|s| (s.stage.as_str(), s.start / 60_000, s.end / 60_000))
            .collect();
        assert_eq!(
            got,
            [
                ("awake", 0, 10),
                ("light", 10, 20),
                ("deep", 25, 30),
                ("rem", 30, 31)
            ]
        );
    }

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_and_body_in_hex_of_either_case() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"1700000000{\"a\":1}");
        let hex = hex::encode_upper(mac.finalize().into_bytes());
        assert!(signed(b"secret", "1700000000", b"{\"a\":1}", &hex));
        assert!(signed(
            b"secret",
            "1700000000",
            b"{\"a\":1}",
            &hex.to_lowercase()
        ));
        assert!(!signed(b"secret", "1700000001", b"{\"a\":1}", &hex));
        assert!(!signed(b"other", "1700000000", b"{\"a\":1}", &hex));
        assert!(!signed(b"secret", "1700000000", b"{\"a\":1}", "zz"));
    }
}
