//! The embedded queue's table, the scheduler's lease and sync runs in SQL that SQLite and
//! PostgreSQL both run. Each queue step is one statement, so concurrent workers (threads or
//! processes) never lease the same job: PostgreSQL skips rows another transaction has locked,
//! and SQLite has one writer at a time.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Value};
use uuid::Uuid;

use super::samples::{get, stmt};
use super::{SeaStore, internal, is_unique_violation};
use crate::domain::error::{Error, Result};
use crate::domain::page::PageRequest;
use crate::jobs::queue::{DeadLetter, Enqueued, QueueStats};
use crate::jobs::runs::{
    ConnectionRef, SyncProgress, SyncRun, SyncRunFilter, SyncSource, SyncStatus,
};
use crate::store::jobs::{JobRow, JobStore, LeasedJob, SyncStore};

/// The `user_connection.status` of connections the scheduler syncs.
const ACTIVE: &str = "active";

impl SeaStore {
    async fn exec(&self, sql: &str, values: Vec<Value>) -> Result<u64> {
        let backend = self.db.get_database_backend();
        let result = self
            .db
            .execute_raw(stmt(backend, sql, values))
            .await
            .map_err(internal)?;
        Ok(result.rows_affected())
    }

    async fn rows(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>> {
        let backend = self.db.get_database_backend();
        self.db
            .query_all_raw(stmt(backend, sql, values))
            .await
            .map_err(internal)
    }
}

fn attempts(row: &QueryResult, index: usize) -> Result<u32> {
    let n: i32 = get(row, index)?;
    Ok(n.max(0) as u32)
}

/// A dead letter from (id, kind, payload, attempts, last_error, dead_at).
fn dead_letter(row: &QueryResult) -> Result<DeadLetter> {
    Ok(DeadLetter {
        id: get(row, 0)?,
        kind: get(row, 1)?,
        payload: get(row, 2)?,
        attempts: attempts(row, 3)?,
        last_error: get::<Option<String>>(row, 4)?.unwrap_or_default(),
        dead_at_ms: get::<Option<i64>>(row, 5)?.unwrap_or_default(),
    })
}

#[async_trait]
impl JobStore for SeaStore {
    async fn insert_job(&self, job: &JobRow) -> Result<Enqueued> {
        // A pending duplicate may finish between the insert and the look-up; then try again.
        for _ in 0..3 {
            let inserted = self
                .exec(
                    "INSERT INTO job (id, kind, payload, dedup_key, state, attempts, visible_at, enqueued_at) \
                     VALUES (?, ?, ?, ?, 'queued', 0, ?, ?) \
                     ON CONFLICT (dedup_key) WHERE lease_token IS NULL DO NOTHING",
                    vec![
                        job.id.into(),
                        job.kind.clone().into(),
                        job.payload.clone().into(),
                        job.dedup_key.clone().into(),
                        job.visible_at_ms.into(),
                        job.enqueued_at_ms.into(),
                    ],
                )
                .await?;
            if inserted == 1 {
                return Ok(Enqueued::New(job.id));
            }
            let Some(key) = &job.dedup_key else {
                return Err(Error::Internal(anyhow::anyhow!(
                    "job insert without a dedup key inserted nothing"
                )));
            };
            let existing = self
                .rows(
                    "SELECT id FROM job WHERE dedup_key = ? AND lease_token IS NULL",
                    vec![key.clone().into()],
                )
                .await?;
            if let Some(row) = existing.first() {
                return Ok(Enqueued::Duplicate(get(row, 0)?));
            }
        }
        Err(Error::Internal(anyhow::anyhow!(
            "job insert kept conflicting on its dedup key"
        )))
    }

    async fn lease_jobs(
        &self,
        consumer: &str,
        max: usize,
        now_ms: i64,
        lease_until_ms: i64,
        max_attempts: u32,
    ) -> Result<(Vec<LeasedJob>, Vec<DeadLetter>)> {
        // A lease that ran out without ack or nack means the worker died; on the last allowed
        // attempt that ends the job. Only leased jobs have a token (and only queued ones), so
        // this reads `idx_job_leased`, not the backlog.
        let buried = self
            .rows(
                "UPDATE job SET state = 'dead', dead_at = ?, dedup_key = NULL, lease_token = NULL, leased_by = NULL, \
                 last_error = 'lease expired on the last attempt (worker lost); previous error: ' || COALESCE(last_error, 'none') \
                 WHERE lease_token IS NOT NULL AND visible_at <= ? AND attempts >= ? \
                 RETURNING id, kind, payload, attempts, last_error, dead_at",
                vec![now_ms.into(), now_ms.into(), (max_attempts as i32).into()],
            )
            .await?
            .iter()
            .map(dead_letter)
            .collect::<Result<Vec<_>>>()?;
        let token = Uuid::new_v4();
        let lock = match self.db.get_database_backend() {
            DbBackend::Postgres => " FOR UPDATE SKIP LOCKED",
            _ => "",
        };
        let sql = format!(
            "UPDATE job SET lease_token = ?, leased_by = ?, attempts = attempts + 1, visible_at = ? \
             WHERE id IN (SELECT id FROM job WHERE state = 'queued' AND visible_at <= ? \
             ORDER BY visible_at LIMIT ?{lock}) \
             RETURNING id, kind, payload, attempts, enqueued_at"
        );
        let rows = self
            .rows(
                &sql,
                vec![
                    token.into(),
                    consumer.to_owned().into(),
                    lease_until_ms.into(),
                    now_ms.into(),
                    (max as i64).into(),
                ],
            )
            .await?;
        let mut leased = rows
            .iter()
            .map(|row| {
                Ok(LeasedJob {
                    id: get(row, 0)?,
                    kind: get(row, 1)?,
                    payload: get(row, 2)?,
                    attempts: attempts(row, 3)?,
                    enqueued_at_ms: get(row, 4)?,
                    lease_token: token,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // RETURNING does not keep the subquery's order.
        leased.sort_by_key(|job| job.id);
        Ok((leased, buried))
    }

    async fn delete_job(&self, id: Uuid) -> Result<bool> {
        Ok(self
            .exec("DELETE FROM job WHERE id = ?", vec![id.into()])
            .await?
            == 1)
    }

    async fn delete_jobs(&self, ids: &[Uuid]) -> Result<u64> {
        match ids {
            [] => Ok(0),
            [id] => Ok(u64::from(self.delete_job(*id).await?)),
            _ => {
                let placeholders = vec!["?"; ids.len()].join(", ");
                let values = ids.iter().map(|id| (*id).into()).collect();
                self.exec(
                    &format!("DELETE FROM job WHERE id IN ({placeholders})"),
                    values,
                )
                .await
            }
        }
    }

    async fn retry_job(
        &self,
        id: Uuid,
        lease_token: Uuid,
        visible_at_ms: i64,
        error: &str,
    ) -> Result<bool> {
        // Waiting again, the job takes its dedup key back, unless a follow-up enqueued while it
        // ran holds it (that one runs anyway). On PostgreSQL a follow-up committed after the
        // check fails the update on the unique index; the check then sees it.
        let sql = "UPDATE job SET visible_at = ?, last_error = ?, lease_token = NULL, leased_by = NULL, \
             dedup_key = CASE WHEN EXISTS (SELECT 1 FROM job AS w \
               WHERE w.dedup_key = job.dedup_key AND w.lease_token IS NULL) THEN NULL ELSE dedup_key END \
             WHERE id = ? AND lease_token = ? AND state = 'queued'";
        let mut tries = 0;
        loop {
            let backend = self.db.get_database_backend();
            let values: Vec<Value> = vec![
                visible_at_ms.into(),
                error.to_owned().into(),
                id.into(),
                lease_token.into(),
            ];
            match self.db.execute_raw(stmt(backend, sql, values)).await {
                Ok(result) => return Ok(result.rows_affected() == 1),
                Err(e) if tries < 3 && is_unique_violation(&e) => tries += 1,
                Err(e) => return Err(internal(e)),
            }
        }
    }

    async fn bury_job(
        &self,
        id: Uuid,
        lease_token: Uuid,
        now_ms: i64,
        error: &str,
    ) -> Result<bool> {
        Ok(self
            .exec(
                "UPDATE job SET state = 'dead', dead_at = ?, last_error = ?, dedup_key = NULL, \
                 lease_token = NULL, leased_by = NULL \
                 WHERE id = ? AND lease_token = ? AND state = 'queued'",
                vec![
                    now_ms.into(),
                    error.to_owned().into(),
                    id.into(),
                    lease_token.into(),
                ],
            )
            .await?
            == 1)
    }

    async fn extend_lease(&self, id: Uuid, lease_token: Uuid, until_ms: i64) -> Result<bool> {
        Ok(self
            .exec(
                "UPDATE job SET visible_at = ? WHERE id = ? AND lease_token = ? AND state = 'queued'",
                vec![until_ms.into(), id.into(), lease_token.into()],
            )
            .await?
            == 1)
    }

    async fn dead_jobs(&self, limit: usize) -> Result<Vec<DeadLetter>> {
        let rows = self
            .rows(
                "SELECT id, kind, payload, attempts, last_error, dead_at FROM job \
                 WHERE state = 'dead' ORDER BY dead_at DESC, id DESC LIMIT ?",
                vec![(limit as i64).into()],
            )
            .await?;
        rows.iter().map(dead_letter).collect()
    }

    async fn revive_job(&self, id: Uuid, now_ms: i64) -> Result<bool> {
        Ok(self
            .exec(
                "UPDATE job SET state = 'queued', attempts = 0, visible_at = ?, dead_at = NULL \
                 WHERE id = ? AND state = 'dead'",
                vec![now_ms.into(), id.into()],
            )
            .await?
            == 1)
    }

    async fn job_counts(&self) -> Result<QueueStats> {
        let rows = self
            .rows("SELECT state, COUNT(*) FROM job GROUP BY state", Vec::new())
            .await?;
        let mut stats = QueueStats::default();
        for row in &rows {
            let state: String = get(row, 0)?;
            let count: i64 = get(row, 1)?;
            match state.as_str() {
                "dead" => stats.dead = count as u64,
                _ => stats.pending += count as u64,
            }
        }
        Ok(stats)
    }

    async fn oldest_visible(&self, now_ms: i64) -> Result<Option<i64>> {
        let rows = self
            .rows(
                "SELECT MIN(visible_at) FROM job WHERE state = 'queued' AND visible_at <= ?",
                vec![now_ms.into()],
            )
            .await?;
        match rows.first() {
            Some(row) => get::<Option<i64>>(row, 0),
            None => Ok(None),
        }
    }

    async fn claim_schedule_slot(
        &self,
        name: &str,
        slot: i64,
        holder: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        // Seed the row at a slot no caller asks for, then let one conditional update win.
        self.exec(
            "INSERT INTO schedule_lease (name, slot, holder, updated_at) VALUES (?, ?, '', ?) \
             ON CONFLICT (name) DO NOTHING",
            vec![name.to_owned().into(), i64::MIN.into(), now.into()],
        )
        .await?;
        let claimed = self
            .exec(
                "UPDATE schedule_lease SET slot = ?, holder = ?, updated_at = ? WHERE name = ? AND slot < ?",
                vec![
                    slot.into(),
                    holder.to_owned().into(),
                    now.into(),
                    name.to_owned().into(),
                    slot.into(),
                ],
            )
            .await?;
        Ok(claimed == 1)
    }
}

const RUN_COLUMNS: &str = "id, user_id, connection_id, provider, source, status, stage, progress_percent, \
    items_processed, items_total, error, attempts, range_start, range_end, created_at, started_at, \
    finished_at, updated_at";

fn sync_run(row: &QueryResult) -> Result<SyncRun> {
    let source: String = get(row, 4)?;
    let status: String = get(row, 5)?;
    let range_start: Option<i64> = get(row, 12)?;
    let range_end: Option<i64> = get(row, 13)?;
    Ok(SyncRun {
        id: get(row, 0)?,
        user_id: get(row, 1)?,
        connection_id: get(row, 2)?,
        provider: get(row, 3)?,
        source: SyncSource::parse(&source)
            .ok_or_else(|| anyhow::anyhow!("unknown sync source {source:?}"))?,
        status: SyncStatus::parse(&status)
            .ok_or_else(|| anyhow::anyhow!("unknown sync status {status:?}"))?,
        stage: get(row, 6)?,
        progress_percent: get(row, 7)?,
        items_processed: get(row, 8)?,
        items_total: get(row, 9)?,
        error: get(row, 10)?,
        attempts: get(row, 11)?,
        range: range_start.zip(range_end),
        created_at: get(row, 14)?,
        started_at: get(row, 15)?,
        finished_at: get(row, 16)?,
        updated_at: get(row, 17)?,
    })
}

fn run_values(run: &SyncRun) -> Vec<Value> {
    vec![
        run.id.into(),
        run.user_id.into(),
        run.connection_id.into(),
        run.provider.clone().into(),
        run.source.as_str().into(),
        run.status.as_str().into(),
        run.stage.clone().into(),
        run.progress_percent.into(),
        run.items_processed.into(),
        run.items_total.into(),
        run.error.clone().into(),
        run.attempts.into(),
        run.range.map(|r| r.0).into(),
        run.range.map(|r| r.1).into(),
        run.created_at.into(),
        run.started_at.into(),
        run.finished_at.into(),
        run.updated_at.into(),
    ]
}

fn connection_ref(row: &QueryResult) -> Result<ConnectionRef> {
    Ok(ConnectionRef {
        id: get(row, 0)?,
        user_id: get(row, 1)?,
        provider: get(row, 2)?,
    })
}

#[async_trait]
impl SyncStore for SeaStore {
    async fn active_connections(
        &self,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<ConnectionRef>> {
        let mut sql =
            String::from("SELECT id, user_id, provider FROM user_connection WHERE status = ?");
        let mut values: Vec<Value> = vec![ACTIVE.into()];
        if let Some(after) = after {
            sql.push_str(" AND id > ?");
            values.push(after.into());
        }
        sql.push_str(" ORDER BY id LIMIT ?");
        values.push((limit as i64).into());
        self.rows(&sql, values)
            .await?
            .iter()
            .map(connection_ref)
            .collect()
    }

    async fn connection(&self, id: Uuid) -> Result<Option<(ConnectionRef, String)>> {
        let rows = self
            .rows(
                "SELECT id, user_id, provider, status FROM user_connection WHERE id = ?",
                vec![id.into()],
            )
            .await?;
        rows.first()
            .map(|row| Ok((connection_ref(row)?, get(row, 3)?)))
            .transpose()
    }

    async fn connections_of(&self, user_id: Uuid) -> Result<Vec<(ConnectionRef, String)>> {
        let rows = self
            .rows(
                "SELECT id, user_id, provider, status FROM user_connection WHERE user_id = ? ORDER BY id",
                vec![user_id.into()],
            )
            .await?;
        rows.iter()
            .map(|row| Ok((connection_ref(row)?, get(row, 3)?)))
            .collect()
    }

    async fn insert_sync_run(&self, run: &SyncRun) -> Result<()> {
        let placeholders = vec!["?"; 18].join(", ");
        self.exec(
            &format!(
                "INSERT INTO sync_run ({RUN_COLUMNS}) VALUES ({placeholders}) ON CONFLICT (id) DO NOTHING"
            ),
            run_values(run),
        )
        .await?;
        Ok(())
    }

    async fn start_sync_run(&self, run: &SyncRun, attempt: i32, now: DateTime<Utc>) -> Result<()> {
        let mut running = run.clone();
        running.status = SyncStatus::Running;
        running.stage = "started".into();
        running.attempts = attempt;
        running.started_at = Some(now);
        running.updated_at = now;
        let placeholders = vec!["?"; 18].join(", ");
        let mut values = run_values(&running);
        values.extend([attempt.into(), now.into(), now.into()]);
        // A redelivered job starts its run again: same record, next attempt.
        self.exec(
            &format!(
                "INSERT INTO sync_run ({RUN_COLUMNS}) VALUES ({placeholders}) ON CONFLICT (id) DO UPDATE SET \
                 status = 'running', stage = 'started', attempts = ?, \
                 started_at = COALESCE(sync_run.started_at, ?), finished_at = NULL, updated_at = ?"
            ),
            values,
        )
        .await?;
        Ok(())
    }

    async fn update_sync_run(
        &self,
        id: Uuid,
        progress: &SyncProgress,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.exec(
            "UPDATE sync_run SET stage = ?, progress_percent = ?, items_processed = ?, items_total = ?, \
             updated_at = ? WHERE id = ?",
            vec![
                progress.stage.clone().into(),
                progress.progress_percent.into(),
                progress.items_processed.into(),
                progress.items_total.into(),
                now.into(),
                id.into(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn finish_sync_run(
        &self,
        id: Uuid,
        status: SyncStatus,
        error: Option<&str>,
        finished: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let stage = match status {
            SyncStatus::Succeeded => "done",
            SyncStatus::Failed => "failed",
            SyncStatus::Running => "retrying",
            SyncStatus::Queued => "queued",
        };
        let finished_at: Option<DateTime<Utc>> = finished.then_some(now);
        self.exec(
            "UPDATE sync_run SET status = ?, stage = ?, error = ?, finished_at = ?, updated_at = ?, \
             progress_percent = CASE WHEN ? THEN 100.0 ELSE progress_percent END WHERE id = ?",
            vec![
                status.as_str().into(),
                stage.into(),
                error.map(str::to_owned).into(),
                finished_at.into(),
                now.into(),
                (status == SyncStatus::Succeeded).into(),
                id.into(),
            ],
        )
        .await?;
        Ok(())
    }

    async fn sync_run(&self, id: Uuid) -> Result<Option<SyncRun>> {
        let rows = self
            .rows(
                &format!("SELECT {RUN_COLUMNS} FROM sync_run WHERE id = ?"),
                vec![id.into()],
            )
            .await?;
        rows.first().map(sync_run).transpose()
    }

    async fn sync_runs_updated_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SyncRun>> {
        self.rows(
            &format!(
                "SELECT {RUN_COLUMNS} FROM sync_run WHERE updated_at >= ? \
                 ORDER BY updated_at DESC, id DESC LIMIT ?"
            ),
            vec![since.into(), (limit as i64).into()],
        )
        .await?
        .iter()
        .map(sync_run)
        .collect()
    }

    async fn list_sync_runs(
        &self,
        filter: &SyncRunFilter,
        page: &PageRequest,
    ) -> Result<Vec<SyncRun>> {
        let mut sql = format!("SELECT {RUN_COLUMNS} FROM sync_run WHERE user_id = ?");
        let mut values: Vec<Value> = vec![filter.user_id.into()];
        if let Some(connection) = filter.connection_id {
            sql.push_str(" AND connection_id = ?");
            values.push(connection.into());
        }
        if let Some(after) = page.after {
            sql.push_str(" AND id < ?");
            values.push(after.into());
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        values.push((page.fetch_limit() as i64).into());
        self.rows(&sql, values)
            .await?
            .iter()
            .map(sync_run)
            .collect()
    }
}
