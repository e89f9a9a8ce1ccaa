//! sea-orm entities of the tables the account and tenancy model uses (schema in `owl-migration`).

pub mod api_key;
pub mod application;
pub mod developer;
pub mod developer_invitation;
pub mod invitation_code;
pub mod onboarding;
pub mod refresh_token;
pub mod user;
