//! Provider settings, user connections, data sources, series types, samples and events
//! (workouts and sleep sessions with their details).
//!
//! Samples are the high-volume table: they carry only integer keys and a UNIX-millisecond
//! instant with the zone offset it was recorded in, keyed by (source, series type, instant)
//! so that replays are idempotent and per-source range scans follow the primary key.

use sea_orm_migration::prelude::*;

use crate::m20261122_000002_create_applications::User;
use crate::{cascade, timestamp, timestamp_null, uuid_col, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        manager
            .get_connection()
            .execute_unprepared(samples_table(manager.get_database_backend()))
            .await?;
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SleepDetails::Table.into_iden(),
            WorkoutDetails::Table.into_iden(),
            EventRecord::Table.into_iden(),
            DataPointSeries::Table.into_iden(),
            SeriesTypeDefinition::Table.into_iden(),
            DataSource::Table.into_iden(),
            UserConnection::Table.into_iden(),
            ProviderSettings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// The samples table, clustered by its key on both engines: WITHOUT ROWID on SQLite, and on
/// PostgreSQL a key index that also carries the values, so range reads need not visit the heap.
/// It has no foreign key: a per-row check would cost more than the insert itself (3.5× on
/// PostgreSQL), so the store deletes a user's samples explicitly with the user.
pub(crate) fn samples_table(backend: sea_orm_migration::sea_orm::DbBackend) -> &'static str {
    match backend {
        sea_orm_migration::sea_orm::DbBackend::Sqlite => {
            "CREATE TABLE data_point_series (\
               source_id BIGINT NOT NULL, \
               series_type_id INTEGER NOT NULL, \
               recorded_at BIGINT NOT NULL, \
               zone_offset INTEGER NOT NULL, \
               value DOUBLE NOT NULL, \
               PRIMARY KEY (source_id, series_type_id, recorded_at)) WITHOUT ROWID"
        }
        _ => {
            "CREATE TABLE data_point_series (\
               source_id BIGINT NOT NULL, \
               series_type_id INTEGER NOT NULL, \
               recorded_at BIGINT NOT NULL, \
               zone_offset INTEGER NOT NULL, \
               value DOUBLE PRECISION NOT NULL, \
               PRIMARY KEY (source_id, series_type_id, recorded_at) INCLUDE (zone_offset, value))"
        }
    }
}

fn tables() -> Vec<TableCreateStatement> {
    vec![
        Table::create()
            .table(ProviderSettings::Table)
            .col(
                ColumnDef::new(ProviderSettings::Provider)
                    .string_len(32)
                    .not_null()
                    .primary_key(),
            )
            .col(
                ColumnDef::new(ProviderSettings::Enabled)
                    .boolean()
                    .not_null(),
            )
            .col(
                ColumnDef::new(ProviderSettings::Priority)
                    .integer()
                    .not_null(),
            )
            .col(timestamp(ProviderSettings::UpdatedAt))
            .to_owned(),
        Table::create()
            .table(UserConnection::Table)
            .col(uuid_pk(UserConnection::Id))
            .col(uuid_col(UserConnection::UserId))
            .col(
                ColumnDef::new(UserConnection::Provider)
                    .string_len(32)
                    .not_null(),
            )
            .col(
                ColumnDef::new(UserConnection::ProviderUserId)
                    .string_len(255)
                    .null(),
            )
            .col(
                ColumnDef::new(UserConnection::Status)
                    .string_len(16)
                    .not_null(),
            )
            // AES-256-GCM ciphertexts (nonce || ciphertext || tag), never plaintext.
            .col(
                ColumnDef::new(UserConnection::AccessToken)
                    .var_binary(4096)
                    .null(),
            )
            .col(
                ColumnDef::new(UserConnection::RefreshToken)
                    .var_binary(4096)
                    .null(),
            )
            .col(timestamp_null(UserConnection::TokenExpiresAt))
            .col(ColumnDef::new(UserConnection::Scope).text().null())
            .col(timestamp_null(UserConnection::LastSyncedAt))
            .col(timestamp(UserConnection::CreatedAt))
            .col(timestamp(UserConnection::UpdatedAt))
            .foreign_key(&mut cascade(
                (UserConnection::Table, UserConnection::UserId),
                (User::Table, User::Id),
            ))
            .to_owned(),
        Table::create()
            .table(DataSource::Table)
            .col(
                ColumnDef::new(DataSource::Id)
                    .big_integer()
                    .not_null()
                    .auto_increment()
                    .primary_key(),
            )
            // The id in resource names; the serial id never leaves the server.
            .col(
                ColumnDef::new(DataSource::Uid)
                    .uuid()
                    .not_null()
                    .unique_key(),
            )
            .col(uuid_col(DataSource::UserId))
            .col(
                ColumnDef::new(DataSource::Provider)
                    .string_len(32)
                    .not_null(),
            )
            .col(
                ColumnDef::new(DataSource::DeviceModel)
                    .string_len(255)
                    .not_null(),
            )
            .col(
                ColumnDef::new(DataSource::DeviceType)
                    .string_len(32)
                    .not_null(),
            )
            .col(
                ColumnDef::new(DataSource::AppName)
                    .string_len(255)
                    .not_null(),
            )
            .col(timestamp(DataSource::CreatedAt))
            .foreign_key(&mut cascade(
                (DataSource::Table, DataSource::UserId),
                (User::Table, User::Id),
            ))
            .to_owned(),
        Table::create()
            .table(SeriesTypeDefinition::Table)
            .col(
                ColumnDef::new(SeriesTypeDefinition::Id)
                    .integer()
                    .not_null()
                    .primary_key(),
            )
            .col(
                ColumnDef::new(SeriesTypeDefinition::Code)
                    .string_len(64)
                    .not_null()
                    .unique_key(),
            )
            .col(
                ColumnDef::new(SeriesTypeDefinition::Unit)
                    .string_len(32)
                    .not_null(),
            )
            .col(
                ColumnDef::new(SeriesTypeDefinition::Aggregation)
                    .string_len(8)
                    .not_null(),
            )
            .col(
                ColumnDef::new(SeriesTypeDefinition::Loinc)
                    .string_len(16)
                    .null(),
            )
            .to_owned(),
        Table::create()
            .table(EventRecord::Table)
            .col(uuid_pk(EventRecord::Id))
            .col(uuid_col(EventRecord::UserId))
            .col(
                ColumnDef::new(EventRecord::SourceId)
                    .big_integer()
                    .not_null(),
            )
            .col(
                ColumnDef::new(EventRecord::Category)
                    .string_len(16)
                    .not_null(),
            )
            .col(
                ColumnDef::new(EventRecord::EventType)
                    .string_len(64)
                    .not_null(),
            )
            .col(
                ColumnDef::new(EventRecord::StartAt)
                    .big_integer()
                    .not_null(),
            )
            .col(ColumnDef::new(EventRecord::EndAt).big_integer().not_null())
            .col(ColumnDef::new(EventRecord::ZoneOffset).integer().not_null())
            .col(timestamp(EventRecord::CreatedAt))
            .col(timestamp(EventRecord::UpdatedAt))
            .foreign_key(&mut cascade(
                (EventRecord::Table, EventRecord::UserId),
                (User::Table, User::Id),
            ))
            .foreign_key(&mut cascade(
                (EventRecord::Table, EventRecord::SourceId),
                (DataSource::Table, DataSource::Id),
            ))
            .to_owned(),
        Table::create()
            .table(WorkoutDetails::Table)
            .col(uuid_pk(WorkoutDetails::EventId))
            .col(ColumnDef::new(WorkoutDetails::DistanceM).double().null())
            .col(
                ColumnDef::new(WorkoutDetails::ActiveEnergyKcal)
                    .double()
                    .null(),
            )
            .col(ColumnDef::new(WorkoutDetails::Steps).big_integer().null())
            .col(ColumnDef::new(WorkoutDetails::HeartRateAvg).double().null())
            .col(ColumnDef::new(WorkoutDetails::HeartRateMax).double().null())
            .col(
                ColumnDef::new(WorkoutDetails::ElevationGainM)
                    .double()
                    .null(),
            )
            .foreign_key(&mut cascade(
                (WorkoutDetails::Table, WorkoutDetails::EventId),
                (EventRecord::Table, EventRecord::Id),
            ))
            .to_owned(),
        Table::create()
            .table(SleepDetails::Table)
            .col(uuid_pk(SleepDetails::EventId))
            .col(ColumnDef::new(SleepDetails::IsNap).boolean().not_null())
            .col(
                ColumnDef::new(SleepDetails::EfficiencyPercent)
                    .double()
                    .null(),
            )
            // Stages as a JSON array of {stage, start, end}; read only with their session.
            .col(ColumnDef::new(SleepDetails::Stages).json().not_null())
            .foreign_key(&mut cascade(
                (SleepDetails::Table, SleepDetails::EventId),
                (EventRecord::Table, EventRecord::Id),
            ))
            .to_owned(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("idx_user_connection_provider")
            .table(UserConnection::Table)
            .col(UserConnection::UserId)
            .col(UserConnection::Provider)
            .unique()
            .to_owned(),
        Index::create()
            .name("idx_data_source_identity")
            .table(DataSource::Table)
            .col(DataSource::UserId)
            .col(DataSource::Provider)
            .col(DataSource::DeviceModel)
            .col(DataSource::DeviceType)
            .col(DataSource::AppName)
            .unique()
            .to_owned(),
        Index::create()
            .name("idx_event_record_identity")
            .table(EventRecord::Table)
            .col(EventRecord::SourceId)
            .col(EventRecord::Category)
            .col(EventRecord::StartAt)
            .col(EventRecord::EndAt)
            .unique()
            .to_owned(),
        Index::create()
            .name("idx_event_record_user_time")
            .table(EventRecord::Table)
            .col(EventRecord::UserId)
            .col(EventRecord::Category)
            .col(EventRecord::StartAt)
            .to_owned(),
    ]
}

#[derive(DeriveIden)]
enum ProviderSettings {
    Table,
    Provider,
    Enabled,
    Priority,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserConnection {
    Table,
    Id,
    UserId,
    Provider,
    ProviderUserId,
    Status,
    AccessToken,
    RefreshToken,
    TokenExpiresAt,
    Scope,
    LastSyncedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DataSource {
    Table,
    Id,
    Uid,
    UserId,
    Provider,
    DeviceModel,
    DeviceType,
    AppName,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SeriesTypeDefinition {
    Table,
    Id,
    Code,
    Unit,
    Aggregation,
    Loinc,
}

#[derive(DeriveIden)]
enum DataPointSeries {
    Table,
}

#[derive(DeriveIden)]
enum EventRecord {
    Table,
    Id,
    UserId,
    SourceId,
    Category,
    EventType,
    StartAt,
    EndAt,
    ZoneOffset,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WorkoutDetails {
    Table,
    EventId,
    DistanceM,
    ActiveEnergyKcal,
    Steps,
    HeartRateAvg,
    HeartRateMax,
    ElevationGainM,
}

#[derive(DeriveIden)]
enum SleepDetails {
    Table,
    EventId,
    IsNap,
    EfficiencyPercent,
    Stages,
}
