//! Data sources keep the device's manufacturer and how the data was recorded, both part of a
//! source's identity (a manual entry is a source apart from the same device's measurements).
//!
//! Existing rows keep their ids (sample blocks and events point at them) and get empty values,
//! except the sources of wearable providers whose maker owl knows: those get it and
//! `automatically_recorded`, exactly what their syncs now write, so the next sync finds them
//! instead of starting new sources. Fitbit sources name their maker per device and are left
//! empty. The identity index is rebuilt over the new columns on both engines.
//!
//! Down drops the columns again; rebuilding the old index fails when two sources
//! of one user differ only in them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Providers whose every source is one maker's device, recorded without the user typing it.
const PROVIDER_MAKERS: [(&str, &str); 5] = [
    ("garmin", "Garmin"),
    ("polar", "Polar"),
    ("suunto", "Suunto"),
    ("whoop", "WHOOP"),
    ("oura", "Oura"),
];

const UP: &[&str] = &[
    // At most 64 characters: with it the widest identity row stays under PostgreSQL's btree
    // limit (2704 bytes) even in 4-byte UTF-8.
    "ALTER TABLE data_source ADD COLUMN manufacturer VARCHAR(64) NOT NULL DEFAULT ''",
    // `automatically_recorded`, `actively_recorded`, `manual_entry`, or empty when unknown.
    "ALTER TABLE data_source ADD COLUMN recording_method VARCHAR(32) NOT NULL DEFAULT ''",
    "DROP INDEX idx_data_source_identity",
    "CREATE UNIQUE INDEX idx_data_source_identity ON data_source \
     (user_id, provider, device_model, device_type, app_name, manufacturer, recording_method)",
];

const DOWN: &[&str] = &[
    "DROP INDEX idx_data_source_identity",
    "CREATE UNIQUE INDEX idx_data_source_identity ON data_source \
     (user_id, provider, device_model, device_type, app_name)",
    "ALTER TABLE data_source DROP COLUMN recording_method",
    "ALTER TABLE data_source DROP COLUMN manufacturer",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for sql in UP {
            conn.execute_unprepared(sql).await?;
        }
        // Every source of one provider gets the same values, so no two rows collide.
        for (provider, maker) in PROVIDER_MAKERS {
            conn.execute_unprepared(&format!(
                "UPDATE data_source SET manufacturer = '{maker}', \
                 recording_method = 'automatically_recorded' WHERE provider = '{provider}'"
            ))
            .await?;
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
