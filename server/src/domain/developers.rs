//! Developer accounts: onboarding, login, sessions, passwords and team invitations.

use secrecy::SecretString;
use uuid::Uuid;

use super::Context;
use super::auth::Caller;
use super::error::{Error, Reason, Result};
use super::guesses::{self, Guesses};
use super::mail::{Email, deliver};
use super::model::{
    Developer, DeveloperCredentials, Invitation, InvitationState, Subject, SubjectKind,
};
use super::page::{Page, PageRequest};
use super::sessions::{self, IssuedTokens};
use super::validate::{Violations, normalize_email};
use crate::crypto::{hash_password, random_token, token_digest, verify_password};

/// A PHC hash of a random password, verified against when an email is unknown so that
/// login takes the same time whether or not the account exists.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2WO2bbGDgTlCvy/fB6Gh6JjQSNvjO5KuBwhr6dNr0Nw";

/// Developer use-cases.
pub struct Developers<'a>(pub &'a Context);

impl Developers<'_> {
    async fn new_developer(
        &self,
        email: &str,
        password: &SecretString,
    ) -> Result<DeveloperCredentials> {
        let password = password.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(anyhow::Error::from)??;
        let now = self.0.clock.now();
        Ok(DeveloperCredentials {
            developer: Developer {
                id: Uuid::now_v7(),
                email: normalize_email(email),
                created_at: now,
            },
            password_hash: hash,
            password_changed_at: now,
        })
    }

    /// Creates the first developer while none exists; closed for good afterwards.
    pub async fn onboard(&self, email: &str, password: &SecretString) -> Result<IssuedTokens> {
        let mut v = Violations::new();
        v.email(email, "email", true);
        v.password(secrecy::ExposeSecret::expose_secret(password), "password");
        v.finish()?;
        let closed = || Error::FailedPrecondition {
            reason: Reason::OnboardingClosed,
            message: "onboarding is closed: a developer already exists".into(),
        };
        if self.0.developers.onboarded().await? {
            return Err(closed());
        }
        let credentials = self.new_developer(email, password).await?;
        let developer = self
            .0
            .developers
            .create_first_developer(&credentials)
            .await?
            .ok_or_else(closed)?;
        tracing::info!(developer = %developer.id, "onboarding complete");
        sessions::issue(self.0, Subject::Developer(developer.id), None, None).await
    }

    /// Creates the first developer from ADMIN_EMAIL / ADMIN_PASSWORD unless onboarding happened.
    pub async fn bootstrap_admin(
        &self,
        email: &str,
        password: &SecretString,
    ) -> Result<Option<Developer>> {
        if self.0.developers.onboarded().await? {
            return Ok(None);
        }
        let credentials = self.new_developer(email, password).await?;
        self.0.developers.create_first_developer(&credentials).await
    }

    /// Exchanges email and password for a session.
    pub async fn login(&self, email: &str, password: &SecretString) -> Result<IssuedTokens> {
        let mut v = Violations::new();
        v.check(!email.is_empty(), "email", "must not be empty");
        v.check(
            !secrecy::ExposeSecret::expose_secret(password).is_empty(),
            "password",
            "must not be empty",
        );
        v.finish()?;
        let email = normalize_email(email);
        let throttle = guesses::sign_in_key(&email);
        Guesses(self.0).check(&throttle).await?;
        let found = self.0.developers.developer_by_email(&email).await?;
        let hash = found
            .as_ref()
            .map_or(DUMMY_HASH.to_owned(), |d| d.password_hash.clone());
        let password = password.clone();
        let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(anyhow::Error::from)?;
        match found {
            Some(d) if matches => {
                sessions::issue(self.0, Subject::Developer(d.developer.id), None, None).await
            }
            _ => {
                Guesses(self.0).failed(&throttle).await?;
                Err(Error::unauthenticated(
                    Reason::InvalidCredentials,
                    "wrong email or password",
                ))
            }
        }
    }

    /// Spends a developer refresh token for a new session in the same family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens> {
        let record = sessions::spend(self.0, refresh_token, SubjectKind::Developer).await?;
        let Subject::Developer(id) = record.subject else {
            return Err(Error::unauthenticated(
                Reason::InvalidCredentials,
                "not a developer refresh token",
            ));
        };
        if self.0.developers.developer_by_id(id).await?.is_none() {
            return Err(Error::unauthenticated(
                Reason::InvalidCredentials,
                "developer no longer exists",
            ));
        }
        sessions::issue(self.0, record.subject, None, Some(record.family_id)).await
    }

    /// Changes the caller's password and revokes the refresh tokens of all their sessions.
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<()> {
        let id = caller.developer()?;
        let mut v = Violations::new();
        v.check(
            !secrecy::ExposeSecret::expose_secret(current).is_empty(),
            "current_password",
            "must not be empty",
        );
        v.password(secrecy::ExposeSecret::expose_secret(new), "new_password");
        v.finish()?;
        let developer = self
            .0
            .developers
            .developer_by_id(id)
            .await?
            .ok_or_else(|| {
                Error::unauthenticated(Reason::InvalidCredentials, "developer no longer exists")
            })?;
        let (current, hash) = (current.clone(), developer.password_hash.clone());
        let matches = tokio::task::spawn_blocking(move || verify_password(&current, &hash))
            .await
            .map_err(anyhow::Error::from)?;
        if !matches {
            return Err(Error::invalid(
                "current_password",
                "does not match the current password",
            ));
        }
        let replacement = self.new_developer(&developer.developer.email, new).await?;
        let now = self.0.clock.now();
        self.0
            .developers
            .set_password_hash(id, &replacement.password_hash, now)
            .await?;
        self.0
            .tokens
            .revoke_refresh_tokens(Subject::Developer(id), None, now)
            .await?;
        tracing::info!(developer = %id, "password changed; sessions revoked");
        Ok(())
    }

    /// Lists developers, oldest first.
    pub async fn list(&self, caller: &Caller, page: PageRequest) -> Result<Page<Developer>> {
        caller.developer()?;
        let rows = self.0.developers.list_developers(&page).await?;
        Ok(page.page(rows, |d| d.id))
    }

    /// Invites `email` and mails them a link with a secret token.
    pub async fn invite(&self, caller: &Caller, email: &str) -> Result<Invitation> {
        let inviter = caller.developer()?;
        let mut v = Violations::new();
        v.email(email, "invitation.email", true);
        v.finish()?;
        let email = normalize_email(email);
        if self
            .0
            .developers
            .developer_by_email(&email)
            .await?
            .is_some()
        {
            return Err(Error::already_exists("owl.v1.Developer", email));
        }
        let now = self.0.clock.now();
        let token = random_token(32);
        let invitation = Invitation {
            id: Uuid::now_v7(),
            email: email.clone(),
            inviter_id: Some(inviter),
            created_at: now,
            expires_at: now + self.0.settings.invitation_ttl,
            accepted_at: None,
            revoked_at: None,
        };
        self.0
            .developers
            .create_invitation(&invitation, &token_digest(&token))
            .await?;
        let link = format!(
            "{}/accept-invitation?token={token}",
            self.0.settings.frontend_url.trim_end_matches('/')
        );
        let text = format!(
            "You have been invited to join an owl deployment.\n\nAccept the invitation: {link}\n\n\
             Or call owl.v1.DeveloperService/AcceptInvitation with this token: {token}\n\n\
             The invitation expires on {}.",
            invitation.expires_at.to_rfc3339()
        );
        let message = Email {
            to: email,
            subject: "You are invited to owl".into(),
            text,
        };
        deliver(
            self.0.mailer.clone(),
            message,
            self.0.settings.email_max_retries,
        );
        tracing::info!(invitation = %invitation.id, "invitation created");
        Ok(invitation)
    }

    /// Lists invitations, newest first.
    pub async fn list_invitations(
        &self,
        caller: &Caller,
        page: PageRequest,
    ) -> Result<Page<Invitation>> {
        caller.developer()?;
        let rows = self.0.developers.list_invitations(&page).await?;
        Ok(page.page(rows, |i| i.id))
    }

    /// Revokes a pending invitation.
    pub async fn revoke_invitation(&self, caller: &Caller, id: Uuid) -> Result<()> {
        caller.developer()?;
        let invitation =
            self.0.developers.invitation(id).await?.ok_or_else(|| {
                Error::not_found("owl.v1.Invitation", format!("invitations/{id}"))
            })?;
        let now = self.0.clock.now();
        if invitation.state(now) != InvitationState::Pending {
            return Err(not_pending());
        }
        self.0.developers.revoke_invitation(id, now).await
    }

    /// Accepts an invitation: creates the developer and starts their session.
    pub async fn accept_invitation(
        &self,
        token: &str,
        password: &SecretString,
    ) -> Result<IssuedTokens> {
        let mut v = Violations::new();
        v.check(!token.is_empty(), "token", "must not be empty");
        v.password(secrecy::ExposeSecret::expose_secret(password), "password");
        v.finish()?;
        let invitation = self
            .0
            .developers
            .invitation_by_token_hash(&token_digest(token))
            .await?
            .ok_or_else(|| Error::not_found("owl.v1.Invitation", "(token)"))?;
        if invitation.state(self.0.clock.now()) != InvitationState::Pending {
            return Err(not_pending());
        }
        let credentials = self.new_developer(&invitation.email, password).await?;
        let developer = self
            .0
            .developers
            .accept_invitation(invitation.id, &credentials)
            .await?
            .ok_or_else(not_pending)?;
        tracing::info!(developer = %developer.id, invitation = %invitation.id, "invitation accepted");
        sessions::issue(self.0, Subject::Developer(developer.id), None, None).await
    }
}

fn not_pending() -> Error {
    Error::FailedPrecondition {
        reason: Reason::InvitationNotPending,
        message: "invitation is no longer pending (accepted, revoked or expired)".into(),
    }
}
