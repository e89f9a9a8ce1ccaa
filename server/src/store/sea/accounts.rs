//! Developers, invitations, refresh tokens and SDK invitation codes in the database.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use uuid::Uuid;

use super::{SeaStore, internal, is_unique_violation};
use crate::domain::error::{Error, Result};
use crate::domain::model::{
    Developer, DeveloperCredentials, Invitation, InvitationCode, RefreshOutcome, RefreshToken,
    Subject, SubjectKind,
};
use crate::domain::page::PageRequest;
use crate::store::entity::{
    developer, developer_invitation, invitation_code, onboarding, refresh_token,
};
use crate::store::{DeveloperStore, TokenStore};

fn to_developer(m: developer::Model) -> DeveloperCredentials {
    DeveloperCredentials {
        developer: Developer {
            id: m.id,
            email: m.email,
            created_at: m.created_at,
        },
        password_hash: m.password_hash,
        // Only a password change moves `updated_at` (set_password_hash).
        password_changed_at: m.updated_at,
    }
}

fn developer_row(d: &DeveloperCredentials) -> developer::ActiveModel {
    developer::ActiveModel {
        id: Set(d.developer.id),
        email: Set(d.developer.email.clone()),
        password_hash: Set(d.password_hash.clone()),
        created_at: Set(d.developer.created_at),
        updated_at: Set(d.developer.created_at),
    }
}

fn to_invitation(m: developer_invitation::Model) -> Invitation {
    Invitation {
        id: m.id,
        email: m.email,
        inviter_id: m.inviter_id,
        created_at: m.created_at,
        expires_at: m.expires_at,
        accepted_at: m.accepted_at,
        revoked_at: m.revoked_at,
    }
}

/// Inserts a developer, answering ALREADY_EXISTS for a taken email.
async fn insert_developer(
    db: &impl sea_orm::ConnectionTrait,
    d: &DeveloperCredentials,
) -> Result<()> {
    developer::Entity::insert(developer_row(d))
        .exec(db)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::already_exists("owl.v1.Developer", d.developer.email.clone())
            } else {
                internal(e)
            }
        })?;
    Ok(())
}

#[async_trait]
impl DeveloperStore for SeaStore {
    async fn onboarded(&self) -> Result<bool> {
        let marker = onboarding::Entity::find_by_id(1)
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(marker.is_some())
    }

    async fn create_first_developer(&self, d: &DeveloperCredentials) -> Result<Option<Developer>> {
        let txn = self.db.begin().await.map_err(internal)?;
        let marker = onboarding::ActiveModel {
            id: Set(1),
            completed_at: Set(d.developer.created_at),
        };
        match onboarding::Entity::insert(marker).exec(&txn).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Ok(None),
            Err(e) => return Err(internal(e)),
        }
        insert_developer(&txn, d).await?;
        txn.commit().await.map_err(internal)?;
        Ok(Some(d.developer.clone()))
    }

    async fn developer_by_email(&self, email: &str) -> Result<Option<DeveloperCredentials>> {
        let found = developer::Entity::find()
            .filter(developer::Column::Email.eq(email))
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(found.map(to_developer))
    }

    async fn developer_by_id(&self, id: Uuid) -> Result<Option<DeveloperCredentials>> {
        let found = developer::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(found.map(to_developer))
    }

    async fn set_password_hash(&self, id: Uuid, hash: &str, now: DateTime<Utc>) -> Result<()> {
        developer::Entity::update_many()
            .col_expr(developer::Column::PasswordHash, Expr::value(hash))
            .col_expr(developer::Column::UpdatedAt, Expr::value(now))
            .filter(developer::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn list_developers(&self, page: &PageRequest) -> Result<Vec<Developer>> {
        let mut query = developer::Entity::find().order_by_asc(developer::Column::Id);
        if let Some(after) = page.after {
            query = query.filter(developer::Column::Id.gt(after));
        }
        let rows = query
            .limit(page.fetch_limit())
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|m| to_developer(m).developer)
            .collect())
    }

    async fn create_invitation(&self, i: &Invitation, token_hash: &str) -> Result<()> {
        let row = developer_invitation::ActiveModel {
            id: Set(i.id),
            email: Set(i.email.clone()),
            token_hash: Set(token_hash.to_owned()),
            inviter_id: Set(i.inviter_id),
            created_at: Set(i.created_at),
            expires_at: Set(i.expires_at),
            accepted_at: Set(i.accepted_at),
            revoked_at: Set(i.revoked_at),
        };
        developer_invitation::Entity::insert(row)
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn invitation(&self, id: Uuid) -> Result<Option<Invitation>> {
        let found = developer_invitation::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(found.map(to_invitation))
    }

    async fn invitation_by_token_hash(&self, token_hash: &str) -> Result<Option<Invitation>> {
        let found = developer_invitation::Entity::find()
            .filter(developer_invitation::Column::TokenHash.eq(token_hash))
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(found.map(to_invitation))
    }

    async fn list_invitations(&self, page: &PageRequest) -> Result<Vec<Invitation>> {
        let mut query =
            developer_invitation::Entity::find().order_by_desc(developer_invitation::Column::Id);
        if let Some(after) = page.after {
            query = query.filter(developer_invitation::Column::Id.lt(after));
        }
        let rows = query
            .limit(page.fetch_limit())
            .all(&self.db)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(to_invitation).collect())
    }

    async fn revoke_invitation(&self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
        developer_invitation::Entity::update_many()
            .col_expr(developer_invitation::Column::RevokedAt, Expr::value(now))
            .filter(developer_invitation::Column::Id.eq(id))
            .filter(developer_invitation::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn accept_invitation(
        &self,
        id: Uuid,
        d: &DeveloperCredentials,
    ) -> Result<Option<Developer>> {
        let now = d.developer.created_at;
        let txn = self.db.begin().await.map_err(internal)?;
        let updated = developer_invitation::Entity::update_many()
            .col_expr(developer_invitation::Column::AcceptedAt, Expr::value(now))
            .filter(developer_invitation::Column::Id.eq(id))
            .filter(developer_invitation::Column::AcceptedAt.is_null())
            .filter(developer_invitation::Column::RevokedAt.is_null())
            .filter(developer_invitation::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await
            .map_err(internal)?;
        if updated.rows_affected != 1 {
            return Ok(None);
        }
        insert_developer(&txn, d).await?;
        txn.commit().await.map_err(internal)?;
        Ok(Some(d.developer.clone()))
    }
}

fn to_refresh_token(m: refresh_token::Model) -> Option<RefreshToken> {
    let subject = match (m.developer_id, m.user_id) {
        (Some(id), None) => Subject::Developer(id),
        (None, Some(id)) => Subject::User(id),
        _ => return None,
    };
    Some(RefreshToken {
        id: m.id,
        token_hash: m.token_hash,
        family_id: m.family_id,
        subject,
        created_at: m.created_at,
        expires_at: m.expires_at,
    })
}

#[async_trait]
impl TokenStore for SeaStore {
    async fn insert_refresh_token(&self, t: &RefreshToken) -> Result<()> {
        let (developer_id, user_id) = match t.subject {
            Subject::Developer(id) => (Some(id), None),
            Subject::User(id) => (None, Some(id)),
        };
        let row = refresh_token::ActiveModel {
            id: Set(t.id),
            token_hash: Set(t.token_hash.clone()),
            family_id: Set(t.family_id),
            developer_id: Set(developer_id),
            user_id: Set(user_id),
            created_at: Set(t.created_at),
            expires_at: Set(t.expires_at),
            used_at: Set(None),
            revoked_at: Set(None),
        };
        refresh_token::Entity::insert(row)
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn spend_refresh_token(
        &self,
        token_hash: &str,
        kind: SubjectKind,
        now: DateTime<Utc>,
    ) -> Result<RefreshOutcome> {
        let owner = match kind {
            SubjectKind::Developer => refresh_token::Column::DeveloperId,
            SubjectKind::User => refresh_token::Column::UserId,
        };
        let spent = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
            .filter(refresh_token::Column::TokenHash.eq(token_hash))
            .filter(owner.is_not_null())
            .filter(refresh_token::Column::UsedAt.is_null())
            .filter(refresh_token::Column::RevokedAt.is_null())
            .filter(refresh_token::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        let row = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(token_hash))
            .one(&self.db)
            .await
            .map_err(internal)?;
        let Some(row) = row else {
            return Ok(RefreshOutcome::Invalid);
        };
        let of_kind = match kind {
            SubjectKind::Developer => row.developer_id.is_some(),
            SubjectKind::User => row.user_id.is_some(),
        };
        if !of_kind {
            return Ok(RefreshOutcome::Invalid);
        }
        if spent.rows_affected == 1 {
            return Ok(to_refresh_token(row).map_or(RefreshOutcome::Invalid, RefreshOutcome::Spent));
        }
        if row.used_at.is_some() {
            // A spent token came back: someone holds a copy. End the whole family.
            refresh_token::Entity::update_many()
                .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
                .filter(refresh_token::Column::FamilyId.eq(row.family_id))
                .filter(refresh_token::Column::RevokedAt.is_null())
                .exec(&self.db)
                .await
                .map_err(internal)?;
            return Ok(RefreshOutcome::Reused);
        }
        Ok(RefreshOutcome::Invalid)
    }

    async fn revoke_refresh_tokens(
        &self,
        subject: Subject,
        keep: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut update = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
            .filter(refresh_token::Column::RevokedAt.is_null());
        update = match subject {
            Subject::Developer(id) => update.filter(refresh_token::Column::DeveloperId.eq(id)),
            Subject::User(id) => update.filter(refresh_token::Column::UserId.eq(id)),
        };
        if let Some(family) = keep {
            update = update.filter(refresh_token::Column::FamilyId.ne(family));
        }
        update.exec(&self.db).await.map_err(internal)?;
        Ok(())
    }

    async fn insert_invitation_code(&self, c: &InvitationCode) -> Result<()> {
        let row = invitation_code::ActiveModel {
            id: Set(c.id),
            user_id: Set(c.user_id),
            code_hash: Set(c.code_hash.clone()),
            created_at: Set(c.created_at),
            expires_at: Set(c.expires_at),
            redeemed_at: Set(None),
        };
        invitation_code::Entity::insert(row)
            .exec(&self.db)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn redeem_invitation_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>> {
        let redeemed = invitation_code::Entity::update_many()
            .col_expr(invitation_code::Column::RedeemedAt, Expr::value(now))
            .filter(invitation_code::Column::CodeHash.eq(code_hash))
            .filter(invitation_code::Column::RedeemedAt.is_null())
            .filter(invitation_code::Column::ExpiresAt.gt(now))
            .exec(&self.db)
            .await
            .map_err(internal)?;
        if redeemed.rows_affected != 1 {
            return Ok(None);
        }
        let row = invitation_code::Entity::find()
            .filter(invitation_code::Column::CodeHash.eq(code_hash))
            .one(&self.db)
            .await
            .map_err(internal)?;
        Ok(row.map(|r| r.user_id))
    }
}
