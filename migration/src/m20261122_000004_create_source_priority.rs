//! Per-user source priority: the order of providers and device types that wins in merged views.

use sea_orm_migration::prelude::*;

use crate::m20261122_000002_create_applications::User;
use crate::{cascade, timestamp, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SourcePriority::Table)
                    .col(uuid_pk(SourcePriority::UserId))
                    // Comma-separated, highest priority first.
                    .col(ColumnDef::new(SourcePriority::Providers).text().not_null())
                    .col(
                        ColumnDef::new(SourcePriority::DeviceTypes)
                            .text()
                            .not_null(),
                    )
                    .col(timestamp(SourcePriority::UpdatedAt))
                    .foreign_key(&mut cascade(
                        (SourcePriority::Table, SourcePriority::UserId),
                        (User::Table, User::Id),
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SourcePriority::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SourcePriority {
    Table,
    UserId,
    Providers,
    DeviceTypes,
    UpdatedAt,
}
