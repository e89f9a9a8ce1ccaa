//! The sea-orm implementation of every store trait, on SQLite or PostgreSQL.

use std::time::Duration;

use async_trait::async_trait;
use owl_migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, SqlErr,
};

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

/// Opens a pool on `url` (`sqlite://…?mode=rwc` or `postgres://…`), with WAL on SQLite.
pub async fn connect(url: &str) -> anyhow::Result<SeaStore> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .await?;
    }
    Ok(SeaStore::new(db))
}

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
