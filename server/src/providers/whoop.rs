//! WHOOP (Developer API v2, `https://api.prod.whoop.com/developer/v2/...`): the band's
//! workouts, sleeps and recoveries, pulled with OAuth2 and announced by webhooks.
//!
//! - **OAuth2**: consent at `/oauth/oauth2/auth`, tokens at `/oauth/oauth2/token` with the
//!   client credentials in the form body, no PKCE. Only the **`offline`** scope brings a refresh
//!   token, and a refresh asks for `offline` again; refresh tokens **rotate** (every refresh
//!   answers a new one, which owl stores). The account id is `user_id` of
//!   `/v2/user/profile/basic` (scope `read:profile`); `DELETE /v2/user/access` revokes owl's
//!   access and stops the user's webhooks.
//! - **Data**: `/v2/activity/workout`, `/v2/activity/sleep` and `/v2/recovery` take `start`
//!   (inclusive), `end` (exclusive), `limit` (at most 25) and `nextToken`, and answer
//!   `{records: [...], next_token}`. Times are UTC with a separate `timezone_offset`
//!   (`+hh:mm`, `-hh:mm` or `Z`); `score` is present only when `score_state` is `SCORED`.
//!   Cycles (a physiological day's strain and total kilojoules, basal included) have no owl
//!   series to go to and are not read; nor is there any intraday heart rate in the public API.
//! - **Normalized as**: workouts by `sport_name` (see `workout_type`; unknown → `other`) with
//!   energy converted from **kilojoules to kcal** (÷ 4.184), distance and altitude gain in m,
//!   average and maximum heart rate; sleeps with efficiency, nap flag and the respiratory rate
//!   at their end — WHOOP gives only stage *totals*, no hypnogram, so sessions carry no stage
//!   intervals; recoveries as resting heart rate, HRV (rMSSD, ms), SpO2 and skin temperature at
//!   the time WHOOP scored them (`created_at`; a recovery has no time or offset of its own).
//! - **Sync cursor** (`rest::Walk`): the three collections are walked page by page over a
//!   window, 30 days back for a new connection, then from two days before the last window's
//!   end (scores arrive after the record); writes are idempotent.
//! - **Rate limits**: 100 requests a minute, 10,000 a day; a 429 carries `X-RateLimit-Reset`.
//! - **Webhooks** (`/api/v1/providers/whoop/webhooks`, URL set in the developer dashboard):
//!   notifications `{user_id, id, type, trace_id}` signed in `X-WHOOP-Signature`:
//!   base64(HMAC-SHA256 keyed with the client secret over the `X-WHOOP-Signature-Timestamp`
//!   header (epoch ms) followed by the raw body). Deliveries more than five minutes from owl's
//!   clock are refused, so an old capture cannot be replayed. `*.updated` events sync the
//!   account; `*.deleted` ones are ignored (owl does not mirror deletions). WHOOP sends no
//!   deauthorization event: a revoked grant shows as a refused refresh.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::rest::{self, Samples, Walk};
use super::{
    Defaults, Fetched, Http, OAuthApp, Provider, ProviderError, ProviderInfo, Tokens, WebhookEvent,
    WebhookOutcome, WebhookRequest,
};
use crate::config::Config;
use crate::domain::health::events::{EventBody, NewEvent, SleepDetails, WorkoutDetails};
use crate::domain::health::{RecordingMethod, SourceKey};

const BACKFILL_DAYS: i64 = 30;
/// Recent days are re-read on every sync: scores arrive after their records.
const OVERLAP_MS: i64 = 2 * 86_400_000;
/// WHOOP's largest page.
const PAGE_SIZE: &str = "25";
/// Kilojoules per kilocalorie.
const KJ_PER_KCAL: f64 = 4.184;
/// Largest distance between a delivery's timestamp and owl's clock.
const WEBHOOK_TOLERANCE_MS: i64 = 5 * 60_000;

const INFO: ProviderInfo = ProviderInfo {
    key: "whoop",
    display_name: "WHOOP",
    pull: true,
    push: true,
    data_types: &["workouts", "sleep", "recovery"],
    backfill_days: BACKFILL_DAYS as i32,
    // 100 requests a minute for the application; a page is one request.
    budget: Some((100, std::time::Duration::from_secs(60))),
};

const DEFAULTS: Defaults = Defaults {
    auth_base: "https://api.prod.whoop.com",
    authorize_path: "/oauth/oauth2/auth",
    token_path: "/oauth/oauth2/token",
    api_base: "https://api.prod.whoop.com/developer",
    pkce: false,
    credentials_in_body: true,
};

/// The collections a sync walks, in order.
const STEPS: [&str; 3] = ["/v2/activity/workout", "/v2/activity/sleep", "/v2/recovery"];

/// The WHOOP provider.
pub struct Whoop {
    oauth: OAuthApp,
    api_base: String,
}

impl Whoop {
    /// WHOOP as the deployment configured it (`WHOOP_*` variables).
    pub fn new(config: &Config, public_url: &str) -> Self {
        let setup = super::setup(config, public_url, INFO.key, DEFAULTS);
        Whoop {
            oauth: setup.oauth,
            api_base: setup.api_base,
        }
    }

    fn url(&self, path: &str) -> Result<url::Url, ProviderError> {
        url::Url::parse(&format!("{}{path}", self.api_base))
            .map_err(|e| ProviderError::Malformed(format!("whoop api url: {e}")))
    }
}

fn source() -> SourceKey {
    SourceKey {
        provider: INFO.key.into(),
        device_model: "WHOOP".into(),
        device_type: "band".into(),
        app_name: String::new(),
        manufacturer: "WHOOP".into(),
        recording_method: RecordingMethod::Automatic,
    }
}

/// owl's workout type of a WHOOP `sport_name`; unknown sports are `other`.
pub fn workout_type(sport_name: &str) -> &'static str {
    match sport_name.trim().to_lowercase().as_str() {
        "running" | "stroller jogging" | "track & field" => "running",
        "walking" | "stroller walking" | "dog walking" | "caddying" | "toddlerwearing"
        | "babywearing" => "walking",
        "hiking/rucking" => "hiking",
        "wheelchair pushing" => "wheelchair",
        "cycling" => "cycling",
        "mountain biking" => "mountain_biking",
        "spin" | "assault bike" => "indoor_cycling",
        "swimming" => "swimming",
        "water polo" => "water_polo",
        "rowing" => "rowing",
        "kayaking" => "kayaking",
        "paddleboarding" => "stand_up_paddleboarding",
        "surfing" => "surfing",
        "sailing" => "sailing",
        "diving" => "diving",
        "water skiing" => "water_skiing",
        "wakeboarding" => "wakeboarding",
        "kite boarding" => "kitesurfing",
        "weightlifting" | "powerlifting" | "strength trainer" | "functional fitness" => {
            "strength_training"
        }
        "elliptical" => "elliptical",
        "stairmaster" | "climber" | "stadium steps" => "stair_climbing",
        "hiit" | "jumping rope" | "f45 training" | "barry's" | "obstacle course racing" => {
            "cardio_training"
        }
        "parkour" => "parkour",
        "yoga" | "hot yoga" => "yoga",
        "pilates" => "pilates",
        "barre" | "barre3" => "group_exercise",
        "stretching" => "stretching",
        "meditation" => "meditation",
        "skiing" => "alpine_skiing",
        "cross country skiing" => "cross_country_skiing",
        "snowboarding" => "snowboarding",
        "ice skating" => "ice_skating",
        "soccer" => "soccer",
        "basketball" => "basketball",
        "football" => "american_football",
        "australian football"
        | "gaelic football"
        | "netball"
        | "spikeball"
        | "hurling/camogie"
        | "polo" => "team_sports",
        "baseball" | "softball" => "baseball",
        "volleyball" => "volleyball",
        "rugby" => "rugby",
        "lacrosse" => "lacrosse",
        "cricket" => "cricket",
        "ice hockey" | "field hockey" => "hockey",
        "handball" => "handball",
        "ultimate" | "disc golf" => "disc_sports",
        "tennis" => "tennis",
        "squash" => "squash",
        "badminton" => "badminton",
        "table tennis" => "table_tennis",
        "padel" => "padel",
        "pickleball" => "pickleball",
        "paddle tennis" => "racket_sports",
        "boxing" | "box fitness" => "boxing",
        "kickboxing" | "martial arts" | "jiu jitsu" => "martial_arts",
        "wrestling" => "wrestling",
        "fencing" => "fencing",
        "rock climbing" => "rock_climbing",
        "golf" => "golf",
        "inline skating" => "inline_skating",
        "skateboarding" => "skateboarding",
        "horseback riding" => "horseback_riding",
        "triathlon" => "triathlon",
        "duathlon" => "multisport",
        "motocross" | "motor racing" => "motor_sports",
        "dance" => "dance",
        "gymnastics" | "circus arts" => "gymnastics",
        "ice bath" | "sauna" | "massage therapy" | "air compression" | "percussive massage" => {
            "recovery"
        }
        "operations - water"
        | "operations - tactical"
        | "operations - medical"
        | "operations - flying" => "operations",
        "manual labor" | "high stress work" | "coaching" => "work",
        "yard work" | "cooking" | "cleaning" => "chores",
        "gaming" => "gaming",
        "watching sports"
        | "commuting"
        | "public speaking"
        | "musical performance"
        | "stage performance"
        | "dedicated parenting" => "lifestyle",
        "activity" => "generic",
        _ => "other",
    }
}

#[derive(Debug, Deserialize)]
struct Page {
    records: Vec<serde_json::Value>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Workout {
    start: String,
    end: String,
    #[serde(default)]
    timezone_offset: Option<String>,
    #[serde(default)]
    sport_name: Option<String>,
    #[serde(default)]
    score: Option<WorkoutScore>,
}

#[derive(Debug, Deserialize)]
struct WorkoutScore {
    average_heart_rate: Option<f64>,
    max_heart_rate: Option<f64>,
    kilojoule: Option<f64>,
    distance_meter: Option<f64>,
    altitude_gain_meter: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Sleep {
    start: String,
    end: String,
    #[serde(default)]
    timezone_offset: Option<String>,
    #[serde(default)]
    nap: bool,
    #[serde(default)]
    score: Option<SleepScore>,
}

#[derive(Debug, Deserialize)]
struct SleepScore {
    respiratory_rate: Option<f64>,
    sleep_efficiency_percentage: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Recovery {
    created_at: String,
    #[serde(default)]
    score: Option<RecoveryScore>,
}

#[derive(Debug, Deserialize)]
struct RecoveryScore {
    resting_heart_rate: Option<f64>,
    hrv_rmssd_milli: Option<f64>,
    spo2_percentage: Option<f64>,
    skin_temp_celsius: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Profile {
    user_id: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct Notification {
    user_id: serde_json::Value,
    #[serde(rename = "type")]
    kind: String,
}

/// A JSON id (WHOOP's are integers) as text.
fn id_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Start, end (UNIX ms) and offset of a record; `None` when owl cannot place it.
fn span(start: &str, end: &str, offset: Option<&str>) -> Option<(i64, i64, i32)> {
    let (start, _) = rest::instant(start)?;
    let (end, _) = rest::instant(end)?;
    let offset = offset.and_then(rest::offset_seconds).unwrap_or(0);
    (end > start).then_some((start, end, offset))
}

/// Reads the records of one page into events and samples; a record owl cannot read is logged
/// and skipped, so that it does not stop every later sync.
fn read(step: &str, records: Vec<serde_json::Value>, fetched: &mut Fetched) {
    let mut samples = Samples::default();
    for record in records {
        let read = match step {
            "/v2/activity/workout" => serde_json::from_value(record).map(|w| workout(w, fetched)),
            "/v2/activity/sleep" => {
                serde_json::from_value(record).map(|s| sleep(s, fetched, &mut samples))
            }
            _ => serde_json::from_value(record).map(|r| recovery(r, &mut samples)),
        };
        match read {
            Ok(true) => {}
            Ok(false) => tracing::debug!(path = step, "whoop record without usable times"),
            Err(error) => tracing::warn!(path = step, %error, "whoop record skipped"),
        }
    }
    fetched.samples = samples.into_batches(&source());
}

fn workout(w: Workout, fetched: &mut Fetched) -> bool {
    let Some((start, end, offset)) = span(&w.start, &w.end, w.timezone_offset.as_deref()) else {
        return false;
    };
    let non_negative = |v: Option<f64>| v.filter(|x| x.is_finite() && *x >= 0.0);
    let details = w
        .score
        .map_or_else(WorkoutDetails::default, |s| WorkoutDetails {
            distance_m: non_negative(s.distance_meter),
            active_energy_kcal: non_negative(s.kilojoule).map(|kj| kj / KJ_PER_KCAL),
            steps: None,
            heart_rate_avg: non_negative(s.average_heart_rate),
            heart_rate_max: non_negative(s.max_heart_rate),
            elevation_gain_m: non_negative(s.altitude_gain_meter),
            // WHOOP reports no moving time.
            moving_seconds: None,
        });
    fetched.events.push((
        source(),
        NewEvent {
            start,
            end,
            zone_offset: offset,
            body: EventBody::Workout {
                workout_type: workout_type(w.sport_name.as_deref().unwrap_or_default()).into(),
                details,
            },
        },
    ));
    true
}

fn sleep(s: Sleep, fetched: &mut Fetched, samples: &mut Samples) -> bool {
    let Some((start, end, offset)) = span(&s.start, &s.end, s.timezone_offset.as_deref()) else {
        return false;
    };
    let efficiency = s
        .score
        .as_ref()
        .and_then(|score| score.sleep_efficiency_percentage)
        .map(|e| e.clamp(0.0, 100.0));
    let breathing = s.score.as_ref().and_then(|score| score.respiratory_rate);
    samples.push(
        "respiratory_rate",
        "breaths/min",
        end,
        breathing,
        Some(offset),
    );
    fetched.events.push((
        source(),
        NewEvent {
            start,
            end,
            zone_offset: offset,
            body: EventBody::Sleep(SleepDetails {
                nap: s.nap,
                efficiency_percent: efficiency,
                stages: Vec::new(),
                end_zone_offset: None,
            }),
        },
    ));
    true
}

fn recovery(r: Recovery, samples: &mut Samples) -> bool {
    let Some((at, _)) = rest::instant(&r.created_at) else {
        return false;
    };
    let Some(score) = r.score else {
        return true;
    };
    samples.push(
        "resting_heart_rate",
        "bpm",
        at,
        score.resting_heart_rate,
        None,
    );
    samples.push(
        "heart_rate_variability_rmssd",
        "ms",
        at,
        score.hrv_rmssd_milli,
        None,
    );
    samples.push("oxygen_saturation", "%", at, score.spo2_percentage, None);
    samples.push(
        "skin_temperature",
        "degC",
        at,
        score.skin_temp_celsius,
        None,
    );
    true
}

/// Whether `signature` is the HMAC-SHA256 of `timestamp` and `body` under `key`.
fn signed(key: &[u8], timestamp: &str, body: &[u8], signature: &str) -> bool {
    super::rest::hmac_sha256_base64_matches(key, &[timestamp.as_bytes(), body], signature)
}

#[async_trait]
impl Provider for Whoop {
    fn info(&self) -> &ProviderInfo {
        &INFO
    }

    fn oauth(&self) -> &OAuthApp {
        &self.oauth
    }

    async fn refresh(&self, http: &Http, refresh_token: &str) -> Result<Tokens, ProviderError> {
        self.oauth
            .refresh_with_scopes(http, refresh_token, &["offline"])
            .await
    }

    async fn account(&self, http: &Http, tokens: &Tokens) -> Result<String, ProviderError> {
        let url = self.url("/v2/user/profile/basic")?;
        let profile: Option<Profile> =
            rest::get_json(http, url, tokens.access_token.expose_secret()).await?;
        profile.and_then(|p| id_text(&p.user_id)).ok_or_else(|| {
            ProviderError::Malformed("profile refused: the read:profile scope is needed".into())
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
                let mut url = self.url(step)?;
                {
                    let at =
                        |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    let mut query = url.query_pairs_mut();
                    query
                        .append_pair("start", &at(walk.from_time()))
                        .append_pair("end", &at(walk.to_time()))
                        .append_pair("limit", PAGE_SIZE);
                    if let Some(token) = &walk.token {
                        query.append_pair("nextToken", token);
                    }
                }
                let page: Option<Page> = rest::get_json(http, url, access_token).await?;
                page.and_then(|page| {
                    read(step, page.records, &mut fetched);
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
        let url = self.url("/v2/user/access")?;
        let request = http
            .client()
            .delete(url.as_str())
            .bearer_auth(tokens.access_token.expose_secret());
        rest::send(request, "/v2/user/access").await
    }

    fn webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome, ProviderError> {
        if request.method != http::Method::POST {
            return Err(ProviderError::Unauthorized(
                "whoop sends no subscription challenges".into(),
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
        let signature = header("x-whoop-signature");
        let timestamp = header("x-whoop-signature-timestamp");
        if signature.is_empty()
            || !signed(
                secret.expose_secret().as_bytes(),
                timestamp,
                &request.body,
                signature,
            )
        {
            return Err(ProviderError::Unauthorized("bad x-whoop-signature".into()));
        }
        let sent: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| ProviderError::Unauthorized("unreadable signature timestamp".into()))?;
        // WHOOP keeps its own clock; so does owl's check, like the demo provider's tokens.
        if Utc::now().timestamp_millis().abs_diff(sent) > WEBHOOK_TOLERANCE_MS.unsigned_abs() {
            return Err(ProviderError::Unauthorized(
                "signature timestamp too far from now".into(),
            ));
        }
        let note: Notification = serde_json::from_slice(&request.body)
            .map_err(|e| ProviderError::Malformed(format!("whoop notification: {e}")))?;
        let account_id = id_text(&note.user_id)
            .ok_or_else(|| ProviderError::Malformed("whoop notification without user".into()))?;
        if note.kind.ends_with(".deleted") {
            return Ok(WebhookOutcome::Events(Vec::new()));
        }
        Ok(WebhookOutcome::Events(vec![WebhookEvent::Data {
            account_id,
        }]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::health::catalog::is_workout_type;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    #[test]
    fn every_mapped_sport_is_an_owl_workout_type() {
        for sport in [
            "running",
            "walking",
            "hiking/rucking",
            "track & field",
            "stroller walking",
            "stroller jogging",
            "dog walking",
            "caddying",
            "toddlerwearing",
            "babywearing",
            "wheelchair pushing",
            "cycling",
            "mountain biking",
            "spin",
            "assault bike",
            "swimming",
            "water polo",
            "rowing",
            "kayaking",
            "paddleboarding",
            "surfing",
            "sailing",
            "diving",
            "water skiing",
            "wakeboarding",
            "kite boarding",
            "weightlifting",
            "powerlifting",
            "strength trainer",
            "functional fitness",
            "elliptical",
            "stairmaster",
            "climber",
            "stadium steps",
            "hiit",
            "jumping rope",
            "obstacle course racing",
            "parkour",
            "yoga",
            "hot yoga",
            "pilates",
            "stretching",
            "meditation",
            "barre",
            "barre3",
            "skiing",
            "cross country skiing",
            "snowboarding",
            "ice skating",
            "soccer",
            "basketball",
            "football",
            "australian football",
            "gaelic football",
            "baseball",
            "softball",
            "volleyball",
            "rugby",
            "lacrosse",
            "cricket",
            "netball",
            "ultimate",
            "spikeball",
            "hurling/camogie",
            "ice hockey",
            "field hockey",
            "handball",
            "paintball",
            "tennis",
            "squash",
            "badminton",
            "table tennis",
            "padel",
            "pickleball",
            "paddle tennis",
            "boxing",
            "kickboxing",
            "box fitness",
            "martial arts",
            "jiu jitsu",
            "wrestling",
            "fencing",
            "rock climbing",
            "golf",
            "disc golf",
            "inline skating",
            "skateboarding",
            "horseback riding",
            "polo",
            "triathlon",
            "duathlon",
            "motocross",
            "motor racing",
            "dance",
            "circus arts",
            "stage performance",
            "f45 training",
            "barry's",
            "gymnastics",
            "ice bath",
            "sauna",
            "massage therapy",
            "air compression",
            "percussive massage",
            "operations - water",
            "operations - tactical",
            "operations - medical",
            "operations - flying",
            "manual labor",
            "high stress work",
            "coaching",
            "watching sports",
            "commuting",
            "gaming",
            "yard work",
            "cooking",
            "cleaning",
            "public speaking",
            "musical performance",
            "dedicated parenting",
            "activity",
            "other",
        ] {
            let code = workout_type(sport);
            assert!(is_workout_type(code), "{sport} → {code}");
        }
        assert_eq!(workout_type("Mountain Biking"), "mountain_biking");
        assert_eq!(workout_type("competitive napping"), "other");
    }

    #[test]
    fn signatures_are_base64_hmac_sha256_of_timestamp_and_body() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"1700000000000{\"a\":1}");
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        assert!(signed(b"secret", "1700000000000", b"{\"a\":1}", &signature));
        assert!(!signed(
            b"secret",
            "1700000000001",
            b"{\"a\":1}",
            &signature
        ));
        assert!(!signed(
            b"secret",
            "1700000000000",
            b"{\"a\":2}",
            &signature
        ));
        assert!(!signed(
            b"secret",
            "1700000000000",
            b"{\"a\":1}",
            "not base64!"
        ));
    }

    #[test]
    fn a_scored_workout_converts_kilojoules_to_kilocalories() {
        let mut fetched = Fetched::default();
        let w: Workout = serde_json::from_value(serde_json::json!({
            "start": "2026-01-13T10:00:00.000Z", "end": "2026-01-13T11:00:00.000Z",
            "timezone_offset": "-05:00", "sport_name": "running",
            "score": {"kilojoule": 4184.0, "distance_meter": 10000.0,
                      "average_heart_rate": 150, "max_heart_rate": 180}
        }))
        .unwrap();
        assert!(workout(w, &mut fetched));
        let (_, event) = &fetched.events[0];
        assert_eq!(event.zone_offset, -5 * 3600);
        let EventBody::Workout { details, .. } = &event.body else {
            panic!("not a workout");
        };
        assert_eq!(details.active_energy_kcal, Some(1000.0));
        assert_eq!(details.heart_rate_max, Some(180.0));
    }
}
