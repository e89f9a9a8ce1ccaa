//! The owl server: configuration, the layers (`api` → `domain` → `store`), and `run`, which
//! serves gRPC, grpc-web and HTTP on one listener until shutdown.
//!
//! Tests start it in-process: build an [`AppState`], bind `127.0.0.1:0`, call [`run`].

use std::future::Future;
use std::sync::Arc;

use chrono::Duration;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

pub mod api;
pub mod apple_health;
pub mod bench;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod import_cli;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod providers;
pub mod store;
pub mod telemetry;

use config::{Config, Environment};
use domain::clock::SystemClock;
use domain::developers::Developers;
use domain::{Clock, Context, Mailer, Settings};
use store::HealthCheck;

/// Everything a running server shares.
#[derive(Clone)]
pub struct AppState {
    /// What the use-cases reach.
    pub ctx: Arc<Context>,
    /// The database, for the health route.
    pub health: Arc<dyn HealthCheck>,
    /// Redis, when configured.
    pub cache: Option<deadpool_redis::Pool>,
    /// Origins allowed to call from browsers.
    pub cors_origins: Arc<Vec<String>>,
    /// Where the deployment runs.
    pub environment: Environment,
    /// Background work: the queue (Redis or embedded), workers and the scheduler.
    pub jobs: jobs::Jobs,
}

/// Replacements for tests: a fixed clock, a capturing mailer.
#[derive(Default)]
pub struct Overrides {
    pub clock: Option<Arc<dyn Clock>>,
    pub mailer: Option<Arc<dyn Mailer>>,
}

impl AppState {
    /// Opens and migrates the database, connects Redis when configured, and creates the first
    /// developer from ADMIN_EMAIL / ADMIN_PASSWORD when onboarding has not happened.
    pub async fn from_config(config: &Config, overrides: Overrides) -> anyhow::Result<AppState> {
        // reqwest and lettre are built without a default crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        std::fs::create_dir_all(&config.data_dir)?;
        let store = store::connect(config.database.url.expose_secret()).await?;
        store.migrate().await?;
        let store = Arc::new(store);
        let cache = match &config.redis {
            Some(redis) => Some(
                deadpool_redis::Config::from_url(redis.url.expose_secret())
                    .create_pool(Some(deadpool_redis::Runtime::Tokio1))?,
            ),
            None => None,
        };
        let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let job_settings =
            jobs::JobsSettings::from_config(&config.jobs, config.sync_interval_seconds);
        let mut jobs = match (&cache, &config.redis) {
            (Some(pool), Some(redis)) => jobs::Jobs::redis(
                pool.clone(),
                redis.url.expose_secret(),
                &config.jobs.redis_key_prefix,
                store.clone(),
                clock.clone(),
                job_settings,
            ),
            _ => jobs::Jobs::embedded(store.clone(), clock.clone(), job_settings),
        };
        let mailer = match overrides.mailer {
            Some(mailer) => mailer,
            None => mail::from_config(&config.email)?,
        };
        let previous = config
            .previous_encryption_keys
            .iter()
            .map(|k| secrecy::SecretSlice::from(k.expose_secret().to_vec()))
            .collect();
        let cipher = Arc::new(
            crypto::Cipher::new(secrecy::SecretSlice::from(
                config.encryption_key.expose_secret().to_vec(),
            ))?
            .with_previous(previous)?,
        );
        let providers = Arc::new(providers::Registry::from_config(
            config,
            &config.public_url(),
            &crypto::derive_key(&config.secret_key, "owl demo provider"),
        )?);
        let limiter: Arc<dyn domain::rate_limit::RateLimiter> = match &cache {
            Some(pool) => Arc::new(store::redis_limiter::RedisLimiter::new(
                pool.clone(),
                &config.jobs.redis_key_prefix,
            )),
            None => Arc::new(domain::rate_limit::LocalLimiter::default()),
        };
        let ctx = Arc::new(Context {
            developers: store.clone(),
            applications: store.clone(),
            users: store.clone(),
            tokens: store.clone(),
            health: store.clone(),
            events: store.clone(),
            connections: store.clone(),
            sleep: match &cache {
                Some(pool) => Arc::new(store::redis_sleep::RedisSleepBuffer::new(
                    pool.clone(),
                    &config.jobs.redis_key_prefix,
                    std::time::Duration::from_secs(config.redis_sleep_ttl_seconds),
                )),
                None => store.clone(),
            },
            providers,
            cipher,
            limiter,
            clock,
            signer: crypto::JwtSigner::new(&config.secret_key),
            mailer,
            settings: Settings {
                access_token_ttl: Duration::minutes(config.access_token_expire_minutes),
                refresh_token_ttl: Duration::days(config.refresh_token_expire_days),
                sdk_token_ttl: Duration::seconds(config.sdk_token_lifetime_seconds),
                invitation_ttl: Duration::days(config.invitation_expire_days),
                invitation_code_ttl: Duration::days(config.user_invitation_code_expire_days),
                frontend_url: config.email.frontend_url.clone(),
                email_max_retries: config.email.max_retries,
                provider_priority: config.provider_priority.clone(),
                device_type_priority: config.device_type_priority.clone(),
                demo_provider: !config.environment.is_deployed(),
                api_rate_limit: (config.api_rate_limit_per_minute > 0)
                    .then_some(config.api_rate_limit_per_minute),
                sleep_end_gap: Duration::minutes(config.sleep_end_gap_minutes as i64),
                stream_idle_timeout: std::time::Duration::from_secs(
                    config.stream_idle_timeout_seconds,
                ),
            },
        });
        jobs.ctx = Some(ctx.clone());
        jobs.imports = Some(Arc::new(jobs::import::ImportRuntime::from_config(
            config,
            store.clone(),
            cache.as_ref(),
            jobs.queue.clone(),
        )?));
        if let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password)
            && let Some(admin) = Developers(&ctx).bootstrap_admin(email, password).await?
        {
            tracing::info!(developer = %admin.id, "first developer created from ADMIN_EMAIL");
        }
        Ok(AppState {
            ctx,
            health: store as Arc<dyn HealthCheck>,
            cache,
            cors_origins: Arc::new(config.cors_origins.clone()),
            environment: config.environment,
            jobs,
        })
    }
}

/// Serves the API on `listener` until `shutdown` resolves, then drains open requests. The
/// caller binds, so tests pass `127.0.0.1:0` and need no sleeps.
pub async fn run(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use axum::serve::ListenerExt;
    let router = api::router(&state).await?;
    // Open WatchSyncStatus streams would otherwise hold the graceful shutdown forever.
    let status = state.jobs.status.clone();
    let shutdown = async move {
        shutdown.await;
        status.close();
    };
    tracing::info!(address = %listener.local_addr()?, "owl is serving gRPC, grpc-web and HTTP");
    // Without TCP_NODELAY, a response's last frames wait ~40 ms for the peer's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// What follows a new connection: its first sync, which backfills the provider's window.
pub async fn after_connect(state: &AppState, connection: &domain::connections::StoredConnection) {
    enqueue_sync(state, connection, jobs::runs::SyncSource::Backfill).await;
}

/// Enqueues a sync of `connection`. A failure to enqueue is logged; the scheduler's next round
/// syncs the connection anyway.
pub async fn enqueue_sync(
    state: &AppState,
    connection: &domain::connections::StoredConnection,
    source: jobs::runs::SyncSource,
) {
    let target = jobs::runs::ConnectionRef {
        id: connection.id,
        user_id: connection.user_id,
        provider: connection.provider.clone(),
    };
    if let Err(error) = state.jobs.sync_jobs().enqueue(&target, source, None).await {
        tracing::warn!(connection = %connection.id, %error, "sync not enqueued");
    }
}
