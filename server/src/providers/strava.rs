//! Strava, through the API v3 (`https://www.strava.com/api/v3`): activities as workouts
//! (type, distance, energy, heart rate, elevation, moving time from `moving_time`). Strava has
//! no sleep, daily activity or 24/7 series.
//!
//! Quirks:
//! - OAuth2 at `www.strava.com/oauth`, client credentials in the form body, no PKCE, scopes
//!   comma-separated (`activity:read_all,profile:read_all`). The code exchange names the athlete
//!   (`athlete.id`, the account id). Access tokens last six hours and refresh tokens **rotate**:
//!   every refresh may return a new one, which replaces the old.
//! - `POST /oauth/deauthorize` revokes every token of the athlete for the application.
//! - Activities are listed with `GET /athlete/activities?after=&page=&per_page=`
//!   (STRAVA_EVENTS_PER_PAGE, at most 200); a page shorter than `per_page` is the last. owl's
//!   cursor (`strava:v1:{after}:{page}:{newest}`) carries the sweep's lower bound, the next page
//!   and the newest start seen, which becomes the next sweep's `after`. Summaries carry no
//!   `calories`; the work in `kilojoules` stands in (Strava equates the two).
//! - Rate limits are per application: 200 requests per 15 minutes and 2,000 per day by default
//!   (reads: 100 and 1,000). Every response reports usage (`X-RateLimit-Usage`,
//!   `X-ReadRateLimit-Usage`, `"<15 min>,<daily>"`); when the 15-minute window is spent, a sync
//!   stops paging and the next one continues from the cursor. A 429 has no Retry-After; owl
//!   waits for the next quarter hour, when the short window resets.
//! - Webhooks: one subscription per application. Strava validates it with
//!   `GET ?hub.mode=subscribe&hub.challenge=…&hub.verify_token=…`, answered with
//!   `{"hub.challenge": …}` when the token is STRAVA_WEBHOOK_VERIFY_TOKEN. Events are **not
//!   signed**, so owl asks the subscription's callback URL to carry the same token
//!   (`…/webhooks?token=<STRAVA_WEBHOOK_VERIFY_TOKEN>`) and refuses events without it; event
//!   data is fetched through the API anyway. A deauthorization is an athlete `update` with
//!   `updates.authorized: "false"` (an athlete `delete` is read the same way).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::rest;
use super::{
    Defaults, Fetched, Http, OAuthApp, Provider, ProviderError, ProviderInfo, Tokens, WebhookEvent,
    WebhookOutcome, WebhookRequest,
};
use crate::config::Config;
use crate::domain::health::SourceKey;
use crate::domain::health::events::{EventBody, NewEvent, WorkoutDetails, moving_within};

/// How far back a new connection's activities are read.
const BACKFILL_DAYS: i64 = 90;

const INFO: ProviderInfo = ProviderInfo {
    key: "strava",
    display_name: "Strava",
    pull: true,
    push: true,
    data_types: &["workouts"],
    backfill_days: BACKFILL_DAYS as i32,
    // 200 requests per 15 minutes for the application; a page is one request.
    budget: Some((200, std::time::Duration::from_secs(900))),
};

const DEFAULTS: Defaults = Defaults {
    auth_base: "https://www.strava.com",
    authorize_path: "/oauth/authorize",
    token_path: "/oauth/token",
    api_base: "https://www.strava.com",
    pkce: false,
    credentials_in_body: true,
};

/// The Strava provider.
pub struct Strava {
    oauth: OAuthApp,
    api_base: String,
    deauthorize_url: String,
    per_page: u32,
    verify_token: Option<SecretString>,
}

impl Strava {
    /// Strava as the deployment configured it.
    pub fn new(config: &Config, public_url: &str) -> Self {
        let setup = super::setup(config, public_url, INFO.key, DEFAULTS);
        let deauthorize_url = match setup.oauth.token_url.strip_suffix("/token") {
            Some(base) => format!("{base}/deauthorize"),
            None => format!("{}/oauth/deauthorize", DEFAULTS.auth_base),
        };
        Strava {
            oauth: setup.oauth,
            api_base: setup.api_base,
            deauthorize_url,
            per_page: setup.config.events_per_page.unwrap_or(200).clamp(1, 200),
            verify_token: setup.config.extra_secret,
        }
    }
}

/// Until the next quarter hour, when Strava's short window resets.
fn next_quarter_hour() -> Option<Duration> {
    let now = Utc::now().timestamp();
    Some(Duration::from_secs((900 - now.rem_euclid(900)) as u64))
}

/// Whether a response's usage headers say the 15-minute window (overall or read) is spent.
/// Both headers read `"<15 min>,<daily>"`.
fn short_window_spent(headers: &http::HeaderMap) -> bool {
    let first = |name: &str| -> Option<u64> {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .split(',')
            .next()?
            .trim()
            .parse()
            .ok()
    };
    [
        ("x-ratelimit-usage", "x-ratelimit-limit"),
        ("x-readratelimit-usage", "x-readratelimit-limit"),
    ]
    .iter()
    .any(|(usage, limit)| match (first(usage), first(limit)) {
        (Some(u), Some(l)) => l > 0 && u >= l,
        _ => false,
    })
}

#[derive(Debug, Deserialize)]
struct Activity {
    #[serde(default)]
    sport_type: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    start_date: DateTime<Utc>,
    #[serde(default)]
    utc_offset: Option<f64>,
    elapsed_time: i64,
    #[serde(default)]
    moving_time: Option<f64>,
    #[serde(default)]
    distance: Option<f64>,
    #[serde(default)]
    total_elevation_gain: Option<f64>,
    #[serde(default)]
    average_heartrate: Option<f64>,
    #[serde(default)]
    max_heartrate: Option<f64>,
    #[serde(default)]
    calories: Option<f64>,
    #[serde(default)]
    kilojoules: Option<f64>,
    #[serde(default)]
    device_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Athlete {
    id: serde_json::Value,
}

/// owl's workout type for Strava's `sport_type` (or legacy `type`); unknown → `other`.
pub fn workout_type(sport_type: &str) -> &'static str {
    match sport_type {
        "Run" => "running",
        "TrailRun" => "trail_running",
        "VirtualRun" => "treadmill",
        "Ride" => "cycling",
        "MountainBikeRide" | "EMountainBikeRide" => "mountain_biking",
        "GravelRide" => "cycling",
        "EBikeRide" => "e_biking",
        "VirtualRide" => "indoor_cycling",
        "Velomobile" | "Handcycle" => "cycling",
        "Swim" => "swimming",
        "Walk" => "walking",
        "Hike" => "hiking",
        "AlpineSki" => "alpine_skiing",
        "BackcountrySki" => "backcountry_skiing",
        "NordicSki" | "RollerSki" => "cross_country_skiing",
        "Snowboard" => "snowboarding",
        "Snowshoe" => "snowshoeing",
        "IceSkate" => "ice_skating",
        "Rowing" => "rowing",
        "VirtualRow" => "rowing_machine",
        "Kayaking" => "kayaking",
        "Canoeing" => "canoeing",
        "StandUpPaddling" => "stand_up_paddleboarding",
        "Surfing" => "surfing",
        "Kitesurf" => "kitesurfing",
        "Windsurf" => "windsurfing",
        "Sail" => "sailing",
        "WeightTraining" => "strength_training",
        "Yoga" => "yoga",
        "Pilates" => "pilates",
        "Crossfit" | "HighIntensityIntervalTraining" => "cardio_training",
        "Elliptical" => "elliptical",
        "StairStepper" => "stair_climbing",
        "Pickleball" => "pickleball",
        "Racquetball" => "racquetball",
        "Squash" => "squash",
        "Badminton" => "badminton",
        "TableTennis" => "table_tennis",
        "Tennis" => "tennis",
        "Soccer" => "soccer",
        "RockClimbing" => "rock_climbing",
        "Golf" => "golf",
        "Skateboard" => "skateboarding",
        "InlineSkate" => "inline_skating",
        "Wheelchair" => "wheelchair",
        "Dance" => "dance",
        "Workout" => "generic",
        _ => "other",
    }
}

fn workout(a: &Activity) -> Option<(SourceKey, NewEvent)> {
    if a.elapsed_time <= 0 {
        return None;
    }
    let start = a.start_date.timestamp_millis();
    let sport = a
        .sport_type
        .as_deref()
        .or(a.kind.as_deref())
        .unwrap_or_default();
    let source = SourceKey {
        provider: INFO.key.into(),
        device_model: a.device_name.clone().unwrap_or_default(),
        device_type: String::new(),
        app_name: "Strava".into(),
        // The device name (`Garmin Forerunner 945`) does not say its maker apart.
        ..SourceKey::default()
    };
    let end = start + a.elapsed_time * 1000;
    let event = NewEvent {
        start,
        end,
        zone_offset: a.utc_offset.map_or(0, |o| o.round() as i32),
        body: EventBody::Workout {
            workout_type: workout_type(sport).into(),
            details: WorkoutDetails {
                distance_m: a.distance,
                // Summaries carry the work done; Strava shows it as the energy burned.
                active_energy_kcal: a.calories.or(a.kilojoules),
                steps: None,
                heart_rate_avg: a.average_heartrate,
                heart_rate_max: a.max_heartrate,
                elevation_gain_m: a.total_elevation_gain,
                moving_seconds: moving_within(a.moving_time, start, end),
            },
        },
    };
    Some((source, event))
}

/// owl's Strava cursor: the sweep's `after` (UNIX s), its next page and the newest start seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    after: i64,
    page: u32,
    newest: i64,
}

impl Cursor {
    fn parse(value: &str) -> Option<Cursor> {
        let mut parts = value.strip_prefix("strava:v1:")?.split(':');
        let cursor = Cursor {
            after: parts.next()?.parse().ok()?,
            page: parts.next()?.parse().ok()?,
            newest: parts.next()?.parse().ok()?,
        };
        (parts.next().is_none() && cursor.page >= 1).then_some(cursor)
    }

    fn render(self) -> String {
        format!("strava:v1:{}:{}:{}", self.after, self.page, self.newest)
    }
}

#[derive(Debug, Deserialize)]
struct Event {
    object_type: String,
    aspect_type: String,
    owner_id: serde_json::Value,
    #[serde(default)]
    updates: serde_json::Map<String, serde_json::Value>,
}

fn id_string(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Strava {
    fn token_matches(&self, given: Option<&String>) -> Result<(), ProviderError> {
        let expected = self.verify_token.as_ref().ok_or_else(|| {
            ProviderError::Unauthorized("STRAVA_WEBHOOK_VERIFY_TOKEN is not configured".into())
        })?;
        match given {
            Some(given) if rest::secrets_match(given, expected.expose_secret()) => Ok(()),
            _ => Err(ProviderError::Unauthorized("wrong or missing token".into())),
        }
    }
}

#[async_trait]
impl Provider for Strava {
    fn info(&self) -> &ProviderInfo {
        &INFO
    }

    fn oauth(&self) -> &OAuthApp {
        &self.oauth
    }

    async fn account(&self, http: &Http, tokens: &Tokens) -> Result<String, ProviderError> {
        if let Some(id) = &tokens.account_id {
            return Ok(id.clone());
        }
        let request = http
            .client()
            .get(format!("{}/api/v3/athlete", self.api_base))
            .bearer_auth(tokens.access_token.expose_secret())
            .header(http::header::ACCEPT, "application/json");
        let athlete: Athlete = rest::call(request, "athlete", &[], next_quarter_hour)
            .await?
            .json("athlete")?;
        Ok(id_string(&athlete.id))
    }

    async fn fetch(
        &self,
        http: &Http,
        access_token: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Fetched, ProviderError> {
        let cursor = cursor.and_then(Cursor::parse).unwrap_or_else(|| {
            let after = now.timestamp() - BACKFILL_DAYS * 86_400;
            Cursor {
                after,
                page: 1,
                newest: after,
            }
        });
        let url = format!(
            "{}/api/v3/athlete/activities?after={}&page={}&per_page={}",
            self.api_base, cursor.after, cursor.page, self.per_page
        );
        let request = http
            .client()
            .get(&url)
            .bearer_auth(access_token)
            .header(http::header::ACCEPT, "application/json");
        let answer = rest::call(request, "activities", &[], next_quarter_hour).await?;
        let activities: Vec<Activity> = answer.json("activities")?;
        let spent = short_window_spent(&answer.headers);
        let mut fetched = Fetched::default();
        let mut newest = cursor.newest;
        for a in &activities {
            newest = newest.max(a.start_date.timestamp());
            if let Some(event) = workout(a) {
                fetched.events.push(event);
            }
        }
        let full = activities.len() >= self.per_page as usize;
        let next = if full {
            Cursor {
                page: cursor.page + 1,
                newest,
                ..cursor
            }
        } else {
            Cursor {
                after: newest,
                page: 1,
                newest,
            }
        };
        fetched.cursor = Some(next.render());
        // With the short window spent, the rest waits for the next sync instead of a 429.
        fetched.more = full && !spent;
        Ok(fetched)
    }

    async fn revoke(&self, http: &Http, tokens: &Tokens) -> Result<(), ProviderError> {
        let form: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("access_token", tokens.access_token.expose_secret())
            .finish();
        let request = http
            .client()
            .post(&self.deauthorize_url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form);
        // 401: the token is revoked already.
        rest::call(request, "deauthorize", &[401], next_quarter_hour).await?;
        Ok(())
    }

    fn webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome, ProviderError> {
        if request.method == http::Method::GET {
            let mode = request.query.get("hub.mode").map(String::as_str);
            let challenge = request.query.get("hub.challenge");
            self.token_matches(request.query.get("hub.verify_token"))?;
            return match (mode, challenge) {
                (Some("subscribe"), Some(challenge)) => Ok(WebhookOutcome::Challenge(
                    serde_json::json!({ "hub.challenge": challenge }).to_string(),
                )),
                _ => Err(ProviderError::Malformed(
                    "not a subscription challenge".into(),
                )),
            };
        }
        self.token_matches(request.query.get("token"))?;
        let event: Event = serde_json::from_slice(&request.body)
            .map_err(|e| ProviderError::Malformed(e.to_string()))?;
        let account_id = id_string(&event.owner_id);
        let revoked = event.object_type == "athlete"
            && (event.aspect_type == "delete"
                || event
                    .updates
                    .get("authorized")
                    .is_some_and(|v| v == "false" || v == false));
        Ok(WebhookOutcome::Events(if revoked {
            vec![WebhookEvent::Deauthorized { account_id }]
        } else if event.object_type == "activity" {
            vec![WebhookEvent::Data { account_id }]
        } else {
            Vec::new()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::health::catalog::is_workout_type;

    #[test]
    fn every_mapped_sport_type_is_an_owl_workout_type() {
        for sport in [
            "Run",
            "TrailRun",
            "Ride",
            "EBikeRide",
            "VirtualRow",
            "WeightTraining",
            "HighIntensityIntervalTraining",
            "Pickleball",
            "Wheelchair",
            "Workout",
            "Unheard",
        ] {
            assert!(is_workout_type(workout_type(sport)), "{sport}");
        }
        assert_eq!(workout_type("Unheard"), "other");
    }

    #[test]
    fn a_spent_short_window_is_read_from_either_usage_header() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = http::HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, http::HeaderValue::from_static(v));
            }
            h
        };
        assert!(!short_window_spent(&headers(&[])));
        assert!(!short_window_spent(&headers(&[
            ("x-ratelimit-usage", "12,300"),
            ("x-ratelimit-limit", "200,2000"),
        ])));
        assert!(short_window_spent(&headers(&[
            ("x-ratelimit-usage", "12,300"),
            ("x-ratelimit-limit", "200,2000"),
            ("x-readratelimit-usage", "100,300"),
            ("x-readratelimit-limit", "100,1000"),
        ])));
    }

    fn strava() -> Strava {
        Strava {
            oauth: OAuthApp {
                client_id: Some("id".into()),
                client_secret: Some(SecretString::from("secret")),
                authorize_url: "https://www.strava.com/oauth/authorize".into(),
                token_url: "https://www.strava.com/oauth/token".into(),
                redirect_uri: "http://localhost/api/v1/oauth/strava/callback".into(),
                scopes: vec![],
                pkce: false,
                credentials_in_body: true,
                authorize_params: Vec::new(),
            },
            api_base: "https://www.strava.com".into(),
            deauthorize_url: "https://www.strava.com/oauth/deauthorize".into(),
            per_page: 200,
            verify_token: Some(SecretString::from("tok")),
        }
    }

    fn post(body: &str, token: Option<&str>) -> WebhookRequest {
        WebhookRequest {
            method: http::Method::POST,
            headers: http::HeaderMap::new(),
            query: token
                .map(|t| [("token".to_owned(), t.to_owned())].into())
                .unwrap_or_default(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn strava_events_read_as_data_deauthorizations_or_nothing() {
        let s = strava();
        let events = |body: &str| match s.webhook(&post(body, Some("tok"))) {
            Ok(WebhookOutcome::Events(e)) => e,
            other => panic!("{other:?}"),
        };
        let data = WebhookEvent::Data {
            account_id: "7".into(),
        };
        let gone = WebhookEvent::Deauthorized {
            account_id: "7".into(),
        };
        let event = |object: &str, aspect: &str, updates: &str| {
            format!(
                r#"{{"object_type":"{object}","aspect_type":"{aspect}","object_id":1,"owner_id":7,"subscription_id":2,"event_time":3,"updates":{updates}}}"#
            )
        };
        assert_eq!(
            events(&event("activity", "create", "{}")),
            vec![data.clone()]
        );
        assert_eq!(
            events(&event("activity", "update", r#"{"title":"Messy"}"#)),
            [data]
        );
        assert_eq!(
            events(&event("athlete", "update", r#"{"authorized":"false"}"#)),
            vec![gone.clone()]
        );
        assert_eq!(events(&event("athlete", "delete", "{}")), [gone]);
        assert!(events(&event("athlete", "update", r#"{"name":"x"}"#)).is_empty());
        assert!(matches!(
            s.webhook(&post("not json", Some("tok"))),
            Err(ProviderError::Malformed(_))
        ));
        assert!(matches!(
            s.webhook(&post(&event("activity", "create", "{}"), Some("tik"))),
            Err(ProviderError::Unauthorized(_))
        ));
        let challenge = WebhookRequest {
            method: http::Method::GET,
            headers: http::HeaderMap::new(),
            query: [
                ("hub.mode".to_owned(), "unsubscribe".to_owned()),
                ("hub.verify_token".to_owned(), "tok".to_owned()),
            ]
            .into(),
            body: vec![],
        };
        assert!(matches!(
            s.webhook(&challenge),
            Err(ProviderError::Malformed(_))
        ));
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = Cursor {
            after: 1_700_000_000,
            page: 3,
            newest: 1_700_050_000,
        };
        assert_eq!(Cursor::parse(&c.render()), Some(c));
        assert_eq!(Cursor::parse("strava:v1:1:0:1"), None);
        assert_eq!(Cursor::parse("polar:v1:1"), None);
        assert_eq!(Cursor::parse("strava:v1:1:2:3:4"), None);
    }
}
