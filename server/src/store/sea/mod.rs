//! The sea-orm implementation of every store trait, on SQLite or PostgreSQL.

use std::time::Duration;

use async_trait::async_trait;
use owl_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, SqlErr};

use super::HealthCheck;
use crate::domain::error::{Error, Result};

mod accounts;
mod blocks;
mod connections;
mod events;
mod imports;
mod jobs;
mod sample_reads;
mod sample_writer;
mod samples;
mod sleep;
mod tenancy;
mod webhook_items;

/// One database, implementing every store trait.
#[derive(Debug, Clone)]
pub struct SeaStore {
    db: DatabaseConnection,
}

impl SeaStore {
    /// Wraps an open connection pool.
    pub fn new(db: DatabaseConnection) -> Self {
        SeaStore { db }
    }

    /// The underlying pool (for migrations and tests that read the raw tables).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }
}

/// Opens a pool on `url` (`sqlite://…?mode=rwc` or `postgres://…`).
///
/// SQLite: every pooled connection is in WAL mode with `synchronous=NORMAL` (a commit is
/// durable at the next checkpoint, never corrupt). PostgreSQL: the pool keeps
/// [`PG_MIN_CONNECTIONS`] open, because opening one costs ~90 ms on loopback (sqlx leaves
/// Nagle on, and the startup and SCRAM messages wait for delayed ACKs): measured, a job
/// waiting for a fresh connection started 90 ms late, twice per import.
pub async fn connect(url: &str) -> anyhow::Result<SeaStore> {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        });
    if url.starts_with("postgres") {
        options.min_connections(PG_MIN_CONNECTIONS);
    }
    let db = Database::connect(options).await?;
    Ok(SeaStore::new(db))
}

/// PostgreSQL connections a pool keeps open when idle.
pub const PG_MIN_CONNECTIONS: u32 = 10;

#[async_trait]
impl HealthCheck for SeaStore {
    async fn ping(&self) -> Result<()> {
        self.db.ping().await.map_err(internal)
    }
}

/// A database failure the caller cannot fix.
pub(super) fn internal(error: DbErr) -> Error {
    Error::Internal(anyhow::Error::new(error).context("database"))
}

/// True when `error` is a unique-constraint violation.
pub(super) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
