//! The records of the account and tenancy model, as use-cases see them.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A developer of the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Developer {
    pub id: Uuid,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

/// A developer with the hash of their password, for login.
#[derive(Debug, Clone)]
pub struct DeveloperCredentials {
    pub developer: Developer,
    /// argon2id PHC string.
    pub password_hash: String,
    /// When the password last changed (the account's creation before): access tokens issued
    /// in an earlier second are no longer accepted.
    pub password_changed_at: DateTime<Utc>,
}

/// A team invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    pub inviter_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Where an invitation stands at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl Invitation {
    /// The state of the invitation at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> InvitationState {
        if self.accepted_at.is_some() {
            InvitationState::Accepted
        } else if self.revoked_at.is_some() {
            InvitationState::Revoked
        } else if self.expires_at <= now {
            InvitationState::Expired
        } else {
            InvitationState::Pending
        }
    }
}

/// An application: the tenant that owns users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: Uuid,
    pub display_name: String,
    pub description: String,
    /// Where a connect flow may send the user's browser at its end.
    pub redirect_uris: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An API key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    pub application_id: Uuid,
    pub display_name: String,
    pub key_prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An API key as stored: with the hash of the whole key.
#[derive(Debug, Clone)]
pub struct StoredApiKey {
    pub key: ApiKey,
    /// Hex SHA-256 of the whole key.
    pub key_hash: String,
}

/// An end user of an application.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct User {
    pub id: Uuid,
    pub application_id: Uuid,
    pub external_user_id: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub time_zone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Filters of a user list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Only users of this application.
    pub application_id: Option<Uuid>,
    /// Only users with this (lowercased) email.
    pub email: Option<String>,
    /// Only users with this external id.
    pub external_user_id: Option<String>,
}

/// A refresh token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub id: Uuid,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// All tokens rotated from one login share a family; reuse of a spent token revokes it.
    pub family_id: Uuid,
    pub subject: Subject,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Whom a session or token acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Developer(Uuid),
    User(Uuid),
}

/// Whose a refresh token is, checked before it is spent: a developer's token presented to
/// the SDK refresh (or the reverse) is refused without ending its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    Developer,
    User,
}

/// What happened when a refresh token was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was valid and is now spent.
    Spent(RefreshToken),
    /// The token had been spent before: its family is now revoked.
    Reused,
    /// Unknown, revoked or expired.
    Invalid,
}

/// An SDK invitation code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationCode {
    pub id: Uuid,
    pub user_id: Uuid,
    /// Hex SHA-256 of the normalised code.
    pub code_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
