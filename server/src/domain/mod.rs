//! Use-cases and their types. Imports neither tonic nor sea_orm: storage is reached through
//! the traits of `crate::store`, mail through `Mailer`, time through `Clock`.

use std::sync::Arc;

use chrono::Duration;

use crate::crypto::{Cipher, JwtSigner};
use crate::providers::Registry;
use crate::store::{
    ApplicationStore, ConnectionStore, DeveloperStore, EventStore, HealthStore, TokenStore,
    UserStore,
};

pub mod applications;
pub mod auth;
pub mod clock;
pub mod connections;
pub mod developers;
pub mod error;
pub mod guesses;
pub mod health;
pub mod imports;
pub mod lease;
pub mod mail;
pub mod model;
pub mod page;
pub mod provider_sync;
pub mod rate_limit;
pub mod sdk_tokens;
pub mod sessions;
pub mod sync;
pub mod users;
pub mod validate;

pub use clock::Clock;
pub use mail::Mailer;

/// Lifetimes and links the use-cases need from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub sdk_token_ttl: Duration,
    pub invitation_ttl: Duration,
    pub invitation_code_ttl: Duration,
    /// Base URL for links in emails.
    pub frontend_url: String,
    /// Attempts per email before giving up.
    pub email_max_retries: u32,
    /// Deployment default source priority: providers, highest first.
    pub provider_priority: Vec<String>,
    /// Deployment default source priority: device types, highest first.
    pub device_type_priority: Vec<String>,
    /// Whether the built-in demo provider is enabled unless a developer said otherwise (it is
    /// in development and test, not in staging or production).
    pub demo_provider: bool,
    /// Requests one API key may make per minute; `None`: unlimited.
    pub api_rate_limit: Option<u64>,
    /// A source quiet this long closes its buffered sleep phases into a session
    /// (SLEEP_END_GAP_MINUTES).
    pub sleep_end_gap: Duration,
    /// How long a client-streaming call may wait for its client's next message
    /// (OWL_STREAM_IDLE_TIMEOUT_SECONDS).
    pub stream_idle_timeout: std::time::Duration,
}

/// What every use-case may reach: stores, clock, signer, mailer and settings.
pub struct Context {
    pub developers: Arc<dyn DeveloperStore>,
    pub applications: Arc<dyn ApplicationStore>,
    pub users: Arc<dyn UserStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub health: Arc<dyn HealthStore>,
    pub events: Arc<dyn EventStore>,
    pub connections: Arc<dyn ConnectionStore>,
    /// Sleep phases waiting to be assembled (Redis when configured).
    pub sleep: Arc<dyn crate::store::SleepBuffer>,
    /// The deployment's wearable providers.
    pub providers: Arc<Registry>,
    /// Encrypts provider tokens at rest.
    pub cipher: Arc<Cipher>,
    /// Request budgets (Redis when configured).
    pub limiter: Arc<dyn rate_limit::RateLimiter>,
    pub clock: Arc<dyn Clock>,
    pub signer: JwtSigner,
    pub mailer: Arc<dyn Mailer>,
    pub settings: Settings,
}
