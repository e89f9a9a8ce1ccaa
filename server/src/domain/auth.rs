//! Who is calling: credentials in, a `Caller` out, and the access rules every use-case shares.

use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::Context;
use super::error::{Error, Reason, Result};
use super::rate_limit::over_budget;
use crate::crypto::{JwtError, digests_match, token_digest};

/// A credential as presented.
pub enum Credential {
    /// `authorization: Bearer <jwt>` (developer or SDK token), or an API key sent that way.
    Bearer(SecretString),
    /// `x-api-key: <key>`.
    ApiKey(SecretString),
}

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A developer with a session token: may manage everything.
    Developer(Uuid),
    /// A backend holding an API key: may manage its own application's users.
    Application {
        application_id: Uuid,
        api_key_id: Uuid,
    },
    /// A mobile app holding an SDK token: may reach its own user only.
    User { user_id: Uuid, application_id: Uuid },
}

impl Caller {
    /// The developer id, or PERMISSION_DENIED for other callers.
    pub fn developer(&self) -> Result<Uuid> {
        match self {
            Caller::Developer(id) => Ok(*id),
            _ => Err(Error::permission_denied(
                "only developers may call this method",
            )),
        }
    }

    /// Whether the caller may act on the users of `application_id`: developers always, an API
    /// key for its own application; SDK tokens never (they reach their own user only).
    pub fn manages(&self, application_id: Uuid) -> bool {
        match self {
            Caller::Developer(_) => true,
            Caller::Application {
                application_id: own,
                ..
            } => *own == application_id,
            Caller::User { .. } => false,
        }
    }
}

/// API keys look like `owl_<12 visible characters>_<secret>`.
pub const API_KEY_PREFIX_LEN: usize = 4 + 12;

/// Resolves credentials to callers.
pub struct Authenticator<'a>(pub &'a Context);

impl Authenticator<'_> {
    /// Checks `credential` and says who is calling.
    pub async fn authenticate(&self, credential: Option<Credential>) -> Result<Caller> {
        match credential {
            None => Err(Error::unauthenticated(
                Reason::MissingCredentials,
                "missing credentials: send `authorization: Bearer <token>` or `x-api-key: <key>`",
            )),
            Some(Credential::Bearer(token)) if token.expose_secret().starts_with("owl_") => {
                self.api_key(&token).await
            }
            Some(Credential::Bearer(token)) => self.bearer(&token).await,
            Some(Credential::ApiKey(key)) => self.api_key(&key).await,
        }
    }

    /// A signed access token's caller. A developer's token ends with the developer (removed)
    /// and with a password change: one issued in a second before the change is refused.
    async fn bearer(&self, token: &SecretString) -> Result<Caller> {
        let now = self.0.clock.now().timestamp();
        let claims = self
            .0
            .signer
            .verify(token.expose_secret(), now)
            .map_err(|e| match e {
                JwtError::Expired => {
                    Error::unauthenticated(Reason::ExpiredCredentials, "token has expired")
                }
                JwtError::Invalid => {
                    Error::unauthenticated(Reason::InvalidCredentials, "token is not valid")
                }
            })?;
        let invalid = || Error::unauthenticated(Reason::InvalidCredentials, "token is not valid");
        let subject = Uuid::parse_str(&claims.sub).map_err(|_| invalid())?;
        match (
            claims.kind.as_str(),
            claims.app.as_deref().map(Uuid::parse_str),
        ) {
            ("developer", None) => {
                let developer = self.0.developers.developer_by_id(subject).await?;
                match developer {
                    Some(d) if claims.iat >= d.password_changed_at.timestamp() => {
                        Ok(Caller::Developer(subject))
                    }
                    _ => Err(Error::unauthenticated(
                        Reason::InvalidCredentials,
                        "this session has ended (password changed or developer removed)",
                    )),
                }
            }
            ("sdk", Some(Ok(application_id))) => Ok(Caller::User {
                user_id: subject,
                application_id,
            }),
            _ => Err(invalid()),
        }
    }

    async fn api_key(&self, key: &SecretString) -> Result<Caller> {
        let key = key.expose_secret();
        let invalid = || Error::unauthenticated(Reason::InvalidCredentials, "api key is not valid");
        let prefix = key
            .get(..API_KEY_PREFIX_LEN)
            .filter(|p| p.starts_with("owl_"))
            .ok_or_else(invalid)?;
        let stored = self
            .0
            .applications
            .api_key_by_prefix(prefix)
            .await?
            .ok_or_else(invalid)?;
        if !digests_match(&stored.key_hash, &token_digest(key)) {
            return Err(invalid());
        }
        if stored.key.revoked_at.is_some() {
            return Err(Error::unauthenticated(
                Reason::ApiKeyRevoked,
                "api key has been revoked",
            ));
        }
        if let Some(limit) = self.0.settings.api_rate_limit {
            let budget = format!("api:{}", stored.key.id);
            let minute = std::time::Duration::from_secs(60);
            let now = self.0.clock.now();
            if let Some(retry_after) =
                over_budget(self.0.limiter.as_ref(), &budget, limit, minute, now).await?
            {
                return Err(Error::ResourceExhausted {
                    message: format!("api key over its limit of {limit} requests a minute"),
                    retry_after,
                });
            }
        }
        Ok(Caller::Application {
            application_id: stored.key.application_id,
            api_key_id: stored.key.id,
        })
    }
}
