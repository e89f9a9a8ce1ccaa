//! The built-in `demo` provider: a wearable that needs no account anywhere. owl serves its consent
//! page itself (`/api/v1/demo/authorize`), its codes and tokens are HMAC-signed by the server,
//! and its "API" generates a realistic, deterministic week of data per account: heart rate
//! every minute, steps, a morning run and a night's sleep with stages. It goes through the same
//! connect flow, callback, token storage and sync as every other provider, so a newcomer can try
//! the whole of owl on the embedded default.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use sha2::Sha256;

use super::{Fetched, Http, OAuthApp, Provider, ProviderError, ProviderInfo, Tokens};
use crate::domain::health::SourceKey;
use crate::domain::health::events::{
    EventBody, NewEvent, SleepDetails, StageInterval, WorkoutDetails,
};
use crate::domain::health::intake::RawBatch;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// The demo wearer lives at UTC+1.
const OFFSET_S: i32 = 3600;
const BACKFILL_DAYS: i64 = 7;
/// The client id of the demo application.
pub const CLIENT_ID: &str = "owl-demo";

const INFO: ProviderInfo = ProviderInfo {
    key: "demo",
    display_name: "Demo wearable",
    pull: true,
    push: false,
    data_types: &["workouts", "sleep", "activity", "heart_rate"],
    backfill_days: BACKFILL_DAYS as i32,
    budget: None,
};

/// The demo provider.
pub struct Demo {
    oauth: OAuthApp,
    key: Vec<u8>,
}

/// What a signed demo token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Code,
    Access,
    Refresh,
}

impl Grant {
    fn tag(self) -> &'static str {
        match self {
            Grant::Code => "code",
            Grant::Access => "access",
            Grant::Refresh => "refresh",
        }
    }
}

impl Demo {
    /// The demo provider of the server at `public_url`, signing with `key`.
    pub fn new(public_url: &str, key: &[u8]) -> anyhow::Result<Self> {
        let base = public_url.trim_end_matches('/');
        Ok(Demo {
            oauth: OAuthApp {
                client_id: Some(CLIENT_ID.into()),
                client_secret: Some(SecretString::from("demo")),
                authorize_url: format!("{base}/api/v1/demo/authorize"),
                token_url: format!("{base}/api/v1/demo/token"),
                redirect_uri: format!("{base}/api/v1/oauth/demo/callback"),
                scopes: vec!["demo.read".into()],
                pkce: true,
                credentials_in_body: false,
                authorize_params: Vec::new(),
            },
            key: key.to_vec(),
        })
    }

    fn mac(&self, payload: &str) -> String {
        // HMAC accepts keys of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(payload.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A signed token of `grant` for `account`, valid until `expires` (UNIX seconds).
    pub fn sign(&self, grant: Grant, account: &str, expires: i64) -> String {
        let payload = format!("{}.{account}.{expires}", grant.tag());
        format!("{payload}.{}", self.mac(&payload))
    }

    /// The account of a valid, unexpired token of `grant`.
    pub fn verify(&self, grant: Grant, token: &str, now: DateTime<Utc>) -> Option<String> {
        let (payload, mac) = token.rsplit_once('.')?;
        let expected = self.mac(payload);
        if !crate::crypto::digests_match(&expected, mac) {
            return None;
        }
        let mut parts = payload.splitn(3, '.');
        let (tag, account, expires) = (parts.next()?, parts.next()?, parts.next()?);
        let expires: i64 = expires.parse().ok()?;
        (tag == grant.tag() && expires > now.timestamp()).then(|| account.to_owned())
    }

    /// The callback the consent page may send the browser to.
    pub fn callback(&self) -> &str {
        &self.oauth.redirect_uri
    }

    fn tokens(&self, account: &str, now: DateTime<Utc>) -> Tokens {
        let access_expires = now + chrono::Duration::hours(1);
        Tokens {
            access_token: SecretString::from(self.sign(
                Grant::Access,
                account,
                access_expires.timestamp(),
            )),
            refresh_token: Some(SecretString::from(self.sign(
                Grant::Refresh,
                account,
                (now + chrono::Duration::days(365)).timestamp(),
            ))),
            expires_at: Some(access_expires),
            scope: Some("demo.read".into()),
            account_id: Some(account.to_owned()),
        }
    }
}

/// A repeatable pseudo-random number in [0, 1) for `seed` and `n` (splitmix64).
fn noise(seed: u64, n: i64) -> f64 {
    let mut z = seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn seed(account: &str) -> u64 {
    account.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The local minute of the day of a UTC instant.
fn local_minute(time: i64) -> i64 {
    (time + i64::from(OFFSET_S) * 1000).rem_euclid(DAY) / MINUTE
}

/// Asleep from 23:00 to 07:00, running from 07:30 to 08:10 local time.
fn asleep(minute: i64) -> bool {
    !(7 * 60..23 * 60).contains(&minute)
}

fn running(minute: i64) -> bool {
    (7 * 60 + 30..8 * 60 + 10).contains(&minute)
}

fn source() -> SourceKey {
    SourceKey {
        provider: "demo".into(),
        device_model: "Demo Watch".into(),
        device_type: "watch".into(),
        app_name: String::new(),
        ..SourceKey::default()
    }
}

/// The demo wearer's data in [start, end) (minute-aligned).
pub fn generate(account: &str, start: i64, end: i64) -> Fetched {
    let s = seed(account);
    let (mut times, mut heart, mut step_times, mut steps) = (vec![], vec![], vec![], vec![]);
    let mut t = start - start.rem_euclid(MINUTE);
    while t < end {
        let minute = local_minute(t);
        let base = if asleep(minute) {
            52.0
        } else if running(minute) {
            148.0
        } else {
            72.0
        };
        times.push(t);
        heart.push((base + noise(s, t / MINUTE) * 12.0).round());
        if !asleep(minute) {
            let cadence = if running(minute) { 160.0 } else { 8.0 };
            step_times.push(t);
            steps.push((cadence * noise(s ^ 1, t / MINUTE) * 1.5).round());
        }
        t += MINUTE;
    }
    let batch = |series_type: &str, unit: &str, times: Vec<i64>, values: Vec<f64>| RawBatch {
        source: source(),
        series_type: series_type.into(),
        unit: unit.into(),
        zone_offsets: vec![OFFSET_S; times.len()],
        // Steps are counted per minute; heart rate is a reading at an instant.
        durations: if series_type == "steps" {
            vec![MINUTE; times.len()]
        } else {
            Vec::new()
        },
        times,
        values,
    };
    let mut events = Vec::new();
    let local_midnight = |day: i64| day * DAY - i64::from(OFFSET_S) * 1000;
    let first_day = (start + i64::from(OFFSET_S) * 1000).div_euclid(DAY) - 1;
    let last_day = (end + i64::from(OFFSET_S) * 1000).div_euclid(DAY);
    for day in first_day..=last_day {
        let midnight = local_midnight(day);
        let run = (
            midnight + 7 * HOUR + 30 * MINUTE,
            midnight + 8 * HOUR + 10 * MINUTE,
        );
        if run.0 >= start && run.1 <= end {
            let km = 7.0 + noise(s, day) * 3.0;
            events.push((
                source(),
                NewEvent {
                    start: run.0,
                    end: run.1,
                    zone_offset: OFFSET_S,
                    body: EventBody::Workout {
                        workout_type: "running".into(),
                        details: WorkoutDetails {
                            distance_m: Some((km * 1000.0).round()),
                            active_energy_kcal: Some((km * 68.0).round()),
                            steps: Some((km * 1350.0) as i64),
                            heart_rate_avg: Some(148.0),
                            heart_rate_max: Some(171.0),
                            elevation_gain_m: Some((noise(s ^ 2, day) * 80.0).round()),
                            // A few stops at crossings, up to three minutes in all.
                            moving_seconds: Some(
                                (run.1 - run.0) / 1000 - (noise(s ^ 3, day) * 180.0) as i64,
                            ),
                        },
                    },
                },
            ));
        }
        // The night that ends this morning.
        let night = (midnight - HOUR, midnight + 7 * HOUR);
        if night.0 >= start && night.1 <= end {
            let mut stages = Vec::new();
            let mut at = night.0;
            let cycle = [
                ("light", 25),
                ("deep", 20),
                ("light", 15),
                ("rem", 25),
                ("awake", 5),
            ];
            'night: loop {
                for (stage, minutes) in cycle {
                    let next = (at + minutes * MINUTE).min(night.1);
                    stages.push(StageInterval {
                        stage: stage.into(),
                        start: at,
                        end: next,
                    });
                    at = next;
                    if at >= night.1 {
                        break 'night;
                    }
                }
            }
            events.push((
                source(),
                NewEvent {
                    start: night.0,
                    end: night.1,
                    zone_offset: OFFSET_S,
                    body: EventBody::Sleep(SleepDetails {
                        nap: false,
                        efficiency_percent: Some(94.0),
                        stages,
                        end_zone_offset: None,
                    }),
                },
            ));
        }
    }
    Fetched {
        samples: vec![
            batch("heart_rate", "count/min", times, heart),
            batch("steps", "count", step_times, steps),
        ],
        events,
        cursor: Some(end.to_string()),
        more: false,
    }
}

#[async_trait]
impl Provider for Demo {
    fn info(&self) -> &ProviderInfo {
        &INFO
    }

    fn oauth(&self) -> &OAuthApp {
        &self.oauth
    }

    async fn exchange(
        &self,
        _http: &Http,
        code: &str,
        _verifier: Option<&str>,
    ) -> Result<Tokens, ProviderError> {
        let now = Utc::now();
        let account = self
            .verify(Grant::Code, code, now)
            .ok_or_else(|| ProviderError::Unauthorized("invalid_grant".into()))?;
        Ok(self.tokens(&account, now))
    }

    async fn refresh(&self, _http: &Http, refresh_token: &str) -> Result<Tokens, ProviderError> {
        let now = Utc::now();
        let account = self
            .verify(Grant::Refresh, refresh_token, now)
            .ok_or_else(|| ProviderError::Unauthorized("invalid_grant".into()))?;
        Ok(self.tokens(&account, now))
    }

    async fn account(&self, _http: &Http, tokens: &Tokens) -> Result<String, ProviderError> {
        tokens
            .account_id
            .clone()
            .ok_or_else(|| ProviderError::Malformed("no account in the demo token".into()))
    }

    async fn fetch(
        &self,
        _http: &Http,
        access_token: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Fetched, ProviderError> {
        let account = self
            .verify(Grant::Access, access_token, Utc::now())
            .ok_or_else(|| ProviderError::Unauthorized("invalid or expired token".into()))?;
        let end = now.timestamp_millis() - now.timestamp_millis().rem_euclid(MINUTE);
        let start = match cursor.and_then(|c| c.parse::<i64>().ok()) {
            Some(after) => after,
            None => end - BACKFILL_DAYS * DAY,
        };
        Ok(generate(&account, start, end.max(start)))
    }

    async fn revoke(&self, _http: &Http, _tokens: &Tokens) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// The consent page for `state`, sending the browser back to the demo's callback. Like a real
/// provider, the demo keeps its own (real) time for its codes and tokens.
pub fn consent_page(demo: &Demo, state: &str) -> String {
    let now = Utc::now();
    let account = format!("demo-{}", &crate::crypto::random_token(6)[..8]);
    let code = demo.sign(
        Grant::Code,
        &account,
        (now + chrono::Duration::minutes(10)).timestamp(),
    );
    let back = |query: String| format!("{}?{query}", demo.callback());
    let state = urlencode(state);
    let allow = back(format!("code={}&state={state}", urlencode(&code)));
    let deny = back(format!("error=access_denied&state={state}"));
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Demo wearable</title>\
         <meta name=\"viewport\" content=\"width=device-width\"></head><body style=\"font-family:sans-serif;max-width:32em;margin:4em auto\">\
         <h1>Demo wearable</h1><p>owl asks to read the demo account <b>{account}</b>: heart rate, steps, workouts and sleep.</p>\
         <p><a id=\"allow\" href=\"{allow}\">Allow</a> &nbsp; <a id=\"deny\" href=\"{deny}\">Deny</a></p></body></html>"
    )
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_verify_only_for_their_grant_and_until_they_expire() {
        let demo = Demo::new("http://localhost:8000", b"key").unwrap();
        let now = Utc::now();
        let token = demo.sign(Grant::Access, "demo-1", now.timestamp() + 60);
        assert_eq!(
            demo.verify(Grant::Access, &token, now).as_deref(),
            Some("demo-1")
        );
        assert_eq!(demo.verify(Grant::Refresh, &token, now), None);
        assert_eq!(
            demo.verify(Grant::Access, &token, now + chrono::Duration::minutes(2)),
            None
        );
        let forged = token.replace("demo-1", "demo-2");
        assert_eq!(demo.verify(Grant::Access, &forged, now), None);
        let other = Demo::new("http://localhost:8000", b"other").unwrap();
        assert_eq!(other.verify(Grant::Access, &token, now), None);
    }

    #[test]
    fn a_day_of_demo_data_has_every_minute_a_run_and_a_night() {
        let start = 20_000 * DAY;
        let day = generate("demo-1", start, start + 2 * DAY);
        assert_eq!(day.samples[0].times.len(), 2 * 1440);
        assert!(
            day.samples[0]
                .values
                .iter()
                .all(|v| (40.0..200.0).contains(v))
        );
        let workouts = day
            .events
            .iter()
            .filter(|(_, e)| matches!(e.body, EventBody::Workout { .. }));
        assert_eq!(workouts.count(), 2);
        let nights: Vec<_> = day
            .events
            .iter()
            .filter(|(_, e)| matches!(e.body, EventBody::Sleep(_)))
            .collect();
        assert_eq!(nights.len(), 1, "only the night wholly inside the range");
        // Repeatable: the same account and range give the same data.
        assert_eq!(
            generate("demo-1", start, start + DAY).samples[0].values,
            day.samples[0].values[..1440]
        );
    }
}
