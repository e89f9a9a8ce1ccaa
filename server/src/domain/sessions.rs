//! Issuing access tokens (JWT) with rotating refresh tokens, for developers and SDK users.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Context;
use super::error::{Error, Reason, Result};
use super::model::{RefreshOutcome, RefreshToken, Subject, SubjectKind};
use crate::crypto::{Claims, random_token, token_digest};

/// Tokens handed to a client; the refresh token is stored only as a digest.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub subject: Subject,
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
}

/// Issues a new access token and refresh token for `subject`, continuing `family` when given.
pub async fn issue(
    ctx: &Context,
    subject: Subject,
    application_id: Option<Uuid>,
    family: Option<Uuid>,
) -> Result<IssuedTokens> {
    let now = ctx.clock.now();
    let (kind, sub, ttl) = match subject {
        Subject::Developer(id) => ("developer", id, ctx.settings.access_token_ttl),
        Subject::User(id) => ("sdk", id, ctx.settings.sdk_token_ttl),
    };
    let access_expires_at = now + ttl;
    let claims = Claims {
        sub: sub.to_string(),
        kind: kind.into(),
        app: application_id.map(|id| id.to_string()),
        iat: now.timestamp(),
        exp: access_expires_at.timestamp(),
    };
    let access_token = ctx.signer.sign(&claims)?;
    let refresh_token = format!("owr_{}", random_token(32));
    let record = RefreshToken {
        id: Uuid::now_v7(),
        token_hash: token_digest(&refresh_token),
        family_id: family.unwrap_or_else(Uuid::now_v7),
        subject,
        created_at: now,
        expires_at: now + ctx.settings.refresh_token_ttl,
    };
    ctx.tokens.insert_refresh_token(&record).await?;
    Ok(IssuedTokens {
        subject,
        access_token,
        access_expires_at,
        refresh_token,
        refresh_expires_at: record.expires_at,
    })
}

/// Spends `refresh_token` and returns the record it named; reuse of a spent token ends the
/// whole session family.
pub async fn spend(ctx: &Context, refresh_token: &str, kind: SubjectKind) -> Result<RefreshToken> {
    if refresh_token.is_empty() {
        return Err(Error::invalid("refresh_token", "must not be empty"));
    }
    let now = ctx.clock.now();
    match ctx
        .tokens
        .spend_refresh_token(&token_digest(refresh_token), kind, now)
        .await?
    {
        RefreshOutcome::Spent(record) => Ok(record),
        RefreshOutcome::Reused => {
            tracing::warn!(
                "a spent refresh token was presented again; its session family is revoked"
            );
            Err(Error::unauthenticated(
                Reason::InvalidCredentials,
                "refresh token was already used; the session has been ended",
            ))
        }
        RefreshOutcome::Invalid => Err(Error::unauthenticated(
            Reason::InvalidCredentials,
            "refresh token is not valid or has expired",
        )),
    }
}
