//! Data sources and samples in the database. Samples live in blocks (`blocks.rs`): lists,
//! aggregates and the merged view stream the blocks of a query and work on decoded samples.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, TransactionTrait, Value};
use uuid::Uuid;

use super::blocks::{decode_block, encode_block, update_block};
use super::sample_writer::SeaSampleWriter;
use super::{SeaStore, internal};
use crate::domain::error::Result;
use crate::domain::health::{
    AggregateQuery, BucketRow, DataSource, Priority, RecordingMethod, SampleFilter, SampleQuery,
    SampleRun, SourceKey,
};
use crate::domain::page::PageRequest;
use crate::store::{HealthStore, SampleWriter};

/// A statement with `?` placeholders, numbered for PostgreSQL.
pub(super) fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    if backend == DbBackend::Postgres {
        let mut out = String::with_capacity(sql.len() + values.len() * 3);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        Statement::from_sql_and_values(backend, out, values)
    } else {
        Statement::from_sql_and_values(backend, sql, values)
    }
}

/// `?, ?, …` with `n` placeholders.
pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

pub(super) fn get<T: sea_orm::TryGetable>(row: &QueryResult, index: usize) -> Result<T> {
    row.try_get_by_index(index).map_err(internal)
}

/// Appends `AND column >= start AND column < end` for the bounds that are set.
pub(super) fn push_range(
    sql: &mut String,
    values: &mut Vec<Value>,
    column: &str,
    start: Option<i64>,
    end: Option<i64>,
) {
    if let Some(start) = start {
        sql.push_str(&format!(" AND {column} >= ?"));
        values.push(start.into());
    }
    if let Some(end) = end {
        sql.push_str(&format!(" AND {column} < ?"));
        values.push(end.into());
    }
}

impl SeaStore {
    /// The (id, uid) of every source of a user: queries name sources by id, so that they read
    /// the samples table alone, along its key.
    pub(super) async fn user_sources(&self, user_id: Uuid) -> Result<HashMap<i64, Uuid>> {
        let backend = self.db.get_database_backend();
        let sql = "SELECT id, uid FROM data_source WHERE user_id = ?";
        let rows = self
            .db
            .query_all_raw(stmt(backend, sql, vec![user_id.into()]))
            .await
            .map_err(internal)?;
        rows.iter()
            .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
            .collect()
    }
}

#[async_trait]
impl HealthStore for SeaStore {
    async fn list_sources(&self, user_id: Uuid, page: &PageRequest) -> Result<Vec<DataSource>> {
        let backend = self.db.get_database_backend();
        let mut values: Vec<Value> = vec![user_id.into()];
        let mut sql = String::from(
            "SELECT id, uid, provider, device_model, device_type, app_name, created_at, manufacturer, \
             recording_method FROM data_source WHERE user_id = ?",
        );
        if let Some(after) = page.after {
            sql.push_str(" AND uid > ?");
            values.push(after.into());
        }
        sql.push_str(" ORDER BY uid LIMIT ?");
        values.push((page.fetch_limit() as i64).into());
        let rows = self
            .db
            .query_all_raw(stmt(backend, &sql, values))
            .await
            .map_err(internal)?;
        rows.iter()
            .map(|row| {
                Ok(DataSource {
                    id: get(row, 0)?,
                    uid: get(row, 1)?,
                    user_id,
                    key: SourceKey {
                        provider: get(row, 2)?,
                        device_model: get(row, 3)?,
                        device_type: get(row, 4)?,
                        app_name: get(row, 5)?,
                        manufacturer: get(row, 7)?,
                        recording_method: RecordingMethod::from_key(&get::<String>(row, 8)?),
                    },
                    created_at: get(row, 6)?,
                })
            })
            .collect()
    }

    async fn all_sources(&self, user_id: Uuid) -> Result<Vec<DataSource>> {
        self.list_sources(user_id, &PageRequest::first(u32::MAX as u64))
            .await
    }

    async fn source_priority(&self, user_id: Uuid) -> Result<Option<Priority>> {
        let backend = self.db.get_database_backend();
        let sql = "SELECT providers, device_types FROM source_priority WHERE user_id = ?";
        let row = self
            .db
            .query_one_raw(stmt(backend, sql, vec![user_id.into()]))
            .await
            .map_err(internal)?;
        let split = |s: String| {
            s.split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect()
        };
        row.map(|r| {
            Ok(Priority {
                providers: split(get(&r, 0)?),
                device_types: split(get(&r, 1)?),
            })
        })
        .transpose()
    }

    async fn set_source_priority(
        &self,
        user_id: Uuid,
        priority: Option<&Priority>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let backend = self.db.get_database_backend();
        let txn = self.db.begin().await.map_err(internal)?;
        let delete = "DELETE FROM source_priority WHERE user_id = ?";
        txn.execute_raw(stmt(backend, delete, vec![user_id.into()]))
            .await
            .map_err(internal)?;
        if let Some(p) = priority {
            let insert = "INSERT INTO source_priority (user_id, providers, device_types, updated_at) VALUES (?, ?, ?, ?)";
            let values = vec![
                user_id.into(),
                p.providers.join(",").into(),
                p.device_types.join(",").into(),
                now.into(),
            ];
            txn.execute_raw(stmt(backend, insert, values))
                .await
                .map_err(internal)?;
        }
        txn.commit().await.map_err(internal)
    }

    async fn source_id(&self, user_id: Uuid, uid: Uuid) -> Result<Option<i64>> {
        let backend = self.db.get_database_backend();
        let sql = "SELECT id FROM data_source WHERE user_id = ? AND uid = ?";
        let row = self
            .db
            .query_one_raw(stmt(backend, sql, vec![user_id.into(), uid.into()]))
            .await
            .map_err(internal)?;
        row.map(|r| get(&r, 0)).transpose()
    }

    async fn begin_samples(&self, user_id: Uuid) -> Result<Box<dyn SampleWriter>> {
        let txn = self.db.begin().await.map_err(internal)?;
        Ok(Box::new(SeaSampleWriter::new(txn, user_id)))
    }

    async fn latest_zone_offset(&self, user_id: Uuid) -> Result<Option<i32>> {
        let backend = self.db.get_database_backend();
        let sql = "SELECT data FROM sample_block WHERE source_id IN \
                   (SELECT id FROM data_source WHERE user_id = ?) ORDER BY last_time DESC LIMIT 1";
        let row = self
            .db
            .query_one_raw(stmt(backend, sql, vec![user_id.into()]))
            .await
            .map_err(internal)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let data: Vec<u8> = get(&row, 0)?;
        Ok(decode_block(&data)?.last().map(|s| s.zone_offset))
    }

    async fn list_samples(&self, q: &SampleQuery) -> Result<Vec<SampleRun>> {
        match &q.ranks {
            Some(ranks) => self.list_merged(q, ranks).await,
            None => self.list_raw(q).await,
        }
    }

    async fn aggregate_samples(&self, q: &AggregateQuery) -> Result<Vec<BucketRow>> {
        match &q.ranks {
            Some(ranks) => self.aggregate_merged(q, ranks).await,
            None => self.aggregate_raw(q).await,
        }
    }

    async fn delete_samples(&self, f: &SampleFilter) -> Result<u64> {
        let source_ids: Vec<i64> = match f.source_uid {
            Some(uid) => self.source_id(f.user_id, uid).await?.into_iter().collect(),
            None => self.user_sources(f.user_id).await?.into_keys().collect(),
        };
        if source_ids.is_empty() {
            return Ok(0);
        }
        let backend = self.db.get_database_backend();
        let mut values: Vec<Value> = source_ids.iter().map(|&id| id.into()).collect();
        let mut keys = format!("source_id IN ({})", placeholders(source_ids.len()));
        if !f.series_type_ids.is_empty() {
            keys.push_str(&format!(
                " AND series_type_id IN ({})",
                placeholders(f.series_type_ids.len())
            ));
            values.extend(f.series_type_ids.iter().map(|&t| Value::from(t)));
        }
        // Blocks wholly inside the range go at once; those it cuts are rewritten.
        let mut whole = keys.clone();
        let mut whole_values = values.clone();
        push_range(&mut whole, &mut whole_values, "first_time", f.start, None);
        push_range(&mut whole, &mut whole_values, "last_time", None, f.end);
        let txn = self.db.begin().await.map_err(internal)?;
        let count =
            format!("SELECT COALESCE(SUM(sample_count), 0) FROM sample_block WHERE {whole}");
        let mut deleted: i64 = match txn
            .query_one_raw(stmt(backend, &count, whole_values.clone()))
            .await
            .map_err(internal)?
        {
            Some(row) => get(&row, 0)?,
            None => 0,
        };
        let delete = format!("DELETE FROM sample_block WHERE {whole}");
        txn.execute_raw(stmt(backend, &delete, whole_values))
            .await
            .map_err(internal)?;
        if f.start.is_some() || f.end.is_some() {
            let mut cut = keys;
            if let Some(start) = f.start {
                cut.push_str(" AND last_time >= ?");
                values.push(start.into());
            }
            if let Some(end) = f.end {
                cut.push_str(" AND first_time < ?");
                values.push(end.into());
            }
            let sql = format!(
                "SELECT source_id, series_type_id, block_start, data FROM sample_block WHERE {cut}"
            );
            let rows = txn
                .query_all_raw(stmt(backend, &sql, values))
                .await
                .map_err(internal)?;
            for row in &rows {
                let (source_id, series_type_id, start): (i64, i32, i64) =
                    (get(row, 0)?, get(row, 1)?, get(row, 2)?);
                let data: Vec<u8> = get(row, 3)?;
                let mut samples = decode_block(&data)?;
                let before = samples.len();
                samples.retain(|s| {
                    f.start.is_some_and(|t| s.time < t) || f.end.is_some_and(|t| s.time >= t)
                });
                if samples.len() < before {
                    deleted += (before - samples.len()) as i64;
                    let block = encode_block(source_id, series_type_id, start, &samples);
                    update_block(&txn, block).await?;
                }
            }
        }
        txn.commit().await.map_err(internal)?;
        Ok(deleted as u64)
    }

    async fn delete_provider_data(&self, user_id: Uuid, provider: &str) -> Result<u64> {
        self.delete_sources_of(user_id, provider).await
    }
}

impl SeaStore {
    /// Deletes the sample blocks and the sources (events go with them) of a user's sources from
    /// `provider`, in one transaction; returns the samples and events deleted.
    pub(super) async fn delete_sources_of(&self, user_id: Uuid, provider: &str) -> Result<u64> {
        let backend = self.db.get_database_backend();
        let sources = "SELECT id FROM data_source WHERE user_id = ? AND provider = ?";
        let values = || -> Vec<Value> { vec![user_id.into(), provider.into()] };
        let txn = self.db.begin().await.map_err(internal)?;
        let mut deleted: i64 = 0;
        for count in [
            format!(
                "SELECT COALESCE(SUM(sample_count), 0) FROM sample_block WHERE source_id IN ({sources})"
            ),
            format!("SELECT COUNT(*) FROM event_record WHERE source_id IN ({sources})"),
        ] {
            if let Some(row) = txn
                .query_one_raw(stmt(backend, &count, values()))
                .await
                .map_err(internal)?
            {
                deleted += get::<i64>(&row, 0)?;
            }
        }
        for delete in [
            format!("DELETE FROM sample_block WHERE source_id IN ({sources})"),
            "DELETE FROM data_source WHERE user_id = ? AND provider = ?".to_owned(),
        ] {
            txn.execute_raw(stmt(backend, &delete, values()))
                .await
                .map_err(internal)?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(deleted as u64)
    }
}
