//! Wearable providers: the `Provider` trait each one implements, what they exchange with owl
//! (tokens, fetched data, errors), and the `Registry` that holds the deployment's providers.
//!
//! Adding a provider is one module here and one line in `Registry::from_config`. The OAuth2
//! mechanics every provider shares (authorization URL with PKCE, code exchange, refresh) are in
//! `oauth`, over the `oauth2` crate.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::config::Config;
use crate::domain::health::SourceKey;
use crate::domain::health::events::NewEvent;
use crate::domain::health::intake::RawBatch;

pub mod demo;
pub mod fitbit;
pub mod garmin;
pub mod oauth;
pub mod oura;
pub mod polar;
pub mod rest;
pub mod strava;
pub mod suunto;
pub mod whoop;

pub use oauth::{Http, OAuthApp};

/// What a provider offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// Lowercase key, as in callback paths (`polar`).
    pub key: &'static str,
    pub display_name: &'static str,
    /// owl can pull data from the provider's API.
    pub pull: bool,
    /// The provider pushes data or notifications to owl's webhook.
    pub push: bool,
    /// `workouts`, `sleep`, `activity`, `heart_rate`, `body`, `recovery`.
    pub data_types: &'static [&'static str],
    /// How far back a new connection's history is fetched.
    pub backfill_days: i32,
    /// The provider's request budget for the whole deployment: fetches (pages) per window,
    /// shared by every worker.
    pub budget: Option<(u64, std::time::Duration)>,
}

/// Tokens from a code exchange or a refresh.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Granted scopes, space-separated.
    pub scope: Option<String>,
    /// The account's id at the provider, when the token response names it.
    pub account_id: Option<String>,
}

/// What one fetch brought back, normalized into owl's model.
#[derive(Debug, Default)]
pub struct Fetched {
    /// Sample batches, each naming its source.
    pub samples: Vec<RawBatch>,
    /// Workouts and sleep sessions with the source they came from.
    pub events: Vec<(SourceKey, NewEvent)>,
    /// Where the next fetch continues; `None` keeps the previous cursor.
    pub cursor: Option<String>,
    /// More data is waiting after `cursor`: fetch again.
    pub more: bool,
}

/// A webhook delivery as owl received it at `/api/v1/providers/{provider}/webhooks`.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    pub method: http::Method,
    pub headers: http::HeaderMap,
    pub query: std::collections::HashMap<String, String>,
    pub body: Vec<u8>,
}

/// What a verified webhook delivery asks of owl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Answer with this JSON body (a subscription challenge) and do nothing else.
    Challenge(String),
    /// Act on these events, then answer 200.
    Events(Vec<WebhookEvent>),
}

/// One event of a webhook delivery, naming the account by its id at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    /// New or changed data: sync the account's connection.
    Data { account_id: String },
    /// The user revoked owl's access at the provider.
    Deauthorized { account_id: String },
    /// Data the delivery carries (or where to fetch it): stashed for the account's connection
    /// and written by a sync job.
    Pending {
        account_id: String,
        /// What the item is, in the provider's words (Garmin's `dailies`, `sleeps` …).
        kind: String,
        /// The item, as the provider's module reads it back (JSON).
        payload: String,
    },
    /// The user changed what the provider shares: the connection's granted scope.
    Permissions { account_id: String, scope: String },
}

/// A stashed webhook item, handed back to its provider by the sync that writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingItem {
    pub id: uuid::Uuid,
    pub connection_id: uuid::Uuid,
    pub kind: String,
    pub payload: String,
    /// Reads of it that failed so far.
    pub attempts: i32,
    /// The connection's account at the provider.
    pub account_id: String,
}

/// A provider call that failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the token (expired, revoked): refresh, or the connection is lost.
    #[error("the provider refused the credentials: {0}")]
    Unauthorized(String),
    /// Too many requests; try again after the delay (Retry-After when the provider sent one).
    #[error("rate limited by the provider")]
    RateLimited {
        retry_after: Option<std::time::Duration>,
    },
    /// The provider failed or could not be reached: retry later.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider answered something owl cannot read.
    #[error("unexpected answer from the provider: {0}")]
    Malformed(String),
}

/// One wearable provider.
#[async_trait]
pub trait Provider: Send + Sync {
    /// What it offers.
    fn info(&self) -> &ProviderInfo;
    /// Its OAuth2 application: endpoints, scopes, PKCE, client credentials.
    fn oauth(&self) -> &OAuthApp;
    /// Whether the deployment can use it (client credentials are set).
    fn configured(&self) -> bool {
        self.oauth().configured()
    }
    /// Exchanges an authorization code for tokens.
    async fn exchange(
        &self,
        http: &Http,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<Tokens, ProviderError> {
        self.oauth().exchange(http, code, verifier).await
    }
    /// Gets new tokens with a refresh token.
    async fn refresh(&self, http: &Http, refresh_token: &str) -> Result<Tokens, ProviderError> {
        self.oauth().refresh(http, refresh_token).await
    }
    /// The account's id at the provider, and whatever registration it needs after consent.
    async fn account(&self, http: &Http, tokens: &Tokens) -> Result<String, ProviderError>;
    /// Fetches data after `cursor` (`None`: the backfill window before `now`).
    async fn fetch(
        &self,
        http: &Http,
        access_token: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Fetched, ProviderError>;
    /// Revokes owl's access at the provider, as far as it allows.
    async fn revoke(&self, http: &Http, tokens: &Tokens) -> Result<(), ProviderError>;
    /// Reads a stashed webhook item into data: the item itself, or what the provider answers at
    /// the place the item names. `Malformed` for an item that cannot be read.
    async fn pending(
        &self,
        http: &Http,
        access_token: &str,
        item: &PendingItem,
    ) -> Result<Fetched, ProviderError> {
        let _ = (http, access_token);
        Err(ProviderError::Malformed(format!(
            "{} stashes no webhook items ({})",
            self.info().display_name,
            item.kind
        )))
    }
    /// Verifies a webhook delivery (signature, subscription token) and reads its events.
    /// `Unauthorized` for a delivery that does not prove it comes from the provider.
    fn webhook(&self, request: &WebhookRequest) -> Result<WebhookOutcome, ProviderError> {
        let _ = request;
        Err(ProviderError::Unauthorized(format!(
            "{} sends no webhooks",
            self.info().display_name
        )))
    }
}

/// Where a provider lives by default; `{PROVIDER}_AUTH_BASE_URL` and `{PROVIDER}_API_BASE_URL`
/// replace the bases (tests point them at local fakes).
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// Base of the OAuth endpoints, such as `https://flow.polar.com`.
    pub auth_base: &'static str,
    /// Path of the consent page under the auth base, such as `/oauth2/authorization`.
    pub authorize_path: &'static str,
    /// Path of the token endpoint under the auth base, or an absolute URL when the token
    /// endpoint lives on another host.
    pub token_path: &'static str,
    /// Base of the data API, such as `https://www.polaraccesslink.com`.
    pub api_base: &'static str,
    pub pkce: bool,
    pub credentials_in_body: bool,
}

/// A provider's settings resolved from the configuration.
#[derive(Debug, Clone)]
pub struct Setup {
    pub oauth: OAuthApp,
    /// Base of the data API, without a trailing slash.
    pub api_base: String,
    /// The provider's variables (extra secrets, page sizes).
    pub config: crate::config::providers::ProviderConfig,
}

/// Resolves provider `key`'s OAuth application and API base from the configuration: client
/// credentials, the callback (`{PROVIDER}_REDIRECT_URI`, else owl's
/// `/api/v1/oauth/{provider}/callback`), scopes (`{PROVIDER}_DEFAULT_SCOPE`, space- or
/// comma-separated as the provider expects) and the endpoints.
pub fn setup(config: &Config, public_url: &str, key: &str, d: Defaults) -> Setup {
    let c = config.providers.get(key).cloned().unwrap_or_default();
    let base = |configured: &Option<String>, default: &str| {
        configured
            .clone()
            .unwrap_or_else(|| default.to_owned())
            .trim_end_matches('/')
            .to_owned()
    };
    let auth_base = base(&c.auth_base_url, d.auth_base);
    let token_url = if d.token_path.starts_with("http") && c.auth_base_url.is_none() {
        d.token_path.to_owned()
    } else {
        let path = d
            .token_path
            .split_once("://")
            .map_or(d.token_path, |(_, rest)| {
                rest.find('/').map_or("", |i| &rest[i..])
            });
        format!("{auth_base}{path}")
    };
    let oauth = OAuthApp {
        client_id: c.client_id.clone(),
        client_secret: c.client_secret.clone(),
        authorize_url: format!("{auth_base}{}", d.authorize_path),
        token_url,
        redirect_uri: c
            .redirect_uri
            .clone()
            .unwrap_or_else(|| format!("{public_url}/api/v1/oauth/{key}/callback")),
        scopes: c
            .default_scope
            .iter()
            .flat_map(|s| s.split_whitespace())
            .map(str::to_owned)
            .collect(),
        pkce: d.pkce,
        credentials_in_body: d.credentials_in_body,
        authorize_params: Vec::new(),
    };
    Setup {
        oauth,
        api_base: base(&c.api_base_url, d.api_base),
        config: c,
    }
}

/// The deployment's providers by key.
pub struct Registry {
    providers: BTreeMap<&'static str, Arc<dyn Provider>>,
    demo: Arc<demo::Demo>,
    /// The HTTP client providers are called with.
    pub http: Http,
}

impl Registry {
    /// Every provider owl knows, configured from `config`.
    pub fn from_config(config: &Config, public_url: &str, demo_key: &[u8]) -> anyhow::Result<Self> {
        let mut providers: BTreeMap<&'static str, Arc<dyn Provider>> = BTreeMap::new();
        let demo = Arc::new(demo::Demo::new(public_url, demo_key)?);
        providers.insert(demo.info().key, demo.clone());
        providers.insert("fitbit", Arc::new(fitbit::Fitbit::new(config, public_url)));
        providers.insert("garmin", Arc::new(garmin::Garmin::new(config, public_url)));
        providers.insert("oura", Arc::new(oura::Oura::new(config, public_url)));
        providers.insert("whoop", Arc::new(whoop::Whoop::new(config, public_url)));
        providers.insert("polar", Arc::new(polar::Polar::new(config, public_url)));
        providers.insert("strava", Arc::new(strava::Strava::new(config, public_url)));
        providers.insert("suunto", Arc::new(suunto::Suunto::new(config, public_url)));
        Ok(Registry {
            providers,
            demo,
            http: Http::new()?,
        })
    }

    /// The provider with `key`.
    pub fn get(&self, key: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(key)
    }

    /// The built-in demo provider, whose consent page owl serves.
    pub fn demo(&self) -> &demo::Demo {
        &self.demo
    }

    /// Every provider, by key.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.providers.values()
    }
}
