//! Developers, their team invitations, and the onboarding marker.

use sea_orm_migration::prelude::*;

use crate::{timestamp, timestamp_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Developer::Table)
                    .col(uuid_pk(Developer::Id))
                    .col(
                        ColumnDef::new(Developer::Email)
                            .string_len(320)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Developer::PasswordHash).string().not_null())
                    .col(timestamp(Developer::CreatedAt))
                    .col(timestamp(Developer::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DeveloperInvitation::Table)
                    .col(uuid_pk(DeveloperInvitation::Id))
                    .col(
                        ColumnDef::new(DeveloperInvitation::Email)
                            .string_len(320)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DeveloperInvitation::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(DeveloperInvitation::InviterId).uuid().null())
                    .col(timestamp(DeveloperInvitation::CreatedAt))
                    .col(timestamp(DeveloperInvitation::ExpiresAt))
                    .col(timestamp_null(DeveloperInvitation::AcceptedAt))
                    .col(timestamp_null(DeveloperInvitation::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DeveloperInvitation::Table, DeveloperInvitation::InviterId)
                            .to(Developer::Table, Developer::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // One row once the first developer exists: its primary key makes onboarding
        // happen at most once, even under concurrent calls.
        manager
            .create_table(
                Table::create()
                    .table(Onboarding::Table)
                    .col(
                        ColumnDef::new(Onboarding::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(timestamp(Onboarding::CompletedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Onboarding::Table.into_iden(),
            DeveloperInvitation::Table.into_iden(),
            Developer::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub(crate) enum Developer {
    Table,
    Id,
    Email,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DeveloperInvitation {
    Table,
    Id,
    Email,
    TokenHash,
    InviterId,
    CreatedAt,
    ExpiresAt,
    AcceptedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Onboarding {
    Table,
    Id,
    CompletedAt,
}
