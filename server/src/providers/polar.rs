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
use chrono::{DateTime, NaiveDate, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::rest;
use super::{
    Defaults, Fetched, Http, OAuthApp, Provider, ProviderError, ProviderInfo, Tokens, WebhookEvent,
    WebhookOutcome, WebhookRequest,
};
use crate::config::Config;
use data::{
    ContinuousHr, DailyActivity, Exercise, Nights, Recharges, continuous, daily, daily_source,
    exercise, night, recharge,
};

mod data;
mod sports;

pub use sports::workout_type;

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
    // At least 500 requests per 15 minutes for the client; one fetch makes about 12.
    budget: Some((40, std::time::Duration::from_secs(900))),
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
        let answer = rest::call(request, path, missing, a_minute).await?;
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
        rest::call(request, "register user", &[409], a_minute).await?;
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
        rest::call(request, "deregister user", &[404], a_minute).await?;
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
            &[&request.body],
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
    use std::collections::BTreeMap;

    use super::data::{anchored, with_offset};
    use super::*;
    use crate::domain::health::catalog::is_workout_type;

    fn polar(secret: Option<&str>) -> Polar {
        Polar {
            oauth: OAuthApp {
                client_id: Some("id".into()),
                client_secret: Some(SecretString::from("secret")),
                authorize_url: "https://flow.polar.com/oauth2/authorization".into(),
                token_url: "https://polarremote.com/v2/oauth2/token".into(),
                redirect_uri: "http://localhost/api/v1/oauth/polar/callback".into(),
                scopes: vec![],
                pkce: false,
                credentials_in_body: false,
                authorize_params: Vec::new(),
            },
            api_base: "https://www.polaraccesslink.com".into(),
            webhook_secret: secret.map(SecretString::from),
        }
    }

    fn delivery(body: &str, key: Option<&str>) -> WebhookRequest {
        use hmac::{Hmac, Mac};
        let mut headers = http::HeaderMap::new();
        if let Some(key) = key {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
            mac.update(body.as_bytes());
            let signature = hex::encode(mac.finalize().into_bytes());
            headers.insert("polar-webhook-signature", signature.parse().unwrap());
        }
        WebhookRequest {
            method: http::Method::POST,
            headers,
            query: Default::default(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn polar_deliveries_are_read_only_when_signed_with_the_secret() {
        let p = polar(Some("key"));
        let sleep = r#"{"event":"SLEEP","user_id":475,"date":"2019-12-31","timestamp":"2019-12-31T08:00:00Z","url":"https://www.polaraccesslink.com/v3/users/sleep/2019-12-31"}"#;
        assert_eq!(
            p.webhook(&delivery(sleep, Some("key"))).unwrap(),
            WebhookOutcome::Events(vec![WebhookEvent::Data {
                account_id: "475".into()
            }])
        );
        for refused in [delivery(sleep, Some("other")), delivery(sleep, None)] {
            assert!(matches!(
                p.webhook(&refused),
                Err(ProviderError::Unauthorized(_))
            ));
        }
        // Without a configured secret nothing signed is believed.
        assert!(matches!(
            polar(None).webhook(&delivery(sleep, Some("key"))),
            Err(ProviderError::Unauthorized(_))
        ));
        let ping = r#"{"event":"PING","timestamp":"2018-05-15T14:22:24Z"}"#;
        for request in [delivery(ping, None), delivery(ping, Some("key"))] {
            assert_eq!(p.webhook(&request).unwrap(), WebhookOutcome::Events(vec![]));
        }
        assert!(matches!(
            p.webhook(&delivery("[", Some("key"))),
            Err(ProviderError::Malformed(_))
        ));
    }

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
