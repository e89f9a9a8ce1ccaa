//! SDK tokens for mobile apps: minted for a user, or redeemed from a single-use invitation code.

use uuid::Uuid;

use super::Context;
use super::auth::Caller;
use super::error::{Error, Reason, Result};
use super::model::{InvitationCode, Subject, SubjectKind};
use super::sessions::{self, IssuedTokens};
use super::users::Users;
use crate::crypto::{random_from, token_digest};

/// Letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Characters in an invitation code.
pub const CODE_LEN: usize = 8;

/// A new invitation code with its plaintext, shown once.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub code: InvitationCode,
    pub plaintext: String,
}

/// SDK token use-cases.
pub struct SdkTokens<'a>(pub &'a Context);

impl SdkTokens<'_> {
    /// Mints an SDK token for a user the caller manages.
    pub async fn create(&self, caller: &Caller, user_id: Uuid) -> Result<IssuedTokens> {
        let user = Users(self.0).managed(caller, user_id).await?;
        sessions::issue(
            self.0,
            Subject::User(user.id),
            Some(user.application_id),
            None,
        )
        .await
    }

    /// Creates a single-use invitation code for a user the caller manages.
    pub async fn create_code(&self, caller: &Caller, user_id: Uuid) -> Result<IssuedCode> {
        let user = Users(self.0).managed(caller, user_id).await?;
        let now = self.0.clock.now();
        let plaintext = random_from(CODE_ALPHABET, CODE_LEN);
        let code = InvitationCode {
            id: Uuid::now_v7(),
            user_id: user.id,
            code_hash: token_digest(&plaintext),
            created_at: now,
            expires_at: now + self.0.settings.invitation_code_ttl,
        };
        self.0.tokens.insert_invitation_code(&code).await?;
        tracing::info!(user = %user.id, code = %code.id, "invitation code created");
        Ok(IssuedCode { code, plaintext })
    }

    /// Spends an invitation code for an SDK token of its user.
    pub async fn redeem(&self, code: &str) -> Result<IssuedTokens> {
        let normalized: String = code
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect::<String>()
            .to_uppercase();
        if normalized.len() != CODE_LEN || !normalized.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
            return Err(Error::invalid(
                "code",
                "must be 8 characters from the invitation",
            ));
        }
        let now = self.0.clock.now();
        let gone = || Error::not_found("owl.v1.InvitationCode", "(code)");
        let user_id = self
            .0
            .tokens
            .redeem_invitation_code(&token_digest(&normalized), now)
            .await?
            .ok_or_else(gone)?;
        let user = self.0.users.user(user_id).await?.ok_or_else(gone)?;
        sessions::issue(
            self.0,
            Subject::User(user.id),
            Some(user.application_id),
            None,
        )
        .await
    }

    /// Spends an SDK refresh token for a new SDK token in the same family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens> {
        let record = sessions::spend(self.0, refresh_token, SubjectKind::User).await?;
        let invalid =
            || Error::unauthenticated(Reason::InvalidCredentials, "not a valid sdk refresh token");
        let Subject::User(user_id) = record.subject else {
            return Err(invalid());
        };
        let user = self.0.users.user(user_id).await?.ok_or_else(invalid)?;
        sessions::issue(
            self.0,
            record.subject,
            Some(user.application_id),
            Some(record.family_id),
        )
        .await
    }
}
