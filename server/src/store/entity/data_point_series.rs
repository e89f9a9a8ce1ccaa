//! Entity of the `data_point_series` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "data_point_series")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub source_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub series_type_id: i32,
    /// UNIX milliseconds (UTC).
    #[sea_orm(primary_key, auto_increment = false)]
    pub recorded_at: i64,
    /// Offset from UTC where the sample was recorded, seconds.
    pub zone_offset: i32,
    pub value: f64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
