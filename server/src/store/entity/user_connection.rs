//! Entity of the `user_connection` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_connection")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider: String,
    pub provider_user_id: Option<String>,
    pub status: String,
    /// AES-256-GCM ciphertext (`crypto::Cipher`), never plaintext.
    pub access_token: Option<Vec<u8>>,
    /// AES-256-GCM ciphertext (`crypto::Cipher`), never plaintext.
    pub refresh_token: Option<Vec<u8>>,
    pub token_expires_at: Option<DateTimeUtc>,
    pub scope: Option<String>,
    pub last_synced_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Why the connection is not active.
    pub state_reason: Option<String>,
    /// Where the provider's incremental sync continues (provider-specific).
    pub sync_cursor: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
