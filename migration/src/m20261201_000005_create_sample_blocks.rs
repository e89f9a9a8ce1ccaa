//! Samples move from one row each into blocks: the samples of one source and series type within
//! one UTC day, packed by `sample_codec`. A month of 1-minute heart rate is 30 rows instead of
//! 43,200, so reads, aggregates and summaries decode a few blobs instead of scanning rows.
//!
//! Existing samples are converted on the way up and expanded back on the way down.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use crate::m20261122_000003_create_health_data::samples_table;
use crate::sample_codec::{self, block_start};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Rows read at once while converting.
const PAGE: i64 = 50_000;

/// The blocks table. The blob comes last, so scans that read only the keys and bounds never
/// load it. PostgreSQL keeps blobs out of line and uncompressed: they are packed already.
fn blocks_table(backend: DbBackend) -> Vec<String> {
    let blob = if backend == DbBackend::Postgres {
        "BYTEA"
    } else {
        "BLOB"
    };
    let mut sql = vec![format!(
        "CREATE TABLE sample_block (\
           source_id BIGINT NOT NULL, \
           series_type_id INTEGER NOT NULL, \
           block_start BIGINT NOT NULL, \
           first_time BIGINT NOT NULL, \
           last_time BIGINT NOT NULL, \
           sample_count INTEGER NOT NULL, \
           data {blob} NOT NULL, \
           PRIMARY KEY (source_id, series_type_id, block_start))"
    )];
    if backend == DbBackend::Postgres {
        sql.push("ALTER TABLE sample_block ALTER COLUMN data SET STORAGE EXTERNAL".into());
    }
    sql
}

/// `sql` with `?` placeholders numbered for PostgreSQL.
fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' && backend == DbBackend::Postgres {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    Statement::from_sql_and_values(backend, out, values)
}

/// One block's key and samples while converting.
struct Pending {
    key: (i64, i32, i64),
    samples: Vec<(i64, i32, f64)>,
}

async fn insert_block(conn: &impl ConnectionTrait, block: &Pending) -> Result<(), DbErr> {
    let (Some(first), Some(last)) = (block.samples.first(), block.samples.last()) else {
        return Ok(());
    };
    let sql = "INSERT INTO sample_block (source_id, series_type_id, block_start, first_time, last_time, \
               sample_count, data) VALUES (?, ?, ?, ?, ?, ?, ?)";
    let values = vec![
        block.key.0.into(),
        block.key.1.into(),
        block.key.2.into(),
        first.0.into(),
        last.0.into(),
        (block.samples.len() as i32).into(),
        sample_codec::encode(&block.samples, |s| *s).into(),
    ];
    conn.execute_raw(statement(conn.get_database_backend(), sql, values))
        .await?;
    Ok(())
}

/// Packs every row of `data_point_series` into blocks, reading in key order.
async fn pack(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    let mut after: Option<(i64, i32, i64)> = None;
    let mut pending: Option<Pending> = None;
    loop {
        let (condition, mut values) = match after {
            None => (String::new(), Vec::new()),
            Some((s, t, r)) => (
                "WHERE (source_id, series_type_id, recorded_at) > (?, ?, ?) ".to_owned(),
                vec![s.into(), t.into(), r.into()],
            ),
        };
        values.push(PAGE.into());
        let sql = format!(
            "SELECT source_id, series_type_id, recorded_at, zone_offset, value FROM data_point_series \
             {condition}ORDER BY source_id, series_type_id, recorded_at LIMIT ?"
        );
        let rows = conn.query_all_raw(statement(backend, &sql, values)).await?;
        for row in &rows {
            let source: i64 = row.try_get_by_index(0)?;
            let series: i32 = row.try_get_by_index(1)?;
            let time: i64 = row.try_get_by_index(2)?;
            let sample = (time, row.try_get_by_index(3)?, row.try_get_by_index(4)?);
            let key = (source, series, block_start(time));
            match &mut pending {
                Some(block) if block.key == key => block.samples.push(sample),
                _ => {
                    if let Some(done) = pending.take() {
                        insert_block(conn, &done).await?;
                    }
                    pending = Some(Pending {
                        key,
                        samples: vec![sample],
                    });
                }
            }
            after = Some((source, series, time));
        }
        if (rows.len() as i64) < PAGE {
            break;
        }
    }
    if let Some(done) = pending {
        insert_block(conn, &done).await?;
    }
    Ok(())
}

/// Expands every block back into rows of `data_point_series`.
async fn unpack(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    let mut after: Option<(i64, i32, i64)> = None;
    loop {
        let (condition, values) = match after {
            None => (String::new(), Vec::new()),
            Some((s, t, b)) => (
                "WHERE (source_id, series_type_id, block_start) > (?, ?, ?) ".to_owned(),
                vec![s.into(), t.into(), b.into()],
            ),
        };
        let sql = format!(
            "SELECT source_id, series_type_id, block_start, data FROM sample_block {condition}\
             ORDER BY source_id, series_type_id, block_start LIMIT 100"
        );
        let rows = conn.query_all_raw(statement(backend, &sql, values)).await?;
        for row in &rows {
            let (source, series): (i64, i32) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
            let data: Vec<u8> = row.try_get_by_index(3)?;
            let mut samples = Vec::new();
            sample_codec::decode(&data, |t, o, v| samples.push((t, o, v)))
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            for chunk in samples.chunks(1000) {
                let sql = format!(
                    "INSERT INTO data_point_series (source_id, series_type_id, recorded_at, zone_offset, value) VALUES {}",
                    vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ")
                );
                let mut values = Vec::with_capacity(chunk.len() * 5);
                for &(t, o, v) in chunk {
                    values.extend([source.into(), series.into(), t.into(), o.into(), v.into()]);
                }
                conn.execute_raw(statement(backend, &sql, values)).await?;
            }
            after = Some((source, series, row.try_get_by_index(2)?));
        }
        if rows.len() < 100 {
            break;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for sql in blocks_table(manager.get_database_backend()) {
            conn.execute_unprepared(&sql).await?;
        }
        pack(conn).await?;
        conn.execute_unprepared("DROP TABLE data_point_series")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        conn.execute_unprepared(samples_table(manager.get_database_backend()))
            .await?;
        unpack(conn).await?;
        conn.execute_unprepared("DROP TABLE sample_block").await?;
        Ok(())
    }
}
