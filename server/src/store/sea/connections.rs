//! `ConnectionStore` on sea-orm: OAuth states, connections and provider settings.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{SeaStore, internal, is_unique_violation};
use crate::domain::connections::{
    ConnectionState, OAuthState, ProviderSetting, StoredConnection, SyncMode,
};
use crate::domain::error::Result;
use crate::domain::page::PageRequest;
use crate::providers::PendingItem;
use crate::store::ConnectionStore;
use crate::store::entity::{oauth_state, provider_settings, user_connection};

fn to_connection(m: user_connection::Model) -> StoredConnection {
    StoredConnection {
        id: m.id,
        user_id: m.user_id,
        provider: m.provider,
        provider_user_id: m.provider_user_id,
        state: ConnectionState::parse(&m.status),
        state_reason: m.state_reason,
        access_token: m.access_token,
        refresh_token: m.refresh_token,
        token_expires_at: m.token_expires_at,
        scope: m.scope,
        last_synced_at: m.last_synced_at,
        sync_cursor: m.sync_cursor,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn connection_row(c: &StoredConnection) -> user_connection::ActiveModel {
    user_connection::ActiveModel {
        id: Set(c.id),
        user_id: Set(c.user_id),
        provider: Set(c.provider.clone()),
        provider_user_id: Set(c.provider_user_id.clone()),
        status: Set(c.state.as_str().to_owned()),
        access_token: Set(c.access_token.clone()),
        refresh_token: Set(c.refresh_token.clone()),
        token_expires_at: Set(c.token_expires_at),
        scope: Set(c.scope.clone()),
        last_synced_at: Set(c.last_synced_at),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
        state_reason: Set(c.state_reason.clone()),
        sync_cursor: Set(c.sync_cursor.clone()),
    }
}

impl SeaStore {
    async fn connection_of(
        &self,
        user_id: Uuid,
        provider: &str,
    ) -> Result<Option<StoredConnection>> {
        let found = user_connection::Entity::find()
            .filter(user_connection::Column::UserId.eq(user_id))
            .filter(user_connection::Column::Provider.eq(provider))
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(found.map(to_connection))
    }
}

#[async_trait]
impl ConnectionStore for SeaStore {
    async fn save_state(&self, s: &OAuthState) -> Result<()> {
        let row = oauth_state::ActiveModel {
            state_digest: Set(s.digest.clone()),
            user_id: Set(s.user_id),
            provider: Set(s.provider.clone()),
            redirect_uri: Set(s.redirect_uri.clone()),
            pkce_verifier: Set(s.pkce_verifier.clone()),
            expires_at: Set(s.expires_at),
            created_at: Set(s.created_at),
        };
        oauth_state::Entity::insert(row)
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn take_state(&self, digest: &str) -> Result<Option<OAuthState>> {
        let Some(m) = oauth_state::Entity::find_by_id(digest.to_owned())
            .one(&self.db)
            .await
            .map_err(internal)?
        else {
            return Ok(None);
        };
        // Whoever deletes the row owns the state: a racing second callback gets nothing.
        let deleted = oauth_state::Entity::delete_by_id(digest.to_owned())
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok((deleted.rows_affected == 1).then_some(OAuthState {
            digest: m.state_digest,
            user_id: m.user_id,
            provider: m.provider,
            redirect_uri: m.redirect_uri,
            pkce_verifier: m.pkce_verifier,
            expires_at: m.expires_at,
            created_at: m.created_at,
        }))
    }

    async fn purge_states(&self, now: DateTime<Utc>) -> Result<u64> {
        let deleted = oauth_state::Entity::delete_many()
            .filter(oauth_state::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(deleted.rows_affected)
    }

    async fn put_connection(&self, c: &StoredConnection) -> Result<StoredConnection> {
        for _ in 0..2 {
            if let Some(existing) = self.connection_of(c.user_id, &c.provider).await? {
                let replaced = StoredConnection {
                    id: existing.id,
                    created_at: existing.created_at,
                    last_synced_at: existing.last_synced_at,
                    sync_cursor: existing.sync_cursor,
                    ..c.clone()
                };
                self.update_connection(&replaced).await?;
                return Ok(replaced);
            }
            match user_connection::Entity::insert(connection_row(c))
                .exec(&self.db)
                .await
            {
                Ok(_) => return Ok(c.clone()),
                // A concurrent callback inserted first: replace theirs.
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(internal(e)),
            }
        }
        Err(anyhow::anyhow!("connection changed concurrently twice").into())
    }

    async fn update_connection(&self, c: &StoredConnection) -> Result<()> {
        user_connection::Entity::update(connection_row(c))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn connection(&self, user_id: Uuid, id: Uuid) -> Result<Option<StoredConnection>> {
        let found = user_connection::Entity::find_by_id(id)
            .filter(user_connection::Column::UserId.eq(user_id))
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(found.map(to_connection))
    }

    async fn connections_of_account(
        &self,
        provider: &str,
        account_id: &str,
    ) -> Result<Vec<StoredConnection>> {
        let rows = user_connection::Entity::find()
            .filter(user_connection::Column::Provider.eq(provider))
            .filter(user_connection::Column::ProviderUserId.eq(account_id))
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(to_connection).collect())
    }

    async fn all_connections(
        &self,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<StoredConnection>> {
        let mut query = user_connection::Entity::find().order_by_asc(user_connection::Column::Id);
        if let Some(after) = after {
            query = query.filter(user_connection::Column::Id.gt(after));
        }
        let rows = query.limit(limit).all(&self.db).await.map_err(internal)?;
        Ok(rows.into_iter().map(to_connection).collect())
    }

    async fn replace_tokens(
        &self,
        id: Uuid,
        old: (Option<&[u8]>, Option<&[u8]>),
        new: (Option<Vec<u8>>, Option<Vec<u8>>),
    ) -> Result<bool> {
        let same = |column: user_connection::Column, value: Option<&[u8]>| match value {
            Some(v) => column.eq(v.to_vec()),
            None => column.is_null(),
        };
        let updated = user_connection::Entity::update_many()
            .col_expr(
                user_connection::Column::AccessToken,
                sea_orm::sea_query::Expr::value(new.0),
            )
            .col_expr(
                user_connection::Column::RefreshToken,
                sea_orm::sea_query::Expr::value(new.1),
            )
            .filter(user_connection::Column::Id.eq(id))
            .filter(same(user_connection::Column::AccessToken, old.0))
            .filter(same(user_connection::Column::RefreshToken, old.1))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(updated.rows_affected == 1)
    }

    async fn list_connections(
        &self,
        user_id: Uuid,
        page: &PageRequest,
    ) -> Result<Vec<StoredConnection>> {
        let mut query = user_connection::Entity::find()
            .filter(user_connection::Column::UserId.eq(user_id))
            .order_by_asc(user_connection::Column::Id);
        if let Some(after) = page.after {
            query = query.filter(user_connection::Column::Id.gt(after));
        }
        let rows = query
            .limit(page.fetch_limit())
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(to_connection).collect())
    }

    async fn delete_connection(&self, user_id: Uuid, id: Uuid) -> Result<bool> {
        let deleted = user_connection::Entity::delete_many()
            .filter(user_connection::Column::Id.eq(id))
            .filter(user_connection::Column::UserId.eq(user_id))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(deleted.rows_affected == 1)
    }

    async fn record_sync(
        &self,
        id: Uuid,
        cursor: Option<&str>,
        synced_at: DateTime<Utc>,
    ) -> Result<()> {
        self.save_sync(id, cursor, synced_at).await
    }

    async fn stash_item(
        &self,
        item: &PendingItem,
        dedup_key: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        self.insert_item(item, dedup_key, at).await
    }

    async fn stashed_items(&self, connection_id: Uuid, limit: u64) -> Result<Vec<PendingItem>> {
        self.items_of(connection_id, limit).await
    }

    async fn drop_item(&self, id: Uuid) -> Result<()> {
        self.delete_item(id).await
    }

    async fn sealed_items(&self, after: Option<Uuid>, limit: u64) -> Result<Vec<(Uuid, String)>> {
        self.item_payloads(after, limit).await
    }

    async fn reseal_item(&self, id: Uuid, old: &str, new: &str) -> Result<bool> {
        self.replace_item_payload(id, old, new).await
    }

    async fn fail_item(&self, id: Uuid) -> Result<i32> {
        self.count_failure(id).await
    }

    async fn provider_settings(&self) -> Result<Vec<ProviderSetting>> {
        let rows = provider_settings::Entity::find()
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|m| ProviderSetting {
                provider: m.provider,
                enabled: m.enabled,
                sync_mode: SyncMode::parse(&m.sync_mode),
                updated_at: m.updated_at,
            })
            .collect())
    }

    async fn put_provider_setting(&self, s: &ProviderSetting) -> Result<()> {
        let row = provider_settings::ActiveModel {
            provider: Set(s.provider.clone()),
            enabled: Set(s.enabled),
            priority: Set(0),
            updated_at: Set(s.updated_at),
            sync_mode: Set(s.sync_mode.as_str().to_owned()),
        };
        provider_settings::Entity::insert(row)
            .on_conflict(
                OnConflict::column(provider_settings::Column::Provider)
                    .update_columns([
                        provider_settings::Column::Enabled,
                        provider_settings::Column::SyncMode,
                        provider_settings::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }
}
