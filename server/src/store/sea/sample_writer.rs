//! Sample writes: one transaction per request or stream. A batch is split by block (one UTC
//! day of one source and series type); each touched block is read once, merged with the new
//! samples (new instants inserted, changed ones updated, identical ones skipped) and written
//! back whole.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use owl_migration::sample_codec::block_start;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Value};
use uuid::Uuid;

use super::blocks::{decode_block, encode_block, insert_blocks, update_block};
use super::internal;
use super::samples::{get, placeholders, stmt};
use crate::domain::error::Result;
use crate::domain::health::{Sample, SeriesBatch, SourceKey, WriteStats};
use crate::store::SampleWriter;

/// Blocks read at once to merge a batch (bounds the memory of a sparse batch over dense data).
const READ_BLOCKS: usize = 64;

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
            key.manufacturer.clone().into(),
            key.recording_method.as_str().into(),
        ]
    };
    let insert = "INSERT INTO data_source (uid, user_id, provider, device_model, device_type, app_name, \
                  manufacturer, recording_method, created_at) \
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";
    let mut values = vec![Value::from(Uuid::now_v7())];
    values.extend(identity());
    values.push(Utc::now().into());
    conn.execute_raw(stmt(backend, insert, values))
        .await
        .map_err(internal)?;
    let select = "SELECT id FROM data_source WHERE user_id = ? AND provider = ? AND device_model = ? \
                  AND device_type = ? AND app_name = ? AND manufacturer = ? AND recording_method = ?";
    match conn
        .query_one_raw(stmt(backend, select, identity()))
        .await
        .map_err(internal)?
    {
        Some(row) => get(&row, 0),
        None => Err(anyhow::anyhow!("data source vanished after insert").into()),
    }
}

/// Merges `new` (sorted, unique instants) into `stored` (the same): the merged samples and what
/// the merge did.
pub(super) fn merge_samples(stored: &[Sample], new: &[Sample]) -> (Vec<Sample>, WriteStats) {
    let mut out = Vec::with_capacity(stored.len() + new.len());
    let mut stats = WriteStats::default();
    let (mut i, mut j) = (0, 0);
    while i < stored.len() || j < new.len() {
        match (stored.get(i), new.get(j)) {
            (Some(a), Some(b)) if a.time == b.time => {
                if a.value == b.value
                    && a.zone_offset == b.zone_offset
                    && a.duration_ms == b.duration_ms
                {
                    stats.skipped += 1;
                } else {
                    stats.updated += 1;
                }
                out.push(*b);
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a.time < b.time => {
                out.push(*a);
                i += 1;
            }
            (Some(_), Some(b)) | (None, Some(b)) => {
                out.push(*b);
                stats.inserted += 1;
                j += 1;
            }
            (Some(a), None) => {
                out.push(*a);
                i += 1;
            }
            (None, None) => break,
        }
    }
    (out, stats)
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

    /// The stored samples of the blocks starting at `starts`, by block start.
    async fn stored(
        &self,
        source_id: i64,
        series_type_id: i32,
        starts: &[i64],
    ) -> Result<HashMap<i64, Vec<Sample>>> {
        let sql = format!(
            "SELECT block_start, data FROM sample_block WHERE source_id = ? AND series_type_id = ? \
             AND block_start IN ({})",
            placeholders(starts.len())
        );
        let mut values: Vec<Value> = vec![source_id.into(), series_type_id.into()];
        values.extend(starts.iter().map(|&s| Value::from(s)));
        let rows = self
            .txn
            .query_all_raw(stmt(self.backend, &sql, values))
            .await
            .map_err(internal)?;
        rows.iter()
            .map(|row| {
                let data: Vec<u8> = get(row, 1)?;
                Ok((get(row, 0)?, decode_block(&data)?))
            })
            .collect()
    }
}

#[async_trait]
impl SampleWriter for SeaSampleWriter {
    async fn write(&mut self, batch: &SeriesBatch) -> Result<WriteStats> {
        let source_id = self.source(&batch.source).await?;
        let series_type_id = batch.series_type_id;
        let mut stats = WriteStats::default();
        let groups: Vec<&[Sample]> = batch
            .samples
            .chunk_by(|a, b| block_start(a.time) == block_start(b.time))
            .collect();
        for groups in groups.chunks(READ_BLOCKS) {
            let starts: Vec<i64> = groups.iter().map(|g| block_start(g[0].time)).collect();
            let mut stored = self.stored(source_id, series_type_id, &starts).await?;
            let mut fresh = Vec::new();
            for (group, &start) in groups.iter().zip(&starts) {
                match stored.remove(&start) {
                    None => {
                        stats.inserted += group.len() as u64;
                        fresh.push(encode_block(source_id, series_type_id, start, group));
                    }
                    Some(old) => {
                        let (merged, merge) = merge_samples(&old, group);
                        stats += merge;
                        if merge.inserted + merge.updated > 0 {
                            let block = encode_block(source_id, series_type_id, start, &merged);
                            update_block(&self.txn, block).await?;
                        }
                    }
                }
            }
            insert_blocks(&self.txn, fresh).await?;
        }
        Ok(stats)
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.txn.commit().await.map_err(internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(time: i64, value: f64) -> Sample {
        Sample::at(time, value, 0)
    }

    #[test]
    fn merging_inserts_new_instants_updates_changed_ones_and_skips_the_rest() {
        let stored = vec![s(10, 1.0), s(20, 2.0), s(30, 3.0)];
        let new = vec![s(5, 0.5), s(20, 2.0), s(30, 3.5), s(40, 4.0)];
        let (merged, stats) = merge_samples(&stored, &new);
        let times: Vec<i64> = merged.iter().map(|s| s.time).collect();
        assert_eq!(times, vec![5, 10, 20, 30, 40]);
        assert_eq!(merged[3].value, 3.5);
        assert_eq!(
            stats,
            WriteStats {
                inserted: 2,
                updated: 1,
                skipped: 1
            }
        );
    }
}
