//! The stash of webhook items: data (or where to fetch it) that a provider's webhook delivered,
//! kept append-only until a sync job has written it into the health data. It lives beside the
//! connection row, not in it, so a sync that saves its connection cannot drop an item stashed
//! meanwhile.

use sea_orm_migration::prelude::*;

use crate::{cascade, timestamp, uuid_col, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One stashed item. `dedup_key` (SHA-256 of kind and payload) makes a replayed delivery insert
/// nothing while its first copy is still pending; `attempts` counts reads that failed.
fn webhook_item() -> TableCreateStatement {
    Table::create()
        .table(WebhookItem::Table)
        .col(uuid_pk(WebhookItem::Id))
        .col(uuid_col(WebhookItem::ConnectionId))
        .col(ColumnDef::new(WebhookItem::Kind).string_len(64).not_null())
        .col(
            ColumnDef::new(WebhookItem::DedupKey)
                .string_len(64)
                .not_null(),
        )
        .col(ColumnDef::new(WebhookItem::Payload).text().not_null())
        .col(
            ColumnDef::new(WebhookItem::Attempts)
                .integer()
                .not_null()
                .default(0),
        )
        .col(timestamp(WebhookItem::CreatedAt))
        .foreign_key(&mut cascade(
            (WebhookItem::Table, WebhookItem::ConnectionId),
            (UserConnection::Table, UserConnection::Id),
        ))
        .to_owned()
}

#[derive(DeriveIden)]
enum WebhookItem {
    Table,
    Id,
    ConnectionId,
    Kind,
    DedupKey,
    Payload,
    Attempts,
    CreatedAt,
}

#[derive(DeriveIden)]
enum UserConnection {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(webhook_item()).await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_item_connection_dedup")
                    .table(WebhookItem::Table)
                    .col(WebhookItem::ConnectionId)
                    .col(WebhookItem::DedupKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookItem::Table).to_owned())
            .await
    }
}
