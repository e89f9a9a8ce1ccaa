//! Pulling a connection's data from its provider into the health-data model: tokens refreshed
//! before they expire, pages fetched after the stored cursor and written idempotently (samples
//! through the same intake as the API, events by their identity), the cursor saved after every
//! page. A refused refresh marks the connection expired. Webhook items stashed for the
//! connection (`webhook_item`) are written first, each deleted once its data is stored.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::Context;
use super::connections::{ConnectionState, Connections, StoredConnection};
use super::error::{Error, Result};
use super::health::SourceKey;
use super::health::events::{NewEvent, WriteMode, validate_events};
use super::health::intake::{OffsetRule, check_source, validate_batches};
use super::lease::Lease;
use super::rate_limit::over_budget;
use super::validate::Violations;
use crate::providers::{Fetched, Provider, ProviderError, ProviderInfo};

/// Refresh tokens that expire within this.
const REFRESH_MARGIN_MINUTES: i64 = 5;
/// How long every worker holds off a provider that answered 429 without a Retry-After.
const DEFAULT_RATE_LIMIT_PAUSE: std::time::Duration = std::time::Duration::from_secs(60);
/// Most pages one sync fetches; the next sync continues from the cursor.
const MAX_PAGES: usize = 100;
/// Stashed webhook items read per round of a drain.
const ITEMS_PER_ROUND: u64 = 50;
/// Failed reads after which a stashed webhook item is dropped.
const MAX_ITEM_ATTEMPTS: i32 = 3;

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pulled {
    /// Samples inserted or changed.
    pub samples: u64,
    /// Events inserted or changed.
    pub events: u64,
    /// Pages fetched.
    pub pages: usize,
    /// Stashed webhook items written.
    pub items: usize,
}

/// Why a sync fetched nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// The connection was deleted.
    Deleted,
    /// The connection is expired or revoked.
    NotActive,
    /// The provider is not part of this deployment or is disabled.
    ProviderUnavailable,
}

/// How long a worker waits for another worker's refresh of the same connection.
const REFRESH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Sync use-cases. With a `lease`, one worker refreshes a connection's tokens while the others
/// wait for its result (a rotated refresh token works once).
pub struct ProviderSync<'a> {
    pub ctx: &'a Context,
    pub lease: Option<&'a dyn Lease>,
    /// Names this process in leases.
    pub holder: &'a str,
}

impl ProviderSync<'_> {
    /// Pulls what is new for a connection.
    pub async fn run(
        &self,
        user_id: Uuid,
        connection_id: Uuid,
    ) -> Result<std::result::Result<Pulled, Skipped>> {
        let Some(connection) = self
            .ctx
            .connections
            .connection(user_id, connection_id)
            .await?
        else {
            return Ok(Err(Skipped::Deleted));
        };
        if connection.state != ConnectionState::Active {
            return Ok(Err(Skipped::NotActive));
        }
        let Some(provider) = self.ctx.providers.get(&connection.provider).cloned() else {
            return Ok(Err(Skipped::ProviderUnavailable));
        };
        let (enabled, _, _) = Connections(self.ctx).setting(provider.as_ref()).await?;
        if !enabled {
            return Ok(Err(Skipped::ProviderUnavailable));
        }
        let mut connection = self.fresh(connection, provider.as_ref(), false).await?;
        let offsets = self.offsets(user_id).await?;
        let mut pulled = Pulled::default();
        let mut refreshed = false;
        self.drain(
            &mut connection,
            provider.as_ref(),
            &offsets,
            &mut pulled,
            &mut refreshed,
        )
        .await?;
        while pulled.pages < MAX_PAGES {
            let tokens = Connections(self.ctx).tokens(&connection)?;
            let now = self.ctx.clock.now();
            self.within_budget(provider.info(), now).await?;
            let fetched = provider
                .fetch(
                    &self.ctx.providers.http,
                    secrecy::ExposeSecret::expose_secret(&tokens.access_token),
                    connection.sync_cursor.as_deref(),
                    now,
                )
                .await;
            let fetched = match fetched {
                Ok(fetched) => fetched,
                Err(ProviderError::Unauthorized(_)) if !refreshed => {
                    refreshed = true;
                    connection = self.fresh(connection, provider.as_ref(), true).await?;
                    continue;
                }
                Err(error) => return Err(self.failure(&mut connection, error).await?),
            };
            pulled.pages += 1;
            let more = fetched.more;
            let cursor = fetched.cursor.clone();
            let (samples, events) = self.store(user_id, &offsets, fetched).await?;
            pulled.samples += samples;
            pulled.events += events;
            if cursor.is_some() {
                connection.sync_cursor = cursor;
            }
            connection.last_synced_at = Some(now);
            // Only the sync's own columns: a webhook may have revoked the connection meanwhile.
            self.ctx
                .connections
                .record_sync(connection.id, connection.sync_cursor.as_deref(), now)
                .await?;
            if !more {
                break;
            }
        }
        tracing::info!(connection = %connection.id, provider = %connection.provider,
            samples = pulled.samples, events = pulled.events, pages = pulled.pages, "synced");
        Ok(Ok(pulled))
    }

    /// Writes the webhook items stashed for the connection, oldest first, each deleted once its
    /// data is committed (a crash in between writes it again, which changes nothing). Items
    /// stashed while this runs are read too, or by the job their delivery enqueued. An item that
    /// cannot be read fails the sync and is retried; after `MAX_ITEM_ATTEMPTS` it is dropped.
    async fn drain(
        &self,
        connection: &mut StoredConnection,
        provider: &dyn Provider,
        offsets: &OffsetRule,
        pulled: &mut Pulled,
        refreshed: &mut bool,
    ) -> Result<()> {
        for _ in 0..MAX_PAGES {
            let items = self
                .ctx
                .connections
                .stashed_items(connection.id, ITEMS_PER_ROUND)
                .await?;
            if items.is_empty() {
                return Ok(());
            }
            for item in items {
                let item = match super::connections::opened_item(&self.ctx.cipher, item.clone()) {
                    Ok(item) => item,
                    Err(error) => {
                        // No configured key opens it: it can never be written.
                        tracing::error!(connection = %connection.id, item = %item.id, %error,
                            "stashed webhook item dropped");
                        self.ctx.connections.drop_item(item.id).await?;
                        continue;
                    }
                };
                loop {
                    let tokens = Connections(self.ctx).tokens(connection)?;
                    let now = self.ctx.clock.now();
                    self.within_budget(provider.info(), now).await?;
                    let read = provider
                        .pending(
                            &self.ctx.providers.http,
                            secrecy::ExposeSecret::expose_secret(&tokens.access_token),
                            &item,
                        )
                        .await;
                    match read {
                        Ok(fetched) => {
                            let (samples, events) =
                                self.store(connection.user_id, offsets, fetched).await?;
                            self.ctx.connections.drop_item(item.id).await?;
                            pulled.samples += samples;
                            pulled.events += events;
                            pulled.items += 1;
                            break;
                        }
                        Err(ProviderError::Unauthorized(_)) if !*refreshed => {
                            *refreshed = true;
                            *connection = self.fresh(connection.clone(), provider, true).await?;
                        }
                        Err(ProviderError::Malformed(why)) => {
                            let attempts = self.ctx.connections.fail_item(item.id).await?;
                            if attempts >= MAX_ITEM_ATTEMPTS {
                                tracing::warn!(connection = %connection.id, item = %item.id,
                                    kind = %item.kind, why, "unreadable webhook item dropped");
                                self.ctx.connections.drop_item(item.id).await?;
                                break;
                            }
                            return Err(self
                                .failure(connection, ProviderError::Malformed(why))
                                .await?);
                        }
                        Err(error) => return Err(self.failure(connection, error).await?),
                    }
                }
            }
        }
        Ok(())
    }

    /// Refuses to call a provider that is paused (it answered 429) or whose deployment-wide
    /// request budget is spent: RESOURCE_EXHAUSTED with the wait, which the job's retry honours.
    async fn within_budget(&self, info: &ProviderInfo, now: DateTime<Utc>) -> Result<()> {
        let key = format!("provider:{}", info.key);
        let limiter = self.ctx.limiter.as_ref();
        if let Some(until) = limiter.paused(&key, now).await? {
            return Err(Error::ResourceExhausted {
                message: format!("{} asked owl to wait until {until}", info.display_name),
                retry_after: (until - now).to_std().unwrap_or_default(),
            });
        }
        if let Some((limit, window)) = info.budget
            && let Some(wait) = over_budget(limiter, &key, limit, window, now).await?
        {
            return Err(Error::ResourceExhausted {
                message: format!(
                    "the request budget of {} is spent for {} s",
                    info.display_name,
                    wait.as_secs()
                ),
                retry_after: wait,
            });
        }
        Ok(())
    }

    /// The connection with tokens that do not expire within the margin (or, `force`d, new ones).
    /// A refusal marks it expired. When another worker refreshed first (a rotated refresh token
    /// is then refused), its tokens are used.
    async fn fresh(
        &self,
        connection: StoredConnection,
        provider: &dyn Provider,
        force: bool,
    ) -> Result<StoredConnection> {
        let now = self.ctx.clock.now();
        let due = connection
            .token_expires_at
            .is_some_and(|t| t <= now + Duration::minutes(REFRESH_MARGIN_MINUTES));
        if !force && !due {
            return Ok(connection);
        }
        if let Some(lease) = self.lease {
            let name = format!("refresh:{}", connection.id);
            let slot = connection.updated_at.timestamp_micros();
            if !lease.claim(&name, slot, self.holder, REFRESH_WAIT).await?
                && let Some(refreshed) = self.refreshed_by_another(&connection).await?
            {
                return Ok(refreshed);
            }
        }
        let tokens = Connections(self.ctx).tokens(&connection)?;
        let Some(refresh) = tokens.refresh_token.as_ref() else {
            return Err(self
                .expire(
                    connection,
                    "the access token expired and there is no refresh token",
                )
                .await);
        };
        let refresh = secrecy::ExposeSecret::expose_secret(refresh).to_owned();
        match provider.refresh(&self.ctx.providers.http, &refresh).await {
            Ok(new) => {
                // Strictly later than before, even on a coarse clock: it names the next refresh's
                // lease slot.
                let after = connection.updated_at + Duration::microseconds(1);
                let mut updated = Connections(self.ctx).with_tokens(connection, &new)?;
                updated.updated_at = now.max(after);
                self.ctx.connections.update_connection(&updated).await?;
                tracing::info!(connection = %updated.id, "tokens refreshed");
                Ok(updated)
            }
            Err(ProviderError::Unauthorized(reason)) => {
                let current = self
                    .ctx
                    .connections
                    .connection(connection.user_id, connection.id)
                    .await?;
                match current {
                    Some(c) if c.refresh_token != connection.refresh_token => Ok(c),
                    _ => Err(self
                        .expire(
                            connection,
                            &format!("the provider refused the refresh: {reason}"),
                        )
                        .await),
                }
            }
            Err(error) => {
                let mut connection = connection;
                Err(self.failure(&mut connection, error).await?)
            }
        }
    }

    /// The connection once another worker has stored its refresh; `None` when it did not within
    /// the wait (it may have died): the refresh is then tried here, and a refused rotation is
    /// still told from a lost grant.
    async fn refreshed_by_another(
        &self,
        connection: &StoredConnection,
    ) -> Result<Option<StoredConnection>> {
        let started = std::time::Instant::now();
        while started.elapsed() < REFRESH_WAIT {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let current = self
                .ctx
                .connections
                .connection(connection.user_id, connection.id)
                .await?
                .ok_or_else(|| Error::not_found("owl.v1.Connection", connection.id.to_string()))?;
            if current.updated_at != connection.updated_at {
                return Ok(Some(current));
            }
        }
        tracing::warn!(connection = %connection.id, "no refresh by the lease holder; refreshing here");
        Ok(None)
    }

    /// Marks a connection expired; returns the error that fails the sync.
    async fn expire(&self, mut connection: StoredConnection, reason: &str) -> Error {
        connection.state = ConnectionState::Expired;
        connection.state_reason = Some(reason.to_owned());
        connection.updated_at = self.ctx.clock.now();
        if let Err(error) = self.ctx.connections.update_connection(&connection).await {
            return error;
        }
        tracing::warn!(connection = %connection.id, reason, "connection expired");
        Error::FailedPrecondition {
            reason: super::error::Reason::ConnectionNotActive,
            message: format!("connection expired: {reason}"),
        }
    }

    /// The error a failed provider call ends the attempt with (the job retries it; after a 429
    /// no earlier than the provider asked).
    async fn failure(
        &self,
        connection: &mut StoredConnection,
        error: ProviderError,
    ) -> Result<Error> {
        Ok(match error {
            ProviderError::Unauthorized(reason) => {
                self.expire(
                    connection.clone(),
                    &format!("the provider refused the token: {reason}"),
                )
                .await
            }
            ProviderError::RateLimited { retry_after } => {
                // Every worker holds off this provider until it said to come back.
                let now = self.ctx.clock.now();
                let wait = retry_after.unwrap_or(DEFAULT_RATE_LIMIT_PAUSE);
                let until = now + Duration::from_std(wait).unwrap_or(Duration::seconds(60));
                let key = format!("provider:{}", connection.provider);
                self.ctx.limiter.pause(&key, until, now).await?;
                Error::ResourceExhausted {
                    message: format!(
                        "rate limited by {}; every worker waits {} s",
                        connection.provider,
                        wait.as_secs()
                    ),
                    retry_after: wait,
                }
            }
            ProviderError::Unavailable(m) => {
                Error::Unavailable(format!("{} unavailable: {m}", connection.provider))
            }
            ProviderError::Malformed(m) => Error::Unavailable(format!(
                "{} answered something owl cannot read: {m}",
                connection.provider
            )),
        })
    }

    /// Where samples without an offset were recorded: the user's zone, else UTC.
    async fn offsets(&self, user_id: Uuid) -> Result<OffsetRule> {
        let user = self.ctx.users.user(user_id).await?;
        Ok(
            match user
                .and_then(|u| u.time_zone)
                .and_then(|z| chrono_tz::Tz::from_str(&z).ok())
            {
                Some(zone) => OffsetRule::Zone(zone),
                None => OffsetRule::Fixed(0),
            },
        )
    }

    /// Validates and stores a fetched page; returns the samples and events written.
    async fn store(
        &self,
        user_id: Uuid,
        offsets: &OffsetRule,
        fetched: Fetched,
    ) -> Result<(u64, u64)> {
        let now = self.ctx.clock.now();
        let (batches, _) =
            validate_batches(fetched.samples, "samples", now.timestamp_millis(), offsets)?;
        let mut writer = self.ctx.health.begin_samples(user_id).await?;
        let mut samples = 0;
        for batch in &batches {
            let stats = writer.write(batch).await?;
            samples += stats.inserted + stats.updated;
        }
        writer.commit().await?;
        let mut by_source: HashMap<SourceKey, Vec<NewEvent>> = HashMap::new();
        for (source, event) in fetched.events {
            by_source.entry(source).or_default().push(event);
        }
        let mut events = 0;
        for (source, list) in by_source {
            let mut v = Violations::new();
            check_source(&source, "source", &mut v);
            validate_events(&list, "events", now.timestamp_millis(), &mut v);
            v.finish()?;
            // A provider may send one event in several payloads: each fills in the stored one.
            let stats = self
                .ctx
                .events
                .write_events(user_id, &source, &list, WriteMode::Fill, now)
                .await?;
            events += stats.inserted + stats.updated;
        }
        Ok((samples, events))
    }
}
