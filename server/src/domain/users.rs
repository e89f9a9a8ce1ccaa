//! End users of applications, with tenancy: an API key reaches only its application's users and
//! an SDK token only its own user; anything else answers NOT_FOUND, never leaking existence.

use std::str::FromStr;

use uuid::Uuid;

use super::Context;
use super::auth::Caller;
use super::error::{Error, Result};
use super::model::{User, UserFilter};
use super::page::{Page, PageRequest};
use super::validate::{Violations, normalize_email};

/// The writable fields of a user.
#[derive(Debug, Clone, Default)]
pub struct UserFields {
    pub external_user_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub time_zone: String,
}

/// Paths of UpdateUserRequest.update_mask.
const FIELDS: [&str; 5] = [
    "external_user_id",
    "email",
    "first_name",
    "last_name",
    "time_zone",
];

fn not_found(id: Uuid) -> Error {
    Error::not_found("owl.v1.User", format!("users/{id}"))
}

fn validate(f: &UserFields, v: &mut Violations) {
    v.text(&f.external_user_id, "user.external_user_id", false, 255);
    v.email(&f.email, "user.email", false);
    v.text(&f.first_name, "user.first_name", false, 100);
    v.text(&f.last_name, "user.last_name", false, 100);
    if !f.time_zone.is_empty() && chrono_tz::Tz::from_str(&f.time_zone).is_err() {
        v.add(
            "user.time_zone",
            "must be an IANA time zone such as Europe/Warsaw",
        );
    }
}

fn optional(value: &str) -> Option<String> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

impl UserFields {
    fn apply(&self, user: &mut User, paths: &[&str]) {
        for path in paths {
            match *path {
                "external_user_id" => user.external_user_id = optional(&self.external_user_id),
                "email" => user.email = optional(&self.email).map(|e| normalize_email(&e)),
                "first_name" => user.first_name = optional(&self.first_name),
                "last_name" => user.last_name = optional(&self.last_name),
                "time_zone" => user.time_zone = optional(&self.time_zone),
                _ => {}
            }
        }
    }
}

/// User use-cases.
pub struct Users<'a>(pub &'a Context);

impl Users<'_> {
    /// Which application a create or list acts on: `parent` for developers (None lists all),
    /// the key's own for API keys (a different parent is NOT_FOUND).
    async fn scope(
        &self,
        caller: &Caller,
        parent: Option<Uuid>,
        required: bool,
        v: &mut Violations,
    ) -> Result<Option<Uuid>> {
        match (caller, parent) {
            (Caller::User { .. }, _) => Err(Error::permission_denied(
                "sdk tokens may only read their own user",
            )),
            (Caller::Application { application_id, .. }, Some(p)) if p != *application_id => Err(
                Error::not_found("owl.v1.Application", format!("applications/{p}")),
            ),
            (Caller::Application { application_id, .. }, _) => Ok(Some(*application_id)),
            (Caller::Developer(_), None) => {
                if required {
                    v.add(
                        "parent",
                        "is required for developers: applications/{application}",
                    );
                }
                Ok(None)
            }
            (Caller::Developer(_), Some(p)) => {
                if self.0.applications.application(p).await?.is_none() {
                    return Err(Error::not_found(
                        "owl.v1.Application",
                        format!("applications/{p}"),
                    ));
                }
                Ok(Some(p))
            }
        }
    }

    /// A user the caller may see, or NOT_FOUND.
    pub async fn visible(&self, caller: &Caller, id: Uuid) -> Result<User> {
        let user = self.0.users.user(id).await?.ok_or_else(|| not_found(id))?;
        let allowed = match caller {
            Caller::User { user_id, .. } => *user_id == id,
            other => other.manages(user.application_id),
        };
        if allowed {
            Ok(user)
        } else {
            Err(not_found(id))
        }
    }

    /// A user the caller may change: as `visible`, but SDK tokens may not change anything.
    pub async fn managed(&self, caller: &Caller, id: Uuid) -> Result<User> {
        if matches!(caller, Caller::User { .. }) {
            return Err(Error::permission_denied(
                "sdk tokens may only read their own user",
            ));
        }
        self.visible(caller, id).await
    }

    /// Creates a user.
    pub async fn create(
        &self,
        caller: &Caller,
        parent: Option<Uuid>,
        fields: UserFields,
    ) -> Result<User> {
        let mut v = Violations::new();
        validate(&fields, &mut v);
        let application_id = self.scope(caller, parent, true, &mut v).await?;
        v.finish()?;
        let Some(application_id) = application_id else {
            return Err(Error::invalid("parent", "is required"));
        };
        let now = self.0.clock.now();
        let mut user = User {
            id: Uuid::now_v7(),
            application_id,
            created_at: now,
            updated_at: now,
            ..User::default()
        };
        fields.apply(&mut user, &FIELDS);
        self.0.users.create_user(&user).await?;
        tracing::info!(user = %user.id, application = %application_id, "user created");
        Ok(user)
    }

    /// Returns a user.
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<User> {
        self.visible(caller, id).await
    }

    /// Lists users, oldest first.
    pub async fn list(
        &self,
        caller: &Caller,
        parent: Option<Uuid>,
        mut filter: UserFilter,
        page: PageRequest,
    ) -> Result<Page<User>> {
        let mut v = Violations::new();
        if let Some(email) = &filter.email {
            v.email(email, "email", false);
        }
        if let Some(external) = &filter.external_user_id {
            v.text(external, "external_user_id", false, 255);
        }
        filter.application_id = self.scope(caller, parent, false, &mut v).await?;
        v.finish()?;
        filter.email = filter.email.map(|e| normalize_email(&e));
        let rows = self.0.users.list_users(&filter, &page).await?;
        Ok(page.page(rows, |u| u.id))
    }

    /// Changes the fields in `mask` (empty: all).
    pub async fn update(
        &self,
        caller: &Caller,
        id: Uuid,
        fields: UserFields,
        mask: &[String],
    ) -> Result<User> {
        let mut v = Violations::new();
        let paths: Vec<&str> = if mask.is_empty() {
            FIELDS.to_vec()
        } else {
            mask.iter().map(String::as_str).collect()
        };
        for path in &paths {
            v.check(
                FIELDS.contains(path),
                "update_mask",
                &format!("cannot update {path:?}"),
            );
        }
        validate(&fields, &mut v);
        v.finish()?;
        let mut user = self.managed(caller, id).await?;
        fields.apply(&mut user, &paths);
        user.updated_at = self.0.clock.now();
        self.0.users.update_user(&user).await?;
        Ok(user)
    }

    /// Deletes a user with all their data.
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<()> {
        self.managed(caller, id).await?;
        if !self.0.users.delete_user(id).await? {
            return Err(not_found(id));
        }
        tracing::info!(user = %id, "user deleted with all their data");
        Ok(())
    }
}
