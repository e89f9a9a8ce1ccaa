//! The embedded queue's dedup key binds only jobs that wait to start (a running job gives its
//! key up, so what is enqueued while it runs makes a follow-up job), the reclaim sweep reads
//! only leased jobs, and the sync-status feed reads runs by their last change.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "DROP INDEX idx_job_dedup_key",
    // A leased job has a lease token; a waiting, delayed or retrying one has none.
    "CREATE UNIQUE INDEX idx_job_dedup_waiting ON job (dedup_key) WHERE lease_token IS NULL",
    // Leases that ran out, found without reading the backlog.
    "CREATE INDEX idx_job_leased ON job (visible_at) WHERE lease_token IS NOT NULL",
    "CREATE INDEX idx_sync_run_updated ON sync_run (updated_at)",
];

const DOWN: &[&str] = &[
    "DROP INDEX idx_sync_run_updated",
    "DROP INDEX idx_job_leased",
    "DROP INDEX idx_job_dedup_waiting",
    // Leased jobs shared keys with their follow-ups; they keep them no longer.
    "UPDATE job SET dedup_key = NULL WHERE lease_token IS NOT NULL",
    "CREATE UNIQUE INDEX idx_job_dedup_key ON job (dedup_key)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for sql in UP {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for sql in DOWN {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
