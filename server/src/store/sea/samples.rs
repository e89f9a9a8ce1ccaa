//! Data sources and samples in the database: batched writes inside one transaction, keyset
//! listing and aggregation in SQL that both SQLite and PostgreSQL run.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, TransactionTrait, Value};
use uuid::Uuid;

use super::sample_writer::SeaSampleWriter;
use super::{SeaStore, internal};
use crate::domain::error::Result;
use crate::domain::health::{
    AggregateQuery, BucketRow, BucketWidth, DataSource, MERGED, Priority, Sample, SampleFilter,
    SampleQuery, SampleRun, SourceKey,
};
use crate::domain::page::PageRequest;
use crate::store::{HealthStore, SampleWriter};

const DAY_MS: i64 = 86_400_000;
/// The interval within which the merged view picks one source.
const MINUTE_MS: i64 = 60_000;
/// Packs (instant, offset) into one orderable integer: instant × 10⁶ + offset + 50,400.
const PACK: i64 = 1_000_000;
const OFFSET_BIAS: i64 = 50_400;

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
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

pub(super) fn get<T: sea_orm::TryGetable>(row: &QueryResult, index: usize) -> Result<T> {
    row.try_get_by_index(index).map_err(internal)
}

/// WHERE clauses shared by listing and aggregation: the user's sources, series types, range.
fn sample_conditions(
    source_ids: &[i64],
    types: &[i32],
    start: Option<i64>,
    end: Option<i64>,
    values: &mut Vec<Value>,
) -> String {
    let mut sql = format!("s.source_id IN ({})", placeholders(source_ids.len()));
    values.extend(source_ids.iter().map(|&id| Value::from(id)));
    if !types.is_empty() {
        sql.push_str(&format!(
            " AND s.series_type_id IN ({})",
            placeholders(types.len())
        ));
        values.extend(types.iter().map(|&t| Value::from(t)));
    }
    push_range(&mut sql, values, "s.recorded_at", start, end);
    sql
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
    async fn user_sources(&self, user_id: Uuid) -> Result<HashMap<i64, Uuid>> {
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
            "SELECT id, uid, provider, device_model, device_type, app_name, created_at FROM data_source WHERE user_id = ?",
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
        let sql = "SELECT s.zone_offset FROM data_point_series s JOIN data_source d ON d.id = s.source_id \
                   WHERE d.user_id = ? ORDER BY s.recorded_at DESC LIMIT 1";
        let row = self
            .db
            .query_one_raw(stmt(backend, sql, vec![user_id.into()]))
            .await
            .map_err(internal)?;
        row.map(|r| get(&r, 0)).transpose()
    }

    async fn list_samples(&self, q: &SampleQuery) -> Result<Vec<SampleRun>> {
        if let Some(ranks) = &q.ranks {
            return self.list_merged(q, ranks).await;
        }
        let backend = self.db.get_database_backend();
        let sources = self.user_sources(q.user_id).await?;
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = sources.keys().copied().collect();
        let mut values = Vec::new();
        let mut sql = String::from(
            "SELECT s.source_id, s.series_type_id, s.recorded_at, s.zone_offset, s.value FROM data_point_series s WHERE ",
        );
        sql.push_str(&sample_conditions(
            &ids,
            &q.series_type_ids,
            q.start,
            q.end,
            &mut values,
        ));
        if let Some(after) = q.after {
            let Some(source_id) = sources
                .iter()
                .find(|(_, uid)| **uid == after.source_uid)
                .map(|(id, _)| *id)
            else {
                return Ok(Vec::new());
            };
            let time_cmp = if q.newest_first { "<" } else { ">" };
            sql.push_str(&format!(
                " AND (s.source_id > ? OR (s.source_id = ? AND (s.series_type_id > ? OR \
                 (s.series_type_id = ? AND s.recorded_at {time_cmp} ?))))"
            ));
            values.extend([
                source_id.into(),
                source_id.into(),
                after.series_type_id.into(),
                after.series_type_id.into(),
                after.time.into(),
            ]);
        }
        let direction = if q.newest_first { "DESC" } else { "ASC" };
        sql.push_str(&format!(
            " ORDER BY s.source_id, s.series_type_id, s.recorded_at {direction} LIMIT ?"
        ));
        values.push((q.limit as i64).into());
        let rows = self
            .db
            .query_all_raw(stmt(backend, &sql, values))
            .await
            .map_err(internal)?;
        runs(&rows, |row| {
            let id: i64 = get(row, 0)?;
            Ok(sources.get(&id).copied().unwrap_or(MERGED))
        })
    }

    async fn aggregate_samples(&self, q: &AggregateQuery) -> Result<Vec<BucketRow>> {
        let backend = self.db.get_database_backend();
        let local_day = format!("((s.recorded_at + s.zone_offset * 1000) / {DAY_MS})");
        let bucket = match q.bucket {
            BucketWidth::Fixed(width) => format!("(s.recorded_at - (s.recorded_at % {width}))"),
            BucketWidth::Day => local_day,
            // Day 0 (1970-01-01) was a Thursday: Mondays are days ≡ 4 (mod 7).
            BucketWidth::Week => format!("((({local_day} + 3) / 7) * 7 - 3)"),
        };
        let sources = self.user_sources(q.user_id).await?;
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = sources.keys().copied().collect();
        let mut values = Vec::new();
        let sql = match &q.ranks {
            None => {
                let conditions =
                    sample_conditions(&ids, &q.series_type_ids, q.start, q.end, &mut values);
                format!(
                    "SELECT s.source_id, s.series_type_id, {bucket} AS b, MIN(s.value), MAX(s.value), \
                     SUM(s.value), COUNT(*), MIN(s.recorded_at * {PACK} + s.zone_offset + {OFFSET_BIAS}) \
                     FROM data_point_series s WHERE {conditions} \
                     GROUP BY s.source_id, s.series_type_id, b ORDER BY s.source_id, s.series_type_id, b"
                )
            }
            Some(ranks) => {
                let ranked = ranked_samples(
                    &ids,
                    &q.series_type_ids,
                    q.start,
                    q.end,
                    ranks,
                    "",
                    &mut values,
                );
                format!(
                    "SELECT NULL, s.series_type_id, {bucket} AS b, MIN(s.value), MAX(s.value), SUM(s.value), \
                     COUNT(*), MIN(s.recorded_at * {PACK} + s.zone_offset + {OFFSET_BIAS}) \
                     FROM ({ranked}) s WHERE s.r = s.best GROUP BY s.series_type_id, b ORDER BY s.series_type_id, b"
                )
            }
        };
        let rows = self
            .db
            .query_all_raw(stmt(backend, &sql, values))
            .await
            .map_err(internal)?;
        rows.iter()
            .map(|row| {
                let first: i64 = get(row, 7)?;
                Ok(BucketRow {
                    source_uid: get::<Option<i64>>(row, 0)?
                        .and_then(|id| sources.get(&id).copied())
                        .unwrap_or(MERGED),
                    series_type_id: get(row, 1)?,
                    key: get(row, 2)?,
                    min: get(row, 3)?,
                    max: get(row, 4)?,
                    sum: get(row, 5)?,
                    count: get(row, 6)?,
                    first_time: first.div_euclid(PACK),
                    first_offset: (first.rem_euclid(PACK) - OFFSET_BIAS) as i32,
                })
            })
            .collect()
    }

    async fn delete_samples(&self, f: &SampleFilter) -> Result<u64> {
        let backend = self.db.get_database_backend();
        let mut values: Vec<Value> = vec![f.user_id.into()];
        let mut sources = String::from("SELECT id FROM data_source WHERE user_id = ?");
        if let Some(uid) = f.source_uid {
            sources.push_str(" AND uid = ?");
            values.push(uid.into());
        }
        let mut sql = format!("DELETE FROM data_point_series WHERE source_id IN ({sources})");
        if !f.series_type_ids.is_empty() {
            sql.push_str(&format!(
                " AND series_type_id IN ({})",
                placeholders(f.series_type_ids.len())
            ));
            values.extend(f.series_type_ids.iter().map(|&t| Value::from(t)));
        }
        push_range(&mut sql, &mut values, "recorded_at", f.start, f.end);
        let result = self
            .db
            .execute_raw(stmt(backend, &sql, values))
            .await
            .map_err(internal)?;
        Ok(result.rows_affected())
    }
}

/// Groups rows of (source, series type, time, offset, value) into runs; `source` reads the
/// source of a row.
fn runs(
    rows: &[QueryResult],
    source: impl Fn(&QueryResult) -> Result<Uuid>,
) -> Result<Vec<SampleRun>> {
    let mut runs: Vec<SampleRun> = Vec::new();
    for row in rows {
        let source_uid = source(row)?;
        let series_type_id: i32 = get(row, 1)?;
        let sample = Sample {
            time: get(row, 2)?,
            zone_offset: get(row, 3)?,
            value: get(row, 4)?,
        };
        match runs.last_mut() {
            Some(run) if run.source_uid == source_uid && run.series_type_id == series_type_id => {
                run.samples.push(sample)
            }
            _ => runs.push(SampleRun {
                source_uid,
                series_type_id,
                samples: vec![sample],
            }),
        }
    }
    Ok(runs)
}

/// Samples with their source's rank `r` and the best rank `best` among the sources with data
/// in the same series type and minute; `r = best` selects the merged view. `extra` adds
/// conditions on `s`.
fn ranked_samples(
    source_ids: &[i64],
    types: &[i32],
    start: Option<i64>,
    end: Option<i64>,
    ranks: &[(i64, i32)],
    extra: &str,
    values: &mut Vec<Value>,
) -> String {
    if source_ids.len() == 1 {
        // One source wins every minute: no ranking needed.
        let mut sql = String::from(
            "SELECT s.series_type_id, s.recorded_at, s.zone_offset, s.value, 0 AS r, 0 AS best \
             FROM data_point_series s WHERE ",
        );
        sql.push_str(&sample_conditions(source_ids, types, start, end, values));
        sql.push_str(extra);
        return sql;
    }
    let mut case = String::from("CASE s.source_id");
    let mut case_values = Vec::with_capacity(ranks.len() * 2);
    for &(source_id, rank) in ranks {
        case.push_str(" WHEN ? THEN ?");
        case_values.push(Value::from(source_id));
        case_values.push(Value::from(rank));
    }
    case.push_str(" ELSE 2147483647 END");
    values.extend(case_values.iter().cloned());
    values.extend(case_values);
    let mut sql = format!(
        "SELECT s.series_type_id, s.recorded_at, s.zone_offset, s.value, {case} AS r, \
         MIN({case}) OVER (PARTITION BY s.series_type_id, s.recorded_at / {MINUTE_MS}) AS best \
         FROM data_point_series s WHERE "
    );
    sql.push_str(&sample_conditions(source_ids, types, start, end, values));
    sql.push_str(extra);
    sql
}

impl SeaStore {
    /// The merged view of a sample query: per series type and minute, the best source's samples.
    async fn list_merged(&self, q: &SampleQuery, ranks: &[(i64, i32)]) -> Result<Vec<SampleRun>> {
        let backend = self.db.get_database_backend();
        let mut values = Vec::new();
        let (inner, inner_values, outer, outer_values): (String, Vec<Value>, String, Vec<Value>) =
            match q.after {
                None => Default::default(),
                Some(after) => {
                    // Inside, keep the cursor's whole minute so that its ranking is unchanged.
                    let minute = after.time - after.time.rem_euclid(MINUTE_MS);
                    let (inner_cmp, bound, outer_cmp) = if q.newest_first {
                        ("<", minute + MINUTE_MS, "<")
                    } else {
                        (">=", minute, ">")
                    };
                    let t = after.series_type_id;
                    (
                        format!(
                            " AND (s.series_type_id > ? OR (s.series_type_id = ? AND s.recorded_at {inner_cmp} ?))"
                        ),
                        vec![t.into(), t.into(), bound.into()],
                        format!(
                            " AND (x.series_type_id > ? OR (x.series_type_id = ? AND x.recorded_at {outer_cmp} ?))"
                        ),
                        vec![t.into(), t.into(), after.time.into()],
                    )
                }
            };
        let ids: Vec<i64> = ranks.iter().map(|(id, _)| *id).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ranked = ranked_samples(
            &ids,
            &q.series_type_ids,
            q.start,
            q.end,
            ranks,
            &inner,
            &mut values,
        );
        values.extend(inner_values);
        let direction = if q.newest_first { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT NULL, x.series_type_id, x.recorded_at, x.zone_offset, x.value FROM ({ranked}) x \
             WHERE x.r = x.best{outer} ORDER BY x.series_type_id, x.recorded_at {direction} LIMIT ?"
        );
        values.extend(outer_values);
        values.push((q.limit as i64).into());
        let rows = self
            .db
            .query_all_raw(stmt(backend, &sql, values))
            .await
            .map_err(internal)?;
        runs(&rows, |_| Ok(MERGED))
    }
}
