//! Entity of the `data_source` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "data_source")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub uid: Uuid,
    pub user_id: Uuid,
    pub provider: String,
    pub device_model: String,
    pub device_type: String,
    pub app_name: String,
    pub created_at: DateTimeUtc,
    pub manufacturer: String,
    /// `automatically_recorded`, `actively_recorded`, `manual_entry`, or empty.
    pub recording_method: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
