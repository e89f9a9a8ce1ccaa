//! sea-orm entities of every table (schema in `owl-migration`).

pub mod api_key;
pub mod application;
pub mod data_source;
pub mod developer;
pub mod developer_invitation;
pub mod event_record;
pub mod invitation_code;
pub mod oauth_state;
pub mod onboarding;
pub mod provider_settings;
pub mod refresh_token;
pub mod sample_block;
pub mod series_type_definition;
pub mod sleep_details;
pub mod user;
pub mod user_connection;
pub mod workout_details;
