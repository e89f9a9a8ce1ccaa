//! Applications, their API keys and users, SDK invitation codes, and the refresh tokens of
//! developer sessions and SDK tokens.

use sea_orm_migration::prelude::*;

use crate::m20261122_000001_create_developers::Developer;
use crate::{cascade, timestamp, timestamp_null, uuid_col, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Application::Table)
                    .col(uuid_pk(Application::Id))
                    .col(
                        ColumnDef::new(Application::DisplayName)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Application::Description).text().not_null())
                    .col(timestamp(Application::CreatedAt))
                    .col(timestamp(Application::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiKey::Table)
                    .col(uuid_pk(ApiKey::Id))
                    .col(uuid_col(ApiKey::ApplicationId))
                    .col(
                        ColumnDef::new(ApiKey::DisplayName)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApiKey::KeyPrefix)
                            .string_len(32)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(ApiKey::KeyHash).string_len(64).not_null())
                    .col(timestamp(ApiKey::CreatedAt))
                    .col(timestamp_null(ApiKey::RevokedAt))
                    .foreign_key(&mut cascade(
                        (ApiKey::Table, ApiKey::ApplicationId),
                        (Application::Table, Application::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .col(uuid_pk(User::Id))
                    .col(uuid_col(User::ApplicationId))
                    .col(ColumnDef::new(User::ExternalUserId).string_len(255).null())
                    .col(ColumnDef::new(User::Email).string_len(320).null())
                    .col(ColumnDef::new(User::FirstName).string_len(100).null())
                    .col(ColumnDef::new(User::LastName).string_len(100).null())
                    .col(ColumnDef::new(User::TimeZone).string_len(64).null())
                    .col(timestamp(User::CreatedAt))
                    .col(timestamp(User::UpdatedAt))
                    .foreign_key(&mut cascade(
                        (User::Table, User::ApplicationId),
                        (Application::Table, Application::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_user_external_id")
                    .table(User::Table)
                    .col(User::ApplicationId)
                    .col(User::ExternalUserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_user_email")
                    .table(User::Table)
                    .col(User::ApplicationId)
                    .col(User::Email)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InvitationCode::Table)
                    .col(uuid_pk(InvitationCode::Id))
                    .col(uuid_col(InvitationCode::UserId))
                    .col(
                        ColumnDef::new(InvitationCode::CodeHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(timestamp(InvitationCode::CreatedAt))
                    .col(timestamp(InvitationCode::ExpiresAt))
                    .col(timestamp_null(InvitationCode::RedeemedAt))
                    .foreign_key(&mut cascade(
                        (InvitationCode::Table, InvitationCode::UserId),
                        (User::Table, User::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // Exactly one of developer_id / user_id is set: a developer session or an SDK token.
        manager
            .create_table(
                Table::create()
                    .table(RefreshToken::Table)
                    .col(uuid_pk(RefreshToken::Id))
                    .col(
                        ColumnDef::new(RefreshToken::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(uuid_col(RefreshToken::FamilyId))
                    .col(ColumnDef::new(RefreshToken::DeveloperId).uuid().null())
                    .col(ColumnDef::new(RefreshToken::UserId).uuid().null())
                    .col(timestamp(RefreshToken::CreatedAt))
                    .col(timestamp(RefreshToken::ExpiresAt))
                    .col(timestamp_null(RefreshToken::UsedAt))
                    .col(timestamp_null(RefreshToken::RevokedAt))
                    .foreign_key(&mut cascade(
                        (RefreshToken::Table, RefreshToken::DeveloperId),
                        (Developer::Table, Developer::Id),
                    ))
                    .foreign_key(&mut cascade(
                        (RefreshToken::Table, RefreshToken::UserId),
                        (User::Table, User::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_token_family")
                    .table(RefreshToken::Table)
                    .col(RefreshToken::FamilyId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RefreshToken::Table.into_iden(),
            InvitationCode::Table.into_iden(),
            User::Table.into_iden(),
            ApiKey::Table.into_iden(),
            Application::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Application {
    Table,
    Id,
    DisplayName,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiKey {
    Table,
    Id,
    ApplicationId,
    DisplayName,
    KeyPrefix,
    KeyHash,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
pub(crate) enum User {
    Table,
    Id,
    ApplicationId,
    ExternalUserId,
    Email,
    FirstName,
    LastName,
    TimeZone,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InvitationCode {
    Table,
    Id,
    UserId,
    CodeHash,
    CreatedAt,
    ExpiresAt,
    RedeemedAt,
}

#[derive(DeriveIden)]
enum RefreshToken {
    Table,
    Id,
    TokenHash,
    FamilyId,
    DeveloperId,
    UserId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}
