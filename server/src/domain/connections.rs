//! Connections to wearable providers: starting the OAuth flow, completing it at the callback,
//! reading and deleting connections, and the deployment's provider settings.
//!
//! A flow's state is a random token bound to the user, provider and redirect URI, stored only as
//! its digest, used once and valid for ten minutes. Provider tokens and PKCE verifiers are stored
//! as AES-256-GCM ciphertexts (`crypto::Cipher`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::Context;
use super::auth::Caller;
use super::error::{Error, Reason, Result};
use super::page::{Page, PageRequest};
use super::users::Users;
use super::validate::Violations;
use crate::crypto::{random_token, token_digest};
use crate::providers::{Provider, ProviderInfo, Tokens};

/// How long a started flow may take.
pub const STATE_TTL_MINUTES: i64 = 10;

/// Whether owl can reach a connected account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    Active,
    Expired,
    Revoked,
}

impl ConnectionState {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Active => "active",
            ConnectionState::Expired => "expired",
            ConnectionState::Revoked => "revoked",
        }
    }

    /// Reads the stored form; unknown values read as revoked (never synced).
    pub fn parse(value: &str) -> Self {
        match value {
            "active" => ConnectionState::Active,
            "expired" => ConnectionState::Expired,
            _ => ConnectionState::Revoked,
        }
    }
}

/// How owl receives a provider's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    Pull,
    Webhook,
}

impl SyncMode {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Pull => "pull",
            SyncMode::Webhook => "webhook",
        }
    }

    /// Reads the stored form.
    pub fn parse(value: &str) -> Self {
        if value == "webhook" {
            SyncMode::Webhook
        } else {
            SyncMode::Pull
        }
    }
}

/// A started flow, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthState {
    /// SHA-256 of the state token, hex.
    pub digest: String,
    pub user_id: Uuid,
    pub provider: String,
    pub redirect_uri: String,
    /// Ciphertext of the PKCE verifier.
    pub pkce_verifier: Option<Vec<u8>>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// A connection as stored: tokens are ciphertexts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConnection {
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider: String,
    pub provider_user_id: Option<String>,
    pub state: ConnectionState,
    pub state_reason: Option<String>,
    pub access_token: Option<Vec<u8>>,
    pub refresh_token: Option<Vec<u8>>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub scope: Option<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub sync_cursor: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A provider's stored settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSetting {
    pub provider: String,
    pub enabled: bool,
    pub sync_mode: SyncMode,
    pub updated_at: DateTime<Utc>,
}

/// A provider with the deployment's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderView {
    pub info: ProviderInfo,
    pub pkce: bool,
    pub configured: bool,
    pub enabled: bool,
    pub sync_mode: SyncMode,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A started connection: where to send the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub authorization_url: String,
    pub expires_at: DateTime<Utc>,
}

/// The parameters the provider sent to the callback.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
}

/// What the callback did: the connection made, or why not, and where the browser goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub redirect_uri: String,
    pub outcome: std::result::Result<StoredConnection, &'static str>,
}

impl Completed {
    /// The app's redirect URI with `status` and `connection` or `error` added.
    pub fn location(&self) -> String {
        let mut url = match url::Url::parse(&self.redirect_uri) {
            Ok(url) => url,
            Err(_) => return self.redirect_uri.clone(),
        };
        {
            let mut query = url.query_pairs_mut();
            match &self.outcome {
                Ok(c) => query
                    .append_pair("status", "success")
                    .append_pair("connection", &connection_name(c)),
                Err(error) => query
                    .append_pair("status", "error")
                    .append_pair("error", error),
            };
        }
        url.to_string()
    }
}

/// The resource name of a connection.
pub fn connection_name(c: &StoredConnection) -> String {
    format!("users/{}/connections/{}", c.user_id, c.id)
}

fn not_found(user_id: Uuid, id: Uuid) -> Error {
    Error::not_found(
        "owl.v1.Connection",
        format!("users/{user_id}/connections/{id}"),
    )
}

/// Connection use-cases.
pub struct Connections<'a>(pub &'a Context);

impl Connections<'_> {
    fn provider(&self, key: &str, field: &str) -> Result<&std::sync::Arc<dyn Provider>> {
        self.0
            .providers
            .get(key)
            .ok_or_else(|| Error::invalid(field, format!("unknown provider {key:?}")))
    }

    /// The settings of `provider`, stored or default (enabled when configured; the demo in
    /// development).
    pub(crate) async fn setting(
        &self,
        provider: &dyn Provider,
    ) -> Result<(bool, SyncMode, Option<DateTime<Utc>>)> {
        let stored = self.0.connections.provider_settings().await?;
        Ok(self.resolve(provider, &stored))
    }

    /// The settings of `provider` among `stored`, or its defaults.
    fn resolve(
        &self,
        provider: &dyn Provider,
        stored: &[ProviderSetting],
    ) -> (bool, SyncMode, Option<DateTime<Utc>>) {
        let key = provider.info().key;
        match stored.iter().find(|s| s.provider == key) {
            Some(s) => (s.enabled, s.sync_mode, Some(s.updated_at)),
            None => {
                let enabled = if key == "demo" {
                    self.0.settings.demo_provider
                } else {
                    provider.configured()
                };
                let mode = if provider.info().pull {
                    SyncMode::Pull
                } else {
                    SyncMode::Webhook
                };
                (enabled, mode, None)
            }
        }
    }

    /// Every provider with its settings; any authenticated caller may see them.
    pub async fn providers(&self) -> Result<Vec<ProviderView>> {
        let stored = self.0.connections.provider_settings().await?;
        let mut out = Vec::new();
        for p in self.0.providers.all() {
            let (enabled, sync_mode, updated_at) = self.resolve(p.as_ref(), &stored);
            out.push(ProviderView {
                info: p.info().clone(),
                pkce: p.oauth().pkce,
                configured: p.configured(),
                enabled,
                sync_mode,
                updated_at,
            });
        }
        Ok(out)
    }

    /// Changes a provider's settings (developers only); `None` keeps a setting.
    pub async fn update_provider(
        &self,
        caller: &Caller,
        key: &str,
        enabled: Option<bool>,
        sync_mode: Option<SyncMode>,
    ) -> Result<ProviderView> {
        caller.developer()?;
        let provider = self.provider(key, "provider.name")?.clone();
        let info = provider.info();
        let mut v = Violations::new();
        v.check(
            sync_mode != Some(SyncMode::Pull) || info.pull,
            "provider.sync_mode",
            &format!("{} offers no pull", info.display_name),
        );
        v.check(
            sync_mode != Some(SyncMode::Webhook) || info.push,
            "provider.sync_mode",
            &format!("{} sends no webhooks", info.display_name),
        );
        v.finish()?;
        let (old_enabled, old_mode, _) = self.setting(provider.as_ref()).await?;
        let setting = ProviderSetting {
            provider: info.key.to_owned(),
            enabled: enabled.unwrap_or(old_enabled),
            sync_mode: sync_mode.unwrap_or(old_mode),
            updated_at: self.0.clock.now(),
        };
        self.0.connections.put_provider_setting(&setting).await?;
        tracing::info!(
            provider = key,
            enabled = setting.enabled,
            "provider settings changed"
        );
        Ok(ProviderView {
            info: info.clone(),
            pkce: provider.oauth().pkce,
            configured: provider.configured(),
            enabled: setting.enabled,
            sync_mode: setting.sync_mode,
            updated_at: Some(setting.updated_at),
        })
    }

    /// Starts connecting `user_id` to `provider`; the flow ends at `redirect_uri`.
    pub async fn start(
        &self,
        caller: &Caller,
        user_id: Uuid,
        provider: &str,
        redirect_uri: &str,
    ) -> Result<Started> {
        let mut v = Violations::new();
        let found = self.0.providers.get(provider);
        v.check(
            found.is_some(),
            "provider",
            &format!("unknown provider {provider:?}"),
        );
        v.check(!redirect_uri.is_empty(), "redirect_uri", "must be set");
        v.finish()?;
        let Some(p) = found else {
            return Err(Error::invalid("provider", "unknown provider"));
        };
        let user = Users(self.0).visible(caller, user_id).await?;
        let application = self.0.applications.application(user.application_id).await?;
        if !application.is_some_and(|a| a.redirect_uris.iter().any(|u| u == redirect_uri)) {
            return Err(Error::invalid(
                "redirect_uri",
                "is not one of the application's redirect_uris",
            ));
        }
        let (enabled, _, _) = self.setting(p.as_ref()).await?;
        if !p.configured() {
            return Err(Error::FailedPrecondition {
                reason: Reason::ProviderNotConfigured,
                message: format!("{provider} has no client credentials on this deployment"),
            });
        }
        if !enabled {
            return Err(Error::FailedPrecondition {
                reason: Reason::ProviderDisabled,
                message: format!("{provider} is disabled on this deployment"),
            });
        }
        let state = random_token(32);
        let authorization = p
            .oauth()
            .authorize(&state)
            .map_err(|e| anyhow::anyhow!(e))?;
        let now = self.0.clock.now();
        let pkce_verifier = authorization
            .pkce_verifier
            .map(|v| self.0.cipher.encrypt(v.expose_secret().as_bytes()))
            .transpose()?;
        let stored = OAuthState {
            digest: token_digest(&state),
            user_id,
            provider: provider.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            pkce_verifier,
            expires_at: now + Duration::minutes(STATE_TTL_MINUTES),
            created_at: now,
        };
        self.0.connections.purge_states(now).await?;
        self.0.connections.save_state(&stored).await?;
        Ok(Started {
            authorization_url: authorization.url,
            expires_at: stored.expires_at,
        })
    }

    /// Completes a flow at the callback of `provider`. An unknown, used or foreign state is an
    /// error (there is no app to send the browser back to); anything after that ends at the
    /// app's redirect URI with the outcome.
    pub async fn complete(&self, provider: &str, callback: Callback) -> Result<Completed> {
        let state = callback
            .state
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::invalid("state", "must be set"))?;
        let stored = self
            .0
            .connections
            .take_state(&token_digest(&state))
            .await?
            .filter(|s| s.provider == provider)
            .ok_or_else(|| Error::invalid("state", "is unknown or was used already"))?;
        let redirect_uri = stored.redirect_uri.clone();
        let outcome = self.connect(stored, callback.code, callback.error).await?;
        Ok(Completed {
            redirect_uri,
            outcome,
        })
    }

    async fn connect(
        &self,
        state: OAuthState,
        code: Option<String>,
        error: Option<String>,
    ) -> Result<std::result::Result<StoredConnection, &'static str>> {
        let now = self.0.clock.now();
        if state.expires_at <= now {
            return Ok(Err("state_expired"));
        }
        if let Some(error) = error {
            tracing::info!(provider = %state.provider, %error, "consent refused");
            return Ok(Err("access_denied"));
        }
        let Some(code) = code.filter(|c| !c.is_empty()) else {
            return Ok(Err("missing_code"));
        };
        let Some(provider) = self.0.providers.get(&state.provider) else {
            return Ok(Err("unknown_provider"));
        };
        let verifier = state
            .pkce_verifier
            .as_deref()
            .map(|c| self.0.cipher.decrypt(c))
            .transpose()?
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        let http = &self.0.providers.http;
        let tokens = match provider.exchange(http, &code, verifier.as_deref()).await {
            Ok(tokens) => tokens,
            Err(error) => {
                tracing::warn!(provider = %state.provider, %error, "code exchange failed");
                return Ok(Err("exchange_failed"));
            }
        };
        let account = match provider.account(http, &tokens).await {
            Ok(account) => account,
            Err(error) => {
                tracing::warn!(provider = %state.provider, %error, "account lookup failed");
                return Ok(Err("account_failed"));
            }
        };
        let connection = StoredConnection {
            id: Uuid::now_v7(),
            user_id: state.user_id,
            provider: state.provider.clone(),
            provider_user_id: Some(account),
            state: ConnectionState::Active,
            state_reason: None,
            access_token: None,
            refresh_token: None,
            token_expires_at: None,
            scope: None,
            last_synced_at: None,
            sync_cursor: None,
            created_at: now,
            updated_at: now,
        };
        let connection = self.with_tokens(connection, &tokens)?;
        let stored = self.0.connections.put_connection(&connection).await?;
        tracing::info!(connection = %stored.id, provider = %stored.provider, "connection made");
        Ok(Ok(stored))
    }

    /// `connection` holding `tokens`, encrypted.
    pub fn with_tokens(
        &self,
        mut connection: StoredConnection,
        tokens: &Tokens,
    ) -> Result<StoredConnection> {
        let seal = |s: &SecretString| self.0.cipher.encrypt(s.expose_secret().as_bytes());
        connection.access_token = Some(seal(&tokens.access_token)?);
        connection.refresh_token = tokens.refresh_token.as_ref().map(seal).transpose()?;
        connection.token_expires_at = tokens.expires_at;
        // A refresh that names no scope keeps the granted one (Garmin's permissions).
        connection.scope = tokens.scope.clone().or(connection.scope);
        Ok(connection)
    }

    /// The decrypted tokens of a connection.
    pub fn tokens(&self, connection: &StoredConnection) -> Result<Tokens> {
        let open = |c: &Vec<u8>| -> Result<SecretString> {
            let plain = self.0.cipher.decrypt(c)?;
            Ok(SecretString::from(
                String::from_utf8_lossy(&plain).into_owned(),
            ))
        };
        let access = connection
            .access_token
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("connection without an access token"))?;
        Ok(Tokens {
            access_token: open(access)?,
            refresh_token: connection.refresh_token.as_ref().map(open).transpose()?,
            expires_at: connection.token_expires_at,
            scope: connection.scope.clone(),
            account_id: connection.provider_user_id.clone(),
        })
    }

    /// A user's connection.
    pub async fn get(&self, caller: &Caller, user_id: Uuid, id: Uuid) -> Result<StoredConnection> {
        Users(self.0).visible(caller, user_id).await?;
        self.0
            .connections
            .connection(user_id, id)
            .await?
            .ok_or_else(|| not_found(user_id, id))
    }

    /// A user's connections, oldest first.
    pub async fn list(
        &self,
        caller: &Caller,
        user_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<StoredConnection>> {
        Users(self.0).visible(caller, user_id).await?;
        let rows = self.0.connections.list_connections(user_id, &page).await?;
        Ok(page.page(rows, |c| c.id))
    }

    /// Revokes access at the provider (a failure there is logged, not fatal), deletes the
    /// connection and, with `delete_data`, the provider's samples and events of the user.
    pub async fn delete(
        &self,
        caller: &Caller,
        user_id: Uuid,
        id: Uuid,
        delete_data: bool,
    ) -> Result<()> {
        let connection = self.get(caller, user_id, id).await?;
        if let (Some(provider), Ok(tokens)) = (
            self.0.providers.get(&connection.provider),
            self.tokens(&connection),
        ) && let Err(error) = provider.revoke(&self.0.providers.http, &tokens).await
        {
            tracing::warn!(connection = %id, %error, "revocation at the provider failed");
        }
        if !self.0.connections.delete_connection(user_id, id).await? {
            return Err(not_found(user_id, id));
        }
        if delete_data {
            let deleted = self
                .0
                .health
                .delete_provider_data(user_id, &connection.provider)
                .await?;
            tracing::info!(connection = %id, deleted, "connection data deleted");
        }
        tracing::info!(connection = %id, "connection deleted");
        Ok(())
    }
}

/// What owl answers a verified webhook delivery with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookReply {
    /// The provider's subscription challenge, answered as JSON.
    Challenge(String),
    /// Accepted: `sync` names active connections with new data to sync; `drain` names
    /// connections that got new stashed items, each with a key of its own for the job that
    /// writes them (so that a sync already running cannot swallow the request).
    Accepted {
        sync: Vec<StoredConnection>,
        drain: Vec<(StoredConnection, String)>,
    },
}

/// A stashed item with its payload opened (it is stored as base64 of an AES-256-GCM
/// ciphertext).
pub fn opened_item(
    cipher: &crate::crypto::Cipher,
    mut item: crate::providers::PendingItem,
) -> Result<crate::providers::PendingItem> {
    let sealed = STANDARD
        .decode(item.payload.as_bytes())
        .map_err(|e| anyhow::anyhow!("stashed item {} is not base64: {e}", item.id))?;
    let plain = cipher.decrypt(&sealed)?;
    item.payload = String::from_utf8(plain)
        .map_err(|e| anyhow::anyhow!("stashed item {} is not text: {e}", item.id))?;
    Ok(item)
}

/// The dedup key of a stashed webhook item: SHA-256 of its kind and payload, hex.
fn item_key(kind: &str, payload: &str) -> String {
    token_digest(&format!("{kind}\n{payload}"))
}

impl Connections<'_> {
    /// Verifies a webhook delivery for `provider` and applies it: deauthorizations revoke the
    /// account's connections, permission changes update their scope, data events name the
    /// connections to sync, and data items are stashed for a job to write. Unknown accounts are
    /// counted and ignored (the provider learns nothing about who is connected).
    pub async fn webhook(
        &self,
        provider: &str,
        request: &crate::providers::WebhookRequest,
    ) -> Result<WebhookReply> {
        use crate::providers::{PendingItem, ProviderError, WebhookEvent, WebhookOutcome};
        let p =
            self.0.providers.get(provider).ok_or_else(|| {
                Error::not_found("owl.v1.Provider", format!("providers/{provider}"))
            })?;
        let events = match p.webhook(request) {
            Ok(WebhookOutcome::Challenge(body)) => return Ok(WebhookReply::Challenge(body)),
            Ok(WebhookOutcome::Events(events)) => events,
            Err(ProviderError::Unauthorized(why)) => {
                tracing::warn!(provider, why, "webhook refused");
                return Err(Error::unauthenticated(
                    Reason::InvalidCredentials,
                    "the webhook delivery is not signed by the provider",
                ));
            }
            Err(error) => return Err(Error::invalid("body", error.to_string())),
        };
        let now = self.0.clock.now();
        let mut sync: Vec<StoredConnection> = Vec::new();
        let mut drain: Vec<(StoredConnection, String)> = Vec::new();
        let (mut unknown, mut replayed) = (0usize, 0usize);
        for event in events {
            let account = match &event {
                WebhookEvent::Data { account_id }
                | WebhookEvent::Deauthorized { account_id }
                | WebhookEvent::Pending { account_id, .. }
                | WebhookEvent::Permissions { account_id, .. } => account_id,
            };
            let connections = self
                .0
                .connections
                .connections_of_account(provider, account)
                .await?;
            if !connections
                .iter()
                .any(|c| c.state == ConnectionState::Active)
            {
                unknown += 1;
            }
            for mut c in connections {
                match &event {
                    WebhookEvent::Deauthorized { .. } => {
                        c.state = ConnectionState::Revoked;
                        c.state_reason =
                            Some(format!("access revoked at {}", p.info().display_name));
                        c.updated_at = now;
                        self.0.connections.update_connection(&c).await?;
                        tracing::info!(connection = %c.id, provider, "connection revoked by the provider");
                    }
                    _ if c.state != ConnectionState::Active => {}
                    WebhookEvent::Permissions { scope, .. } => {
                        c.scope = Some(scope.clone());
                        c.updated_at = now;
                        self.0.connections.update_connection(&c).await?;
                        tracing::info!(connection = %c.id, provider, %scope, "permissions changed at the provider");
                    }
                    WebhookEvent::Pending { kind, payload, .. } => {
                        // Sealed like tokens: health data, and ping callbacks carry Garmin's token.
                        let sealed = self.0.cipher.encrypt(payload.as_bytes())?;
                        let item = PendingItem {
                            id: Uuid::now_v7(),
                            connection_id: c.id,
                            kind: kind.clone(),
                            payload: STANDARD.encode(sealed),
                            attempts: 0,
                            account_id: account.clone(),
                        };
                        let key = item_key(kind, payload);
                        if !self.0.connections.stash_item(&item, &key, now).await? {
                            replayed += 1;
                        } else if let Some(slot) = drain.iter_mut().find(|(d, _)| d.id == c.id) {
                            slot.1 = item.id.to_string();
                        } else {
                            drain.push((c, item.id.to_string()));
                        }
                    }
                    WebhookEvent::Data { .. } => {
                        if !sync.iter().any(|s| s.id == c.id) {
                            sync.push(c);
                        }
                    }
                }
            }
        }
        if unknown > 0 || replayed > 0 {
            tracing::info!(
                provider,
                unknown,
                replayed,
                "webhook events of unknown accounts ignored; replayed items skipped"
            );
        }
        Ok(WebhookReply::Accepted { sync, drain })
    }
}

/// What a key rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Connections whose tokens were re-encrypted under the current key.
    pub rewritten: u64,
    /// Connections already under the current key.
    pub current: u64,
    /// Connections whose tokens no configured key opens.
    pub unreadable: u64,
    /// Stashed webhook items re-encrypted, already current, and unreadable.
    pub items: ItemRotation,
}

/// What a rotation did to stashed webhook items (sealed: a ping carries a provider's token).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ItemRotation {
    pub rewritten: u64,
    pub current: u64,
    pub unreadable: u64,
}

impl Connections<'_> {
    /// Re-encrypts every connection's tokens under the current key; tokens under a previous key
    /// (OWL_ENCRYPTION_KEY_PREVIOUS) are read with it. Safe beside running servers: a token a
    /// sync refreshes meanwhile is left as the sync wrote it.
    pub async fn rotate_encryption(&self) -> Result<Rotation> {
        let cipher = &self.0.cipher;
        let mut rotation = Rotation::default();
        let mut after = None;
        loop {
            let page = self.0.connections.all_connections(after, 500).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.id);
            for c in &page {
                let sealed = [c.access_token.as_deref(), c.refresh_token.as_deref()];
                if sealed.iter().flatten().all(|s| cipher.is_current(s)) {
                    rotation.current += 1;
                    continue;
                }
                let reseal = |s: Option<&[u8]>| -> Result<Option<Vec<u8>>> {
                    s.map(|s| Ok(cipher.encrypt(&cipher.decrypt(s)?)?))
                        .transpose()
                };
                match (reseal(sealed[0]), reseal(sealed[1])) {
                    (Ok(access), Ok(refresh)) => {
                        let old = (sealed[0], sealed[1]);
                        if self
                            .0
                            .connections
                            .replace_tokens(c.id, old, (access, refresh))
                            .await?
                        {
                            rotation.rewritten += 1;
                        } else {
                            // A sync stored new tokens meanwhile, under the current key.
                            rotation.current += 1;
                        }
                    }
                    _ => {
                        tracing::error!(connection = %c.id, "no configured key opens this connection's tokens");
                        rotation.unreadable += 1;
                    }
                }
            }
        }
        rotation.items = self.rotate_items().await?;
        Ok(rotation)
    }

    /// Re-encrypts stashed webhook items under the current key (their payload is base64 of
    /// the sealed bytes).
    async fn rotate_items(&self) -> Result<ItemRotation> {
        let cipher = &self.0.cipher;
        let mut done = ItemRotation::default();
        let mut after = None;
        loop {
            let page = self.0.connections.sealed_items(after, 500).await?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after = Some(*last);
            for (id, payload) in &page {
                let Ok(sealed) = STANDARD.decode(payload.as_bytes()) else {
                    done.unreadable += 1;
                    continue;
                };
                if cipher.is_current(&sealed) {
                    done.current += 1;
                    continue;
                }
                let Ok(plain) = cipher.decrypt(&sealed) else {
                    tracing::error!(item = %id, "no configured key opens this webhook item");
                    done.unreadable += 1;
                    continue;
                };
                let resealed = STANDARD.encode(cipher.encrypt(&plain)?);
                if self
                    .0
                    .connections
                    .reseal_item(*id, payload, &resealed)
                    .await?
                {
                    done.rewritten += 1;
                } else {
                    // Written (and so deleted) by a sync meanwhile.
                    done.current += 1;
                }
            }
        }
        Ok(done)
    }
}
