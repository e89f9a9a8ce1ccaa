//! Sample writes: one transaction per request or stream; each chunk is classified against what
//! is stored (one range read), new rows go in with multi-row INSERTs (UNNEST arrays on
//! PostgreSQL) and corrected rows are updated.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Value};
use uuid::Uuid;

use super::internal;
use super::samples::{get, stmt};
use crate::domain::error::Result;
use crate::domain::health::{Sample, SeriesBatch, SourceKey, WriteStats};
use crate::store::SampleWriter;

/// Rows per multi-row INSERT: 5 parameters each stays under SQLite's 32,766 limit.
const INSERT_ROWS: usize = 4000;
/// Rows per UNNEST insert on PostgreSQL (~32 bytes a row): sqlx does not set TCP_NODELAY, and a
/// statement larger than the socket accepts in one write has its tail held back until the
/// server's delayed ACK (~40 ms a statement). Small statements measured 4× faster than 20,000 rows.
const PG_INSERT_ROWS: usize = 250;
/// Samples whose stored neighbours are read at once to classify a write.
const CLASSIFY_CHUNK: usize = 4000;

/// The id of `user_id`'s source with `key`, created on first use (inside `conn`'s transaction).
pub(super) async fn ensure_source(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    key: &SourceKey,
) -> Result<i64> {
    let backend = conn.get_database_backend();
    let identity = || -> Vec<Value> {
        vec![
            user_id.into(),
            key.provider.clone().into(),
            key.device_model.clone().into(),
            key.device_type.clone().into(),
            key.app_name.clone().into(),
        ]
    };
    let insert = "INSERT INTO data_source (uid, user_id, provider, device_model, device_type, app_name, created_at) \
                  VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";
    let mut values = vec![Value::from(Uuid::now_v7())];
    values.extend(identity());
    values.push(Utc::now().into());
    conn.execute_raw(stmt(backend, insert, values))
        .await
        .map_err(internal)?;
    let select = "SELECT id FROM data_source WHERE user_id = ? AND provider = ? AND device_model = ? \
                  AND device_type = ? AND app_name = ?";
    match conn
        .query_one_raw(stmt(backend, select, identity()))
        .await
        .map_err(internal)?
    {
        Some(row) => get(&row, 0),
        None => Err(anyhow::anyhow!("data source vanished after insert").into()),
    }
}

/// A write in progress: one transaction, and the sources it has resolved.
pub(super) struct SeaSampleWriter {
    txn: DatabaseTransaction,
    backend: DbBackend,
    user_id: Uuid,
    sources: HashMap<SourceKey, i64>,
}

impl SeaSampleWriter {
    /// A writer inside `txn` for `user_id`'s samples.
    pub(super) fn new(txn: DatabaseTransaction, user_id: Uuid) -> Self {
        SeaSampleWriter {
            backend: txn.get_database_backend(),
            txn,
            user_id,
            sources: HashMap::new(),
        }
    }

    /// The id of the user's source with `key`, created on first use.
    async fn source(&mut self, key: &SourceKey) -> Result<i64> {
        if let Some(&id) = self.sources.get(key) {
            return Ok(id);
        }
        let id = ensure_source(&self.txn, self.user_id, key).await?;
        self.sources.insert(key.clone(), id);
        Ok(id)
    }

    /// Stored (time → (value, offset)) for the instants of `samples`, which are sorted.
    async fn existing(
        &self,
        source_id: i64,
        series_type_id: i32,
        samples: &[Sample],
    ) -> Result<HashMap<i64, (f64, i32)>> {
        let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
            return Ok(HashMap::new());
        };
        let sql = "SELECT recorded_at, value, zone_offset FROM data_point_series \
                   WHERE source_id = ? AND series_type_id = ? AND recorded_at BETWEEN ? AND ?";
        let values = vec![
            source_id.into(),
            series_type_id.into(),
            first.time.into(),
            last.time.into(),
        ];
        let rows = self
            .txn
            .query_all_raw(stmt(self.backend, sql, values))
            .await
            .map_err(internal)?;
        rows.iter()
            .map(|row| Ok((get(row, 0)?, (get(row, 1)?, get(row, 2)?))))
            .collect()
    }

    async fn insert(&self, source_id: i64, series_type_id: i32, rows: &[Sample]) -> Result<()> {
        if self.backend == DbBackend::Postgres {
            // Three arrays instead of thousands of parameters: PostgreSQL parses one small statement.
            let sql = "INSERT INTO data_point_series (source_id, series_type_id, recorded_at, zone_offset, value) \
                       SELECT ?, ?, u.t, u.o, u.v FROM UNNEST(?::bigint[], ?::integer[], ?::double precision[]) AS u(t, o, v)";
            for chunk in rows.chunks(PG_INSERT_ROWS) {
                let times: Vec<i64> = chunk.iter().map(|s| s.time).collect();
                let offsets: Vec<i32> = chunk.iter().map(|s| s.zone_offset).collect();
                let values: Vec<f64> = chunk.iter().map(|s| s.value).collect();
                let params = vec![
                    source_id.into(),
                    series_type_id.into(),
                    times.into(),
                    offsets.into(),
                    values.into(),
                ];
                self.txn
                    .execute_raw(stmt(self.backend, sql, params))
                    .await
                    .map_err(internal)?;
            }
            return Ok(());
        }
        for chunk in rows.chunks(INSERT_ROWS) {
            let sql = format!(
                "INSERT INTO data_point_series (source_id, series_type_id, recorded_at, zone_offset, value) VALUES {}",
                vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ")
            );
            let mut values = Vec::with_capacity(chunk.len() * 5);
            for s in chunk {
                values.extend([
                    source_id.into(),
                    series_type_id.into(),
                    s.time.into(),
                    s.zone_offset.into(),
                    s.value.into(),
                ]);
            }
            self.txn
                .execute_raw(stmt(self.backend, &sql, values))
                .await
                .map_err(internal)?;
        }
        Ok(())
    }

    async fn update(&self, source_id: i64, series_type_id: i32, s: &Sample) -> Result<()> {
        let sql = "UPDATE data_point_series SET value = ?, zone_offset = ? \
                   WHERE source_id = ? AND series_type_id = ? AND recorded_at = ?";
        let values = vec![
            s.value.into(),
            s.zone_offset.into(),
            source_id.into(),
            series_type_id.into(),
            s.time.into(),
        ];
        self.txn
            .execute_raw(stmt(self.backend, sql, values))
            .await
            .map_err(internal)?;
        Ok(())
    }
}

#[async_trait]
impl SampleWriter for SeaSampleWriter {
    async fn write(&mut self, batch: &SeriesBatch) -> Result<WriteStats> {
        let source_id = self.source(&batch.source).await?;
        let mut stats = WriteStats::default();
        for chunk in batch.samples.chunks(CLASSIFY_CHUNK) {
            let existing = self
                .existing(source_id, batch.series_type_id, chunk)
                .await?;
            let mut fresh = Vec::with_capacity(chunk.len());
            for sample in chunk {
                match existing.get(&sample.time) {
                    None => fresh.push(*sample),
                    Some(&(value, offset))
                        if value == sample.value && offset == sample.zone_offset =>
                    {
                        stats.skipped += 1
                    }
                    Some(_) => {
                        self.update(source_id, batch.series_type_id, sample).await?;
                        stats.updated += 1;
                    }
                }
            }
            self.insert(source_id, batch.series_type_id, &fresh).await?;
            stats.inserted += fresh.len() as u64;
        }
        Ok(stats)
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.txn.commit().await.map_err(internal)
    }
}
