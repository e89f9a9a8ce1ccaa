//! The effective configuration as printable lines, with every secret redacted.

use secrecy::{ExposeSecret, SecretString};

use super::Config;

const REDACTED: &str = "[REDACTED]";

fn secret(value: &Option<SecretString>) -> String {
    match value {
        Some(_) => REDACTED.into(),
        None => "(unset)".into(),
    }
}

fn plain(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "(unset)".into())
}

/// Hides the password of `scheme://user:password@host/…`.
fn redact_url(url: &SecretString) -> String {
    let url = url.expose_secret();
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:{REDACTED}{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

pub(super) fn lines(c: &Config) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![
        (
            "ENVIRONMENT".into(),
            format!("{:?}", c.environment).to_lowercase(),
        ),
        ("SECRET_KEY".into(), REDACTED.into()),
        (
            "OWL_ENCRYPTION_KEY".into(),
            format!("{REDACTED} (from {})", c.encryption_key_origin),
        ),
        (
            "OWL_ENCRYPTION_KEY_PREVIOUS".into(),
            match c.previous_encryption_keys.len() {
                0 => "(unset)".into(),
                n => format!("{REDACTED} ({n} keys)"),
            },
        ),
        ("CORS_ORIGINS".into(), c.cors_origins.join(", ")),
        ("SERVER_HOST".into(), plain(&c.public_url)),
        ("OWL_LISTEN".into(), c.listen.to_string()),
        ("OWL_DATA_DIR".into(), c.data_dir.display().to_string()),
        (
            "DATABASE_URL".into(),
            format!(
                "{} (from {})",
                redact_url(&c.database.url),
                c.database.origin
            ),
        ),
        (
            "REDIS".into(),
            c.redis
                .as_ref()
                .map_or("(unset: embedded queue)".into(), |r| redact_url(&r.url)),
        ),
        ("ADMIN_EMAIL".into(), plain(&c.admin_email)),
        ("ADMIN_PASSWORD".into(), secret(&c.admin_password)),
        (
            "ACCESS_TOKEN_EXPIRE_MINUTES".into(),
            c.access_token_expire_minutes.to_string(),
        ),
        (
            "REFRESH_TOKEN_EXPIRE_DAYS".into(),
            c.refresh_token_expire_days.to_string(),
        ),
        (
            "TOKEN_LIFETIME".into(),
            c.sdk_token_lifetime_seconds.to_string(),
        ),
        (
            "INVITATION_EXPIRE_DAYS".into(),
            c.invitation_expire_days.to_string(),
        ),
        (
            "USER_INVITATION_CODE_EXPIRE_DAYS".into(),
            c.user_invitation_code_expire_days.to_string(),
        ),
        ("RESEND_API_KEY".into(), secret(&c.email.resend_api_key)),
        (
            "EMAIL_HOST".into(),
            plain(
                &c.email
                    .smtp
                    .as_ref()
                    .map(|s| format!("{}:{}", s.host, s.port)),
            ),
        ),
        (
            "EMAIL_HOST_PASSWORD".into(),
            secret(&c.email.smtp.as_ref().and_then(|s| s.password.clone())),
        ),
        ("EMAIL_FROM_ADDRESS".into(), c.email.from_address.clone()),
        ("FRONTEND_URL".into(), c.email.frontend_url.clone()),
        ("SENTRY_ENABLED".into(), c.sentry.enabled.to_string()),
        ("SENTRY_DSN".into(), secret(&c.sentry.dsn)),
        (
            "SYNC_INTERVAL_SECONDS".into(),
            c.sync_interval_seconds.to_string(),
        ),
        (
            "OWL_API_RATE_LIMIT_PER_MINUTE".into(),
            match c.api_rate_limit_per_minute {
                0 => "0 (unlimited)".into(),
                n => n.to_string(),
            },
        ),
        (
            "OWL_WORKER_CONCURRENCY".into(),
            c.jobs.worker_concurrency.to_string(),
        ),
        (
            "OWL_JOB_VISIBILITY_TIMEOUT_SECONDS".into(),
            c.jobs.visibility_timeout_seconds.to_string(),
        ),
        (
            "OWL_JOB_MAX_ATTEMPTS".into(),
            c.jobs.max_attempts.to_string(),
        ),
        (
            "OWL_JOB_RETRY_BASE_MS".into(),
            c.jobs.retry_base_ms.to_string(),
        ),
        (
            "OWL_JOB_RETRY_MAX_MS".into(),
            c.jobs.retry_max_ms.to_string(),
        ),
        (
            "OWL_REDIS_KEY_PREFIX".into(),
            c.jobs.redis_key_prefix.clone(),
        ),
        ("XML_CHUNK_SIZE".into(), c.xml_chunk_size.to_string()),
    ];
    for (name, p) in &c.providers {
        let prefix = name.to_uppercase();
        out.push((format!("{prefix}_CLIENT_ID"), plain(&p.client_id)));
        out.push((format!("{prefix}_CLIENT_SECRET"), secret(&p.client_secret)));
    }
    out
}
