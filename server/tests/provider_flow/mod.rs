//! The connect-and-sync flow of a real provider against a fake one: a `wiremock` server plays the
//! provider's OAuth server and data API (serving fixtures from `tests/fixtures/<provider>/`),
//! owl runs in-process pointed at it, and a no-redirect HTTP client plays the browser.
#![allow(dead_code, clippy::unwrap_used)]

use owl::{Client, pb};
use sea_orm::{ConnectionTrait, Statement};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{APP_REDIRECT, TestServer};

/// The client secret the fake provider's app has; webhooks are signed with it.
pub const CLIENT_SECRET: &str = "fake-client-secret";
/// The code the fake consent page hands back.
pub const CODE: &str = "the-consent-code";

/// A fixture as JSON.
pub fn fixture(provider: &str, name: &str) -> serde_json::Value {
    let file = format!(
        "{}/tests/fixtures/{provider}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
}

/// A fixture's raw bytes.
pub fn fixture_bytes(provider: &str, name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{provider}/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// An HTTP client that shows redirects instead of following them, as a test of a browser.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A token endpoint answer.
pub fn tokens(access: &str, refresh: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": 86_400,
        "token_type": "bearer",
    }))
}

/// owl, the fake provider, a developer, an application and a user.
pub struct Flow {
    pub provider: &'static str,
    pub fake: MockServer,
    pub server: TestServer,
    pub backend: Client,
    pub user: pb::User,
    /// Path of the token endpoint at the fake.
    pub token_path: &'static str,
}

impl Flow {
    /// Starts the fake and owl with `{PROVIDER}_*` pointing at it; failing jobs retry once,
    /// quickly.
    pub async fn start(
        provider: &'static str,
        token_path: &'static str,
        extra: &[(&str, &str)],
    ) -> Flow {
        let fake = MockServer::start().await;
        let prefix = provider.to_uppercase();
        let uri = fake.uri();
        let names = [
            format!("{prefix}_CLIENT_ID"),
            format!("{prefix}_CLIENT_SECRET"),
            format!("{prefix}_AUTH_BASE_URL"),
            format!("{prefix}_API_BASE_URL"),
        ];
        let client_id = format!("{provider}-client-id");
        let mut vars: Vec<(&str, &str)> = vec![
            (&names[0], &client_id),
            (&names[1], CLIENT_SECRET),
            (&names[2], &uri),
            (&names[3], &uri),
            ("OWL_JOB_MAX_ATTEMPTS", "2"),
            ("OWL_JOB_RETRY_BASE_MS", "10"),
        ];
        vars.extend_from_slice(extra);
        let server = TestServer::start_with(&vars).await;
        let developer = server.developer().await;
        let (_, backend) = server.application(&developer, "App").await;
        // The wearer lives in Berlin: owl fills offsets the provider leaves out from this zone.
        let user = backend
            .create_user(pb::CreateUserRequest {
                parent: String::new(),
                user: Some(pb::User {
                    external_user_id: "u".into(),
                    time_zone: "Europe/Berlin".into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
        Flow {
            provider,
            fake,
            server,
            backend,
            user,
            token_path,
        }
    }

    /// Mounts the code exchange, answering `access-1` / `refresh-1`.
    pub async fn mount_exchange(&self) {
        Mock::given(method("POST"))
            .and(path(self.token_path))
            .and(body_string_contains("grant_type=authorization_code"))
            .and(body_string_contains(format!("code={CODE}")))
            .and(body_string_contains(format!(
                "client_id={}-client-id",
                self.provider
            )))
            .and(body_string_contains(format!(
                "client_secret={CLIENT_SECRET}"
            )))
            .respond_with(tokens("access-1", "refresh-1"))
            .mount(&self.fake)
            .await;
    }

    /// StartConnection: the consent URL at the fake, parsed.
    pub async fn consent_url(&self) -> url::Url {
        let started = self
            .backend
            .start_connection(pb::StartConnectionRequest {
                parent: self.user.name.clone(),
                provider: self.provider.into(),
                redirect_uri: APP_REDIRECT.into(),
            })
            .await
            .unwrap();
        let url = url::Url::parse(&started.authorization_url).unwrap();
        assert!(
            started.authorization_url.starts_with(&self.fake.uri()),
            "{url}"
        );
        url
    }

    /// The browser comes back to owl's callback with `code` and `state`; returns the status and
    /// where owl sends it.
    pub async fn callback(&self, code: &str, state: &str) -> (u16, url::Url) {
        let link = format!(
            "{}/api/v1/oauth/{}/callback?code={code}&state={state}",
            self.server.url, self.provider
        );
        let response = browser().get(&link).send().await.unwrap();
        let location = response.headers().get("location").unwrap();
        let location = url::Url::parse(location.to_str().unwrap()).unwrap();
        (response.status().as_u16(), location)
    }

    /// The whole consent flow; returns the connection's name.
    pub async fn connect(&self) -> String {
        let consent = self.consent_url().await;
        let state = query(&consent, "state").unwrap();
        let (status, location) = self.callback(CODE, &state).await;
        assert_eq!(status, 303);
        assert!(location.as_str().starts_with(APP_REDIRECT), "{location}");
        assert_eq!(
            query(&location, "status").as_deref(),
            Some("success"),
            "{location}"
        );
        query(&location, "connection").unwrap()
    }

    /// The connection as the API shows it.
    pub async fn connection(&self, name: &str) -> pb::Connection {
        self.backend
            .get_connection(pb::GetConnectionRequest { name: name.into() })
            .await
            .unwrap()
    }

    /// Stops `worker` once the queue holds nothing (its last job acknowledged, so that a new
    /// sync is not folded into one that already ran).
    pub async fn stop(&self, worker: tokio::task::JoinHandle<()>) {
        for _ in 0..400 {
            if self.server.jobs.queue.stats().await.unwrap().pending == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        worker.abort();
    }

    /// Runs a worker until dropped.
    pub fn worker(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.server.jobs.worker().run(std::future::pending()))
    }

    /// The user's runs, newest first.
    pub async fn runs(&self) -> Vec<pb::SyncRun> {
        self.backend
            .list_sync_runs(pb::ListSyncRunsRequest {
                parent: self.user.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .sync_runs
    }

    /// Waits until the run `name` (or, with `None`, the newest run) has finished; returns it.
    pub async fn finished(&self, name: Option<&str>) -> pb::SyncRun {
        for _ in 0..400 {
            let runs = self.runs().await;
            let run = match name {
                Some(name) => runs.iter().find(|r| r.name == name),
                None => runs.first(),
            };
            if let Some(run) = run
                && [
                    pb::SyncState::Succeeded as i32,
                    pb::SyncState::Failed as i32,
                ]
                .contains(&run.state)
            {
                return run.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("no sync run finished: {:?}", self.runs().await);
    }

    /// SyncConnection, then waits for that run to finish.
    pub async fn sync(&self, connection: &str) -> pb::SyncRun {
        let run = self
            .backend
            .sync_connection(pb::SyncConnectionRequest {
                name: connection.into(),
                backfill_range: None,
            })
            .await
            .unwrap();
        self.finished(Some(&run.name)).await
    }

    pub async fn workouts(&self) -> Vec<pb::Workout> {
        self.backend
            .list_workouts(pb::ListWorkoutsRequest {
                parent: self.user.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .workouts
    }

    pub async fn sleep_sessions(&self) -> Vec<pb::SleepSession> {
        self.backend
            .list_sleep_sessions(pb::ListSleepSessionsRequest {
                parent: self.user.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .sleep_sessions
    }

    /// The samples of one series type, if any.
    pub async fn series(&self, series_type: &str) -> Option<pb::SampleSeries> {
        let mut series = self
            .backend
            .list_samples(pb::ListSamplesRequest {
                parent: self.user.name.clone(),
                series_types: vec![series_type.into()],
                page_size: 10_000,
                ..Default::default()
            })
            .await
            .unwrap()
            .series;
        assert!(series.len() <= 1, "{series:?}");
        series.pop()
    }

    pub async fn data_sources(&self) -> Vec<pb::DataSource> {
        self.backend
            .list_data_sources(pb::ListDataSourcesRequest {
                parent: self.user.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .data_sources
    }

    /// The stored token columns, raw.
    pub async fn stored_tokens(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let db = self.server.db.raw().await;
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT access_token, refresh_token FROM user_connection",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|r| {
                (
                    r.try_get_by_index(0).unwrap(),
                    r.try_get_by_index(1).unwrap(),
                )
            })
            .collect()
    }

    /// POSTs a webhook delivery to owl; returns the status.
    pub async fn deliver(&self, headers: &[(&str, String)], body: Vec<u8>) -> u16 {
        let mut request = browser().post(format!(
            "{}/api/v1/providers/{}/webhooks",
            self.server.url, self.provider
        ));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.body(body).send().await.unwrap().status().as_u16()
    }

    /// Requests the fake received at `path`.
    pub async fn received(&self, at: &str) -> Vec<wiremock::Request> {
        self.fake
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == at)
            .collect()
    }
}

/// A query parameter of `url`.
pub fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Asserts that no stored token column holds any of `plaintexts`.
pub fn assert_ciphertexts(stored: &[(Vec<u8>, Vec<u8>)], plaintexts: &[&str]) {
    assert!(!stored.is_empty());
    for (access, refresh) in stored {
        for bytes in [access, refresh] {
            assert!(bytes.len() > 12 + 16, "nonce, ciphertext and tag");
            for plain in plaintexts {
                assert!(
                    !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
                    "{plain} stored in plaintext"
                );
            }
        }
    }
}
