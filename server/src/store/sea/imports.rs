//! File imports (`data_import`) in SQL that SQLite and PostgreSQL both run.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult, Value};
use uuid::Uuid;

use super::samples::{get, stmt};
use super::{SeaStore, internal, is_unique_violation};
use crate::domain::error::Result;
use crate::domain::imports::{ErrorLocation, Import, ImportProgress, ImportStage};
use crate::domain::page::PageRequest;
use crate::store::imports::ImportStore;

const COLUMNS: &str = "id, user_id, format, stage, bytes_received, total_bytes, bytes_parsed, \
    sha256, complete, records_parsed, samples_stored, events_stored, skipped, error, error_line, \
    error_column, error_byte, created_at, upload_complete_at, finished_at, updated_at";
/// Stages of imports that hold their user's one slot.
const ACTIVE: &str = "('receiving', 'queued', 'parsing')";

impl SeaStore {
    async fn import_exec(
        &self,
        sql: &str,
        values: Vec<Value>,
    ) -> std::result::Result<u64, sea_orm::DbErr> {
        let backend = self.db.get_database_backend();
        Ok(self
            .db
            .execute_raw(stmt(backend, sql, values))
            .await?
            .rows_affected())
    }

    async fn import_rows(&self, sql: &str, values: Vec<Value>) -> Result<Vec<Import>> {
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(stmt(backend, sql, values))
            .await
            .map_err(internal)?;
        rows.iter().map(import).collect()
    }
}

fn import(row: &QueryResult) -> Result<Import> {
    let stage: String = get(row, 3)?;
    let skipped: String = get(row, 12)?;
    let skipped: BTreeMap<String, i64> =
        serde_json::from_str(&skipped).map_err(anyhow::Error::from)?;
    let line: Option<i64> = get(row, 14)?;
    let column: Option<i64> = get(row, 15)?;
    let byte: Option<i64> = get(row, 16)?;
    Ok(Import {
        id: get(row, 0)?,
        user_id: get(row, 1)?,
        format: get(row, 2)?,
        stage: ImportStage::parse(&stage)
            .ok_or_else(|| anyhow::anyhow!("unknown import stage {stage:?}"))?,
        bytes_received: get(row, 4)?,
        total_bytes: get(row, 5)?,
        sha256: get(row, 7)?,
        complete: get(row, 8)?,
        progress: ImportProgress {
            bytes_parsed: get(row, 6)?,
            records_parsed: get(row, 9)?,
            samples_stored: get(row, 10)?,
            events_stored: get(row, 11)?,
            skipped,
        },
        error: get(row, 13)?,
        error_location: match (line, column, byte) {
            (Some(line), Some(column), Some(byte)) => Some(ErrorLocation { line, column, byte }),
            _ => None,
        },
        created_at: get(row, 17)?,
        upload_complete_at: get(row, 18)?,
        finished_at: get(row, 19)?,
        updated_at: get(row, 20)?,
    })
}

fn skipped_json(progress: &ImportProgress) -> Result<String> {
    Ok(serde_json::to_string(&progress.skipped).map_err(anyhow::Error::from)?)
}

#[async_trait]
impl ImportStore for SeaStore {
    async fn insert_import(&self, i: &Import) -> Result<bool> {
        let values: Vec<Value> = vec![
            i.id.into(),
            i.user_id.into(),
            i.user_id.into(),
            i.format.clone().into(),
            i.stage.as_str().into(),
            i.total_bytes.into(),
            i.sha256.clone().into(),
            skipped_json(&i.progress)?.into(),
            i.created_at.into(),
            i.updated_at.into(),
        ];
        let inserted = self
            .import_exec(
                "INSERT INTO data_import (id, user_id, active_user_id, format, stage, total_bytes, \
                 sha256, complete, skipped, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, FALSE, ?, ?, ?)",
                values,
            )
            .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(error) if is_unique_violation(&error) => Ok(false),
            Err(error) => Err(internal(error)),
        }
    }

    async fn import(&self, id: Uuid) -> Result<Option<Import>> {
        let rows = self
            .import_rows(
                &format!("SELECT {COLUMNS} FROM data_import WHERE id = ?"),
                vec![id.into()],
            )
            .await?;
        Ok(rows.into_iter().next())
    }

    async fn active_import(&self, user_id: Uuid) -> Result<Option<Import>> {
        let rows = self
            .import_rows(
                &format!("SELECT {COLUMNS} FROM data_import WHERE active_user_id = ?"),
                vec![user_id.into()],
            )
            .await?;
        Ok(rows.into_iter().next())
    }

    async fn succeeded_import(&self, user_id: Uuid, sha256: &str) -> Result<Option<Import>> {
        let rows = self
            .import_rows(
                &format!(
                    "SELECT {COLUMNS} FROM data_import WHERE user_id = ? AND sha256 = ? \
                     AND stage = 'succeeded' ORDER BY id DESC LIMIT 1"
                ),
                vec![user_id.into(), sha256.into()],
            )
            .await?;
        Ok(rows.into_iter().next())
    }

    async fn list_imports(&self, user_id: Uuid, page: &PageRequest) -> Result<Vec<Import>> {
        let mut sql = format!("SELECT {COLUMNS} FROM data_import WHERE user_id = ?");
        let mut values: Vec<Value> = vec![user_id.into()];
        if let Some(after) = page.after {
            sql.push_str(" AND id < ?");
            values.push(after.into());
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        values.push((page.fetch_limit() as i64).into());
        self.import_rows(&sql, values).await
    }

    async fn set_received(&self, id: Uuid, bytes: i64, now: DateTime<Utc>) -> Result<()> {
        self.import_exec(
            "UPDATE data_import SET bytes_received = ?, updated_at = ? WHERE id = ? AND stage = 'receiving'",
            vec![bytes.into(), now.into(), id.into()],
        )
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn complete_upload(
        &self,
        id: Uuid,
        bytes: i64,
        sha256: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.import_exec(
            "UPDATE data_import SET stage = 'queued', complete = TRUE, bytes_received = ?, \
             sha256 = ?, upload_complete_at = ?, updated_at = ? WHERE id = ? AND stage = 'receiving'",
            vec![bytes.into(), sha256.into(), now.into(), now.into(), id.into()],
        )
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn start_import(&self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
        // A redelivered job parses from the start again: its counters restart with it.
        self.import_exec(
            "UPDATE data_import SET stage = 'parsing', bytes_parsed = 0, records_parsed = 0, \
             samples_stored = 0, events_stored = 0, skipped_total = 0, skipped = '{}', \
             updated_at = ? WHERE id = ? AND stage IN ('queued', 'parsing')",
            vec![now.into(), id.into()],
        )
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn update_progress(
        &self,
        id: Uuid,
        p: &ImportProgress,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.import_exec(
            "UPDATE data_import SET bytes_parsed = ?, records_parsed = ?, samples_stored = ?, \
             events_stored = ?, skipped_total = ?, skipped = ?, updated_at = ? \
             WHERE id = ? AND stage = 'parsing'",
            vec![
                p.bytes_parsed.into(),
                p.records_parsed.into(),
                p.samples_stored.into(),
                p.events_stored.into(),
                p.skipped_total().into(),
                skipped_json(p)?.into(),
                now.into(),
                id.into(),
            ],
        )
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn finish_import(
        &self,
        id: Uuid,
        stage: ImportStage,
        error: Option<(&str, Option<ErrorLocation>)>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (message, location) = match error {
            Some((message, location)) => (Some(message.to_owned()), location),
            None => (None, None),
        };
        self.import_exec(
            &format!(
                "UPDATE data_import SET stage = ?, active_user_id = NULL, error = ?, error_line = ?, \
                 error_column = ?, error_byte = ?, finished_at = ?, updated_at = ? \
                 WHERE id = ? AND stage IN {ACTIVE}"
            ),
            vec![
                stage.as_str().into(),
                message.into(),
                location.map(|l| l.line).into(),
                location.map(|l| l.column).into(),
                location.map(|l| l.byte).into(),
                now.into(),
                now.into(),
                id.into(),
            ],
        )
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn delete_import(&self, id: Uuid) -> Result<()> {
        self.import_exec("DELETE FROM data_import WHERE id = ?", vec![id.into()])
            .await
            .map_err(internal)?;
        Ok(())
    }
}
