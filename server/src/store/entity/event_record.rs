//! Entity of the `event_record` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "event_record")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub source_id: i64,
    pub category: String,
    pub event_type: String,
    /// UNIX milliseconds (UTC).
    pub start_at: i64,
    /// UNIX milliseconds (UTC).
    pub end_at: i64,
    /// Offset from UTC where the event was recorded, seconds.
    pub zone_offset: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
