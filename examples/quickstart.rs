//! Quickstart: onboard (or log in), create an application and an API key, create a user, mint
//! an SDK token for them, push HealthKit samples as their phone would, read them back, and list
//! users page by page.
//!
//! Start a server with the README's first command, then:
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! `OWL_URL` (default `http://127.0.0.1:8000`), `OWL_EMAIL` and `OWL_PASSWORD` override the
//! defaults.

use chrono_tz::Tz;
use futures::TryStreamExt;
use owl::{Client, Code, pb};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("OWL_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    let email = std::env::var("OWL_EMAIL").unwrap_or_else(|_| "admin@example.com".into());
    let password = std::env::var("OWL_PASSWORD").unwrap_or_else(|_| "change me, please!".into());
    let client = Client::connect(url.clone()).await?;

    // The first run onboards the first developer; later runs log in.
    let onboard = pb::OnboardRequest {
        email: email.clone(),
        password: password.clone(),
    };
    let session = match client.onboard(onboard).await {
        Ok(session) => session,
        Err(error) if error.reason().as_deref() == Some("ONBOARDING_CLOSED") => {
            client.login(pb::LoginRequest { email, password }).await?
        }
        Err(error) => return Err(error.into()),
    };
    let developer = client.with_token(session.access_token);
    println!("developer: {}", session.developer);

    let application = developer
        .create_application(pb::CreateApplicationRequest {
            application: Some(pb::Application {
                display_name: "Quickstart".into(),
                ..Default::default()
            }),
        })
        .await?;
    let key = developer
        .create_api_key(pb::CreateApiKeyRequest {
            parent: application.name.clone(),
            api_key: Some(pb::ApiKey {
                display_name: "quickstart backend".into(),
                ..Default::default()
            }),
        })
        .await?;
    println!(
        "application: {} (API key {}…; the whole key is shown only once)",
        application.name, key.key_prefix
    );

    // The application's backend uses its API key from here on.
    let backend = client.with_api_key(key.key);
    let user = backend
        .create_user(pb::CreateUserRequest {
            parent: String::new(),
            user: Some(pb::User {
                external_user_id: format!("quickstart-{}", std::process::id()),
                time_zone: "Europe/Warsaw".into(),
                ..Default::default()
            }),
        })
        .await?;
    println!("user: {}", user.name);

    let token = backend
        .create_sdk_token(pb::CreateSdkTokenRequest {
            user: user.name.clone(),
        })
        .await?;
    let phone = client.with_token(token.access_token);
    println!(
        "the phone sees: {}",
        phone
            .get_user(pb::GetUserRequest {
                name: user.name.clone()
            })
            .await?
            .name
    );

    // The phone pushes what HealthKit gave it: two heart-rate samples and a step count, each
    // with its record id (re-sending them adds nothing), in HealthKit's own identifiers and
    // units. A bad record would be rejected by index while the rest is stored.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let at = |seconds_ago: i64| {
        Some(prost_types::Timestamp {
            seconds: now - seconds_ago,
            nanos: 0,
        })
    };
    const HEART_RATE: &str = "HKQuantityTypeIdentifierHeartRate";
    const STEPS: &str = "HKQuantityTypeIdentifierStepCount";
    let sample = |id: &str, kind: &str, unit: &str, value: f64, ago: i64| pb::HealthSample {
        record_id: id.into(),
        r#type: kind.into(),
        unit: unit.into(),
        value,
        start_time: at(ago),
        end_time: at(ago),
        ..Default::default()
    };
    let batch = pb::HealthBatch {
        platform: pb::HealthPlatform::Healthkit as i32,
        source: Some(pb::HealthSource {
            app_id: "com.apple.health".into(),
            app_name: "Health".into(),
            device_name: "Apple Watch".into(),
            device_model: "Watch7,1".into(),
            device_manufacturer: "Apple Inc.".into(),
            ..Default::default()
        }),
        samples: vec![
            sample("hr-1", HEART_RATE, "count/min", 62.0, 120),
            sample("hr-2", HEART_RATE, "count/min", 64.0, 60),
            sample("steps-1", STEPS, "count", 420.0, 60),
        ],
        ..Default::default()
    };
    let pushed = phone
        .push_health_batch(pb::PushHealthBatchRequest {
            parent: user.name.clone(),
            batch: Some(batch),
        })
        .await?
        .result
        .unwrap_or_default();
    println!(
        "the phone pushed {} records ({} rejected)",
        pushed.accepted,
        pushed.rejected.len()
    );
    assert_eq!(pushed.accepted, 3, "{pushed:?}");

    // The backend reads them back, in the user's time zone, in owl's canonical units.
    let zone: Tz = user.time_zone.parse().unwrap_or(Tz::UTC);
    let stored = backend
        .list_samples(pb::ListSamplesRequest {
            parent: user.name.clone(),
            series_types: vec!["heart_rate".into(), "steps".into()],
            ..Default::default()
        })
        .await?;
    println!("stored for the user (times in {}):", zone.name());
    for series in &stored.series {
        for (time, value) in series.times.iter().zip(&series.values) {
            let at = chrono::DateTime::from_timestamp_millis(*time)
                .unwrap_or_default()
                .with_timezone(&zone);
            println!(
                "  {}  {:<10} {value} {}",
                at.format("%Y-%m-%d %H:%M:%S"),
                series.series_type,
                series.unit
            );
        }
    }

    // An SDK token reaches only its own user.
    let others = phone.list_users(pb::ListUsersRequest::default()).await;
    assert_eq!(
        others.map_err(|e| e.code()).err(),
        Some(Code::PermissionDenied)
    );

    let users: Vec<pb::User> = backend
        .stream_users(pb::ListUsersRequest {
            page_size: 10,
            ..Default::default()
        })
        .try_collect()
        .await?;
    println!("the application has {} user(s)", users.len());
    println!("quickstart: 1 passed, 0 failed");
    Ok(())
}
