//! The connect flow: applications' redirect allow-lists, single-use OAuth states, and what a
//! connection needs besides its tokens (why it stopped, where its sync continues, one per user
//! and provider), and each provider's sync mode.

use sea_orm_migration::prelude::*;

use crate::m20261122_000002_create_applications::User;
use crate::{cascade, timestamp, uuid_col};

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    // A JSON array of URLs.
    "ALTER TABLE application ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE user_connection ADD COLUMN state_reason TEXT NULL",
    // Provider-specific position of the incremental sync (opaque to everything else).
    "ALTER TABLE user_connection ADD COLUMN sync_cursor TEXT NULL",
    "CREATE UNIQUE INDEX user_connection_user_provider ON user_connection (user_id, provider)",
    "ALTER TABLE provider_settings ADD COLUMN sync_mode VARCHAR(16) NOT NULL DEFAULT 'pull'",
];

/// A state of the connect flow. The state itself is a random token: only its SHA-256 digest is
/// stored. The PKCE verifier is an AES-256-GCM ciphertext.
fn oauth_state() -> TableCreateStatement {
    Table::create()
        .table(OauthState::Table)
        .col(
            ColumnDef::new(OauthState::StateDigest)
                .string_len(64)
                .not_null()
                .primary_key(),
        )
        .col(uuid_col(OauthState::UserId))
        .col(
            ColumnDef::new(OauthState::Provider)
                .string_len(32)
                .not_null(),
        )
        .col(ColumnDef::new(OauthState::RedirectUri).text().not_null())
        .col(
            ColumnDef::new(OauthState::PkceVerifier)
                .var_binary(1024)
                .null(),
        )
        .col(timestamp(OauthState::ExpiresAt))
        .col(timestamp(OauthState::CreatedAt))
        .foreign_key(&mut cascade(
            (OauthState::Table, OauthState::UserId),
            (User::Table, User::Id),
        ))
        .to_owned()
}

#[derive(DeriveIden)]
enum OauthState {
    Table,
    StateDigest,
    UserId,
    Provider,
    RedirectUri,
    PkceVerifier,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for sql in UP {
            conn.execute_unprepared(sql).await?;
        }
        manager.create_table(oauth_state()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for sql in [
            "DROP TABLE oauth_state",
            "ALTER TABLE provider_settings DROP COLUMN sync_mode",
            "DROP INDEX user_connection_user_provider",
            "ALTER TABLE user_connection DROP COLUMN sync_cursor",
            "ALTER TABLE user_connection DROP COLUMN state_reason",
            "ALTER TABLE application DROP COLUMN redirect_uris",
        ] {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
