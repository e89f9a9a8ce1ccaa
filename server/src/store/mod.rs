//! Storage behind traits: what use-cases need from the database, and the sea-orm implementation.
//!
//! The traits speak domain types; only `sea` and `entity` name sea_orm.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::error::Result;
use crate::domain::model::{
    ApiKey, Application, Developer, DeveloperCredentials, Invitation, InvitationCode,
    RefreshOutcome, RefreshToken, StoredApiKey, Subject, SubjectKind, User, UserFilter,
};
use crate::domain::page::PageRequest;

pub mod connections;
pub mod entity;
pub mod health;
pub mod imports;
pub mod jobs;
pub mod redis_limiter;
pub mod redis_sleep;
pub mod sea;
pub mod sleep;

pub use connections::ConnectionStore;
pub use health::{EventStore, HealthStore, SampleWriter};
pub use jobs::{JobStore, SyncStore};
pub use sea::{SeaStore, connect};
pub use sleep::SleepBuffer;

/// Developers, onboarding and team invitations.
#[async_trait]
pub trait DeveloperStore: Send + Sync {
    /// Whether onboarding has happened (a first developer exists or existed).
    async fn onboarded(&self) -> Result<bool>;
    /// Creates the first developer and closes onboarding, atomically; `None` when it was closed.
    async fn create_first_developer(
        &self,
        developer: &DeveloperCredentials,
    ) -> Result<Option<Developer>>;
    /// The developer with this (normalised) email, with their password hash.
    async fn developer_by_email(&self, email: &str) -> Result<Option<DeveloperCredentials>>;
    /// The developer with this id, with their password hash.
    async fn developer_by_id(&self, id: Uuid) -> Result<Option<DeveloperCredentials>>;
    /// Replaces a developer's password hash.
    async fn set_password_hash(&self, id: Uuid, hash: &str, now: DateTime<Utc>) -> Result<()>;
    /// Developers, oldest first.
    async fn list_developers(&self, page: &PageRequest) -> Result<Vec<Developer>>;
    /// Stores a new invitation with the hash of its token.
    async fn create_invitation(&self, invitation: &Invitation, token_hash: &str) -> Result<()>;
    /// The invitation with this id.
    async fn invitation(&self, id: Uuid) -> Result<Option<Invitation>>;
    /// The invitation whose token hashes to `token_hash`.
    async fn invitation_by_token_hash(&self, token_hash: &str) -> Result<Option<Invitation>>;
    /// Invitations, newest first.
    async fn list_invitations(&self, page: &PageRequest) -> Result<Vec<Invitation>>;
    /// Marks an invitation revoked.
    async fn revoke_invitation(&self, id: Uuid, now: DateTime<Utc>) -> Result<()>;
    /// Marks a pending invitation accepted and creates its developer, atomically; `None` when
    /// the invitation was no longer pending.
    async fn accept_invitation(
        &self,
        invitation_id: Uuid,
        developer: &DeveloperCredentials,
    ) -> Result<Option<Developer>>;
}

/// Applications and their API keys.
#[async_trait]
pub trait ApplicationStore: Send + Sync {
    async fn create_application(&self, application: &Application) -> Result<()>;
    async fn application(&self, id: Uuid) -> Result<Option<Application>>;
    /// Applications, oldest first.
    async fn list_applications(&self, page: &PageRequest) -> Result<Vec<Application>>;
    async fn update_application(&self, application: &Application) -> Result<()>;
    /// Deletes an application with everything it owns; false when it did not exist.
    async fn delete_application(&self, id: Uuid) -> Result<bool>;
    async fn create_api_key(&self, key: &StoredApiKey) -> Result<()>;
    async fn api_key(&self, id: Uuid) -> Result<Option<ApiKey>>;
    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<StoredApiKey>>;
    /// API keys of an application, oldest first.
    async fn list_api_keys(&self, application_id: Uuid, page: &PageRequest) -> Result<Vec<ApiKey>>;
    async fn revoke_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<()>;
    /// Revokes `old` and stores `new`, atomically.
    async fn rotate_api_key(&self, old: Uuid, new: &StoredApiKey, now: DateTime<Utc>)
    -> Result<()>;
}

/// End users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new user; ALREADY_EXISTS when the external id is taken in the application.
    async fn create_user(&self, user: &User) -> Result<()>;
    async fn user(&self, id: Uuid) -> Result<Option<User>>;
    /// Users matching `filter`, oldest first.
    async fn list_users(&self, filter: &UserFilter, page: &PageRequest) -> Result<Vec<User>>;
    /// Replaces a user's fields; ALREADY_EXISTS when the external id is taken.
    async fn update_user(&self, user: &User) -> Result<()>;
    /// Deletes a user with all their data; false when they did not exist.
    async fn delete_user(&self, id: Uuid) -> Result<bool>;
}

/// Refresh tokens and SDK invitation codes.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<()>;
    /// Spends the refresh token with this hash if it is a `kind`'s, atomically: a second
    /// presentation of a spent token revokes its whole family; another kind's token is
    /// `Invalid` and left as it was.
    async fn spend_refresh_token(
        &self,
        token_hash: &str,
        kind: SubjectKind,
        now: DateTime<Utc>,
    ) -> Result<RefreshOutcome>;
    /// Revokes every refresh token of `subject` except the family `keep`.
    async fn revoke_refresh_tokens(
        &self,
        subject: Subject,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    async fn insert_invitation_code(&self, code: &InvitationCode) -> Result<()>;
    /// Spends an unexpired, unspent code atomically and returns its user.
    async fn redeem_invitation_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>>;
}

/// Reachability of the database, for the health route.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    async fn ping(&self) -> Result<()>;
}
