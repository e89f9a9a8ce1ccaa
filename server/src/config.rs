//! One typed configuration tree, read from the seed's variable names (`.env`, `config/.env`,
//! the environment) with `owl_data/appconfig.json` taking precedence for public URL, database
//! URL and encryption key; validated at start.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

pub mod providers;
mod report;

pub use providers::{PROVIDERS, ProviderConfig};

/// Where the deployment runs; production turns on hardening and refuses weak settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Local,
    Test,
    Staging,
    Production,
}

impl Environment {
    /// Staging and production log JSON.
    pub fn json_logs(self) -> bool {
        self.is_deployed()
    }

    /// Staging and production: real users, no development conveniences.
    pub fn is_deployed(self) -> bool {
        matches!(self, Environment::Staging | Environment::Production)
    }
}

/// Where the database is.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`.
    pub url: SecretString,
    /// Which setting chose it, for `owl config check`.
    pub origin: &'static str,
}

/// Redis, when configured (otherwise the embedded queue and cache).
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://[user[:password]@]host:port/db`.
    pub url: SecretString,
}

/// Background work: the queue's timing and the workers (owl's own variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsConfig {
    /// Jobs one process runs at once (OWL_WORKER_CONCURRENCY).
    pub worker_concurrency: usize,
    /// Seconds a leased job stays invisible to other workers without a heartbeat; a crashed
    /// worker's jobs run again after it (OWL_JOB_VISIBILITY_TIMEOUT_SECONDS).
    pub visibility_timeout_seconds: u64,
    /// Deliveries before a failing job is dead-lettered (OWL_JOB_MAX_ATTEMPTS).
    pub max_attempts: u32,
    /// Delay before the first retry, milliseconds; doubles per attempt, with jitter, up to an
    /// hour (OWL_JOB_RETRY_BASE_MS).
    pub retry_base_ms: u64,
    /// Longest delay between retries, milliseconds, a provider's Retry-After's too
    /// (OWL_JOB_RETRY_MAX_MS).
    pub retry_max_ms: u64,
    /// Prefix of the queue's Redis keys (OWL_REDIS_KEY_PREFIX).
    pub redis_key_prefix: String,
}

/// SMTP relay settings (EMAIL_HOST …).
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub use_tls: bool,
    pub use_ssl: bool,
    pub timeout_seconds: u64,
}

/// How invitation emails leave: Resend, SMTP, or the log when neither is set.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub resend_api_key: Option<SecretString>,
    /// Base URL of the Resend API (overridable for tests and proxies).
    pub resend_api_url: String,
    pub smtp: Option<SmtpConfig>,
    pub from_address: String,
    pub from_name: String,
    /// Base URL of the front end, for links in emails.
    pub frontend_url: String,
    pub max_retries: u32,
}

/// Sentry settings (read and checked; reporting is not wired yet).
#[derive(Debug, Clone)]
pub struct SentryConfig {
    pub enabled: bool,
    pub dsn: Option<SecretString>,
    pub environment: String,
    pub samples_rate: f64,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub secret_key: SecretString,
    pub encryption_key: SecretSlice<u8>,
    /// Which setting supplied the encryption key.
    pub encryption_key_origin: &'static str,
    /// Keys of before a rotation (OWL_ENCRYPTION_KEY_PREVIOUS): read, never written with.
    pub previous_encryption_keys: Vec<SecretSlice<u8>>,
    pub cors_origins: Vec<String>,
    /// Public URL of the API (SERVER_HOST), for OAuth callbacks and links.
    pub public_url: Option<String>,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub redis: Option<RedisConfig>,
    pub admin_email: Option<String>,
    pub admin_password: Option<SecretString>,
    pub access_token_expire_minutes: i64,
    pub refresh_token_expire_days: i64,
    /// Lifetime of SDK access tokens, seconds (TOKEN_LIFETIME).
    pub sdk_token_lifetime_seconds: i64,
    pub invitation_expire_days: i64,
    pub user_invitation_code_expire_days: i64,
    pub email: EmailConfig,
    pub sentry: SentryConfig,
    pub sync_interval_seconds: u64,
    /// Requests one API key may make per minute (OWL_API_RATE_LIMIT_PER_MINUTE; 0: unlimited,
    /// the default in development and test; 600 in staging and production).
    pub api_rate_limit_per_minute: u64,
    pub jobs: JobsConfig,
    pub xml_chunk_size: usize,
    pub redis_sleep_ttl_seconds: u64,
    pub sleep_end_gap_minutes: u64,
    /// The largest upload accepted, bytes (OWL_MAX_UPLOAD_BYTES).
    pub max_upload_bytes: i64,
    /// Longest wait for a client-streaming call's next message (OWL_STREAM_IDLE_TIMEOUT_SECONDS).
    pub stream_idle_timeout_seconds: u64,
    pub providers: BTreeMap<&'static str, ProviderConfig>,
    /// Default source priority: providers, highest first (OWL_PROVIDER_PRIORITY).
    pub provider_priority: Vec<String>,
    /// Default source priority: device types, highest first (OWL_DEVICE_TYPE_PRIORITY).
    pub device_type_priority: Vec<String>,
}

impl Config {
    /// The public URL of the API without a trailing slash: SERVER_HOST, or the listen port on
    /// localhost.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://localhost:{}", self.listen.port()),
        }
    }
}

/// An invalid variable and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub variable: String,
    pub problem: String,
}

/// Every invalid variable found while loading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", .0.iter().map(|i| format!("{}: {}", i.variable, i.problem)).collect::<Vec<_>>().join("; "))]
pub struct ConfigErrors(pub Vec<Invalid>);

/// Providers by default priority: dedicated wearables before phone aggregators.
const DEFAULT_PROVIDER_PRIORITY: &[&str] = &[
    "garmin",
    "polar",
    "suunto",
    "whoop",
    "oura",
    "fitbit",
    "apple_health",
    "strava",
    "manual",
];
/// Device types by default priority: worn sensors before phones.
const DEFAULT_DEVICE_TYPE_PRIORITY: &[&str] = &[
    "chest_strap",
    "watch",
    "ring",
    "band",
    "bike_computer",
    "scale",
    "phone",
    "other",
];

/// Passwords the seed and common examples ship with; refused in production.
const DEFAULT_ADMIN_PASSWORDS: &[&str] = &[
    "admin",
    "password",
    "changeme",
    "your-secure-password",
    "admin123",
    "secret",
    "open-wearables",
];

/// The variables of the process environment and the `.env` files, environment first.
pub fn gather_variables(base: &Path) -> HashMap<String, String> {
    let mut vars = HashMap::new();
    for file in [base.join(".env"), base.join("config/.env")] {
        if let Ok(iter) = dotenvy::from_path_iter(&file) {
            for (key, value) in iter.flatten() {
                vars.entry(key).or_insert(value);
            }
        }
    }
    // The environment wins over files.
    for (key, value) in std::env::vars() {
        vars.insert(key, value);
    }
    vars
}

/// Reader over the variables that records every problem instead of stopping at the first.
struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    errors: Vec<Invalid>,
}

impl Reader<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| strip_quotes(v.trim()).to_owned())
            .filter(|v| !v.is_empty())
    }

    fn invalid(&mut self, variable: &str, problem: impl Into<String>) {
        self.errors.push(Invalid {
            variable: variable.into(),
            problem: problem.into(),
        });
    }

    fn parse<T: std::str::FromStr>(&mut self, name: &str, default: T) -> T {
        match self.get(name) {
            None => default,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                self.invalid(name, format!("cannot parse {raw:?}"));
                default
            }),
        }
    }

    fn positive(&mut self, name: &str, default: i64) -> i64 {
        let value = self.parse(name, default);
        if value <= 0 {
            self.invalid(name, "must be positive");
            return default;
        }
        value
    }

    fn flag(&mut self, name: &str, default: bool) -> bool {
        match self.get(name).map(|v| v.to_lowercase()) {
            None => default,
            Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => false,
            Some(v) => {
                self.invalid(name, format!("expected true or false, got {v:?}"));
                default
            }
        }
    }

    fn secret(&self, name: &str) -> Option<SecretString> {
        self.get(name).map(SecretString::from)
    }
}

fn strip_quotes(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value)
}

/// Settings persisted by onboarding; they take precedence over the environment.
#[derive(Debug, Default, serde::Deserialize)]
struct AppConfigFile {
    public_url: Option<String>,
    database_url: Option<String>,
    encryption_key: Option<String>,
}

impl Config {
    /// Loads from `vars` (see `gather_variables`) and `OWL_DATA_DIR`'s appconfig.json. In
    /// local and test environments a missing SECRET_KEY or encryption key is generated and kept
    /// under the data directory.
    pub fn load(vars: &HashMap<String, String>) -> Result<Config, ConfigErrors> {
        let mut r = Reader {
            vars,
            errors: Vec::new(),
        };
        let environment = match r.get("ENVIRONMENT").map(|v| v.to_lowercase()).as_deref() {
            None | Some("local") | Some("development") => Environment::Local,
            Some("test") => Environment::Test,
            Some("staging") => Environment::Staging,
            Some("production") => Environment::Production,
            Some(other) => {
                r.invalid(
                    "ENVIRONMENT",
                    format!("expected local, test, staging or production, got {other:?}"),
                );
                Environment::Local
            }
        };
        let production = environment == Environment::Production;
        let data_dir = PathBuf::from(r.get("OWL_DATA_DIR").unwrap_or_else(|| "owl_data".into()));
        let file = read_app_config(&data_dir, &mut r);

        let secret_key = match r.secret("SECRET_KEY") {
            Some(key) if key.expose_secret().len() < 32 && production => {
                r.invalid("SECRET_KEY", "must be at least 32 characters in production");
                key
            }
            Some(key) => key,
            None if production => {
                r.invalid("SECRET_KEY", "must be set in production");
                SecretString::from(String::new())
            }
            None => persisted_secret(&data_dir.join("secret_key"), &mut r, "SECRET_KEY", || {
                crate::crypto::random_token(48)
            }),
        };

        let (encryption_key, encryption_key_origin) = encryption_key(
            &mut r,
            file.encryption_key.as_deref(),
            &data_dir,
            production,
        );

        let previous_encryption_keys = r
            .get("OWL_ENCRYPTION_KEY_PREVIOUS")
            .map(|list| {
                list.split(',')
                    .filter(|k| !k.trim().is_empty())
                    .filter_map(|k| match decode_key(k).filter(|k| k.len() == 32) {
                        Some(key) => Some(SecretSlice::from(key)),
                        None => {
                            r.invalid(
                                "OWL_ENCRYPTION_KEY_PREVIOUS",
                                "must be 32-byte keys in base64, separated by commas",
                            );
                            None
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();

        let cors_origins = match r.get("CORS_ORIGINS") {
            None => vec!["http://localhost:3000".to_owned()],
            Some(raw) => parse_list(&raw).unwrap_or_else(|| {
                r.invalid(
                    "CORS_ORIGINS",
                    "expected a JSON array of origins or a comma-separated list",
                );
                Vec::new()
            }),
        };
        if production && cors_origins.iter().any(|o| o == "*") {
            r.invalid("CORS_ORIGINS", "must not contain \"*\" in production");
        }

        let listen = r.parse("OWL_LISTEN", SocketAddr::from(([0, 0, 0, 0], 8000)));
        let database = database(&mut r, file.database_url, &data_dir);
        let redis = redis(&r);

        let admin_email = r.get("ADMIN_EMAIL");
        let admin_password = r.secret("ADMIN_PASSWORD");
        if let Some(password) = &admin_password {
            let p = password.expose_secret();
            if production && (DEFAULT_ADMIN_PASSWORDS.contains(&p) || p.chars().count() < 12) {
                r.invalid(
                    "ADMIN_PASSWORD",
                    "is a default or short password; refused in production",
                );
            }
        }
        if admin_email.is_some() != admin_password.is_some() {
            r.invalid(
                "ADMIN_EMAIL",
                "ADMIN_EMAIL and ADMIN_PASSWORD must be set together",
            );
        }

        let email = EmailConfig {
            resend_api_key: r.secret("RESEND_API_KEY"),
            resend_api_url: r
                .get("RESEND_API_URL")
                .unwrap_or_else(|| "https://api.resend.com".into()),
            smtp: r.get("EMAIL_HOST").map(|host| SmtpConfig {
                host,
                port: r.parse("EMAIL_PORT", 587),
                username: r.get("EMAIL_HOST_USER"),
                password: r.secret("EMAIL_HOST_PASSWORD"),
                use_tls: r.flag("EMAIL_USE_TLS", true),
                use_ssl: r.flag("EMAIL_USE_SSL", false),
                timeout_seconds: r.parse("EMAIL_TIMEOUT", 10),
            }),
            from_address: r
                .get("EMAIL_FROM_ADDRESS")
                .unwrap_or_else(|| "owl@localhost".into()),
            from_name: r.get("EMAIL_FROM_NAME").unwrap_or_else(|| "owl".into()),
            frontend_url: r
                .get("FRONTEND_URL")
                .unwrap_or_else(|| "http://localhost:3000".into()),
            max_retries: r.parse("EMAIL_MAX_RETRIES", 5),
        };
        let sentry = SentryConfig {
            enabled: r.flag("SENTRY_ENABLED", false),
            dsn: r.secret("SENTRY_DSN"),
            environment: r.get("SENTRY_ENV").unwrap_or_else(|| "production".into()),
            samples_rate: r.parse("SENTRY_SAMPLES_RATE", 0.5),
        };
        if !(0.0..=1.0).contains(&sentry.samples_rate) {
            r.invalid("SENTRY_SAMPLES_RATE", "must be between 0.0 and 1.0");
        }
        if sentry.enabled && sentry.dsn.is_none() {
            r.invalid("SENTRY_DSN", "must be set when SENTRY_ENABLED is true");
        }
        if let Some(algorithm) = r.get("ALGORITHM")
            && algorithm != "HS256"
        {
            r.invalid("ALGORITHM", "only HS256 is supported");
        }

        let config = Config {
            environment,
            secret_key,
            encryption_key,
            encryption_key_origin,
            previous_encryption_keys,
            cors_origins,
            public_url: file.public_url.or_else(|| r.get("SERVER_HOST")),
            listen,
            data_dir,
            database,
            redis,
            admin_email,
            admin_password,
            access_token_expire_minutes: r.positive("ACCESS_TOKEN_EXPIRE_MINUTES", 60),
            refresh_token_expire_days: r.positive("REFRESH_TOKEN_EXPIRE_DAYS", 30),
            sdk_token_lifetime_seconds: r.positive("TOKEN_LIFETIME", 3600),
            invitation_expire_days: r.positive("INVITATION_EXPIRE_DAYS", 7),
            user_invitation_code_expire_days: r.positive("USER_INVITATION_CODE_EXPIRE_DAYS", 7),
            email,
            sentry,
            sync_interval_seconds: r.positive("SYNC_INTERVAL_SECONDS", 3600) as u64,
            api_rate_limit_per_minute: r.parse(
                "OWL_API_RATE_LIMIT_PER_MINUTE",
                if production || environment == Environment::Staging {
                    600
                } else {
                    0
                },
            ),
            jobs: JobsConfig {
                worker_concurrency: r.positive("OWL_WORKER_CONCURRENCY", 8) as usize,
                visibility_timeout_seconds: r.positive("OWL_JOB_VISIBILITY_TIMEOUT_SECONDS", 300)
                    as u64,
                max_attempts: r.positive("OWL_JOB_MAX_ATTEMPTS", 5).min(1000) as u32,
                retry_base_ms: r.positive("OWL_JOB_RETRY_BASE_MS", 10_000) as u64,
                retry_max_ms: r.positive("OWL_JOB_RETRY_MAX_MS", 3_600_000) as u64,
                redis_key_prefix: r
                    .get("OWL_REDIS_KEY_PREFIX")
                    .unwrap_or_else(|| "owl:jobs:".into()),
            },
            xml_chunk_size: r.positive("XML_CHUNK_SIZE", 50_000) as usize,
            redis_sleep_ttl_seconds: r.positive("REDIS_SLEEP_TTL_SECONDS", 86_400) as u64,
            sleep_end_gap_minutes: r.positive("SLEEP_END_GAP_MINUTES", 120) as u64,
            stream_idle_timeout_seconds: r.positive("OWL_STREAM_IDLE_TIMEOUT_SECONDS", 60) as u64,
            max_upload_bytes: r.positive(
                "OWL_MAX_UPLOAD_BYTES",
                crate::jobs::import::DEFAULT_MAX_UPLOAD_BYTES,
            ),
            providers: providers::load(&mut r),
            provider_priority: r.get("OWL_PROVIDER_PRIORITY").map_or_else(
                || {
                    DEFAULT_PROVIDER_PRIORITY
                        .iter()
                        .map(|p| (*p).to_owned())
                        .collect()
                },
                |raw| parse_list(&raw).unwrap_or_default(),
            ),
            device_type_priority: r.get("OWL_DEVICE_TYPE_PRIORITY").map_or_else(
                || {
                    DEFAULT_DEVICE_TYPE_PRIORITY
                        .iter()
                        .map(|p| (*p).to_owned())
                        .collect()
                },
                |raw| parse_list(&raw).unwrap_or_default(),
            ),
        };
        if r.errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(r.errors))
        }
    }

    /// The effective configuration as `KEY = value` lines, secrets redacted.
    pub fn report(&self) -> Vec<(String, String)> {
        report::lines(self)
    }
}

fn read_app_config(data_dir: &Path, r: &mut Reader<'_>) -> AppConfigFile {
    let path = data_dir.join("appconfig.json");
    match std::fs::read_to_string(&path) {
        Err(_) => AppConfigFile::default(),
        Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            r.invalid(&path.display().to_string(), format!("not valid JSON: {e}"));
            AppConfigFile::default()
        }),
    }
}

/// Reads a generated secret from `path`, or generates and stores it (mode 0600).
fn persisted_secret(
    path: &Path,
    r: &mut Reader<'_>,
    variable: &str,
    generate: impl FnOnce() -> String,
) -> SecretString {
    if let Ok(existing) = std::fs::read_to_string(path) {
        return SecretString::from(existing.trim().to_owned());
    }
    let value = generate();
    let written = std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))
        .and_then(|()| write_private(path, &value));
    if let Err(e) = written {
        r.invalid(
            variable,
            format!("not set, and {} cannot be written: {e}", path.display()),
        );
    }
    SecretString::from(value)
}

fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(value.as_bytes())
}

/// Precedence: appconfig.json, OWL_ENCRYPTION_KEY, `owl_data/secret.key` (generated outside
/// production). Production refuses to start without one.
fn encryption_key(
    r: &mut Reader<'_>,
    from_file: Option<&str>,
    data_dir: &Path,
    production: bool,
) -> (SecretSlice<u8>, &'static str) {
    let (raw, origin, variable) = if let Some(raw) = from_file {
        (
            raw.to_owned(),
            "appconfig.json",
            "appconfig.json encryption_key",
        )
    } else if let Some(raw) = r.get("OWL_ENCRYPTION_KEY") {
        (raw, "OWL_ENCRYPTION_KEY", "OWL_ENCRYPTION_KEY")
    } else if production {
        r.invalid(
            "OWL_ENCRYPTION_KEY",
            "must be set in production (32 bytes, base64)",
        );
        return (SecretSlice::from(vec![0; 32]), "missing");
    } else {
        let path = data_dir.join("secret.key");
        let raw = persisted_secret(&path, r, "OWL_ENCRYPTION_KEY", || {
            let mut key = [0u8; 32];
            rand::Rng::fill(&mut rand::rng(), &mut key);
            STANDARD.encode(key)
        });
        (
            raw.expose_secret().to_owned(),
            "owl_data/secret.key",
            "OWL_ENCRYPTION_KEY",
        )
    };
    match decode_key(&raw) {
        Some(key) => (SecretSlice::from(key), origin),
        None => {
            r.invalid(variable, "must be 32 bytes encoded in base64");
            (SecretSlice::from(vec![0; 32]), origin)
        }
    }
}

fn decode_key(raw: &str) -> Option<Vec<u8>> {
    [&STANDARD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(raw.trim()).ok())
        .filter(|key| key.len() == 32)
}

/// Precedence: appconfig.json, DATABASE_URL, DB_HOST and friends, then SQLite in the data dir.
fn database(r: &mut Reader<'_>, from_file: Option<String>, data_dir: &Path) -> DatabaseConfig {
    let (url, origin) = if let Some(url) = from_file {
        (url, "appconfig.json")
    } else if let Some(url) = r.get("DATABASE_URL") {
        (url, "DATABASE_URL")
    } else if let Some(host) = r.get("DB_HOST") {
        let port: u16 = r.parse("DB_PORT", 5432);
        let name = r.get("DB_NAME").unwrap_or_else(|| "owl".into());
        let user = r.get("DB_USER").unwrap_or_else(|| "owl".into());
        let auth = match r.get("DB_PASSWORD") {
            Some(password) => format!("{}:{}", encode(&user), encode(&password)),
            None => encode(&user),
        };
        (
            format!("postgres://{auth}@{host}:{port}/{}", encode(&name)),
            "DB_HOST",
        )
    } else {
        let path = data_dir.join("owl.db");
        (
            format!("sqlite://{}?mode=rwc", path.display()),
            "default (embedded SQLite)",
        )
    };
    let url = url
        .replacen("postgresql+psycopg://", "postgres://", 1)
        .replacen("postgresql://", "postgres://", 1);
    if !(url.starts_with("sqlite:") || url.starts_with("postgres://")) {
        r.invalid("DATABASE_URL", "must start with sqlite: or postgres://");
    }
    DatabaseConfig {
        url: SecretString::from(url),
        origin,
    }
}

fn redis(r: &Reader<'_>) -> Option<RedisConfig> {
    if let Some(url) = r.get("REDIS_URL") {
        return Some(RedisConfig {
            url: SecretString::from(url),
        });
    }
    let host = r.get("REDIS_HOST")?;
    let port = r.get("REDIS_PORT").unwrap_or_else(|| "6379".into());
    let db = r.get("REDIS_DB").unwrap_or_else(|| "0".into());
    let auth = match (r.get("REDIS_USERNAME"), r.get("REDIS_PASSWORD")) {
        (Some(user), Some(password)) => format!("{}:{}@", encode(&user), encode(&password)),
        (None, Some(password)) => format!(":{}@", encode(&password)),
        (Some(user), None) => format!("{}@", encode(&user)),
        (None, None) => String::new(),
    };
    Some(RedisConfig {
        url: SecretString::from(format!("redis://{auth}{host}:{port}/{db}")),
    })
}

fn encode(part: &str) -> String {
    part.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Parses `["a", "b"]` or `a, b`.
fn parse_list(raw: &str) -> Option<Vec<String>> {
    if raw.trim_start().starts_with('[') {
        let items: Vec<String> = serde_json::from_str(raw).ok()?;
        return Some(
            items
                .into_iter()
                .map(|s| s.trim().trim_end_matches('/').to_owned())
                .collect(),
        );
    }
    Some(
        raw.split(',')
            .map(|s| s.trim().trim_end_matches('/').to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

#[cfg(test)]
mod tests;
