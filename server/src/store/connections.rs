//! The storage of the connect flow: single-use OAuth states, users' connections with their
//! encrypted tokens, and the deployment's provider settings.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::connections::{OAuthState, ProviderSetting, StoredConnection};
use crate::domain::error::Result;
use crate::domain::page::PageRequest;

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
    /// Every provider's stored settings.
    async fn provider_settings(&self) -> Result<Vec<ProviderSetting>>;
    /// Stores one provider's settings.
    async fn put_provider_setting(&self, setting: &ProviderSetting) -> Result<()>;
}
