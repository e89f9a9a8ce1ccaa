//! The whole flow with the built-in demo wearable, on the embedded default and with no provider
//! account: a backend creates a user and starts a connection, the user consents on the demo's
//! page (this example plays the browser), owl syncs a week of data in the background, and the
//! backend reads the user's heart rate and daily summaries.
//!
//! Start a server with the README's first command, then:
//!
//! ```text
//! cargo run --example demo
//! ```
//!
//! `OWL_URL` (default `http://127.0.0.1:8000`), `OWL_EMAIL` and `OWL_PASSWORD` override the
//! defaults. The server's public URL (SERVER_HOST) must be reachable from here: by default it is
//! `http://localhost:{port}`.

use std::time::Duration;

use chrono_tz::Tz;
use owl::{Client, pb};

/// Where the connect flow ends: in a real app, a page of its own.
const REDIRECT: &str = "https://app.example.com/connected";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("OWL_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    let email = std::env::var("OWL_EMAIL").unwrap_or_else(|_| "admin@example.com".into());
    let password = std::env::var("OWL_PASSWORD").unwrap_or_else(|_| "change me, please!".into());
    let client = Client::connect(url.clone()).await?;
    let session = match client
        .onboard(pb::OnboardRequest {
            email: email.clone(),
            password: password.clone(),
        })
        .await
    {
        Ok(session) => session,
        Err(e) if e.reason().as_deref() == Some("ONBOARDING_CLOSED") => {
            client.login(pb::LoginRequest { email, password }).await?
        }
        Err(e) => return Err(e.into()),
    };
    let developer = client.with_token(session.access_token);
    let application = developer
        .create_application(pb::CreateApplicationRequest {
            application: Some(pb::Application {
                display_name: "Demo".into(),
                redirect_uris: vec![REDIRECT.into()],
                ..Default::default()
            }),
        })
        .await?;
    let key = developer
        .create_api_key(pb::CreateApiKeyRequest {
            parent: application.name.clone(),
            api_key: None,
        })
        .await?;
    let backend = client.with_api_key(key.key);
    let user = backend
        .create_user(pb::CreateUserRequest {
            parent: String::new(),
            user: Some(pb::User {
                external_user_id: format!("demo-{}", std::process::id()),
                time_zone: "Europe/Warsaw".into(),
                ..Default::default()
            }),
        })
        .await?;
    println!("user: {} (time zone {})", user.name, user.time_zone);

    // 1. The backend starts the connection and sends the user's browser to the consent page.
    let started = backend
        .start_connection(pb::StartConnectionRequest {
            parent: user.name.clone(),
            provider: "demo".into(),
            redirect_uri: REDIRECT.into(),
        })
        .await?;
    println!("consent page: {}", started.authorization_url);

    // 2. The user allows; the demo sends the browser to owl's callback, which redirects to the app.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = browser
        .get(&started.authorization_url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let allow = link(&page, "allow").ok_or_else(|| anyhow::anyhow!("no Allow link on the page"))?;
    let back = browser.get(&allow).send().await?;
    let location = back
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| anyhow::anyhow!("the callback did not redirect: {}", back.status()))?
        .to_owned();
    println!("back at the app: {location}");
    anyhow::ensure!(location.contains("status=success"), "connection failed");

    // 3. owl syncs in the background; the backend can watch the runs.
    let run = loop {
        let runs = backend
            .list_sync_runs(pb::ListSyncRunsRequest {
                parent: user.name.clone(),
                ..Default::default()
            })
            .await?;
        match runs.sync_runs.first() {
            Some(run)
                if run.state == pb::SyncState::Succeeded as i32
                    || run.state == pb::SyncState::Failed as i32 =>
            {
                break run.clone();
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    anyhow::ensure!(
        run.state == pb::SyncState::Succeeded as i32,
        "sync failed: {}",
        run.error
    );
    println!(
        "synced {} items from the demo wearable",
        run.items_processed
    );

    // 4. The backend reads heart rate by the hour and the daily summaries.
    let zone: Tz = user.time_zone.parse().unwrap_or(Tz::UTC);
    let hours = backend
        .aggregate_samples(pb::AggregateSamplesRequest {
            parent: user.name.clone(),
            series_types: vec!["heart_rate".into()],
            bucket: pb::Bucket::Hour as i32,
            ..Default::default()
        })
        .await?;
    let series = hours
        .series
        .first()
        .ok_or_else(|| anyhow::anyhow!("no heart rate"))?;
    anyhow::ensure!(
        series.buckets.len() >= 24 * 6,
        "less than six days of heart rate"
    );
    println!(
        "\nHeart rate: {} hours with data; the last 6 ({}):",
        series.buckets.len(),
        zone.name()
    );
    let skip = series.buckets.len().saturating_sub(6);
    for b in &series.buckets[skip..] {
        let start = local(zone, b.start_time);
        let end = local(zone, b.start_time + 3_600_000);
        println!(
            "  {}–{}   avg {:>3.0} bpm   min {:>3.0}   max {:>3.0}",
            start.format("%a %-d %b %H:%M"),
            end.format("%H:%M"),
            b.avg,
            b.min,
            b.max
        );
    }

    let last = series.buckets.last().map_or(0, |b| b.start_time);
    let last_day = local(zone, last).date_naive();
    let days = backend
        .list_daily_summaries(pb::ListDailySummariesRequest {
            parent: user.name.clone(),
            start_date: (last_day - chrono::Days::new(6)).to_string(),
            end_date: last_day.to_string(),
        })
        .await?
        .daily_summaries;
    println!("\nThe last {} days:", days.len());
    println!(
        "  {:<12} {:>7} {:>9} {:>10} {:>12} {:>11}",
        "date", "steps", "distance", "active", "asleep", "resting HR"
    );
    for day in &days {
        let activity = day.activity.unwrap_or_default();
        let sleep = day.sleep.clone().unwrap_or_default();
        let recovery = day.recovery.unwrap_or_default();
        let date = chrono::NaiveDate::parse_from_str(&day.date, "%Y-%m-%d")
            .map_or(day.date.clone(), |d| d.format("%a %-d %b").to_string());
        println!(
            "  {:<12} {:>7} {:>9} {:>10} {:>12} {:>11}",
            date,
            or_dash(activity.steps, |s| thousands(s.round() as i64)),
            or_dash(activity.distance_meters, |m| format!(
                "{:.1} km",
                m / 1000.0
            )),
            or_dash(activity.active_energy_kcal, |k| format!("{k:.0} kcal")),
            or_dash(sleep.asleep_seconds, |s| format!(
                "{} h {:02} min",
                s / 3600,
                s % 3600 / 60
            )),
            or_dash(recovery.resting_heart_rate, |r| format!("{r:.0} bpm")),
        );
    }
    println!("\ndemo: 1 passed, 0 failed");
    Ok(())
}

/// `ms` (UNIX milliseconds) on the wall clock of `zone`.
fn local(zone: Tz, ms: i64) -> chrono::DateTime<Tz> {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&zone)
}

/// `value` formatted, or a dash when the day has none.
fn or_dash<T>(value: Option<T>, format: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "–".to_owned(), format)
}

/// 12345 as "12,345".
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The `href` of the element with `id` on the demo's consent page.
fn link(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\" href=\"");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&"))
}
