//! Sleep phases waiting to be assembled into sleep sessions when no Redis is configured: one
//! row per phase, per user and source, until the source has been quiet for
//! SLEEP_END_GAP_MINUTES and the phases are closed into a session.

use sea_orm_migration::prelude::*;

use crate::m20261122_000002_create_applications::User;
use crate::{cascade, uuid_col};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn sleep_phase() -> TableCreateStatement {
    Table::create()
        .table(SleepPhase::Table)
        .col(
            ColumnDef::new(SleepPhase::Id)
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(uuid_col(SleepPhase::UserId))
        // The data source's identity (provider, device model, device type, app) as a JSON array.
        .col(ColumnDef::new(SleepPhase::Source).text().not_null())
        .col(ColumnDef::new(SleepPhase::Stage).string_len(16).not_null())
        .col(ColumnDef::new(SleepPhase::StartAt).big_integer().not_null())
        .col(ColumnDef::new(SleepPhase::EndAt).big_integer().not_null())
        .col(ColumnDef::new(SleepPhase::ZoneOffset).integer().not_null())
        // When the phase arrived, UNIX ms by owl's clock: a source is quiet once none arrived
        // for SLEEP_END_GAP_MINUTES.
        .col(
            ColumnDef::new(SleepPhase::ReceivedAt)
                .big_integer()
                .not_null(),
        )
        .foreign_key(&mut cascade(
            (SleepPhase::Table, SleepPhase::UserId),
            (User::Table, User::Id),
        ))
        .to_owned()
}

#[derive(DeriveIden)]
enum SleepPhase {
    Table,
    Id,
    UserId,
    Source,
    Stage,
    StartAt,
    EndAt,
    ZoneOffset,
    ReceivedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(sleep_phase()).await?;
        // A phase sent twice is kept once.
        manager
            .create_index(
                Index::create()
                    .name("sleep_phase_identity")
                    .table(SleepPhase::Table)
                    .col(SleepPhase::UserId)
                    .col(SleepPhase::Source)
                    .col(SleepPhase::StartAt)
                    .col(SleepPhase::EndAt)
                    .col(SleepPhase::Stage)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SleepPhase::Table).to_owned())
            .await
    }
}
