//! ConnectionService and ProviderService through the SDK, with the built-in demo provider: the
//! whole browser flow (consent page, callback, redirect to the app), tokens encrypted at rest,
//! single-use and expiring states, refusals, tenancy and provider settings.
#![allow(clippy::unwrap_used)]

mod common;

use common::{APP_REDIRECT, TestServer, assert_error, violated_fields};
use owl::{Client, Code, pb};
use sea_orm::{ConnectionTrait, Statement};

/// An HTTP client that shows redirects instead of following them, as a test of a browser.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Flow {
    server: TestServer,
    developer: Client,
    backend: Client,
    user: pb::User,
}

async fn flow() -> Flow {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    Flow {
        server,
        developer,
        backend,
        user,
    }
}

impl Flow {
    async fn start(&self) -> Result<pb::StartConnectionResponse, owl::Error> {
        self.backend
            .start_connection(pb::StartConnectionRequest {
                parent: self.user.name.clone(),
                provider: "demo".into(),
                redirect_uri: APP_REDIRECT.into(),
            })
            .await
    }

    /// Opens the consent page and returns the link of `button` (`allow` or `deny`).
    async fn consent(&self, authorization_url: &str, button: &str) -> String {
        assert!(
            authorization_url.starts_with(&format!("{}/api/v1/demo/authorize?", self.server.url)),
            "{authorization_url}"
        );
        let page = browser().get(authorization_url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let marker = format!("id=\"{button}\" href=\"");
        let start = html.find(&marker).unwrap() + marker.len();
        let end = start + html[start..].find('"').unwrap();
        html[start..end].replace("&amp;", "&")
    }

    /// Follows `link` to owl's callback; returns the status and where it redirects.
    async fn callback(&self, link: &str) -> (u16, Option<url::Url>) {
        let response = browser().get(link).send().await.unwrap();
        let location = response
            .headers()
            .get("location")
            .map(|l| url::Url::parse(l.to_str().unwrap()).unwrap());
        (response.status().as_u16(), location)
    }
}

fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn connecting_the_demo_provider_ends_at_the_app_with_an_active_connection() {
    let f = flow().await;
    let started = f.start().await.unwrap();
    assert!(
        started.authorization_url.contains("code_challenge="),
        "PKCE"
    );
    let allow = f.consent(&started.authorization_url, "allow").await;
    let (status, location) = f.callback(&allow).await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(location.as_str().starts_with(APP_REDIRECT), "{location}");
    assert_eq!(query(&location, "status").as_deref(), Some("success"));
    let name = query(&location, "connection").unwrap();
    assert!(name.starts_with(&format!("{}/connections/", f.user.name)));

    let connection = f
        .backend
        .get_connection(pb::GetConnectionRequest { name: name.clone() })
        .await
        .unwrap();
    assert_eq!(connection.provider, "demo");
    assert_eq!(connection.state, pb::ConnectionState::Active as i32);
    assert!(connection.provider_user_id.starts_with("demo-"));
    assert_eq!(connection.scope, "demo.read");
    let listed = f
        .backend
        .list_connections(pb::ListConnectionsRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.connections, vec![connection.clone()]);

    // The same link again: the state was used.
    let (status, location) = f.callback(&allow).await;
    assert_eq!((status, location), (400, None));

    // Connecting again replaces the tokens of the same connection.
    let again = f.start().await.unwrap();
    let (_, location) = f
        .callback(&f.consent(&again.authorization_url, "allow").await)
        .await;
    assert_eq!(query(&location.unwrap(), "connection"), Some(name));
}

#[tokio::test]
async fn provider_tokens_are_stored_only_as_ciphertexts() {
    let f = flow().await;
    let started = f.start().await.unwrap();
    let allow = f.consent(&started.authorization_url, "allow").await;
    f.callback(&allow).await;
    let db = f.server.db.raw().await;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT access_token, refresh_token, provider_user_id FROM user_connection",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let access: Vec<u8> = rows[0].try_get_by_index(0).unwrap();
    let refresh: Vec<u8> = rows[0].try_get_by_index(1).unwrap();
    let account: String = rows[0].try_get_by_index(2).unwrap();
    // Demo tokens read `access.{account}.{expiry}.{mac}` in plaintext.
    for (name, bytes) in [("access", &access), ("refresh", &refresh)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(&account), "{name} token stored in plaintext");
        assert!(!text.contains(name), "{name} token stored in plaintext");
        assert!(bytes.len() > 12 + 16, "nonce, ciphertext and tag");
    }
    let states = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT state_digest FROM oauth_state",
        ))
        .await
        .unwrap();
    assert!(states.is_empty(), "a used state is deleted");
}

#[tokio::test]
async fn refused_consent_and_expired_states_end_at_the_app_with_an_error() {
    let f = flow().await;
    let started = f.start().await.unwrap();
    let deny = f.consent(&started.authorization_url, "deny").await;
    let (_, location) = f.callback(&deny).await;
    let location = location.unwrap();
    assert_eq!(query(&location, "status").as_deref(), Some("error"));
    assert_eq!(query(&location, "error").as_deref(), Some("access_denied"));

    let late = f.start().await.unwrap();
    let allow = f.consent(&late.authorization_url, "allow").await;
    f.server.clock.advance(chrono::Duration::minutes(11));
    let (_, location) = f.callback(&allow).await;
    assert_eq!(
        query(&location.unwrap(), "error").as_deref(),
        Some("state_expired")
    );

    let none = f
        .backend
        .list_connections(pb::ListConnectionsRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.connections.is_empty());
}

#[tokio::test]
async fn forged_or_missing_states_and_codes_are_refused() {
    let f = flow().await;
    let callback = format!("{}/api/v1/oauth/demo/callback", f.server.url);
    for link in [
        format!("{callback}?code=abc"),
        format!("{callback}?code=abc&state=forged"),
    ] {
        let (status, location) = f.callback(&link).await;
        assert_eq!((status, location), (400, None), "{link}");
    }
    // A real state with a forged code ends at the app with an error.
    let started = f.start().await.unwrap();
    let allow = f.consent(&started.authorization_url, "allow").await;
    let url = url::Url::parse(&allow).unwrap();
    let state = query(&url, "state").unwrap();
    let (_, location) = f
        .callback(&format!(
            "{callback}?code=access.demo-x.9999999999.00&state={state}"
        ))
        .await;
    assert_eq!(
        query(&location.unwrap(), "error").as_deref(),
        Some("exchange_failed")
    );
    // The state belongs to the demo provider: another provider's callback does not take it.
    let again = f.start().await.unwrap();
    let allow = f.consent(&again.authorization_url, "allow").await;
    let other = allow.replace("/oauth/demo/", "/oauth/polar/");
    assert_eq!(f.callback(&other).await.0, 400);
}

#[tokio::test]
async fn start_connection_checks_the_redirect_uri_provider_and_user() {
    let f = flow().await;
    let error = f
        .backend
        .start_connection(pb::StartConnectionRequest {
            parent: f.user.name.clone(),
            provider: "nope".into(),
            redirect_uri: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&error), ["provider", "redirect_uri"]);
    let elsewhere = f
        .backend
        .start_connection(pb::StartConnectionRequest {
            parent: f.user.name.clone(),
            provider: "demo".into(),
            redirect_uri: "https://evil.example.com/steal".into(),
        })
        .await;
    assert_error(elsewhere, Code::InvalidArgument, "INVALID_ARGUMENT");
    // Polar has no client credentials here.
    let unconfigured = f
        .backend
        .start_connection(pb::StartConnectionRequest {
            parent: f.user.name.clone(),
            provider: "polar".into(),
            redirect_uri: APP_REDIRECT.into(),
        })
        .await;
    if f.backend
        .list_providers(pb::ListProvidersRequest {})
        .await
        .unwrap()
        .providers
        .iter()
        .any(|p| p.name == "providers/polar")
    {
        assert_error(
            unconfigured,
            Code::FailedPrecondition,
            "PROVIDER_NOT_CONFIGURED",
        );
    }
    // Another application's key does not see the user.
    let (_, other) = f.server.application(&f.developer, "Other").await;
    let foreign = other
        .start_connection(pb::StartConnectionRequest {
            parent: f.user.name.clone(),
            provider: "demo".into(),
            redirect_uri: APP_REDIRECT.into(),
        })
        .await;
    assert_error(foreign, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn connections_are_private_to_their_application_and_deleted_with_their_data() {
    let f = flow().await;
    let started = f.start().await.unwrap();
    let (_, location) = f
        .callback(&f.consent(&started.authorization_url, "allow").await)
        .await;
    let name = query(&location.unwrap(), "connection").unwrap();
    let (_, other) = f.server.application(&f.developer, "Other").await;
    let foreign = other
        .get_connection(pb::GetConnectionRequest { name: name.clone() })
        .await;
    assert_error(foreign, Code::NotFound, "NOT_FOUND");
    let foreign = other
        .delete_connection(pb::DeleteConnectionRequest {
            name: name.clone(),
            delete_data: true,
        })
        .await;
    assert_error(foreign, Code::NotFound, "NOT_FOUND");
    f.backend
        .delete_connection(pb::DeleteConnectionRequest {
            name: name.clone(),
            delete_data: true,
        })
        .await
        .unwrap();
    let gone = f
        .backend
        .get_connection(pb::GetConnectionRequest { name })
        .await;
    assert_error(gone, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn developers_enable_and_disable_providers() {
    let f = flow().await;
    let listed = f
        .backend
        .list_providers(pb::ListProvidersRequest {})
        .await
        .unwrap();
    let demo = listed
        .providers
        .iter()
        .find(|p| p.name == "providers/demo")
        .unwrap();
    assert!(demo.enabled && demo.configured);
    assert!(demo.capabilities.as_ref().unwrap().pull);
    let disable = pb::UpdateProviderRequest {
        provider: Some(pb::Provider {
            name: "providers/demo".into(),
            enabled: false,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["enabled".into()],
        }),
    };
    let by_key = f.backend.update_provider(disable.clone()).await;
    assert_error(by_key, Code::PermissionDenied, "PERMISSION_DENIED");
    let updated = f.developer.update_provider(disable).await.unwrap();
    assert!(!updated.enabled);
    assert_error(
        f.start().await,
        Code::FailedPrecondition,
        "PROVIDER_DISABLED",
    );
    let bad = f
        .developer
        .update_provider(pb::UpdateProviderRequest {
            provider: Some(pb::Provider {
                name: "providers/demo".into(),
                sync_mode: pb::SyncMode::Webhook as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["sync_mode".into(), "display_name".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), ["update_mask"]);
}

/// Waits until the user's newest sync run ends; returns it.
async fn finished_run(client: &Client, user: &pb::User) -> pb::SyncRun {
    for _ in 0..200 {
        let runs = client
            .list_sync_runs(pb::ListSyncRunsRequest {
                parent: user.name.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        if let Some(run) = runs.sync_runs.first()
            && [
                pb::SyncState::Succeeded as i32,
                pb::SyncState::Failed as i32,
            ]
            .contains(&run.state)
        {
            return run.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no sync run finished");
}

#[tokio::test]
async fn a_new_connection_syncs_a_week_of_demo_data_into_the_health_model() {
    let f = flow().await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let started = f.start().await.unwrap();
    let (_, location) = f
        .callback(&f.consent(&started.authorization_url, "allow").await)
        .await;
    let name = query(&location.unwrap(), "connection").unwrap();
    let run = finished_run(&f.backend, &f.user).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    assert_eq!(run.source, pb::SyncSource::Backfill as i32);
    assert!(run.items_processed > 7 * 1440, "{run:?}");

    // A week of heart rate every minute, from the demo watch, in bpm at UTC+1.
    let heart = f
        .backend
        .list_samples(pb::ListSamplesRequest {
            parent: f.user.name.clone(),
            series_types: vec!["heart_rate".into()],
            page_size: 20_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let series = &heart.series[0];
    assert_eq!(series.times.len(), 7 * 1440);
    assert_eq!(series.unit, "bpm");
    assert!(series.zone_offsets.iter().all(|&o| o == 3600));
    assert!(series.values.iter().all(|v| (40.0..200.0).contains(v)));
    let sources = f
        .backend
        .list_data_sources(pb::ListDataSourcesRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(sources.data_sources.len(), 1);
    assert_eq!(sources.data_sources[0].provider, "demo");
    assert_eq!(
        sources.data_sources[0].device_type,
        pb::DeviceType::Watch as i32
    );
    let workouts = f
        .backend
        .list_workouts(pb::ListWorkoutsRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        (6..=7).contains(&workouts.workouts.len()),
        "{}",
        workouts.workouts.len()
    );
    assert!(
        workouts
            .workouts
            .iter()
            .all(|w| w.workout_type == "running")
    );
    let nights = f
        .backend
        .list_sleep_sessions(pb::ListSleepSessionsRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!((6..=7).contains(&nights.sleep_sessions.len()));
    assert!(!nights.sleep_sessions[0].stages.is_empty());
    let connection = f
        .backend
        .get_connection(pb::GetConnectionRequest { name: name.clone() })
        .await
        .unwrap();
    assert!(connection.last_sync_time.is_some());

    // Syncing again right away fetches from the cursor: nothing new.
    f.backend
        .sync_connection(pb::SyncConnectionRequest {
            name: name.clone(),
            backfill_range: None,
        })
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let again = finished_run(&f.backend, &f.user).await;
    assert_eq!(again.state, pb::SyncState::Succeeded as i32);
    assert_eq!(again.items_processed, 0);

    // Deleting the connection with its data leaves the user with nothing from the demo.
    f.backend
        .delete_connection(pb::DeleteConnectionRequest {
            name,
            delete_data: true,
        })
        .await
        .unwrap();
    let sources = f
        .backend
        .list_data_sources(pb::ListDataSourcesRequest {
            parent: f.user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(sources.data_sources.is_empty());
    worker.abort();
}

fn key(byte: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

/// Runs `owl encryption rotate` on the test server's database with these keys.
fn rotate(server: &TestServer, current: &str, previous: Option<&str>) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_owl"));
    command
        .current_dir(dir.path())
        .env_clear()
        .env("ENVIRONMENT", "test")
        .env("SECRET_KEY", "test-secret-key-that-is-long-enough-0123")
        .env("DATABASE_URL", &server.db.url)
        .env("OWL_ENCRYPTION_KEY", current)
        .args(["encryption", "rotate"]);
    if let Some(previous) = previous {
        command.env("OWL_ENCRYPTION_KEY_PREVIOUS", previous);
    }
    command.output().unwrap()
}

async fn stored_access_token(server: &TestServer) -> Vec<u8> {
    let db = server.db.raw().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT access_token FROM user_connection",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

#[tokio::test]
async fn encryption_rotate_re_encrypts_tokens_under_the_new_key() {
    let (old, new) = (key(1), key(2));
    let server = TestServer::start_with(&[("OWL_ENCRYPTION_KEY", old.as_str())]).await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    let f = Flow {
        server,
        developer,
        backend,
        user,
    };
    let started = f.start().await.unwrap();
    f.callback(&f.consent(&started.authorization_url, "allow").await)
        .await;
    let before = stored_access_token(&f.server).await;

    let out = rotate(&f.server, &new, Some(&old));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("re-encrypted 1 connections; 0 already"),
        "{stdout}"
    );
    let after = stored_access_token(&f.server).await;
    assert_ne!(before, after);
    let cipher = |k: &str| {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(k).unwrap();
        owl_server::crypto::Cipher::new(secrecy::SecretSlice::from(bytes)).unwrap()
    };
    assert_eq!(
        cipher(&new).decrypt(&after).unwrap(),
        cipher(&old).decrypt(&before).unwrap(),
        "the same token, under the new key"
    );
    assert!(cipher(&old).decrypt(&after).is_err());

    // Again: nothing left to do. Without the new key: unreadable, and a failure.
    let again = rotate(&f.server, &new, None);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("re-encrypted 0 connections; 1 already")
    );
    let wrong = rotate(&f.server, &old, None);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stdout).contains("1 unreadable"));
    assert_eq!(
        stored_access_token(&f.server).await,
        after,
        "nothing written"
    );
}

/// The value of `name{…labels…}` in a scrape of `/metrics`; 0 when absent.
async fn metric(server: &TestServer, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    common::metric_value(&text, name, labels)
}

#[tokio::test]
async fn a_sync_moves_the_sync_and_job_counters_of_metrics() {
    let f = flow().await;
    let succeeded = [("provider", "demo"), ("outcome", "succeeded")];
    let jobs_ok = [("kind", "sync"), ("outcome", "ok")];
    let syncs_before = metric(&f.server, "owl_sync_runs_total", &succeeded).await;
    let jobs_before = metric(&f.server, "owl_jobs_total", &jobs_ok).await;
    let worker = tokio::spawn(f.server.jobs.worker().run(std::future::pending()));
    let started = f.start().await.unwrap();
    f.callback(&f.consent(&started.authorization_url, "allow").await)
        .await;
    let run = finished_run(&f.backend, &f.user).await;
    assert_eq!(run.state, pb::SyncState::Succeeded as i32, "{run:?}");
    // The job is counted once its handler returns, just after the run is recorded.
    let mut jobs_after = jobs_before;
    for _ in 0..100 {
        jobs_after = metric(&f.server, "owl_jobs_total", &jobs_ok).await;
        if jobs_after > jobs_before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    worker.abort();
    assert!(metric(&f.server, "owl_sync_runs_total", &succeeded).await >= syncs_before + 1.0);
    assert!(jobs_after >= jobs_before + 1.0);
    let duration = [("kind", "sync")];
    assert!(metric(&f.server, "owl_job_duration_seconds_count", &duration).await >= 1.0);
}
