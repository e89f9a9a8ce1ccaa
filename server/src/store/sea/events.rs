//! Workouts and sleep sessions in the database: `event_record` plus one details row each.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, TransactionTrait, Value};
use uuid::Uuid;

use super::sample_writer::ensure_source;
use super::samples::{get, push_range, stmt};
use super::{SeaStore, internal};
use crate::domain::error::Result;
use crate::domain::health::events::{
    Category, Event, EventBody, EventQuery, NewEvent, SleepDetails, StageInterval, WorkoutDetails,
    WriteMode,
};
use crate::domain::health::{SourceKey, WriteStats};
use crate::store::EventStore;

const SELECT: &str = "SELECT e.id, e.user_id, d.uid, e.category, e.event_type, e.start_at, e.end_at, e.zone_offset, \
    e.created_at, e.updated_at, w.distance_m, w.active_energy_kcal, w.steps, w.heart_rate_avg, w.heart_rate_max, \
    w.elevation_gain_m, sd.is_nap, sd.efficiency_percent, sd.stages, w.moving_seconds, sd.end_zone_offset \
    FROM event_record e JOIN data_source d ON d.id = e.source_id \
    LEFT JOIN workout_details w ON w.event_id = e.id LEFT JOIN sleep_details sd ON sd.event_id = e.id";

fn event(row: &QueryResult) -> Result<Event> {
    let category: String = get(row, 3)?;
    let body = if category == Category::Sleep.as_str() {
        let stages: serde_json::Value = get(row, 18)?;
        EventBody::Sleep(SleepDetails {
            nap: get(row, 16)?,
            efficiency_percent: get(row, 17)?,
            stages: serde_json::from_value::<Vec<StageInterval>>(stages)
                .map_err(anyhow::Error::from)?,
            end_zone_offset: get(row, 20)?,
        })
    } else {
        EventBody::Workout {
            workout_type: get(row, 4)?,
            details: WorkoutDetails {
                distance_m: get(row, 10)?,
                active_energy_kcal: get(row, 11)?,
                steps: get(row, 12)?,
                heart_rate_avg: get(row, 13)?,
                heart_rate_max: get(row, 14)?,
                elevation_gain_m: get(row, 15)?,
                moving_seconds: get(row, 19)?,
            },
        }
    };
    Ok(Event {
        id: get(row, 0)?,
        user_id: get(row, 1)?,
        source_uid: get(row, 2)?,
        start: get(row, 5)?,
        end: get(row, 6)?,
        zone_offset: get(row, 7)?,
        body,
        created_at: get(row, 8)?,
        updated_at: get(row, 9)?,
    })
}

fn event_type(body: &EventBody) -> String {
    match body {
        EventBody::Workout { workout_type, .. } => workout_type.clone(),
        EventBody::Sleep(_) => "sleep".into(),
    }
}

/// Inserts the details row of event `id`.
async fn insert_details(conn: &impl ConnectionTrait, id: Uuid, body: &EventBody) -> Result<()> {
    let backend = conn.get_database_backend();
    let statement = match body {
        EventBody::Workout { details: d, .. } => stmt(
            backend,
            "INSERT INTO workout_details (event_id, distance_m, active_energy_kcal, steps, heart_rate_avg, \
             heart_rate_max, elevation_gain_m, moving_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                id.into(),
                d.distance_m.into(),
                d.active_energy_kcal.into(),
                d.steps.into(),
                d.heart_rate_avg.into(),
                d.heart_rate_max.into(),
                d.elevation_gain_m.into(),
                d.moving_seconds.into(),
            ],
        ),
        EventBody::Sleep(s) => {
            let stages = serde_json::to_value(&s.stages).map_err(anyhow::Error::from)?;
            stmt(
                backend,
                "INSERT INTO sleep_details (event_id, is_nap, efficiency_percent, stages, end_zone_offset) \
                 VALUES (?, ?, ?, ?, ?)",
                vec![
                    id.into(),
                    s.nap.into(),
                    s.efficiency_percent.into(),
                    Value::Json(Some(Box::new(stages))),
                    s.end_zone_offset.into(),
                ],
            )
        }
    };
    conn.execute_raw(statement).await.map_err(internal)?;
    Ok(())
}

async fn delete_details(conn: &impl ConnectionTrait, id: Uuid) -> Result<()> {
    let backend = conn.get_database_backend();
    for table in ["workout_details", "sleep_details"] {
        let sql = format!("DELETE FROM {table} WHERE event_id = ?");
        conn.execute_raw(stmt(backend, &sql, vec![id.into()]))
            .await
            .map_err(internal)?;
    }
    Ok(())
}

#[async_trait]
impl EventStore for SeaStore {
    async fn write_events(
        &self,
        user_id: Uuid,
        source: &SourceKey,
        events: &[NewEvent],
        mode: WriteMode,
        now: DateTime<Utc>,
    ) -> Result<WriteStats> {
        let txn = self.db.begin().await.map_err(internal)?;
        let backend = txn.get_database_backend();
        let source_id = ensure_source(&txn, user_id, source).await?;
        let mut stats = WriteStats::default();
        for e in events {
            let category = e.body.category().as_str();
            let find = format!(
                "{SELECT} WHERE e.source_id = ? AND e.category = ? AND e.start_at = ? AND e.end_at = ?"
            );
            let values = vec![
                source_id.into(),
                category.into(),
                e.start.into(),
                e.end.into(),
            ];
            let existing = txn
                .query_one_raw(stmt(backend, &find, values))
                .await
                .map_err(internal)?;
            let existing = existing.map(|row| event(&row)).transpose()?;
            let body = match (&existing, mode) {
                (Some(old), WriteMode::Fill) => e.body.filled_from(&old.body),
                _ => e.body.clone(),
            };
            match existing {
                Some(old) if old.zone_offset == e.zone_offset && old.body == body => {
                    stats.skipped += 1
                }
                Some(old) => {
                    let sql = "UPDATE event_record SET event_type = ?, zone_offset = ?, updated_at = ? WHERE id = ?";
                    let values = vec![
                        event_type(&body).into(),
                        e.zone_offset.into(),
                        now.into(),
                        old.id.into(),
                    ];
                    txn.execute_raw(stmt(backend, sql, values))
                        .await
                        .map_err(internal)?;
                    delete_details(&txn, old.id).await?;
                    insert_details(&txn, old.id, &body).await?;
                    stats.updated += 1;
                }
                None => {
                    let id = Uuid::now_v7();
                    let sql = "INSERT INTO event_record (id, user_id, source_id, category, event_type, start_at, end_at, \
                               zone_offset, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
                    let values = vec![
                        id.into(),
                        user_id.into(),
                        source_id.into(),
                        category.into(),
                        event_type(&e.body).into(),
                        e.start.into(),
                        e.end.into(),
                        e.zone_offset.into(),
                        now.into(),
                        now.into(),
                    ];
                    txn.execute_raw(stmt(backend, sql, values))
                        .await
                        .map_err(internal)?;
                    insert_details(&txn, id, &e.body).await?;
                    stats.inserted += 1;
                }
            }
        }
        txn.commit().await.map_err(internal)?;
        Ok(stats)
    }

    async fn list_events(&self, q: &EventQuery) -> Result<Vec<Event>> {
        let backend = self.db.get_database_backend();
        let mut sql = format!("{SELECT} WHERE e.user_id = ? AND e.category = ?");
        let mut values: Vec<Value> = vec![q.user_id.into(), q.category.as_str().into()];
        if !q.workout_types.is_empty() {
            sql.push_str(&format!(
                " AND e.event_type IN ({})",
                vec!["?"; q.workout_types.len()].join(", ")
            ));
            values.extend(q.workout_types.iter().map(|t| Value::from(t.clone())));
        }
        push_range(&mut sql, &mut values, "e.start_at", q.start, q.end);
        if let Some((start, id)) = q.after {
            sql.push_str(" AND (e.start_at > ? OR (e.start_at = ? AND e.id > ?))");
            values.extend([start.into(), start.into(), id.into()]);
        }
        sql.push_str(" ORDER BY e.start_at, e.id LIMIT ?");
        values.push((q.limit as i64).into());
        let rows = self
            .db
            .query_all_raw(stmt(backend, &sql, values))
            .await
            .map_err(internal)?;
        rows.iter().map(event).collect()
    }

    async fn event(&self, user_id: Uuid, id: Uuid) -> Result<Option<Event>> {
        let backend = self.db.get_database_backend();
        let sql = format!("{SELECT} WHERE e.user_id = ? AND e.id = ?");
        let row = self
            .db
            .query_one_raw(stmt(backend, &sql, vec![user_id.into(), id.into()]))
            .await
            .map_err(internal)?;
        row.map(|r| event(&r)).transpose()
    }

    async fn delete_events(
        &self,
        user_id: Uuid,
        source_uid: Option<Uuid>,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<u64> {
        let backend: DbBackend = self.db.get_database_backend();
        let mut sql = String::from("DELETE FROM event_record WHERE user_id = ?");
        let mut values: Vec<Value> = vec![user_id.into()];
        if let Some(uid) = source_uid {
            sql.push_str(
                " AND source_id IN (SELECT id FROM data_source WHERE user_id = ? AND uid = ?)",
            );
            values.extend([user_id.into(), uid.into()]);
        }
        push_range(&mut sql, &mut values, "start_at", start, end);
        let result = self
            .db
            .execute_raw(stmt(backend, &sql, values))
            .await
            .map_err(internal)?;
        Ok(result.rows_affected())
    }

    async fn delete_event(&self, user_id: Uuid, id: Uuid) -> Result<bool> {
        let backend: DbBackend = self.db.get_database_backend();
        let sql = "DELETE FROM event_record WHERE user_id = ? AND id = ?";
        let result = self
            .db
            .execute_raw(stmt(backend, sql, vec![user_id.into(), id.into()]))
            .await
            .map_err(internal)?;
        Ok(result.rows_affected() > 0)
    }
}
