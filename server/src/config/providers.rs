//! OAuth settings of each wearable provider, read from `{PROVIDER}_CLIENT_ID` and friends.

use std::collections::BTreeMap;

use secrecy::SecretString;

use super::Reader;

/// The providers owl knows, by their lowercase key (as in callback paths).
pub const PROVIDERS: &[&str] = &[
    "fitbit", "garmin", "oura", "polar", "strava", "suunto", "whoop",
];

/// One provider's OAuth application.
#[derive(Debug, Clone, Default)]
pub struct ProviderConfig {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    /// Callback registered with the provider; defaults to `/api/v1/oauth/{provider}/callback`.
    pub redirect_uri: Option<String>,
    pub default_scope: Option<String>,
    /// SUUNTO_SUBSCRIPTION_KEY, STRAVA_WEBHOOK_VERIFY_TOKEN, OURA_WEBHOOK_VERIFICATION_TOKEN and
    /// POLAR_WEBHOOK_SECRET.
    pub extra_secret: Option<SecretString>,
    /// SUUNTO_WEBHOOK_SECRET: the notification secret that signs Suunto's webhooks (Suunto's
    /// extra secret is already its subscription key).
    pub webhook_secret: Option<SecretString>,
    /// STRAVA_EVENTS_PER_PAGE.
    pub events_per_page: Option<u32>,
    /// `{PROVIDER}_API_BASE_URL`: the provider's data API (tests point it at a local fake).
    pub api_base_url: Option<String>,
    /// `{PROVIDER}_AUTH_BASE_URL`: the provider's OAuth server.
    pub auth_base_url: Option<String>,
}

impl ProviderConfig {
    /// True when the provider has client credentials.
    pub fn configured(&self) -> bool {
        self.client_id.is_some() && self.client_secret.is_some()
    }
}

fn default_scope(provider: &str) -> Option<&'static str> {
    match provider {
        "polar" => Some("accesslink.read_all"),
        "whoop" => Some("offline read:profile read:cycles read:sleep read:recovery read:workout"),
        "oura" => Some("personal daily heartrate workout session"),
        "strava" => Some("activity:read_all,profile:read_all"),
        _ => None,
    }
}

pub(super) fn load(r: &mut Reader<'_>) -> BTreeMap<&'static str, ProviderConfig> {
    PROVIDERS
        .iter()
        .map(|&provider| {
            let prefix = provider.to_uppercase();
            let var = |suffix: &str| format!("{prefix}_{suffix}");
            let extra_secret = match provider {
                "suunto" => r.secret("SUUNTO_SUBSCRIPTION_KEY"),
                "strava" => r.secret("STRAVA_WEBHOOK_VERIFY_TOKEN"),
                "oura" => r.secret("OURA_WEBHOOK_VERIFICATION_TOKEN"),
                "polar" => r.secret("POLAR_WEBHOOK_SECRET"),
                _ => None,
            };
            let webhook_secret = match provider {
                "suunto" => r.secret("SUUNTO_WEBHOOK_SECRET"),
                _ => None,
            };
            let events_per_page = (provider == "strava").then(|| {
                let n: u32 = r.parse("STRAVA_EVENTS_PER_PAGE", 200);
                if !(1..=200).contains(&n) {
                    r.invalid("STRAVA_EVENTS_PER_PAGE", "must be between 1 and 200");
                }
                n.clamp(1, 200)
            });
            let config = ProviderConfig {
                client_id: r.get(&var("CLIENT_ID")),
                client_secret: r.secret(&var("CLIENT_SECRET")),
                redirect_uri: r.get(&var("REDIRECT_URI")),
                default_scope: r
                    .get(&var("DEFAULT_SCOPE"))
                    .or_else(|| default_scope(provider).map(String::from)),
                extra_secret,
                webhook_secret,
                events_per_page,
                api_base_url: r.get(&var("API_BASE_URL")),
                auth_base_url: r.get(&var("AUTH_BASE_URL")),
            };
            if config.client_id.is_some() != config.client_secret.is_some() {
                r.invalid(
                    &var("CLIENT_SECRET"),
                    format!("{prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET must be set together"),
                );
            }
            (provider, config)
        })
        .collect()
}
