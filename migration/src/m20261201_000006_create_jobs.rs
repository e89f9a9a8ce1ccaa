//! Background work: the embedded job queue (`job`), the scheduler's lease (`schedule_lease`)
//! and the record of every sync (`sync_run`).
//!
//! Job times are UNIX milliseconds: the queue compares and adds them on every reservation, and
//! integers do that the same way on both engines. A reserved job keeps its row; its
//! `visible_at` moves to the end of the lease, so a worker that dies loses nothing: the job
//! becomes visible again when the lease runs out.

use sea_orm_migration::prelude::*;

use crate::m20261122_000002_create_applications::User;
use crate::{cascade, timestamp, timestamp_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(job()).await?;
        manager.create_table(schedule_lease()).await?;
        manager.create_table(sync_run()).await?;
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SyncRun::Table.into_iden(),
            ScheduleLease::Table.into_iden(),
            Job::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn job() -> TableCreateStatement {
    Table::create()
        .table(Job::Table)
        .col(uuid_pk(Job::Id))
        .col(ColumnDef::new(Job::Kind).string_len(64).not_null())
        .col(ColumnDef::new(Job::Payload).text().not_null())
        // Unique while the job is pending; cleared when it is dead-lettered.
        .col(ColumnDef::new(Job::DedupKey).string_len(255).null())
        // `queued` (waiting, delayed or leased) or `dead`.
        .col(ColumnDef::new(Job::State).string_len(16).not_null())
        .col(ColumnDef::new(Job::Attempts).integer().not_null())
        .col(ColumnDef::new(Job::VisibleAt).big_integer().not_null())
        .col(ColumnDef::new(Job::LeaseToken).uuid().null())
        .col(ColumnDef::new(Job::LeasedBy).string_len(255).null())
        .col(ColumnDef::new(Job::LastError).text().null())
        .col(ColumnDef::new(Job::EnqueuedAt).big_integer().not_null())
        .col(ColumnDef::new(Job::DeadAt).big_integer().null())
        .to_owned()
}

fn schedule_lease() -> TableCreateStatement {
    Table::create()
        .table(ScheduleLease::Table)
        .col(
            ColumnDef::new(ScheduleLease::Name)
                .string_len(64)
                .not_null()
                .primary_key(),
        )
        // The last interval (UNIX time / interval) that a replica claimed.
        .col(ColumnDef::new(ScheduleLease::Slot).big_integer().not_null())
        .col(
            ColumnDef::new(ScheduleLease::Holder)
                .string_len(255)
                .not_null(),
        )
        .col(timestamp(ScheduleLease::UpdatedAt))
        .to_owned()
}

fn sync_run() -> TableCreateStatement {
    Table::create()
        .table(SyncRun::Table)
        .col(uuid_pk(SyncRun::Id))
        .col(ColumnDef::new(SyncRun::UserId).uuid().not_null())
        .col(ColumnDef::new(SyncRun::ConnectionId).uuid().null())
        .col(ColumnDef::new(SyncRun::Provider).string_len(32).null())
        // pull, webhook, sdk, backfill or import.
        .col(ColumnDef::new(SyncRun::Source).string_len(16).not_null())
        // queued, running, succeeded or failed.
        .col(ColumnDef::new(SyncRun::Status).string_len(16).not_null())
        .col(ColumnDef::new(SyncRun::Stage).string_len(64).not_null())
        .col(ColumnDef::new(SyncRun::ProgressPercent).double().not_null())
        .col(
            ColumnDef::new(SyncRun::ItemsProcessed)
                .big_integer()
                .not_null(),
        )
        .col(ColumnDef::new(SyncRun::ItemsTotal).big_integer().null())
        .col(ColumnDef::new(SyncRun::Error).text().null())
        .col(ColumnDef::new(SyncRun::Attempts).integer().not_null())
        // Backfill day range, UNIX milliseconds, end exclusive.
        .col(ColumnDef::new(SyncRun::RangeStart).big_integer().null())
        .col(ColumnDef::new(SyncRun::RangeEnd).big_integer().null())
        .col(timestamp(SyncRun::CreatedAt))
        .col(timestamp_null(SyncRun::StartedAt))
        .col(timestamp_null(SyncRun::FinishedAt))
        .col(timestamp(SyncRun::UpdatedAt))
        .foreign_key(&mut cascade(
            (SyncRun::Table, SyncRun::UserId),
            (User::Table, User::Id),
        ))
        .foreign_key(&mut cascade(
            (SyncRun::Table, SyncRun::ConnectionId),
            (UserConnection::Table, UserConnection::Id),
        ))
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("idx_job_dedup_key")
            .table(Job::Table)
            .col(Job::DedupKey)
            .unique()
            .to_owned(),
        Index::create()
            .name("idx_job_ready")
            .table(Job::Table)
            .col(Job::State)
            .col(Job::VisibleAt)
            .to_owned(),
        Index::create()
            .name("idx_sync_run_user")
            .table(SyncRun::Table)
            .col(SyncRun::UserId)
            .col(SyncRun::Id)
            .to_owned(),
        Index::create()
            .name("idx_sync_run_connection")
            .table(SyncRun::Table)
            .col(SyncRun::ConnectionId)
            .col(SyncRun::Id)
            .to_owned(),
    ]
}

#[derive(DeriveIden)]
enum Job {
    Table,
    Id,
    Kind,
    Payload,
    DedupKey,
    State,
    Attempts,
    VisibleAt,
    LeaseToken,
    LeasedBy,
    LastError,
    EnqueuedAt,
    DeadAt,
}

#[derive(DeriveIden)]
enum ScheduleLease {
    Table,
    Name,
    Slot,
    Holder,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SyncRun {
    Table,
    Id,
    UserId,
    ConnectionId,
    Provider,
    Source,
    Status,
    Stage,
    ProgressPercent,
    ItemsProcessed,
    ItemsTotal,
    Error,
    Attempts,
    RangeStart,
    RangeEnd,
    CreatedAt,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserConnection {
    Table,
    Id,
}
