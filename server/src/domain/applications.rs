//! Applications and their API keys; developers only.

use uuid::Uuid;

use super::Context;
use super::auth::{API_KEY_PREFIX_LEN, Caller};
use super::error::{Error, Reason, Result};
use super::model::{ApiKey, Application, StoredApiKey};
use super::page::{Page, PageRequest};
use super::validate::Violations;
use crate::crypto::{random_alphanumeric, random_token, token_digest};

/// The fields of an application a request sets.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFields {
    pub display_name: String,
    pub description: String,
    pub redirect_uris: Vec<String>,
}

/// Most redirect URIs of one application.
const MAX_REDIRECT_URIS: usize = 20;

/// A URI a connect flow may end at: absolute, without a fragment; http(s) or an app's own
/// scheme; never a scheme that runs code in the browser.
pub fn valid_redirect_uri(uri: &str) -> bool {
    match url::Url::parse(uri) {
        Ok(u) => {
            u.fragment().is_none()
                && !matches!(u.scheme(), "javascript" | "data" | "file" | "vbscript")
                && (!matches!(u.scheme(), "http" | "https") || u.host().is_some())
                && uri.len() <= 2000
        }
        Err(_) => false,
    }
}

/// A new API key with its secret, shown once.
#[derive(Debug, Clone)]
pub struct MintedApiKey {
    pub key: ApiKey,
    pub secret: String,
}

/// Application use-cases.
pub struct Applications<'a>(pub &'a Context);

fn not_found(id: Uuid) -> Error {
    Error::not_found("owl.v1.Application", format!("applications/{id}"))
}

fn key_not_found(application_id: Uuid, id: Uuid) -> Error {
    Error::not_found(
        "owl.v1.ApiKey",
        format!("applications/{application_id}/apiKeys/{id}"),
    )
}

fn validate(fields: &ApplicationFields, prefix: &str, v: &mut Violations) {
    v.text(
        &fields.display_name,
        &format!("{prefix}.display_name"),
        true,
        100,
    );
    v.text(
        &fields.description,
        &format!("{prefix}.description"),
        false,
        1000,
    );
    v.check(
        fields.redirect_uris.len() <= MAX_REDIRECT_URIS,
        &format!("{prefix}.redirect_uris"),
        "at most 20 redirect URIs",
    );
    for (i, uri) in fields.redirect_uris.iter().enumerate() {
        v.check(
            valid_redirect_uri(uri),
            &format!("{prefix}.redirect_uris[{i}]"),
            "must be an absolute URL without a fragment (http, https or an app scheme)",
        );
    }
}

impl Applications<'_> {
    /// Creates an application.
    pub async fn create(&self, caller: &Caller, fields: ApplicationFields) -> Result<Application> {
        caller.developer()?;
        let mut v = Violations::new();
        validate(&fields, "application", &mut v);
        v.finish()?;
        let now = self.0.clock.now();
        let application = Application {
            id: Uuid::now_v7(),
            display_name: fields.display_name.trim().to_owned(),
            description: fields.description,
            redirect_uris: fields.redirect_uris,
            created_at: now,
            updated_at: now,
        };
        self.0.applications.create_application(&application).await?;
        Ok(application)
    }

    /// Returns an application.
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Application> {
        caller.developer()?;
        self.0
            .applications
            .application(id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// Lists applications, oldest first.
    pub async fn list(&self, caller: &Caller, page: PageRequest) -> Result<Page<Application>> {
        caller.developer()?;
        let rows = self.0.applications.list_applications(&page).await?;
        Ok(page.page(rows, |a| a.id))
    }

    /// Changes the fields in `mask` (empty: all).
    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        fields: ApplicationFields,
        mask: &[String],
    ) -> Result<Application> {
        caller.developer()?;
        let mut v = Violations::new();
        let mask: Vec<&str> = if mask.is_empty() {
            vec!["display_name", "description", "redirect_uris"]
        } else {
            mask.iter().map(String::as_str).collect()
        };
        for path in &mask {
            v.check(
                matches!(*path, "display_name" | "description" | "redirect_uris"),
                "update_mask",
                &format!("cannot update {path:?}"),
            );
        }
        let mut application = self.get(caller, id).await?;
        if mask.contains(&"display_name") {
            application.display_name = fields.display_name.trim().to_owned();
        }
        if mask.contains(&"description") {
            application.description = fields.description;
        }
        if mask.contains(&"redirect_uris") {
            application.redirect_uris = fields.redirect_uris;
        }
        validate(
            &ApplicationFields {
                display_name: application.display_name.clone(),
                description: application.description.clone(),
                redirect_uris: application.redirect_uris.clone(),
            },
            "application",
            &mut v,
        );
        v.finish()?;
        application.updated_at = self.0.clock.now();
        self.0.applications.update_application(&application).await?;
        Ok(application)
    }

    /// Deletes an application with its keys, users and their data.
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<()> {
        caller.developer()?;
        if !self.0.applications.delete_application(id).await? {
            return Err(not_found(id));
        }
        tracing::info!(application = %id, "application deleted");
        Ok(())
    }

    fn mint(&self, application_id: Uuid, display_name: String) -> (StoredApiKey, String) {
        let prefix = format!("owl_{}", random_alphanumeric(API_KEY_PREFIX_LEN - 4));
        let secret = format!("{prefix}_{}", random_token(32));
        let key = ApiKey {
            id: Uuid::now_v7(),
            application_id,
            display_name,
            key_prefix: prefix,
            created_at: self.0.clock.now(),
            revoked_at: None,
        };
        (
            StoredApiKey {
                key,
                key_hash: token_digest(&secret),
            },
            secret,
        )
    }

    /// Creates an API key for an application; its secret is returned only here.
    pub async fn create_key(
        &self,
        caller: &Caller,
        application_id: Uuid,
        display_name: &str,
    ) -> Result<MintedApiKey> {
        caller.developer()?;
        let mut v = Violations::new();
        v.text(display_name, "api_key.display_name", false, 100);
        v.finish()?;
        self.get(caller, application_id).await?;
        let (stored, secret) = self.mint(application_id, display_name.trim().to_owned());
        self.0.applications.create_api_key(&stored).await?;
        tracing::info!(application = %application_id, api_key = %stored.key.id, "api key created");
        Ok(MintedApiKey {
            key: stored.key,
            secret,
        })
    }

    /// Lists an application's keys, oldest first.
    pub async fn list_keys(
        &self,
        caller: &Caller,
        application_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<ApiKey>> {
        caller.developer()?;
        self.get(caller, application_id).await?;
        let rows = self
            .0
            .applications
            .list_api_keys(application_id, &page)
            .await?;
        Ok(page.page(rows, |k| k.id))
    }

    async fn key(&self, application_id: Uuid, id: Uuid) -> Result<ApiKey> {
        match self.0.applications.api_key(id).await? {
            Some(key) if key.application_id == application_id => Ok(key),
            _ => Err(key_not_found(application_id, id)),
        }
    }

    /// Revokes a key; revoking a revoked key changes nothing.
    pub async fn revoke_key(
        &self,
        caller: &Caller,
        application_id: Uuid,
        id: Uuid,
    ) -> Result<ApiKey> {
        caller.developer()?;
        let mut key = self.key(application_id, id).await?;
        if key.revoked_at.is_none() {
            let now = self.0.clock.now();
            self.0.applications.revoke_api_key(id, now).await?;
            key.revoked_at = Some(now);
            tracing::info!(api_key = %id, "api key revoked");
        }
        Ok(key)
    }

    /// Revokes an active key and returns its replacement with the secret.
    pub async fn rotate_key(
        &self,
        caller: &Caller,
        application_id: Uuid,
        id: Uuid,
    ) -> Result<MintedApiKey> {
        caller.developer()?;
        let old = self.key(application_id, id).await?;
        if old.revoked_at.is_some() {
            return Err(Error::FailedPrecondition {
                reason: Reason::ApiKeyRevoked,
                message: "a revoked api key cannot be rotated".into(),
            });
        }
        let (stored, secret) = self.mint(application_id, old.display_name);
        self.0
            .applications
            .rotate_api_key(id, &stored, self.0.clock.now())
            .await?;
        tracing::info!(old = %id, new = %stored.key.id, "api key rotated");
        Ok(MintedApiKey {
            key: stored.key,
            secret,
        })
    }
}
