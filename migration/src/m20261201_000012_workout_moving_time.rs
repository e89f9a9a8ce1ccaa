//! A workout's moving time: `workout_details.moving_seconds`, the seconds spent moving (the
//! workout's length less its pauses), NULL where the source did not say.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WorkoutDetails {
    Table,
    MovingSeconds,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WorkoutDetails::Table)
                    .add_column(
                        ColumnDef::new(WorkoutDetails::MovingSeconds)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WorkoutDetails::Table)
                    .drop_column(WorkoutDetails::MovingSeconds)
                    .to_owned(),
            )
            .await
    }
}
