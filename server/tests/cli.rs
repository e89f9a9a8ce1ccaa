//! The `owl` binary: the embedded default, `config check`, production refusals, SIGTERM.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

fn owl(dir: &std::path::Path, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_owl"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (key, value) in vars {
        command.env(key, value);
    }
    command
}

#[test]
fn config_check_prints_the_effective_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "SECRET_KEY=from-the-dot-env-file-0123456789abcdef\nPOLAR_CLIENT_ID=polar-id\nPOLAR_CLIENT_SECRET=polar-secret\n").unwrap();
    let output = owl(dir.path(), &[])
        .args(["config", "check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("DATABASE_URL = sqlite://owl_data/owl.db"),
        "{stdout}"
    );
    assert!(stdout.contains("POLAR_CLIENT_ID = polar-id"));
    assert!(
        !stdout.contains("from-the-dot-env-file") && !stdout.contains("polar-secret"),
        "{stdout}"
    );
}

#[test]
fn config_check_names_every_invalid_variable_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(
        dir.path().join("config/.env"),
        "ACCESS_TOKEN_EXPIRE_MINUTES=never\n",
    )
    .unwrap();
    let output = owl(
        dir.path(),
        &[("ENVIRONMENT", "production"), ("CORS_ORIGINS", "[\"*\"]")],
    )
    .args(["config", "check"])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for variable in [
        "SECRET_KEY",
        "OWL_ENCRYPTION_KEY",
        "CORS_ORIGINS",
        "ACCESS_TOKEN_EXPIRE_MINUTES",
    ] {
        assert!(
            stderr.contains(variable),
            "{variable} not named in {stderr}"
        );
    }
}

#[test]
fn production_refuses_to_serve_with_weak_settings_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let output = owl(
        dir.path(),
        &[
            ("ENVIRONMENT", "production"),
            ("SECRET_KEY", "too-short"),
            ("ADMIN_EMAIL", "admin@example.com"),
            ("ADMIN_PASSWORD", "admin"),
        ],
    )
    .args(["serve", "--listen", "127.0.0.1:0"])
    .output()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for variable in ["SECRET_KEY", "OWL_ENCRYPTION_KEY", "ADMIN_PASSWORD"] {
        assert!(
            stderr.contains(variable),
            "{variable} not named in {stderr}"
        );
    }
    assert!(
        !dir.path().join("owl_data/owl.db").exists(),
        "nothing started"
    );
}

#[test]
fn serve_with_no_configuration_creates_the_sqlite_database_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = owl(dir.path(), &[])
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let healthy = runtime.block_on(async {
        for _ in 0..100 {
            if let Ok(response) =
                reqwest::get(format!("http://127.0.0.1:{port}/api/v1/health")).await
            {
                return response.status() == 200;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    assert!(healthy, "server did not become healthy");
    assert!(dir.path().join("owl_data/owl.db").exists());
    assert!(dir.path().join("owl_data/secret.key").exists());
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

#[test]
fn migrate_applies_and_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        owl(dir.path(), &[])
            .arg("migrate")
            .status()
            .unwrap()
            .success()
    );
    assert!(dir.path().join("owl_data/owl.db").exists());
    assert!(
        owl(dir.path(), &[])
            .args(["migrate", "--rollback", "4"])
            .status()
            .unwrap()
            .success()
    );
    assert!(
        owl(dir.path(), &[])
            .arg("migrate")
            .status()
            .unwrap()
            .success()
    );
}

/// Runs `owl serve` on a port that is taken, so that it stops with an error, and returns what
/// the fake Sentry received.
async fn failing_serve_reports(vars: &[(&str, &str)]) -> Vec<wiremock::Request> {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let sentry = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/1/envelope/"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&sentry)
        .await;
    let dsn = format!("http://public@{}/1", sentry.address());
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let mut all: Vec<(&str, &str)> = vec![("SENTRY_DSN", &dsn)];
    all.extend_from_slice(vars);
    let mut command = owl(dir.path(), &all);
    command.args(["serve", "--listen", &listen]);
    let status = tokio::task::spawn_blocking(move || command.output().unwrap().status)
        .await
        .unwrap();
    assert!(!status.success());
    drop(taken);
    sentry.received_requests().await.unwrap()
}

#[tokio::test]
async fn errors_are_reported_to_sentry_when_it_is_enabled() {
    let received = failing_serve_reports(&[
        ("SENTRY_ENABLED", "true"),
        ("SENTRY_ENV", "ci"),
        ("SENTRY_SAMPLES_RATE", "1.0"),
    ])
    .await;
    let bodies: Vec<String> = received
        .iter()
        .map(|request| String::from_utf8_lossy(&request.body).into_owned())
        .collect();
    let event = bodies
        .iter()
        .find(|body| body.contains("owl stopped"))
        .unwrap_or_else(|| panic!("no event about the stop in {bodies:?}"));
    assert!(event.contains(r#""environment":"ci""#), "{event}");
    assert!(event.contains("owl@"), "{event}");
}

#[tokio::test]
async fn nothing_reaches_sentry_unless_it_is_enabled() {
    let received = failing_serve_reports(&[]).await;
    assert!(received.is_empty(), "{received:?}");
}
