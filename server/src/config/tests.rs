//! Unit tests of configuration loading.

use std::collections::HashMap;

use secrecy::ExposeSecret;

use super::*;

fn vars(dir: &Path, pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    map.insert("OWL_DATA_DIR".into(), dir.display().to_string());
    map
}

fn problems(result: Result<Config, ConfigErrors>) -> Vec<String> {
    result
        .err()
        .map(|e| e.0.into_iter().map(|i| i.variable).collect())
        .unwrap_or_default()
}

#[test]
fn no_configuration_means_embedded_sqlite_and_generated_keys_that_persist() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load(&vars(dir.path(), &[])).unwrap();
    assert!(config.database.url.expose_secret().starts_with("sqlite://"));
    assert!(config.database.url.expose_secret().contains("owl.db"));
    assert!(config.redis.is_none());
    assert_eq!(config.encryption_key_origin, "owl_data/secret.key");
    let again = Config::load(&vars(dir.path(), &[])).unwrap();
    assert_eq!(
        config.secret_key.expose_secret(),
        again.secret_key.expose_secret()
    );
    assert_eq!(
        config.encryption_key.expose_secret(),
        again.encryption_key.expose_secret()
    );
}

#[test]
fn an_open_wearables_env_selects_postgres_and_redis() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load(&vars(
        dir.path(),
        &[
            ("DB_HOST", "db"),
            ("DB_NAME", "open-wearables"),
            ("DB_USER", "open-wearables"),
            ("DB_PASSWORD", "p@ss word"),
            ("REDIS_HOST", "redis"),
            ("CORS_ORIGINS", r#"["http://localhost:3000" ]"#),
        ],
    ))
    .unwrap();
    assert_eq!(
        config.database.url.expose_secret(),
        "postgres://open-wearables:p%40ss%20word@db:5432/open-wearables"
    );
    assert_eq!(
        config.redis.unwrap().url.expose_secret(),
        "redis://redis:6379/0"
    );
    assert_eq!(config.cors_origins, ["http://localhost:3000"]);
}

#[test]
fn production_names_every_unsafe_setting() {
    let dir = tempfile::tempdir().unwrap();
    let found = problems(Config::load(&vars(
        dir.path(),
        &[
            ("ENVIRONMENT", "production"),
            ("SECRET_KEY", "short"),
            ("CORS_ORIGINS", "*"),
            ("ADMIN_EMAIL", "admin@example.com"),
            ("ADMIN_PASSWORD", "your-secure-password"),
        ],
    )));
    assert_eq!(
        found,
        [
            "SECRET_KEY",
            "OWL_ENCRYPTION_KEY",
            "CORS_ORIGINS",
            "ADMIN_PASSWORD"
        ]
    );
}

#[test]
fn app_config_file_takes_precedence_over_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let key = STANDARD.encode([3u8; 32]);
    std::fs::write(
        dir.path().join("appconfig.json"),
        format!(r#"{{"public_url":"https://owl.example.com","database_url":"postgres://a@b/c","encryption_key":"{key}"}}"#),
    )
    .unwrap();
    let config = Config::load(&vars(
        dir.path(),
        &[
            ("SERVER_HOST", "http://ignored"),
            ("DATABASE_URL", "sqlite://ignored.db"),
            ("OWL_ENCRYPTION_KEY", "x"),
        ],
    ))
    .unwrap();
    assert_eq!(
        config.public_url.as_deref(),
        Some("https://owl.example.com")
    );
    assert_eq!(config.database.url.expose_secret(), "postgres://a@b/c");
    assert_eq!(config.encryption_key.expose_secret(), &[3u8; 32][..]);
}

#[test]
fn every_invalid_variable_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let found = problems(Config::load(&vars(
        dir.path(),
        &[
            ("ENVIRONMENT", "moon"),
            ("ACCESS_TOKEN_EXPIRE_MINUTES", "soon"),
            ("SYNC_INTERVAL_SECONDS", "-5"),
            ("OWL_ENCRYPTION_KEY", "too-short"),
            ("GARMIN_CLIENT_ID", "only-the-id"),
        ],
    )));
    for variable in [
        "ENVIRONMENT",
        "ACCESS_TOKEN_EXPIRE_MINUTES",
        "SYNC_INTERVAL_SECONDS",
        "OWL_ENCRYPTION_KEY",
        "GARMIN_CLIENT_SECRET",
    ] {
        assert!(
            found.iter().any(|f| f == variable),
            "{variable} missing from {found:?}"
        );
    }
}

#[test]
fn the_report_never_shows_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::load(&vars(
        dir.path(),
        &[
            ("SECRET_KEY", "super-secret-signing-key-0123456789"),
            ("DATABASE_URL", "postgres://owl:db-password@localhost/owl"),
            ("RESEND_API_KEY", "re_live_key"),
            ("POLAR_CLIENT_ID", "polar-id"),
            ("POLAR_CLIENT_SECRET", "polar-secret"),
        ],
    ))
    .unwrap();
    let text = format!("{:?}", config.report());
    for secret in [
        "super-secret-signing-key",
        "db-password",
        "re_live_key",
        "polar-secret",
    ] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
    assert!(text.contains("polar-id"));
    assert!(!format!("{config:?}").contains("super-secret-signing-key"));
}
