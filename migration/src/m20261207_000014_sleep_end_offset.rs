//! A sleep session's offset at its end: `sleep_details.end_zone_offset`, the offset of local
//! time from UTC (seconds) when the session ended, NULL where the source did not say. A night
//! that crosses time zones (an overnight flight) belongs to the local date of its end.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SleepDetails {
    Table,
    EndZoneOffset,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SleepDetails::Table)
                    .add_column(ColumnDef::new(SleepDetails::EndZoneOffset).integer().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SleepDetails::Table)
                    .drop_column(SleepDetails::EndZoneOffset)
                    .to_owned(),
            )
            .await
    }
}
