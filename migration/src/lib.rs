//! Database schema migrations of owl, one file per migration, run by `owl migrate` and at start.

pub use sea_orm_migration::prelude::*;

pub(crate) mod m20261122_000001_create_developers;
pub(crate) mod m20261122_000002_create_applications;
mod m20261122_000003_create_health_data;
mod m20261122_000004_create_source_priority;
mod m20261201_000005_create_sample_blocks;
mod m20261201_000006_create_jobs;
mod m20261201_000007_create_connect_flow;
mod m20261201_000008_job_dedup_while_waiting;
mod m20261201_000009_create_webhook_items;
mod m20261201_000010_create_imports;
mod m20261201_000011_create_sleep_phases;
mod m20261201_000012_workout_moving_time;
mod m20261201_000013_data_source_maker_and_method;
mod m20261207_000014_sleep_end_offset;
pub mod sample_codec;

/// Every migration of owl, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_developers::Migration),
            Box::new(m20261122_000002_create_applications::Migration),
            Box::new(m20261122_000003_create_health_data::Migration),
            Box::new(m20261122_000004_create_source_priority::Migration),
            Box::new(m20261201_000005_create_sample_blocks::Migration),
            Box::new(m20261201_000006_create_jobs::Migration),
            Box::new(m20261201_000007_create_connect_flow::Migration),
            Box::new(m20261201_000008_job_dedup_while_waiting::Migration),
            Box::new(m20261201_000009_create_webhook_items::Migration),
            Box::new(m20261201_000010_create_imports::Migration),
            Box::new(m20261201_000011_create_sleep_phases::Migration),
            Box::new(m20261201_000012_workout_moving_time::Migration),
            Box::new(m20261201_000013_data_source_maker_and_method::Migration),
            Box::new(m20261207_000014_sleep_end_offset::Migration),
        ]
    }
}

/// A `TIMESTAMP WITH TIME ZONE NOT NULL` column.
pub(crate) fn timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

/// A nullable `TIMESTAMP WITH TIME ZONE` column.
pub(crate) fn timestamp_null(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

/// A UUID primary key.
pub(crate) fn uuid_pk(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .uuid()
        .not_null()
        .primary_key()
        .to_owned()
}

/// A non-null UUID column (a foreign key, usually).
pub(crate) fn uuid_col(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).uuid().not_null().to_owned()
}

/// A foreign key that deletes the row with its parent.
pub(crate) fn cascade(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}
