//! Entity of the `workout_details` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "workout_details")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: Uuid,
    pub distance_m: Option<f64>,
    pub active_energy_kcal: Option<f64>,
    pub steps: Option<i64>,
    pub heart_rate_avg: Option<f64>,
    pub heart_rate_max: Option<f64>,
    pub elevation_gain_m: Option<f64>,
    pub moving_seconds: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
