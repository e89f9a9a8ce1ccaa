//! Sample blocks in the database: the `sample_block` row of one source, series type and UTC
//! day, its packed samples (`owl_migration::sample_codec`), and the block scan that every read
//! of samples streams through, one block at a time.

use std::ops::ControlFlow;

use futures::TryStreamExt;
use owl_migration::sample_codec::{self, BLOCK_MS, block_start};
use sea_orm::{ConnectionTrait, DbBackend, StreamTrait, Value};

use super::samples::{get, placeholders, stmt};
use super::{SeaStore, internal};
use crate::domain::error::{Error, Result};
use crate::domain::health::Sample;

/// Packed bytes per statement on PostgreSQL. sqlx does not set TCP_NODELAY: a statement larger
/// than the socket's initial send buffer (16 KiB) has its tail held back until the peer's
/// delayed ACK (~40 ms a statement, measured). Larger blocks are written in pieces.
const PG_STATEMENT_BYTES: usize = 12 * 1024;
/// Blocks per multi-row INSERT on SQLite (7 parameters each, under its 32,766 limit).
const SQLITE_INSERT_ROWS: usize = 1000;

/// A block as it is stored.
pub(super) struct StoredBlock {
    pub source_id: i64,
    pub series_type_id: i32,
    pub start: i64,
    pub first_time: i64,
    pub last_time: i64,
    pub count: i32,
    pub data: Vec<u8>,
}

impl StoredBlock {
    /// The values of an INSERT of this block, in column order.
    pub fn into_values(self) -> [Value; 7] {
        [
            self.source_id.into(),
            self.series_type_id.into(),
            self.start.into(),
            self.first_time.into(),
            self.last_time.into(),
            self.count.into(),
            self.data.into(),
        ]
    }
}

/// Packs `samples` (sorted, unique instants, not empty) into the block that starts at `start`.
pub(super) fn encode_block(
    source_id: i64,
    series_type_id: i32,
    start: i64,
    samples: &[Sample],
) -> StoredBlock {
    StoredBlock {
        source_id,
        series_type_id,
        start,
        first_time: samples.first().map_or(start, |s| s.time),
        last_time: samples.last().map_or(start, |s| s.time),
        count: samples.len() as i32,
        data: sample_codec::encode_intervals(samples, |s| {
            (s.time, s.zone_offset, s.value, i64::from(s.duration_ms))
        }),
    }
}

/// Unpacks a block's samples, in time order.
pub(super) fn decode_block(data: &[u8]) -> Result<Vec<Sample>> {
    let corrupt = |e: sample_codec::CorruptBlock| Error::Internal(anyhow::Error::new(e));
    let mut samples = Vec::with_capacity(sample_codec::count(data).map_err(corrupt)?.min(1 << 20));
    let mut bad_duration = false;
    sample_codec::decode_intervals(data, |time, zone_offset, value, duration| {
        let duration_ms = i32::try_from(duration).unwrap_or_else(|_| {
            bad_duration = true;
            0
        });
        samples.push(Sample {
            time,
            value,
            zone_offset,
            duration_ms,
        })
    })
    .map_err(corrupt)?;
    if bad_duration {
        return Err(corrupt(sample_codec::CorruptBlock("duration out of range")));
    }
    Ok(samples)
}

/// Inserts new blocks with multi-row INSERTs.
pub(super) async fn insert_blocks(
    conn: &impl ConnectionTrait,
    blocks: Vec<StoredBlock>,
) -> Result<()> {
    let backend = conn.get_database_backend();
    let mut rest = blocks.into_iter().peekable();
    while rest.peek().is_some() {
        let (mut chunk, mut bytes) = (Vec::new(), 0);
        while let Some(next) = rest.peek() {
            let full = match backend {
                DbBackend::Postgres => {
                    !chunk.is_empty() && bytes + next.data.len() > PG_STATEMENT_BYTES
                }
                _ => chunk.len() >= SQLITE_INSERT_ROWS,
            };
            if full {
                break;
            }
            bytes += next.data.len();
            chunk.extend(rest.next());
        }
        if backend == DbBackend::Postgres && bytes > PG_STATEMENT_BYTES {
            for big in chunk {
                insert_in_pieces(conn, big).await?;
            }
            continue;
        }
        let sql = format!(
            "INSERT INTO sample_block (source_id, series_type_id, block_start, first_time, last_time, \
             sample_count, data) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut values = Vec::with_capacity(chunk.len() * 7);
        for b in chunk {
            values.extend(b.into_values());
        }
        conn.execute_raw(stmt(backend, &sql, values))
            .await
            .map_err(internal)?;
    }
    Ok(())
}

/// Replaces a stored block's samples.
pub(super) async fn update_block(conn: &impl ConnectionTrait, block: StoredBlock) -> Result<()> {
    let backend = conn.get_database_backend();
    let (head, tail) = split_first_piece(backend, block.data);
    let sql = "UPDATE sample_block SET first_time = ?, last_time = ?, sample_count = ?, data = ? \
               WHERE source_id = ? AND series_type_id = ? AND block_start = ?";
    let key = (block.source_id, block.series_type_id, block.start);
    let values = vec![
        block.first_time.into(),
        block.last_time.into(),
        block.count.into(),
        head.into(),
        key.0.into(),
        key.1.into(),
        key.2.into(),
    ];
    conn.execute_raw(stmt(backend, sql, values))
        .await
        .map_err(internal)?;
    append_pieces(conn, key, &tail).await
}

/// `data` split into what the first statement carries and the rest (empty but on PostgreSQL,
/// for blocks over `PG_STATEMENT_BYTES`).
fn split_first_piece(backend: DbBackend, mut data: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    match backend {
        DbBackend::Postgres if data.len() > PG_STATEMENT_BYTES => {
            let tail = data.split_off(PG_STATEMENT_BYTES);
            (data, tail)
        }
        _ => (data, Vec::new()),
    }
}

/// Inserts one large block: its first piece, then the rest appended.
async fn insert_in_pieces(conn: &impl ConnectionTrait, block: StoredBlock) -> Result<()> {
    let backend = conn.get_database_backend();
    let key = (block.source_id, block.series_type_id, block.start);
    let (head, tail) = split_first_piece(backend, block.data);
    let head = StoredBlock {
        data: head,
        ..block
    };
    let sql = "INSERT INTO sample_block (source_id, series_type_id, block_start, first_time, last_time, \
               sample_count, data) VALUES (?, ?, ?, ?, ?, ?, ?)";
    conn.execute_raw(stmt(backend, sql, head.into_values().to_vec()))
        .await
        .map_err(internal)?;
    append_pieces(conn, key, &tail).await
}

/// Appends `rest` to the stored block (source, series type, start) in statements of at most
/// `PG_STATEMENT_BYTES` (inside the caller's transaction, so readers never see a part).
async fn append_pieces(
    conn: &impl ConnectionTrait,
    (source_id, series_type_id, start): (i64, i32, i64),
    rest: &[u8],
) -> Result<()> {
    let sql = "UPDATE sample_block SET data = data || ? \
               WHERE source_id = ? AND series_type_id = ? AND block_start = ?";
    for piece in rest.chunks(PG_STATEMENT_BYTES) {
        let values = vec![
            piece.to_vec().into(),
            source_id.into(),
            series_type_id.into(),
            start.into(),
        ];
        conn.execute_raw(stmt(conn.get_database_backend(), sql, values))
            .await
            .map_err(internal)?;
    }
    Ok(())
}

/// One block read by a scan, its samples unpacked.
pub(super) struct Block {
    pub source_id: i64,
    pub series_type_id: i32,
    pub start: i64,
    pub samples: Vec<Sample>,
}

/// The order in which a scan visits blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    /// Source, series type, then time: the raw view.
    BySource,
    /// Series type, time, then source: the merged view, which compares sources per block.
    ByType,
}

/// Which blocks a scan visits: those of `source_ids` and `types` (all when empty) with samples
/// in [start, end).
pub(super) struct Scan<'a> {
    pub source_ids: &'a [i64],
    pub types: &'a [i32],
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub order: Order,
    pub newest_first: bool,
    /// Extra SQL conditions (a page cursor) and their values.
    pub extra: Option<(String, Vec<Value>)>,
    /// Whether to read a day more on each side and keep every sample of a block: the merged
    /// view's context, which it cuts to the range itself.
    pub margin: bool,
}

impl<'a> Scan<'a> {
    /// The blocks of `source_ids` and `types` within [start, end), oldest first.
    pub fn new(
        source_ids: &'a [i64],
        types: &'a [i32],
        start: Option<i64>,
        end: Option<i64>,
        order: Order,
    ) -> Self {
        Scan {
            source_ids,
            types,
            start,
            end,
            order,
            newest_first: false,
            extra: None,
            margin: false,
        }
    }

    fn sql(self) -> (String, Vec<Value>) {
        let mut values: Vec<Value> = self.source_ids.iter().map(|&id| id.into()).collect();
        let mut sql = format!(
            "SELECT source_id, series_type_id, block_start, data FROM sample_block WHERE source_id IN ({})",
            placeholders(self.source_ids.len())
        );
        if !self.types.is_empty() {
            sql.push_str(&format!(
                " AND series_type_id IN ({})",
                placeholders(self.types.len())
            ));
            values.extend(self.types.iter().map(|&t| Value::from(t)));
        }
        let margin = if self.margin { BLOCK_MS } else { 0 };
        if let Some(start) = self.start {
            // The key bound narrows the index range; the sample bound skips blocks that end early.
            let start = start.saturating_sub(margin);
            sql.push_str(" AND block_start >= ? AND last_time >= ?");
            values.extend([block_start(start).into(), start.into()]);
        }
        if let Some(end) = self.end {
            let end = end.saturating_add(margin);
            sql.push_str(" AND block_start < ? AND first_time < ?");
            values.extend([end.into(), end.into()]);
        }
        if let Some((condition, extra)) = self.extra {
            sql.push_str(&condition);
            values.extend(extra);
        }
        let time = if self.newest_first { "DESC" } else { "ASC" };
        sql.push_str(&match self.order {
            Order::BySource => format!(" ORDER BY source_id, series_type_id, block_start {time}"),
            Order::ByType => format!(" ORDER BY series_type_id, block_start {time}, source_id"),
        });
        (sql, values)
    }
}

impl SeaStore {
    /// Streams the blocks of `scan` to `each`, one at a time and holding only the samples within
    /// the scan's range, until it breaks.
    pub(super) async fn scan_blocks(
        &self,
        scan: Scan<'_>,
        mut each: impl FnMut(Block) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        if scan.source_ids.is_empty() {
            return Ok(());
        }
        let backend = self.db.get_database_backend();
        let (start, end) = if scan.margin {
            (None, None)
        } else {
            (scan.start, scan.end)
        };
        let (sql, values) = scan.sql();
        let mut rows = self
            .db
            .stream_raw(stmt(backend, &sql, values))
            .await
            .map_err(internal)?;
        while let Some(row) = rows.try_next().await.map_err(internal)? {
            let data: Vec<u8> = get(&row, 3)?;
            let mut block = Block {
                source_id: get(&row, 0)?,
                series_type_id: get(&row, 1)?,
                start: get(&row, 2)?,
                samples: decode_block(&data)?,
            };
            within(&mut block.samples, start, end);
            if each(block)?.is_break() {
                break;
            }
        }
        Ok(())
    }
}

/// Keeps the samples of `samples` within [start, end).
fn within(samples: &mut Vec<Sample>, start: Option<i64>, end: Option<i64>) {
    if start.is_some() || end.is_some() {
        samples.retain(|s| start.is_none_or(|t| s.time >= t) && end.is_none_or(|t| s.time < t));
    }
}
