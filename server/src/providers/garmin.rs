//! Garmin (Connect Developer Program: Health API and Activity API), **push only**: Garmin's terms
//! forbid pulling on a schedule, so owl never calls Garmin's data endpoints on its own. Data
//! arrives at `/api/v1/providers/garmin/webhooks`, and owl fetches only the callback URLs Garmin
//! itself sends (ping), and only on Garmin's API host.
//!
//! - **OAuth2 with PKCE** (S256): consent at `connect.garmin.com/oauth2Confirm` (no scopes: the
//!   app's permissions are set in Garmin's portal and toggled by the user), tokens at
//!   `diauth.garmin.com/di-oauth2-service/oauth/token` with the client credentials and the
//!   verifier in the form body; refresh the same way (treated as rotating: the newest refresh
//!   token is stored). The account is `GET /partner-gateway/rest/user/id` → `userId`, the id
//!   every notification names. Deleting the connection deregisters the user
//!   (`DELETE /partner-gateway/rest/user/registration`).
//! - **Backfill**: the first sync of a connection asks Garmin to push the last 30 days
//!   (`GET /wellness-api/rest/backfill/{activities|dailies|sleeps}` with
//!   `summaryStartTimeInSeconds`/`summaryEndTimeInSeconds`; 202 accepted, 409 already asked,
//!   403 the user withheld historical data). The HTTP method is UNCONFIRMED (Open Wearables
//!   uses GET). Later syncs call nothing at Garmin; they only write stashed webhook items.
//! - **Webhooks**: no signature exists; a delivery must carry `garmin-client-id` equal to
//!   GARMIN_CLIENT_ID (compared in constant time), else 401. Bodies are objects of summary
//!   arrays (`activities`, `activityDetails`, `dailies`, `sleeps` are read; other kinds are
//!   acknowledged and not stored), each item naming its `userId`: **push** items carry the
//!   summary, **ping** items a `callbackURL`. Both are stashed (`webhook_item`) and written by a
//!   sync job; the answer is 200 at once. `deregistrations` revoke the connection;
//!   `userPermissionsChange` stores the granted permissions as its scope.
//! - Normalized as in `data`; workout types in `activity_types`.

mod activity_types;
mod data;

pub use activity_types::workout_type;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::rest;
use super::{
    Defaults, Fetched, Http, OAuthApp, PendingItem, Provider, ProviderError, ProviderInfo, Tokens,
    WebhookEvent, WebhookOutcome, WebhookRequest,
};
use crate::config::Config;

const BACKFILL_DAYS: i64 = 30;
/// Summary kinds whose backfill a new connection asks for.
const BACKFILL_KINDS: [&str; 3] = ["activities", "dailies", "sleeps"];
/// The cursor prefix once the backfill was asked for.
const BACKFILL_ASKED: &str = "garmin:v1:backfill-asked:";
/// Where ping callbacks may point.
const CALLBACK_PATH: &str = "/wellness-api/rest/";

const INFO: ProviderInfo = ProviderInfo {
    key: "garmin",
    display_name: "Garmin",
    pull: false,
    push: true,
    data_types: &["workouts", "sleep", "activity", "heart_rate"],
    backfill_days: BACKFILL_DAYS as i32,
    // Open Wearables assumes 100 requests a minute; owl's calls are callbacks and backfills.
    budget: Some((100, std::time::Duration::from_secs(60))),
};

const DEFAULTS: Defaults = Defaults {
    auth_base: "https://connect.garmin.com",
    authorize_path: "/oauth2Confirm",
    token_path: "https://diauth.garmin.com/di-oauth2-service/oauth/token",
    api_base: "https://apis.garmin.com",
    pkce: true,
    credentials_in_body: true,
};

/// The Garmin provider.
pub struct Garmin {
    oauth: OAuthApp,
    api_base: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserId {
    user_id: String,
}

/// A 429 without a delay: Open Wearables waits out Garmin's one-minute window.
fn one_minute() -> Option<std::time::Duration> {
    Some(std::time::Duration::from_secs(60))
}

impl Garmin {
    /// Garmin as the deployment configured it (`GARMIN_*` variables).
    pub fn new(config: &Config, public_url: &str) -> Self {
        let setup = super::setup(config, public_url, INFO.key, DEFAULTS);
        Garmin {
            oauth: setup.oauth,
            api_base: setup.api_base,
        }
    }

    fn url(&self, path: &str) -> Result<url::Url, ProviderError> {
        url::Url::parse(&format!("{}{path}", self.api_base))
            .map_err(|e| ProviderError::Malformed(format!("garmin api url: {e}")))
    }

    /// `value` as a callback URL owl may fetch: Garmin's API host (scheme, host and port of
    /// GARMIN_API_BASE_URL) under `/wellness-api/rest/`; never anywhere else a body names.
    fn callback_url(&self, value: &str) -> Option<url::Url> {
        let url = url::Url::parse(value).ok()?;
        let base = url::Url::parse(&self.api_base).ok()?;
        let same_origin = url.scheme() == base.scheme()
            && url.host_str().is_some()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default();
        let no_credentials = url.username().is_empty() && url.password().is_none();
        (same_origin && no_credentials && url.path().starts_with(CALLBACK_PATH)).then_some(url)
    }

    /// Asks Garmin to push the backfill window of every kind owl reads.
    async fn ask_backfill(
        &self,
        http: &Http,
        access_token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ProviderError> {
        let end = now.timestamp();
        let start = end - BACKFILL_DAYS * 86_400;
        for kind in BACKFILL_KINDS {
            let mut url = self.url(&format!("/wellness-api/rest/backfill/{kind}"))?;
            url.query_pairs_mut()
                .append_pair("summaryStartTimeInSeconds", &start.to_string())
                .append_pair("summaryEndTimeInSeconds", &end.to_string());
            let request = http.client().get(url.as_str()).bearer_auth(access_token);
            let what = format!("backfill/{kind}");
            let answer = rest::call(request, &what, &[403, 409], one_minute).await?;
            match answer.status.as_u16() {
                403 => tracing::info!(
                    kind,
                    "garmin backfill refused: no historical data permission"
                ),
                409 => tracing::debug!(kind, "garmin backfill already asked for"),
                _ => tracing::info!(kind, "garmin backfill asked for"),
            }
        }
        Ok(())
    }
}

/// The permissions of a `userPermissionsChange` item, sorted, as a scope.
fn permissions_scope(item: &serde_json::Value) -> Option<String> {
    let list = item.get("permissions")?.as_array()?;
    let mut names: Vec<&str> = list.iter().filter_map(|p| p.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    Some(names.join(" "))
}

#[async_trait]
impl Provider for Garmin {
    fn info(&self) -> &ProviderInfo {
        &INFO
    }

    fn oauth(&self) -> &OAuthApp {
        &self.oauth
    }

    async fn account(&self, http: &Http, tokens: &Tokens) -> Result<String, ProviderError> {
        let url = self.url("/partner-gateway/rest/user/id")?;
        let id: Option<UserId> =
            rest::get_json(http, url, tokens.access_token.expose_secret()).await?;
        id.map(|i| i.user_id)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ProviderError::Malformed("garmin named no user id".into()))
    }

    /// Never pulls: a new connection's first sync asks Garmin to push its backfill; every other
    /// sync calls nothing.
    async fn fetch(
        &self,
        http: &Http,
        access_token: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Fetched, ProviderError> {
        let mut fetched = Fetched::default();
        if cursor.is_none_or(|c| !c.starts_with(BACKFILL_ASKED)) {
            self.ask_backfill(http, access_token, now).await?;
            fetched.cursor = Some(format!("{BACKFILL_ASKED}{}", now.timestamp_millis()));
        }
        Ok(fetched)
    }

    async fn pending(
        &self,
        http: &Http,
        access_token: &str,
        item: &PendingItem,
    ) -> Result<Fetched, ProviderError> {
        let value: serde_json::Value = serde_json::from_str(&item.payload)
            .map_err(|e| ProviderError::Malformed(format!("stashed garmin item: {e}")))?;
        let summaries = match value.get("callbackURL").and_then(|v| v.as_str()) {
            Some(callback) => {
                let url = self.callback_url(callback).ok_or_else(|| {
                    ProviderError::Malformed("callback outside garmin's api host".into())
                })?;
                let request = http
                    .client()
                    .get(url.as_str())
                    .bearer_auth(access_token)
                    .header(http::header::ACCEPT, "application/json");
                let what = format!("callback {}", url.path());
                let answer = rest::call(request, &what, &[403, 404, 410], one_minute).await?;
                if !answer.status.is_success() {
                    // The data is gone or withheld: nothing left to fetch for this ping.
                    tracing::info!(kind = %item.kind, status = %answer.status, "garmin callback answered nothing to read");
                    return Ok(Fetched::default());
                }
                let body: serde_json::Value = answer.json(&what)?;
                match body {
                    serde_json::Value::Array(list) => list,
                    serde_json::Value::Object(mut map) => match map.remove(&item.kind) {
                        Some(serde_json::Value::Array(list)) => list,
                        _ => vec![serde_json::Value::Object(map)],
                    },
                    _ => return Err(ProviderError::Malformed(format!("{what}: not a list"))),
                }
            }
            None => vec![value],
        };
        let mut fetched = Fetched::default();
        for summary in summaries {
            match data::read(&item.kind, summary, &item.account_id, &mut fetched) {
                Ok(()) => {}
                Err(data::Unread::OtherUser) => {
                    tracing::warn!(kind = %item.kind, "garmin summary of another user skipped")
                }
                Err(data::Unread::Malformed(why)) => return Err(ProviderError::Malformed(why)),
            }
        }
        Ok(fetched)
    }

    async fn revoke(&self, http: &Http, tokens: &Tokens) -> Result<(), ProviderError> {
        let url = self.url("/partner-gateway/rest/user/registration")?;
        let request = http
            .client()
            .delete(url.as_str())
            .bearer_auth(tokens.access_token.expose_secret());
        rest::send(request, "user/registration").await
    }

    fn webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome, ProviderError> {
        let expected = self
            .oauth
            .client_id
            .as_deref()
            .ok_or_else(|| ProviderError::Unauthorized("no client id to verify with".into()))?;
        let given = request
            .headers
            .get("garmin-client-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if given.is_empty() || !rest::secrets_match(given.trim(), expected) {
            return Err(ProviderError::Unauthorized("bad garmin-client-id".into()));
        }
        if request.method != http::Method::POST {
            return Err(ProviderError::Malformed(
                "garmin posts its notifications".into(),
            ));
        }
        let body: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&request.body)
                .map_err(|e| ProviderError::Malformed(format!("garmin notification: {e}")))?;
        let mut events = Vec::new();
        let mut skipped = 0usize;
        for (kind, items) in body {
            let Some(items) = items.as_array() else {
                skipped += 1;
                continue;
            };
            for item in items {
                let Some(user) = item.get("userId").and_then(|u| u.as_str()) else {
                    skipped += 1;
                    continue;
                };
                let account_id = user.to_owned();
                match kind.as_str() {
                    "deregistrations" => events.push(WebhookEvent::Deauthorized { account_id }),
                    "userPermissionsChange" => match permissions_scope(item) {
                        Some(scope) => events.push(WebhookEvent::Permissions { account_id, scope }),
                        None => skipped += 1,
                    },
                    k if data::KINDS.contains(&k) => {
                        let callback = item.get("callbackURL").and_then(|c| c.as_str());
                        if callback.is_some_and(|c| self.callback_url(c).is_none()) {
                            tracing::warn!(
                                kind = k,
                                "garmin callback outside its api host ignored"
                            );
                            skipped += 1;
                            continue;
                        }
                        events.push(WebhookEvent::Pending {
                            account_id,
                            kind: kind.clone(),
                            payload: item.to_string(),
                        });
                    }
                    _ => skipped += 1,
                }
            }
        }
        if skipped > 0 {
            tracing::debug!(skipped, "garmin notification items owl does not read");
        }
        Ok(WebhookOutcome::Events(events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn garmin(api: &str) -> Garmin {
        Garmin {
            oauth: OAuthApp {
                client_id: Some("cid".into()),
                client_secret: None,
                authorize_url: String::new(),
                token_url: String::new(),
                redirect_uri: String::new(),
                scopes: Vec::new(),
                pkce: true,
                credentials_in_body: true,
                authorize_params: Vec::new(),
            },
            api_base: api.into(),
        }
    }

    #[test]
    fn only_callbacks_on_garmins_api_host_are_fetched() {
        let g = garmin("https://apis.garmin.com");
        let ok =
            "https://apis.garmin.com/wellness-api/rest/dailies?uploadStartTimeInSeconds=1&token=t";
        assert!(g.callback_url(ok).is_some());
        for bad in [
            "https://evil.example/wellness-api/rest/dailies",
            "http://apis.garmin.com/wellness-api/rest/dailies",
            "https://apis.garmin.com:8443/wellness-api/rest/dailies",
            "https://apis.garmin.com.evil.example/wellness-api/rest/dailies",
            "https://user:pw@apis.garmin.com/wellness-api/rest/dailies",
            "https://apis.garmin.com/partner-gateway/rest/user/registration",
            "not a url",
        ] {
            assert!(g.callback_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_notification_needs_the_configured_client_id_and_yields_its_items() {
        let g = garmin("https://apis.garmin.com");
        let body = serde_json::json!({
            "dailies": [{"userId": "u1", "callbackURL": "https://apis.garmin.com/wellness-api/rest/dailies?token=t"},
                        {"userId": "u1", "callbackURL": "https://evil.example/wellness-api/rest/dailies"}],
            "deregistrations": [{"userId": "u2"}],
            "userPermissionsChange": [{"userId": "u3", "permissions": ["WELLNESS_EXPORT", "ACTIVITY_EXPORT"]}],
            "epochs": [{"userId": "u1"}],
        });
        let request = |id: Option<&str>| {
            let mut headers = http::HeaderMap::new();
            if let Some(id) = id {
                headers.insert("garmin-client-id", id.parse().unwrap());
            }
            WebhookRequest {
                method: http::Method::POST,
                headers,
                query: Default::default(),
                body: serde_json::to_vec(&body).unwrap(),
            }
        };
        assert!(matches!(
            g.webhook(&request(None)),
            Err(ProviderError::Unauthorized(_))
        ));
        assert!(matches!(
            g.webhook(&request(Some("other"))),
            Err(ProviderError::Unauthorized(_))
        ));
        let Ok(WebhookOutcome::Events(events)) = g.webhook(&request(Some("cid"))) else {
            panic!()
        };
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(events.contains(&WebhookEvent::Deauthorized {
            account_id: "u2".into()
        }));
        assert!(events.contains(&WebhookEvent::Permissions {
            account_id: "u3".into(),
            scope: "ACTIVITY_EXPORT WELLNESS_EXPORT".into()
        }));
    }
}
