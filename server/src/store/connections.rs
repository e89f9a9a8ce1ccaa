//! The storage of the connect flow: single-use OAuth states, users' connections with their
//! encrypted tokens, the webhook items stashed for them, and the deployment's provider settings.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::connections::{OAuthState, ProviderSetting, StoredConnection};
use crate::domain::error::Result;
use crate::domain::page::PageRequest;
use crate::providers::PendingItem;

/// States, connections and provider settings.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Keeps the state of a started flow.
    async fn save_state(&self, state: &OAuthState) -> Result<()>;
    /// Removes and returns the state with this digest: a state is used once, whoever races.
    async fn take_state(&self, digest: &str) -> Result<Option<OAuthState>>;
    /// Deletes states that expired before `now`; returns how many.
    async fn purge_states(&self, now: DateTime<Utc>) -> Result<u64>;
    /// Stores a connection, replacing the user's connection to the same provider (whose id it
    /// keeps); returns the stored one.
    async fn put_connection(&self, connection: &StoredConnection) -> Result<StoredConnection>;
    /// Saves a connection's tokens, state, cursor and sync time.
    async fn update_connection(&self, connection: &StoredConnection) -> Result<()>;
    /// A user's connection.
    async fn connection(&self, user_id: Uuid, id: Uuid) -> Result<Option<StoredConnection>>;
    /// Every connection to `provider` of the account `account_id` there (any user).
    async fn connections_of_account(
        &self,
        provider: &str,
        account_id: &str,
    ) -> Result<Vec<StoredConnection>>;
    /// Connections of every user after `after`, in id order (for key rotation).
    async fn all_connections(
        &self,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<StoredConnection>>;
    /// Replaces a connection's token ciphertexts if they are still `old` (a sync that refreshed
    /// meanwhile wins); false when they changed.
    async fn replace_tokens(
        &self,
        id: Uuid,
        old: (Option<&[u8]>, Option<&[u8]>),
        new: (Option<Vec<u8>>, Option<Vec<u8>>),
    ) -> Result<bool>;
    /// A user's connections, oldest first.
    async fn list_connections(
        &self,
        user_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<StoredConnection>>;
    /// Deletes a user's connection; false when it was gone.
    async fn delete_connection(&self, user_id: Uuid, id: Uuid) -> Result<bool>;
    /// Saves only where a connection's sync continues and when it last ran, leaving its state,
    /// tokens and scope as they are (a webhook may have revoked it meanwhile).
    async fn record_sync(
        &self,
        id: Uuid,
        cursor: Option<&str>,
        synced_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Stashes a webhook item for its connection under `dedup_key`; false when an item with that
    /// key is still pending (a replay).
    async fn stash_item(
        &self,
        item: &PendingItem,
        dedup_key: &str,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// The oldest stashed items of a connection, with its account id, in arrival order.
    async fn stashed_items(&self, connection_id: Uuid, limit: u64) -> Result<Vec<PendingItem>>;
    /// Deletes a stashed item once its data is written.
    async fn drop_item(&self, id: Uuid) -> Result<()>;
    /// Stashed items of every connection after `after` in id order, as (id, sealed payload).
    async fn sealed_items(&self, after: Option<Uuid>, limit: u64) -> Result<Vec<(Uuid, String)>>;
    /// Replaces a stashed item's sealed payload if it is still `old`; false otherwise.
    async fn reseal_item(&self, id: Uuid, old: &str, new: &str) -> Result<bool>;
    /// Counts a failed read of a stashed item; returns its failed reads so far.
    async fn fail_item(&self, id: Uuid) -> Result<i32>;
    /// Every provider's stored settings.
    async fn provider_settings(&self) -> Result<Vec<ProviderSetting>>;
    /// Stores one provider's settings.
    async fn put_provider_setting(&self, setting: &ProviderSetting) -> Result<()>;
}
