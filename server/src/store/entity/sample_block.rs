//! Entity of the `sample_block` table: one source's samples of one series type within one UTC
//! day, packed by `owl_migration::sample_codec`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sample_block")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub source_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub series_type_id: i32,
    /// UNIX milliseconds of the block's UTC midnight.
    #[sea_orm(primary_key, auto_increment = false)]
    pub block_start: i64,
    /// Instant of the first and last sample, UNIX milliseconds.
    pub first_time: i64,
    pub last_time: i64,
    pub sample_count: i32,
    /// The packed samples.
    pub data: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
