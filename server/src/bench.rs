//! What the benchmark binaries (`src/bin/owl-*-bench.rs`) share: a scratch database (a SQLite
//! file in a temp dir, or a PostgreSQL database created for the run and dropped after it), the
//! server in-process on 127.0.0.1:0 with a developer, an application and a backend client
//! holding its API key, and the process's memory figures from `/proc/self/status`.

use std::collections::HashMap;

use owl::{Client, pb};
use sea_orm::{ConnectionTrait, Database};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::{AppState, Overrides};

/// A database that lives as long as one benchmark run.
pub struct ScratchDb {
    /// Its URL.
    pub url: String,
    /// "SQLite" or "PostgreSQL", for the printed figures.
    pub engine: &'static str,
    /// Holds the SQLite file and the server's data directory.
    pub dir: tempfile::TempDir,
    /// The admin URL and the database's name, to drop it (PostgreSQL).
    created: Option<(String, String)>,
}

impl ScratchDb {
    /// A SQLite file, or with `postgres` (an admin URL) a new PostgreSQL database named after
    /// `prefix`.
    pub async fn create(postgres: Option<&str>, prefix: &str) -> anyhow::Result<ScratchDb> {
        let dir = tempfile::tempdir()?;
        let Some(admin) = postgres else {
            return Ok(ScratchDb {
                url: format!("sqlite://{}?mode=rwc", dir.path().join("owl.db").display()),
                engine: "SQLite",
                dir,
                created: None,
            });
        };
        let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
        Database::connect(admin)
            .await?
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
        Ok(ScratchDb {
            url: format!("{base}/{name}"),
            engine: "PostgreSQL",
            dir,
            created: Some((admin.to_owned(), name)),
        })
    }

    /// Drops the PostgreSQL database (the temp dir goes with `self`).
    pub async fn drop_database(self) -> anyhow::Result<()> {
        if let Some((admin, name)) = &self.created {
            Database::connect(admin)
                .await?
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
        }
        Ok(())
    }
}

/// owl serving in this process, and clients of it.
pub struct BenchServer {
    /// Without credentials.
    pub client: Client,
    /// With the API key of the benchmark's application.
    pub backend: Client,
    stop: oneshot::Sender<()>,
    server: JoinHandle<anyhow::Result<()>>,
}

impl BenchServer {
    /// Starts owl on `db` with `vars` added to its configuration, with an in-process worker
    /// when `worker`; onboards a developer and makes an application and its API key.
    pub async fn start(
        db: &ScratchDb,
        vars: &[(&str, &str)],
        worker: bool,
    ) -> anyhow::Result<BenchServer> {
        let mut config: HashMap<String, String> = HashMap::from([
            ("ENVIRONMENT".into(), "test".into()),
            (
                "SECRET_KEY".into(),
                "benchmark-secret-key-that-is-long-enough".into(),
            ),
            ("OWL_DATA_DIR".into(), db.dir.path().display().to_string()),
            ("DATABASE_URL".into(), db.url.clone()),
        ]);
        config.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let config = Config::load(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
        let state = AppState::from_config(&config, Overrides::default()).await?;
        if worker {
            tokio::spawn(state.jobs.worker().run(std::future::pending()));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(crate::run(state, listener, async move {
            let _ = stopped.await;
        }));
        let client = Client::connect(url).await?;
        let session = client
            .onboard(pb::OnboardRequest {
                email: "bench@example.com".into(),
                password: "benchmark password".into(),
            })
            .await?;
        let developer = client.with_token(session.access_token);
        let app = developer
            .create_application(pb::CreateApplicationRequest {
                application: Some(pb::Application {
                    display_name: "bench".into(),
                    ..Default::default()
                }),
            })
            .await?;
        let key = developer
            .create_api_key(pb::CreateApiKeyRequest {
                parent: app.name,
                api_key: None,
            })
            .await?;
        let backend = client.with_api_key(key.key);
        Ok(BenchServer {
            client,
            backend,
            stop,
            server,
        })
    }

    /// A new user of the benchmark's application.
    pub async fn user(&self, external_id: &str) -> anyhow::Result<pb::User> {
        Ok(self
            .backend
            .create_user(pb::CreateUserRequest {
                parent: String::new(),
                user: Some(pb::User {
                    external_user_id: external_id.to_owned(),
                    ..Default::default()
                }),
            })
            .await?)
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

/// A `/proc/self/status` memory field (`VmRSS:` now, `VmHWM:` the peak) in MiB; NaN where
/// there is no /proc.
pub fn memory_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
