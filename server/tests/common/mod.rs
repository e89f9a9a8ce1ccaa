//! The test harness: a database per test (SQLite in a temp dir, or PostgreSQL when
//! OWL_TEST_POSTGRES_URL is set), the server in-process on 127.0.0.1:0, and SDK clients.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use owl::{Client, pb};
use owl_server::config::Config;
use owl_server::domain::clock::ManualClock;
use owl_server::domain::mail::{Email, Mailer};
use owl_server::{AppState, Overrides};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tokio::sync::oneshot;

/// A password that passes validation.
pub const PASSWORD: &str = "correct horse battery staple";

/// A fresh, empty database for one test, dropped afterwards.
pub struct TestDb {
    pub url: String,
    _dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// PostgreSQL when OWL_TEST_POSTGRES_URL is set (a database is created per test), else SQLite.
    pub async fn new() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        match std::env::var("OWL_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            None => {
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("owl.db").display());
                TestDb {
                    url,
                    _dir: dir,
                    postgres: None,
                }
            }
            Some(admin_url) => {
                let name = format!("owl_test_{}", uuid::Uuid::now_v7().simple());
                let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!("OWL_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {e}")
                });
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap();
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(base, _)| base);
                let url = format!("{base}/{name}");
                TestDb {
                    url,
                    _dir: dir,
                    postgres: Some((admin_url, name)),
                }
            }
        }
    }

    /// The engine under test, for messages.
    pub fn engine(&self) -> &'static str {
        if self.postgres.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// A raw connection, to read what is really stored.
    pub async fn raw(&self) -> DatabaseConnection {
        Database::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            // Drop runs outside async context: use a short-lived runtime on its own thread.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Records emails instead of sending them.
#[derive(Default)]
pub struct CapturingMailer(Mutex<Vec<Email>>);

#[async_trait]
impl Mailer for CapturingMailer {
    async fn send(&self, email: &Email) -> anyhow::Result<()> {
        self.0.lock().unwrap().push(email.clone());
        Ok(())
    }
}

impl CapturingMailer {
    /// Waits (up to 5 s) for an email to `to` and returns it.
    pub async fn wait_for(&self, to: &str) -> Email {
        for _ in 0..100 {
            if let Some(email) = self.0.lock().unwrap().iter().rev().find(|e| e.to == to) {
                return email.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no email to {to}");
    }
}

/// Where test applications' connect flows end (in every test application's redirect_uris).
pub const APP_REDIRECT: &str = "https://app.example.com/connected";

/// A server running in-process on 127.0.0.1:0.
pub struct TestServer {
    pub url: String,
    pub db: TestDb,
    pub clock: Arc<ManualClock>,
    pub mailer: Arc<CapturingMailer>,
    /// The server's background work (its queue, status bus …); the harness runs no workers.
    pub jobs: owl_server::jobs::Jobs,
    /// A client without credentials.
    pub client: Client,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestServer {
    /// Starts with the default test configuration.
    pub async fn start() -> TestServer {
        Self::start_with(&[]).await
    }

    /// Starts with extra configuration variables (seed names); emails are captured.
    pub async fn start_with(vars: &[(&str, &str)]) -> TestServer {
        Self::start_inner(vars, true).await
    }

    /// Starts with the mailer the configuration selects (Resend, SMTP or the log).
    pub async fn start_with_configured_mailer(vars: &[(&str, &str)]) -> TestServer {
        Self::start_inner(vars, false).await
    }

    async fn start_inner(vars: &[(&str, &str)], capture_mail: bool) -> TestServer {
        let db = TestDb::new().await;
        let mut map: HashMap<String, String> = HashMap::from([
            ("ENVIRONMENT".into(), "test".into()),
            (
                "SECRET_KEY".into(),
                "test-secret-key-that-is-long-enough-0123".into(),
            ),
            ("OWL_DATA_DIR".into(), db._dir.path().display().to_string()),
            ("DATABASE_URL".into(), db.url.clone()),
            (
                "CORS_ORIGINS".into(),
                r#"["http://app.example.com"]"#.into(),
            ),
            // A retry honours a provider's Retry-After up to this, so that tests of 429s do not
            // wait out minutes; tests of that wait raise it.
            ("OWL_JOB_RETRY_MAX_MS".into(), "200".into()),
        ]);
        // Bound first, so that the server knows its public URL (OAuth callbacks, demo consent).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        map.insert("SERVER_HOST".into(), url.clone());
        for (key, value) in vars {
            map.insert((*key).into(), (*value).into());
        }
        let config = Config::load(&map).unwrap();
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap(),
        ));
        let mailer = Arc::new(CapturingMailer::default());
        let captured: Arc<dyn Mailer> = mailer.clone();
        let overrides = Overrides {
            clock: Some(clock.clone()),
            mailer: capture_mail.then_some(captured),
        };
        let state = AppState::from_config(&config, overrides).await.unwrap();
        let jobs = state.jobs.clone();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(owl_server::run(state, listener, async move {
            let _ = rx.await;
        }));
        let client = Client::connect(url.clone()).await.unwrap();
        TestServer {
            url,
            db,
            clock,
            mailer,
            jobs,
            client,
            shutdown: Some(tx),
        }
    }

    /// The test clock's current instant, UNIX seconds.
    pub fn clock_now(&self) -> i64 {
        owl_server::domain::Clock::now(self.clock.as_ref()).timestamp()
    }

    /// Onboards the first developer and returns a client with their session.
    pub async fn developer(&self) -> Client {
        let session = self
            .client
            .onboard(pb::OnboardRequest {
                email: "admin@example.com".into(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap();
        self.client.with_token(session.access_token)
    }

    /// Creates an application and an API key for it; returns the application and a client with the key.
    pub async fn application(
        &self,
        developer: &Client,
        display_name: &str,
    ) -> (pb::Application, Client) {
        let application = developer
            .create_application(pb::CreateApplicationRequest {
                application: Some(pb::Application {
                    display_name: display_name.into(),
                    redirect_uris: vec![APP_REDIRECT.into()],
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        let key = developer
            .create_api_key(pb::CreateApiKeyRequest {
                parent: application.name.clone(),
                api_key: Some(pb::ApiKey {
                    display_name: "backend".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        (application, self.client.with_api_key(key.key))
    }

    /// Creates a user through `client` (an API key client).
    pub async fn user(&self, client: &Client, external_user_id: &str) -> pb::User {
        client
            .create_user(pb::CreateUserRequest {
                parent: String::new(),
                user: Some(pb::User {
                    external_user_id: external_user_id.into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts that `result` failed with `code` and `reason`.
#[track_caller]
pub fn assert_error<T: std::fmt::Debug>(
    result: Result<T, owl::Error>,
    code: owl::Code,
    reason: &str,
) -> owl::Error {
    let error = result.expect_err("expected an error");
    assert_eq!(error.code(), code, "unexpected code: {error}");
    assert_eq!(
        error.reason().as_deref(),
        Some(reason),
        "unexpected reason: {error}"
    );
    error
}

/// The fields named in an INVALID_ARGUMENT error.
pub fn violated_fields(error: &owl::Error) -> Vec<String> {
    error
        .field_violations()
        .into_iter()
        .map(|(field, _)| field)
        .collect()
}

/// The value of the series `name` whose labels include every one of `labels`; 0 when absent
/// (a counter that never moved is not exported).
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|line| {
            labels
                .iter()
                .all(|(key, value)| line.contains(&format!("{key}=\"{value}\"")))
        })
        .and_then(|line| line.rsplit(' ').next())
        .map(|value| value.parse().unwrap())
        .unwrap_or(0.0)
}

/// The Redis of the Redis variants (OWL_TEST_REDIS_URL), when set.
pub fn redis_url() -> Option<String> {
    std::env::var("OWL_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Removes every key under `prefix` from the Redis at `url` (a test's own namespace); a Redis
/// that cannot be reached leaves nothing to remove.
pub async fn remove_redis_keys(url: &str, prefix: &str) {
    let Ok(pool) =
        deadpool_redis::Config::from_url(url).create_pool(Some(deadpool_redis::Runtime::Tokio1))
    else {
        return;
    };
    let Ok(mut conn) = pool.get().await else {
        return;
    };
    let keys: Vec<String> = deadpool_redis::redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<i64, _> = deadpool_redis::redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await;
    }
}
