//! The sleep buffer in the database (`sleep_phase`), used when no Redis is configured.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, Value};
use uuid::Uuid;

use super::samples::{get, stmt};
use super::{SeaStore, internal};
use crate::domain::error::Result;
use crate::domain::health::SourceKey;
use crate::domain::health::sleep::SleepPhase;
use crate::store::sleep::{SleepBuffer, parse_source, source_json};

#[async_trait]
impl SleepBuffer for SeaStore {
    async fn add(
        &self,
        user_id: Uuid,
        source: &SourceKey,
        phases: &[SleepPhase],
        now_ms: i64,
    ) -> Result<u64> {
        let backend = self.db.get_database_backend();
        let key = source_json(source);
        let mut added = 0;
        for chunk in phases.chunks(100) {
            let rows = vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO sleep_phase (user_id, source, stage, start_at, end_at, zone_offset, received_at) \
                 VALUES {rows} ON CONFLICT DO NOTHING"
            );
            let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 7);
            for p in chunk {
                values.extend([
                    user_id.into(),
                    key.clone().into(),
                    p.stage.clone().into(),
                    p.start.into(),
                    p.end.into(),
                    p.zone_offset.into(),
                    now_ms.into(),
                ]);
            }
            let result = self
                .db
                .execute_raw(stmt(backend, &sql, values))
                .await
                .map_err(internal)?;
            added += result.rows_affected();
        }
        // A phase sent again still counts as an arrival.
        let sql = "UPDATE sleep_phase SET received_at = ? WHERE user_id = ? AND source = ? AND received_at < ?";
        let values = vec![now_ms.into(), user_id.into(), key.into(), now_ms.into()];
        self.db
            .execute_raw(stmt(backend, sql, values))
            .await
            .map_err(internal)?;
        Ok(added)
    }

    async fn pending(
        &self,
        user_id: Uuid,
        source: &SourceKey,
    ) -> Result<(Vec<SleepPhase>, Option<i64>)> {
        let backend = self.db.get_database_backend();
        let sql = "SELECT stage, start_at, end_at, zone_offset, received_at FROM sleep_phase \
                   WHERE user_id = ? AND source = ? ORDER BY start_at, end_at";
        let rows = self
            .db
            .query_all_raw(stmt(
                backend,
                sql,
                vec![user_id.into(), source_json(source).into()],
            ))
            .await
            .map_err(internal)?;
        let mut latest: Option<i64> = None;
        let mut phases = Vec::with_capacity(rows.len());
        for row in &rows {
            let received: i64 = get(row, 4)?;
            latest = latest.max(Some(received));
            phases.push(SleepPhase {
                stage: get(row, 0)?,
                start: get(row, 1)?,
                end: get(row, 2)?,
                zone_offset: get(row, 3)?,
            });
        }
        Ok((phases, latest))
    }

    async fn remove(&self, user_id: Uuid, source: &SourceKey, phases: &[SleepPhase]) -> Result<()> {
        let backend = self.db.get_database_backend();
        let key = source_json(source);
        for p in phases {
            let sql = "DELETE FROM sleep_phase WHERE user_id = ? AND source = ? AND start_at = ? \
                       AND end_at = ? AND stage = ?";
            let values = vec![
                user_id.into(),
                key.clone().into(),
                p.start.into(),
                p.end.into(),
                p.stage.clone().into(),
            ];
            self.db
                .execute_raw(stmt(backend, sql, values))
                .await
                .map_err(internal)?;
        }
        Ok(())
    }

    async fn quiet(&self, before_ms: i64, limit: usize) -> Result<Vec<(Uuid, SourceKey)>> {
        let backend = self.db.get_database_backend();
        let sql = "SELECT user_id, source FROM sleep_phase GROUP BY user_id, source \
                   HAVING MAX(received_at) < ? ORDER BY MIN(id) LIMIT ?";
        let rows = self
            .db
            .query_all_raw(stmt(
                backend,
                sql,
                vec![before_ms.into(), (limit as i64).into()],
            ))
            .await
            .map_err(internal)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let user_id: Uuid = get(row, 0)?;
            let json: String = get(row, 1)?;
            if let Some(source) = parse_source(&json) {
                out.push((user_id, source));
            }
        }
        Ok(out)
    }
}
