//! The storage suite: run on SQLite by default and on PostgreSQL when OWL_TEST_POSTGRES_URL is
//! set (`.ci/run` runs both). Migrations, atomicity under concurrency, cascading deletes, and
//! what is really written for secrets.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::Utc;
use common::{PASSWORD, TestDb, TestServer};
use owl::pb;
use owl_migration::{Migrator, MigratorTrait, sample_codec};
use owl_server::domain::model::{
    Developer, DeveloperCredentials, RefreshOutcome, RefreshToken, Subject, SubjectKind,
};
use owl_server::store::{DeveloperStore, SeaStore, TokenStore, connect};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Runs `sql` written with `$n` placeholders on either engine.
async fn exec(db: &DatabaseConnection, sql: &str, values: Vec<Value>) {
    db.execute_raw(statement(db, sql, values)).await.unwrap();
}

fn statement(db: &DatabaseConnection, sql: &str, values: Vec<Value>) -> Statement {
    let backend = db.get_database_backend();
    let sql = if backend == DbBackend::Sqlite {
        let mut out = sql.to_owned();
        for n in (1..=values.len()).rev() {
            out = out.replace(&format!("${n}"), "?");
        }
        out
    } else {
        sql.to_owned()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect()
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    scalar(db, &format!("SELECT COUNT(*) FROM {table}")).await
}

/// Samples stored in blocks, summed from the block headers.
async fn stored_samples(db: &DatabaseConnection) -> i64 {
    scalar(
        db,
        "SELECT COALESCE(SUM(sample_count), 0) FROM sample_block",
    )
    .await
}

/// The integer that `sql` selects.
async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        _ => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"
        }
    };
    strings(db, sql).await
}

async fn migrated(db: &TestDb) -> SeaStore {
    let store = connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let db = TestDb::new().await;
    let store = connect(&db.url).await.unwrap();
    let conn = store.connection();
    Migrator::up(conn, None).await.unwrap();
    let all = tables(conn).await;
    for table in [
        "developer",
        "developer_invitation",
        "onboarding",
        "application",
        "api_key",
        "user",
        "invitation_code",
        "refresh_token",
        "provider_settings",
        "user_connection",
        "data_source",
        "series_type_definition",
        "sample_block",
        "event_record",
        "workout_details",
        "sleep_details",
        "source_priority",
    ] {
        assert!(
            all.iter().any(|t| t == table),
            "{table} missing on {}: {all:?}",
            db.engine()
        );
    }
    Migrator::down(conn, None).await.unwrap();
    assert_eq!(
        tables(conn).await,
        ["seaql_migrations"],
        "down removes every table on {}",
        db.engine()
    );
    Migrator::up(conn, None).await.unwrap();
    assert_eq!(tables(conn).await, all);
}

#[tokio::test]
async fn samples_stored_before_blocks_are_packed_into_blocks_and_back() {
    let db = TestDb::new().await;
    let store = connect(&db.url).await.unwrap();
    let conn = store.connection();
    Migrator::up(conn, Some(4)).await.unwrap();
    // Two series of one source over a UTC midnight, and a sample of another source.
    let day = sample_codec::BLOCK_MS;
    let rows: Vec<(i64, i32, i64, i32, f64)> = vec![
        (1, 1, 19_000 * day - 60_000, 3600, 61.0),
        (1, 1, 19_000 * day, 3600, 62.5),
        (1, 1, 19_000 * day + 60_000, 7200, 63.0),
        (1, 2, 19_000 * day, 0, 120.0),
        (2, 1, 19_000 * day, -18_000, 58.0),
    ];
    for &(source, series, time, offset, value) in &rows {
        exec(conn, "INSERT INTO data_point_series (source_id, series_type_id, recorded_at, zone_offset, value) VALUES ($1, $2, $3, $4, $5)",
            vec![source.into(), series.into(), time.into(), offset.into(), value.into()]).await;
    }
    Migrator::up(conn, None).await.unwrap();
    assert!(!tables(conn).await.contains(&"data_point_series".to_owned()));
    let blocks = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT source_id, series_type_id, block_start, first_time, last_time, sample_count, data \
             FROM sample_block ORDER BY source_id, series_type_id, block_start",
        ))
        .await
        .unwrap();
    let mut unpacked = Vec::new();
    for block in &blocks {
        let (source, series, start): (i64, i32, i64) = (
            block.try_get_by_index(0).unwrap(),
            block.try_get_by_index(1).unwrap(),
            block.try_get_by_index(2).unwrap(),
        );
        let data: Vec<u8> = block.try_get_by_index(6).unwrap();
        let mut times = Vec::new();
        sample_codec::decode(&data, |t, o, v| {
            assert_eq!(sample_codec::block_start(t), start);
            times.push(t);
            unpacked.push((source, series, t, o, v));
        })
        .unwrap();
        assert_eq!(block.try_get_by_index::<i64>(3).unwrap(), times[0]);
        assert_eq!(
            block.try_get_by_index::<i64>(4).unwrap(),
            *times.last().unwrap()
        );
        assert_eq!(
            block.try_get_by_index::<i32>(5).unwrap() as usize,
            times.len()
        );
    }
    assert_eq!(
        blocks.len(),
        4,
        "one block per source, series and day on {}",
        db.engine()
    );
    assert_eq!(unpacked, rows);
    // Back to the fourth migration, the last without blocks.
    let after_fourth = Migrator::migrations().len() as u32 - 4;
    Migrator::down(conn, Some(after_fourth)).await.unwrap();
    assert_eq!(count(conn, "data_point_series").await, rows.len() as i64);
    assert!(!tables(conn).await.contains(&"sample_block".to_owned()));
}

fn developer(email: &str) -> DeveloperCredentials {
    DeveloperCredentials {
        developer: Developer { id: Uuid::now_v7(), email: email.into(), created_at: Utc::now() },
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
        password_changed_at: Utc::now(),
    }
}

#[tokio::test]
async fn concurrent_onboarding_creates_exactly_one_developer() {
    let db = TestDb::new().await;
    let store = migrated(&db).await;
    let attempts = (0..6).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .create_first_developer(&developer(&format!("d{i}@example.com")))
                .await
        })
    });
    let mut created = 0;
    for attempt in attempts {
        if attempt.await.unwrap().unwrap().is_some() {
            created += 1;
        }
    }
    assert_eq!(created, 1, "on {}", db.engine());
    assert_eq!(count(store.connection(), "developer").await, 1);
    assert!(store.onboarded().await.unwrap());
}

#[tokio::test]
async fn a_refresh_token_is_spent_once_even_under_concurrency() {
    let db = TestDb::new().await;
    let store = migrated(&db).await;
    let owner = developer("owner@example.com");
    store.create_first_developer(&owner).await.unwrap();
    let now = Utc::now();
    let token = RefreshToken {
        id: Uuid::now_v7(),
        token_hash: "h".repeat(64),
        family_id: Uuid::now_v7(),
        subject: Subject::Developer(owner.developer.id),
        created_at: now,
        expires_at: now + chrono::Duration::days(1),
    };
    store.insert_refresh_token(&token).await.unwrap();
    let spends = (0..6).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .spend_refresh_token(&"h".repeat(64), SubjectKind::Developer, Utc::now())
                .await
                .unwrap()
        })
    });
    let mut spent = 0;
    for spend in spends {
        if matches!(spend.await.unwrap(), RefreshOutcome::Spent(_)) {
            spent += 1;
        }
    }
    assert_eq!(spent, 1, "on {}", db.engine());
}

#[tokio::test]
async fn secrets_are_stored_only_as_hashes() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let session = server
        .client
        .login(pb::LoginRequest {
            email: "admin@example.com".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap();
    let application = developer
        .create_application(pb::CreateApplicationRequest {
            application: Some(pb::Application {
                display_name: "A".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let key = developer
        .create_api_key(pb::CreateApiKeyRequest {
            parent: application.name,
            api_key: None,
        })
        .await
        .unwrap();
    let backend = server.client.with_api_key(&key.key);
    let user = server.user(&backend, "u").await;
    let code = backend
        .create_invitation_code(pb::CreateInvitationCodeRequest {
            parent: user.name.clone(),
        })
        .await
        .unwrap();
    let sdk = backend
        .create_sdk_token(pb::CreateSdkTokenRequest { user: user.name })
        .await
        .unwrap();
    developer
        .create_invitation(pb::CreateInvitationRequest {
            invitation: Some(pb::Invitation {
                email: "new@example.com".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let invitation_token = server
        .mailer
        .wait_for("new@example.com")
        .await
        .text
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let db = server.db.raw().await;
    let sha = |s: &str| hex::encode(Sha256::digest(s.as_bytes()));
    let hashes = strings(&db, "SELECT password_hash FROM developer").await;
    assert!(hashes[0].starts_with("$argon2id$") && !hashes[0].contains(PASSWORD));
    assert_eq!(
        strings(&db, "SELECT key_hash FROM api_key").await,
        [sha(&key.key)]
    );
    let refresh = strings(&db, "SELECT token_hash FROM refresh_token").await;
    assert!(
        refresh.contains(&sha(&session.refresh_token))
            && refresh.contains(&sha(&sdk.refresh_token))
    );
    assert_eq!(
        strings(&db, "SELECT code_hash FROM invitation_code").await,
        [sha(&code.code)]
    );
    assert_eq!(
        strings(&db, "SELECT token_hash FROM developer_invitation").await,
        [sha(&invitation_token)]
    );

    // No column of any of these tables holds a plaintext secret.
    let plaintexts = [
        PASSWORD,
        key.key.as_str(),
        &session.refresh_token,
        &sdk.refresh_token,
        &code.code,
        &invitation_token,
    ];
    for (table, columns) in [
        ("developer", "email || password_hash"),
        ("api_key", "key_prefix || key_hash || display_name"),
        ("refresh_token", "token_hash"),
        ("invitation_code", "code_hash"),
        ("developer_invitation", "email || token_hash"),
    ] {
        for value in strings(&db, &format!("SELECT {columns} FROM {table}")).await {
            for secret in plaintexts {
                assert!(
                    !value.contains(secret),
                    "{table} holds a plaintext secret on {}",
                    server.db.engine()
                );
            }
        }
    }
}

#[tokio::test]
async fn deleting_a_user_removes_their_connections_sources_samples_and_events() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let keep = server.user(&backend, "keep").await;
    let doomed = server.user(&backend, "doomed").await;
    let db = server.db.raw().await;
    let id = |name: &str| Uuid::parse_str(name.trim_start_matches("users/")).unwrap();
    let now = Utc::now();
    for (source_id, user) in [(1i64, id(&doomed.name)), (2, id(&keep.name))] {
        exec(&db, "INSERT INTO user_connection (id, user_id, provider, status, created_at, updated_at) VALUES ($1, $2, 'polar', 'active', $3, $4)",
            vec![Uuid::now_v7().into(), user.into(), now.into(), now.into()]).await;
        exec(&db, "INSERT INTO data_source (id, uid, user_id, provider, device_model, device_type, app_name, created_at) VALUES ($1, $2, $3, 'polar', 'Vantage', 'watch', '', $4)",
            vec![source_id.into(), Uuid::now_v7().into(), user.into(), now.into()]).await;
        let block = sample_codec::encode(&[(1_700_000_000_000i64, 3600, 61.0)], |s| *s);
        exec(&db, "INSERT INTO sample_block (source_id, series_type_id, block_start, first_time, last_time, sample_count, data) VALUES ($1, 1, $2, 1700000000000, 1700000000000, 1, $3)",
            vec![source_id.into(), sample_codec::block_start(1_700_000_000_000).into(), block.into()]).await;
        let event = Uuid::now_v7();
        exec(&db, "INSERT INTO event_record (id, user_id, source_id, category, event_type, start_at, end_at, zone_offset, created_at, updated_at) VALUES ($1, $2, $3, 'workout', 'running', 1, 2, 0, $4, $5)",
            vec![event.into(), user.into(), source_id.into(), now.into(), now.into()]).await;
        exec(
            &db,
            "INSERT INTO workout_details (event_id, distance_m) VALUES ($1, 5000.0)",
            vec![event.into()],
        )
        .await;
    }
    backend
        .delete_user(pb::DeleteUserRequest { name: doomed.name })
        .await
        .unwrap();
    for table in [
        "user_connection",
        "data_source",
        "sample_block",
        "event_record",
        "workout_details",
    ] {
        assert_eq!(
            count(&db, table).await,
            1,
            "{table} on {}",
            server.db.engine()
        );
    }
}

#[tokio::test]
async fn sources_of_before_manufacturers_keep_their_ids_and_known_makers_and_stay_unique() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "ann").await;
    let user_id = Uuid::parse_str(user.name.trim_start_matches("users/")).unwrap();
    let db = server.db.raw().await;
    let engine = server.db.engine();
    // Back to the eleventh migration, the last without the columns.
    let after_eleventh = Migrator::migrations().len() as u32 - 11;
    Migrator::down(&db, Some(after_eleventh)).await.unwrap();
    let now = Utc::now();
    let insert_old = "INSERT INTO data_source (id, uid, user_id, provider, device_model, device_type, app_name, created_at) VALUES ($1, $2, $3, $4, $5, 'watch', $6, $7)";
    for (id, provider, model, app) in [
        (1i64, "garmin", "Forerunner 965", ""),
        (2, "apple_health", "Watch7,1", "Health"),
    ] {
        exec(
            &db,
            insert_old,
            vec![
                id.into(),
                Uuid::now_v7().into(),
                user_id.into(),
                provider.into(),
                model.into(),
                app.into(),
                now.into(),
            ],
        )
        .await;
    }
    let block = sample_codec::encode(&[(1_700_000_000_000i64, 3600, 61.0)], |s| *s);
    exec(&db, "INSERT INTO sample_block (source_id, series_type_id, block_start, first_time, last_time, sample_count, data) VALUES (1, 1, $1, 1700000000000, 1700000000000, 1, $2)",
        vec![sample_codec::block_start(1_700_000_000_000).into(), block.into()]).await;
    Migrator::up(&db, None).await.unwrap();

    let stored = strings(
        &db,
        "SELECT provider || '|' || manufacturer || '|' || recording_method FROM data_source ORDER BY id",
    )
    .await;
    assert_eq!(
        stored,
        ["garmin|Garmin|automatically_recorded", "apple_health||"],
        "on {engine}"
    );
    assert_eq!(
        scalar(&db, "SELECT source_id FROM sample_block").await,
        1,
        "the samples stay with their source on {engine}"
    );
    // The identity index now spans the new columns: a manual twin is a source of its own,
    // an exact copy is refused.
    let insert_new = "INSERT INTO data_source (id, uid, user_id, provider, device_model, device_type, app_name, manufacturer, recording_method, created_at) VALUES ($1, $2, $3, 'apple_health', 'Watch7,1', 'watch', 'Health', '', 'manual_entry', $4)";
    let twin = |id: i64| {
        statement(
            &db,
            insert_new,
            vec![id.into(), Uuid::now_v7().into(), user_id.into(), now.into()],
        )
    };
    db.execute_raw(twin(3)).await.unwrap();
    assert!(
        db.execute_raw(twin(4)).await.is_err(),
        "a duplicate identity is refused on {engine}"
    );

    let sources = backend
        .list_data_sources(pb::ListDataSourcesRequest {
            parent: user.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .data_sources;
    let mut fields: Vec<(String, String, i32)> = sources
        .into_iter()
        .map(|s| (s.provider, s.manufacturer, s.recording_method))
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            (
                "apple_health".to_owned(),
                String::new(),
                pb::RecordingMethod::Unspecified as i32
            ),
            (
                "apple_health".to_owned(),
                String::new(),
                pb::RecordingMethod::ManualEntry as i32
            ),
            (
                "garmin".to_owned(),
                "Garmin".to_owned(),
                pb::RecordingMethod::AutomaticallyRecorded as i32
            ),
        ]
    );

    // Down again once no two sources differ only in the new columns.
    exec(&db, "DELETE FROM data_source WHERE id = 3", vec![]).await;
    Migrator::down(&db, Some(after_eleventh)).await.unwrap();
    assert_eq!(count(&db, "data_source").await, 2);
    assert_eq!(scalar(&db, "SELECT source_id FROM sample_block").await, 1);
}

#[tokio::test]
async fn deleting_an_application_removes_its_users_samples() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (application, backend) = server.application(&developer, "App").await;
    let (_, other) = server.application(&developer, "Other").await;
    let batch = |n: i64| pb::SampleBatch {
        source: Some(pb::SourceDescriptor {
            provider: "polar".into(),
            ..Default::default()
        }),
        series_type: "heart_rate".into(),
        unit: String::new(),
        times: (0..n).map(|i| 1_700_000_000_000 + i * 60_000).collect(),
        values: vec![60.0; n as usize],
        zone_offsets: vec![],
        durations: vec![],
    };
    for (client, n) in [(&backend, 5), (&other, 3)] {
        let user = server.user(client, "u").await;
        client
            .write_samples(pb::WriteSamplesRequest {
                parent: user.name,
                batches: vec![batch(n)],
            })
            .await
            .unwrap();
    }
    developer
        .delete_application(pb::DeleteApplicationRequest {
            name: application.name,
        })
        .await
        .unwrap();
    let db = server.db.raw().await;
    assert_eq!(
        stored_samples(&db).await,
        3,
        "only the other application's samples remain on {}",
        server.db.engine()
    );
    assert_eq!(count(&db, "data_source").await, 1);
}
