//! Applications, API keys and users in the database.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::samples::stmt;
use super::{SeaStore, internal, is_unique_violation};
use crate::domain::error::{Error, Result};
use crate::domain::model::{ApiKey, Application, StoredApiKey, User, UserFilter};
use crate::domain::page::PageRequest;
use crate::store::entity::{api_key, application, user};
use crate::store::{ApplicationStore, UserStore};

fn to_application(m: application::Model) -> Application {
    Application {
        id: m.id,
        display_name: m.display_name,
        description: m.description,
        redirect_uris: serde_json::from_str(&m.redirect_uris).unwrap_or_default(),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn redirect_uris(a: &Application) -> String {
    serde_json::Value::from(a.redirect_uris.clone()).to_string()
}

fn to_api_key(m: api_key::Model) -> StoredApiKey {
    StoredApiKey {
        key: ApiKey {
            id: m.id,
            application_id: m.application_id,
            display_name: m.display_name,
            key_prefix: m.key_prefix,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
        },
        key_hash: m.key_hash,
    }
}

fn api_key_row(k: &StoredApiKey) -> api_key::ActiveModel {
    api_key::ActiveModel {
        id: Set(k.key.id),
        application_id: Set(k.key.application_id),
        display_name: Set(k.key.display_name.clone()),
        key_prefix: Set(k.key.key_prefix.clone()),
        key_hash: Set(k.key_hash.clone()),
        created_at: Set(k.key.created_at),
        revoked_at: Set(k.key.revoked_at),
    }
}

fn to_user(m: user::Model) -> User {
    User {
        id: m.id,
        application_id: m.application_id,
        external_user_id: m.external_user_id,
        email: m.email,
        first_name: m.first_name,
        last_name: m.last_name,
        time_zone: m.time_zone,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn user_row(u: &User) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(u.id),
        application_id: Set(u.application_id),
        external_user_id: Set(u.external_user_id.clone()),
        email: Set(u.email.clone()),
        first_name: Set(u.first_name.clone()),
        last_name: Set(u.last_name.clone()),
        time_zone: Set(u.time_zone.clone()),
        created_at: Set(u.created_at),
        updated_at: Set(u.updated_at),
    }
}

/// Maps a unique violation on the user table to ALREADY_EXISTS on its external id.
fn user_conflict(u: &User) -> impl FnOnce(sea_orm::DbErr) -> Error + '_ {
    move |e| {
        if is_unique_violation(&e) {
            Error::already_exists(
                "owl.v1.User",
                u.external_user_id.clone().unwrap_or_default(),
            )
        } else {
            internal(e)
        }
    }
}

#[async_trait]
impl ApplicationStore for SeaStore {
    async fn create_application(&self, a: &Application) -> Result<()> {
        let row = application::ActiveModel {
            id: Set(a.id),
            display_name: Set(a.display_name.clone()),
            description: Set(a.description.clone()),
            redirect_uris: Set(redirect_uris(a)),
            created_at: Set(a.created_at),
            updated_at: Set(a.updated_at),
        };
        application::Entity::insert(row)
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn application(&self, id: Uuid) -> Result<Option<Application>> {
        let found = application::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(found.map(to_application))
    }

    async fn list_applications(&self, page: &PageRequest) -> Result<Vec<Application>> {
        let mut query = application::Entity::find().order_by_asc(application::Column::Id);
        if let Some(after) = page.after {
            query = query.filter(application::Column::Id.gt(after));
        }
        let rows = query
            .limit(page.fetch_limit())
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(to_application).collect())
    }

    async fn update_application(&self, a: &Application) -> Result<()> {
        application::Entity::update_many()
            .col_expr(
                application::Column::DisplayName,
                Expr::value(a.display_name.clone()),
            )
            .col_expr(
                application::Column::Description,
                Expr::value(a.description.clone()),
            )
            .col_expr(
                application::Column::RedirectUris,
                Expr::value(redirect_uris(a)),
            )
            .col_expr(application::Column::UpdatedAt, Expr::value(a.updated_at))
            .filter(application::Column::Id.eq(a.id))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn delete_application(&self, id: Uuid) -> Result<bool> {
        let txn = self.db.begin().await.map_err(internal)?;
        let samples = "DELETE FROM sample_block WHERE source_id IN (SELECT d.id FROM data_source d \
                       JOIN \"user\" u ON u.id = d.user_id WHERE u.application_id = ?)";
        txn.execute_raw(stmt(txn.get_database_backend(), samples, vec![id.into()]))
            .await
            .map_err(internal)?;
        let deleted = application::Entity::delete_by_id(id)
            .exec(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(deleted.rows_affected == 1)
    }

    async fn create_api_key(&self, k: &StoredApiKey) -> Result<()> {
        api_key::Entity::insert(api_key_row(k))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn api_key(&self, id: Uuid) -> Result<Option<ApiKey>> {
        let found = api_key::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(found.map(|m| to_api_key(m).key))
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<StoredApiKey>> {
        let found = api_key::Entity::find()
            .filter(api_key::Column::KeyPrefix.eq(prefix))
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(found.map(to_api_key))
    }

    async fn list_api_keys(&self, application_id: Uuid, page: &PageRequest) -> Result<Vec<ApiKey>> {
        let mut query = api_key::Entity::find()
            .filter(api_key::Column::ApplicationId.eq(application_id))
            .order_by_asc(api_key::Column::Id);
        if let Some(after) = page.after {
            query = query.filter(api_key::Column::Id.gt(after));
        }
        let rows = query
            .limit(page.fetch_limit())
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|m| to_api_key(m).key).collect())
    }

    async fn revoke_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn rotate_api_key(
        &self,
        old: Uuid,
        new: &StoredApiKey,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let txn = self.db.begin().await.map_err(internal)?;
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(old))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .map_err(internal)?;
        api_key::Entity::insert(api_key_row(new))
            .exec(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)
    }
}

#[async_trait]
impl UserStore for SeaStore {
    async fn create_user(&self, u: &User) -> Result<()> {
        user::Entity::insert(user_row(u))
            .exec(&self.db)
            .await
            .map_err(user_conflict(u))?;
        Ok(())
    }

    async fn user(&self, id: Uuid) -> Result<Option<User>> {
        let found = user::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(found.map(to_user))
    }

    async fn list_users(&self, filter: &UserFilter, page: &PageRequest) -> Result<Vec<User>> {
        let mut query = user::Entity::find().order_by_asc(user::Column::Id);
        if let Some(application_id) = filter.application_id {
            query = query.filter(user::Column::ApplicationId.eq(application_id));
        }
        if let Some(email) = &filter.email {
            query = query.filter(user::Column::Email.eq(email.as_str()));
        }
        if let Some(external) = &filter.external_user_id {
            query = query.filter(user::Column::ExternalUserId.eq(external.as_str()));
        }
        if let Some(after) = page.after {
            query = query.filter(user::Column::Id.gt(after));
        }
        let rows = query
            .limit(page.fetch_limit())
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(to_user).collect())
    }

    async fn update_user(&self, u: &User) -> Result<()> {
        let mut row = user_row(u);
        row.created_at = sea_orm::ActiveValue::NotSet;
        row.application_id = sea_orm::ActiveValue::NotSet;
        user::Entity::update(row)
            .exec(&self.db)
            .await
            .map_err(user_conflict(u))?;
        Ok(())
    }

    async fn delete_user(&self, id: Uuid) -> Result<bool> {
        let txn = self.db.begin().await.map_err(internal)?;
        let samples = "DELETE FROM sample_block WHERE source_id IN (SELECT id FROM data_source WHERE user_id = ?)";
        txn.execute_raw(stmt(txn.get_database_backend(), samples, vec![id.into()]))
            .await
            .map_err(internal)?;
        let deleted = user::Entity::delete_by_id(id)
            .exec(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(deleted.rows_affected == 1)
    }
}
