//! WatchSyncStatus across processes: two owl instances on one database (and one queue), the
//! API on one and the worker on the other, as `owl serve --no-worker` beside `owl worker`. The
//! watcher on the first sees every change the second makes: through the database when
//! embedded, through Redis pub/sub when OWL_TEST_REDIS_URL is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{TestServer, redis_url, remove_redis_keys};
use owl::pb;
use owl_server::store::entity::user_connection;
use sea_orm::{ActiveModelTrait, Set};
use uuid::Uuid;

/// Inserts an active connection of `user` (the connect flow needs a provider; this test needs
/// only the row).
async fn insert_connection(db_url: &str, user: Uuid, provider: &str) -> Uuid {
    let db = sea_orm::Database::connect(db_url).await.unwrap();
    let id = Uuid::now_v7();
    user_connection::ActiveModel {
        id: Set(id),
        user_id: Set(user),
        provider: Set(provider.into()),
        provider_user_id: Set(None),
        status: Set("active".into()),
        access_token: Set(None),
        refresh_token: Set(None),
        token_expires_at: Set(None),
        scope: Set(None),
        last_synced_at: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        state_reason: Set(None),
        sync_cursor: Set(None),
    }
    .insert(&db)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn a_watch_on_one_instance_sees_the_runs_a_worker_on_another_instance_completes() {
    let mut backends: Vec<Option<(String, String)>> = vec![None];
    if let Some(url) = redis_url() {
        backends.push(Some((
            url,
            format!("owl-status-test:{}:", Uuid::now_v7().simple()),
        )));
    }
    for redis in backends {
        let mut vars: Vec<(&str, &str)> = Vec::new();
        if let Some((url, prefix)) = &redis {
            vars.push(("REDIS_URL", url));
            vars.push(("OWL_REDIS_KEY_PREFIX", prefix));
        }
        // The API instance runs no worker (the harness never does).
        let api_side = TestServer::start_with(&vars).await;
        let db_url = api_side.db.url.clone();
        vars.push(("DATABASE_URL", &db_url));
        let worker_side = TestServer::start_with(&vars).await;

        let developer = api_side.developer().await;
        let (_, api) = api_side.application(&developer, "App").await;
        let user = api_side.user(&api, "ann").await;
        let ann = Uuid::parse_str(user.name.trim_start_matches("users/")).unwrap();
        insert_connection(&db_url, ann, "garmin").await;
        insert_connection(&db_url, ann, "polar").await;
        let mut watch = api
            .watch_sync_status(pb::WatchSyncStatusRequest {
                parent: user.name.clone(),
                replay: 0,
            })
            .await
            .unwrap();
        let synced = api
            .sync_user(pb::SyncUserRequest {
                name: user.name.clone(),
            })
            .await
            .unwrap();
        assert_eq!(synced.sync_runs.len(), 2, "{redis:?}");

        // Only the other instance works; its changes reach the watch on this one.
        let worker = tokio::spawn(worker_side.jobs.worker().run(std::future::pending()));
        let mut seen: HashMap<String, Vec<i32>> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        while seen.len() < 2
            || seen
                .values()
                .any(|states| states.last() != Some(&(pb::SyncState::Succeeded as i32)))
        {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let next = tokio::time::timeout(remaining, futures::StreamExt::next(&mut watch))
                .await
                .unwrap_or_else(|_| {
                    panic!("the watch did not see both runs succeed on {redis:?}: {seen:?}")
                })
                .expect("the watch stays open")
                .unwrap();
            assert!(next.name.starts_with(&user.name));
            let states = seen.entry(next.name.clone()).or_default();
            assert!(
                states.last().is_none_or(|last| next.state >= *last),
                "states only move forward: {states:?} then {next:?}"
            );
            states.push(next.state);
        }
        worker.abort();
        // Queued came from this instance; the rest only the other one wrote. (A feed that
        // polls may skip a state that lasted less than its interval, never the last one.)
        let mut names: Vec<&String> = seen.keys().collect();
        names.sort();
        let mut expected: Vec<&String> = synced.sync_runs.iter().map(|r| &r.name).collect();
        expected.sort();
        assert_eq!(names, expected, "{redis:?}");
        if let Some((url, prefix)) = &redis {
            remove_redis_keys(url, prefix).await;
        }
    }
}
