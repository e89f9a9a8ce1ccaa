//! Entity of the `oauth_state` table: the single-use states of connect flows.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_state")]
pub struct Model {
    /// SHA-256 of the state sent to the provider, hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_digest: String,
    pub user_id: Uuid,
    pub provider: String,
    pub redirect_uri: String,
    /// AES-256-GCM ciphertext of the PKCE verifier (`crypto::Cipher`).
    pub pkce_verifier: Option<Vec<u8>>,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
