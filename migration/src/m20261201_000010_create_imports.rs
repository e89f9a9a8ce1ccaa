//! File imports (`data_import`): one row per uploaded file (an Apple Health export), its
//! upload, stage, checksum, progress counters and failure.
//!
//! `active_user_id` holds the user while the import is receiving, queued or parsing and is
//! NULL once it ended, so a unique index on it admits one running import per user on both
//! engines (NULLs never collide).

use sea_orm_migration::prelude::*;

use crate::m20261122_000002_create_applications::User;
use crate::{cascade, timestamp, timestamp_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(data_import()).await?;
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DataImport::Table).to_owned())
            .await
    }
}

fn counter(column: DataImport) -> ColumnDef {
    ColumnDef::new(column)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

fn data_import() -> TableCreateStatement {
    Table::create()
        .table(DataImport::Table)
        .col(uuid_pk(DataImport::Id))
        .col(ColumnDef::new(DataImport::UserId).uuid().not_null())
        .col(ColumnDef::new(DataImport::ActiveUserId).uuid().null())
        // apple_health.
        .col(ColumnDef::new(DataImport::Format).string_len(32).not_null())
        // receiving, queued, parsing, succeeded or failed.
        .col(ColumnDef::new(DataImport::Stage).string_len(16).not_null())
        .col(counter(DataImport::BytesReceived))
        .col(counter(DataImport::TotalBytes))
        .col(counter(DataImport::BytesParsed))
        // Announced by the client (checked at the end), or computed as the bytes arrived.
        .col(ColumnDef::new(DataImport::Sha256).string_len(64).null())
        .col(ColumnDef::new(DataImport::Complete).boolean().not_null())
        .col(counter(DataImport::RecordsParsed))
        .col(counter(DataImport::SamplesStored))
        .col(counter(DataImport::EventsStored))
        .col(counter(DataImport::SkippedTotal))
        // JSON object: reason -> count.
        .col(ColumnDef::new(DataImport::Skipped).text().not_null())
        .col(ColumnDef::new(DataImport::Error).text().null())
        .col(ColumnDef::new(DataImport::ErrorLine).big_integer().null())
        .col(ColumnDef::new(DataImport::ErrorColumn).big_integer().null())
        .col(ColumnDef::new(DataImport::ErrorByte).big_integer().null())
        .col(timestamp(DataImport::CreatedAt))
        .col(timestamp_null(DataImport::UploadCompleteAt))
        .col(timestamp_null(DataImport::FinishedAt))
        .col(timestamp(DataImport::UpdatedAt))
        .foreign_key(&mut cascade(
            (DataImport::Table, DataImport::UserId),
            (User::Table, User::Id),
        ))
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("idx_data_import_user")
            .table(DataImport::Table)
            .col(DataImport::UserId)
            .col(DataImport::Id)
            .to_owned(),
        Index::create()
            .name("idx_data_import_active_user")
            .table(DataImport::Table)
            .col(DataImport::ActiveUserId)
            .unique()
            .to_owned(),
        Index::create()
            .name("idx_data_import_checksum")
            .table(DataImport::Table)
            .col(DataImport::UserId)
            .col(DataImport::Sha256)
            .to_owned(),
    ]
}

#[derive(DeriveIden)]
enum DataImport {
    Table,
    Id,
    UserId,
    ActiveUserId,
    Format,
    Stage,
    BytesReceived,
    TotalBytes,
    BytesParsed,
    Sha256,
    Complete,
    RecordsParsed,
    SamplesStored,
    EventsStored,
    SkippedTotal,
    Skipped,
    Error,
    ErrorLine,
    ErrorColumn,
    ErrorByte,
    CreatedAt,
    UploadCompleteAt,
    FinishedAt,
    UpdatedAt,
}
