//! ApplicationService through the SDK: applications, API keys, and what a key may reach.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, assert_error, violated_fields};
use futures::TryStreamExt;
use owl::{Code, pb};

fn new_application(name: &str) -> pb::CreateApplicationRequest {
    pb::CreateApplicationRequest {
        application: Some(pb::Application {
            display_name: name.into(),
            description: "d".into(),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn applications_are_created_read_listed_updated_and_deleted() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let created = developer
        .create_application(new_application("Fitness App"))
        .await
        .unwrap();
    assert!(created.name.starts_with("applications/"));
    let got = developer
        .get_application(pb::GetApplicationRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap();
    assert_eq!(got, created);

    let updated = developer
        .update_application(pb::UpdateApplicationRequest {
            application: Some(pb::Application {
                name: created.name.clone(),
                display_name: "Renamed".into(),
                description: "ignored".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .unwrap();
    assert_eq!(
        (updated.display_name.as_str(), updated.description.as_str()),
        ("Renamed", "d")
    );

    for i in 0..4 {
        developer
            .create_application(new_application(&format!("App {i}")))
            .await
            .unwrap();
    }
    let page = developer
        .list_applications(pb::ListApplicationsRequest {
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(page.applications.len(), 2);
    assert!(!page.next_page_token.is_empty());
    let all: Vec<pb::Application> = developer
        .stream_applications(pb::ListApplicationsRequest {
            page_size: 2,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].name, created.name, "oldest first");

    developer
        .delete_application(pb::DeleteApplicationRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap();
    let gone = developer
        .get_application(pb::GetApplicationRequest {
            name: created.name.clone(),
        })
        .await;
    assert_error(gone, Code::NotFound, "NOT_FOUND");
    let twice = developer
        .delete_application(pb::DeleteApplicationRequest { name: created.name })
        .await;
    assert_error(twice, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn an_api_key_is_shown_once_and_works_until_revoked() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let application = developer
        .create_application(new_application("App"))
        .await
        .unwrap();
    let key = developer
        .create_api_key(pb::CreateApiKeyRequest {
            parent: application.name.clone(),
            api_key: Some(pb::ApiKey {
                display_name: "prod".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    assert!(
        key.key.starts_with(&key.key_prefix) && key.key.len() >= 4 + 12 + 1 + 43,
        "≥128 random bits"
    );
    assert_eq!(key.state, pb::ApiKeyState::Active as i32);

    let listed = developer
        .list_api_keys(pb::ListApiKeysRequest {
            parent: application.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.api_keys.len(), 1);
    assert!(
        listed.api_keys[0].key.is_empty(),
        "the secret is never listed"
    );
    assert_eq!(listed.api_keys[0].key_prefix, key.key_prefix);

    let backend = server.client.with_api_key(&key.key);
    backend.list_users(Default::default()).await.unwrap();
    let revoked = developer
        .revoke_api_key(pb::RevokeApiKeyRequest {
            name: key.name.clone(),
        })
        .await
        .unwrap();
    assert_eq!(revoked.state, pb::ApiKeyState::Revoked as i32);
    assert!(revoked.revoke_time.is_some());
    assert_error(
        backend.list_users(Default::default()).await,
        Code::Unauthenticated,
        "API_KEY_REVOKED",
    );
    let rotate = developer
        .rotate_api_key(pb::RotateApiKeyRequest { name: key.name })
        .await;
    assert_error(rotate, Code::FailedPrecondition, "API_KEY_REVOKED");
}

#[tokio::test]
async fn rotating_a_key_revokes_it_and_returns_a_working_replacement() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (application, old_client) = server.application(&developer, "App").await;
    let keys = developer
        .list_api_keys(pb::ListApiKeysRequest {
            parent: application.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let new = developer
        .rotate_api_key(pb::RotateApiKeyRequest {
            name: keys.api_keys[0].name.clone(),
        })
        .await
        .unwrap();
    assert_eq!(new.display_name, "backend");
    assert!(!new.key.is_empty());
    assert_error(
        old_client.list_users(Default::default()).await,
        Code::Unauthenticated,
        "API_KEY_REVOKED",
    );
    server
        .client
        .with_api_key(new.key)
        .list_users(Default::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn forged_or_malformed_api_keys_are_refused() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (application, _) = server.application(&developer, "App").await;
    let keys = developer
        .list_api_keys(pb::ListApiKeysRequest {
            parent: application.name,
            ..Default::default()
        })
        .await
        .unwrap();
    let forged = format!("{}_{}", keys.api_keys[0].key_prefix, "A".repeat(43));
    for key in [forged.as_str(), "owl_short", "", "not-a-key-at-all"] {
        let result = server
            .client
            .with_api_key(key)
            .list_users(Default::default())
            .await;
        assert_error(result, Code::Unauthenticated, "INVALID_CREDENTIALS");
    }
}

#[tokio::test]
async fn api_keys_and_sdk_tokens_cannot_manage_applications() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (application, backend) = server.application(&developer, "App").await;
    assert_error(
        backend.create_application(new_application("Mine")).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    let get = backend
        .get_application(pb::GetApplicationRequest {
            name: application.name.clone(),
        })
        .await;
    assert_error(get, Code::PermissionDenied, "PERMISSION_DENIED");
    let user = server.user(&backend, "u1").await;
    let token = backend
        .create_sdk_token(pb::CreateSdkTokenRequest { user: user.name })
        .await
        .unwrap();
    let phone = server.client.with_token(token.access_token);
    let keys = phone
        .list_api_keys(pb::ListApiKeysRequest {
            parent: application.name,
            ..Default::default()
        })
        .await;
    assert_error(keys, Code::PermissionDenied, "PERMISSION_DENIED");
}

#[tokio::test]
async fn application_input_is_validated_field_by_field() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let request = pb::CreateApplicationRequest {
        application: Some(pb::Application {
            display_name: "x".repeat(101),
            description: "y".repeat(1001),
            ..Default::default()
        }),
    };
    let error = assert_error(
        developer.create_application(request).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(
        violated_fields(&error),
        ["application.display_name", "application.description"]
    );
    let error = assert_error(
        developer
            .create_application(pb::CreateApplicationRequest::default())
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["application.display_name"]);
    let (application, _) = server.application(&developer, "App").await;
    let bad_mask = developer
        .update_application(pb::UpdateApplicationRequest {
            application: Some(pb::Application {
                name: application.name,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["create_time".into()],
            }),
        })
        .await;
    let error = assert_error(bad_mask, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(violated_fields(&error), ["update_mask"]);
}
