//! Structured logging with tracing (JSON in staging and production, text elsewhere) and, when
//! SENTRY_ENABLED and SENTRY_DSN are set, error reporting to Sentry through the same events.

use secrecy::ExposeSecret;
use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer};
use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::SentryConfig;

/// Keeps Sentry's client alive; dropping it flushes the events not yet sent.
pub struct Telemetry {
    _sentry: Option<sentry::ClientInitGuard>,
}

/// Installs the global subscriber; `RUST_LOG` overrides the default `info,sqlx=warn`. With
/// Sentry configured, `error` events become Sentry events, `warn` and `info` breadcrumbs, and
/// panics are reported.
pub fn init(json: bool, sentry: &SentryConfig) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let guard = start_sentry(sentry);
    let sentry_layers = guard.as_ref().map(|_| {
        let breadcrumbs = BreadcrumbLayer::new().with_filter(filter_fn(|metadata| {
            matches!(*metadata.level(), Level::WARN | Level::INFO)
        }));
        breadcrumbs.and_then(ErrorLayer::new().with_filter(LevelFilter::ERROR))
    });
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(sentry_layers);
    // A second init (tests, or a CLI command after another) keeps the first subscriber.
    let _ = if json {
        registry
            .with(tracing_subscriber::fmt::layer().json())
            .try_init()
    } else {
        registry.with(tracing_subscriber::fmt::layer()).try_init()
    };
    Telemetry { _sentry: guard }
}

/// Starts Sentry's client when it is enabled and has a DSN (the configuration refuses
/// SENTRY_ENABLED without one).
fn start_sentry(config: &SentryConfig) -> Option<sentry::ClientInitGuard> {
    if !config.enabled {
        return None;
    }
    let dsn = config.dsn.as_ref()?;
    let dsn = match dsn.expose_secret().parse::<sentry::types::Dsn>() {
        Ok(dsn) => dsn,
        Err(error) => {
            eprintln!("SENTRY_DSN is not a valid DSN ({error}); error reporting is off");
            return None;
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let options = sentry::ClientOptions::new()
        .environment(config.environment.clone())
        .release(concat!("owl@", env!("CARGO_PKG_VERSION")))
        .sample_rate(config.samples_rate as f32)
        .traces_sample_rate(0.0)
        .send_default_pii(false);
    Some(sentry::init(options.dsn(&dsn.to_string())))
}
