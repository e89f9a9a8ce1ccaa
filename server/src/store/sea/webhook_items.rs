//! The stash of webhook items (`webhook_item`) and a sync's own columns of `user_connection`,
//! in SQL that SQLite and PostgreSQL both run.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value};
use uuid::Uuid;

use super::samples::{get, stmt};
use super::{SeaStore, internal};
use crate::domain::error::Result;
use crate::providers::PendingItem;

impl SeaStore {
    async fn run_sql(&self, sql: &str, values: Vec<Value>) -> Result<u64> {
        let backend = self.db.get_database_backend();
        let done = self
            .db
            .execute_raw(stmt(backend, sql, values))
            .await
            .map_err(internal)?;
        Ok(done.rows_affected())
    }

    pub(super) async fn save_sync(
        &self,
        id: Uuid,
        cursor: Option<&str>,
        synced_at: DateTime<Utc>,
    ) -> Result<()> {
        self.run_sql(
            "UPDATE user_connection SET sync_cursor = ?, last_synced_at = ? WHERE id = ?",
            vec![
                cursor.map(str::to_owned).into(),
                synced_at.into(),
                id.into(),
            ],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn insert_item(
        &self,
        item: &PendingItem,
        dedup_key: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let inserted = self
            .run_sql(
                "INSERT INTO webhook_item (id, connection_id, kind, dedup_key, payload, attempts, created_at) \
                 VALUES (?, ?, ?, ?, ?, 0, ?) ON CONFLICT (connection_id, dedup_key) DO NOTHING",
                vec![
                    item.id.into(),
                    item.connection_id.into(),
                    item.kind.clone().into(),
                    dedup_key.to_owned().into(),
                    item.payload.clone().into(),
                    at.into(),
                ],
            )
            .await?;
        Ok(inserted == 1)
    }

    pub(super) async fn items_of(
        &self,
        connection_id: Uuid,
        limit: u64,
    ) -> Result<Vec<PendingItem>> {
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(stmt(
                backend,
                "SELECT w.id, w.connection_id, w.kind, w.payload, w.attempts, c.provider_user_id \
                 FROM webhook_item w JOIN user_connection c ON c.id = w.connection_id \
                 WHERE w.connection_id = ? ORDER BY w.id LIMIT ?",
                vec![connection_id.into(), (limit as i64).into()],
            ))
            .await
            .map_err(internal)?;
        rows.iter()
            .map(|row| {
                Ok(PendingItem {
                    id: get(row, 0)?,
                    connection_id: get(row, 1)?,
                    kind: get(row, 2)?,
                    payload: get(row, 3)?,
                    attempts: get(row, 4)?,
                    account_id: get::<Option<String>>(row, 5)?.unwrap_or_default(),
                })
            })
            .collect()
    }

    pub(super) async fn item_payloads(
        &self,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<(Uuid, String)>> {
        let backend = self.db.get_database_backend();
        let (filter, mut values): (&str, Vec<Value>) = match after {
            Some(after) => ("WHERE id > ?", vec![after.into()]),
            None => ("", Vec::new()),
        };
        values.push((limit as i64).into());
        let sql = format!("SELECT id, payload FROM webhook_item {filter} ORDER BY id LIMIT ?");
        let rows = self
            .db
            .query_all_raw(stmt(backend, &sql, values))
            .await
            .map_err(internal)?;
        rows.iter()
            .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
            .collect()
    }

    pub(super) async fn replace_item_payload(
        &self,
        id: Uuid,
        old: &str,
        new: &str,
    ) -> Result<bool> {
        let changed = self
            .run_sql(
                "UPDATE webhook_item SET payload = ? WHERE id = ? AND payload = ?",
                vec![new.to_owned().into(), id.into(), old.to_owned().into()],
            )
            .await?;
        Ok(changed == 1)
    }

    pub(super) async fn delete_item(&self, id: Uuid) -> Result<()> {
        self.run_sql("DELETE FROM webhook_item WHERE id = ?", vec![id.into()])
            .await?;
        Ok(())
    }

    pub(super) async fn count_failure(&self, id: Uuid) -> Result<i32> {
        self.run_sql(
            "UPDATE webhook_item SET attempts = attempts + 1 WHERE id = ?",
            vec![id.into()],
        )
        .await?;
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(stmt(
                backend,
                "SELECT attempts FROM webhook_item WHERE id = ?",
                vec![id.into()],
            ))
            .await
            .map_err(internal)?;
        match rows.first() {
            Some(row) => get(row, 0),
            None => Ok(0),
        }
    }
}
