//! UserService through the SDK: CRUD, filters, paging, and tenancy between applications.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, assert_error, violated_fields};
use futures::TryStreamExt;
use owl::{Code, pb};

fn user(external_user_id: &str, email: &str) -> Option<pb::User> {
    Some(pb::User {
        external_user_id: external_user_id.into(),
        email: email.into(),
        ..Default::default()
    })
}

#[tokio::test]
async fn users_are_created_read_updated_and_deleted() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (application, backend) = server.application(&developer, "App").await;
    let created = backend
        .create_user(pb::CreateUserRequest {
            parent: String::new(),
            user: Some(pb::User {
                external_user_id: "ext-1".into(),
                email: "Jane@Example.com".into(),
                first_name: "Jane".into(),
                time_zone: "Europe/Warsaw".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    assert_eq!(created.application, application.name);
    assert_eq!(created.email, "jane@example.com");
    assert_eq!(
        backend
            .get_user(pb::GetUserRequest {
                name: created.name.clone()
            })
            .await
            .unwrap(),
        created
    );

    let updated = backend
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::User {
                name: created.name.clone(),
                last_name: "Doe".into(),
                time_zone: "America/New_York".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["last_name".into(), "time_zone".into()],
            }),
        })
        .await
        .unwrap();
    assert_eq!(
        (updated.first_name.as_str(), updated.last_name.as_str()),
        ("Jane", "Doe")
    );
    assert_eq!(updated.time_zone, "America/New_York");
    assert_eq!(
        updated.external_user_id, "ext-1",
        "fields outside the mask are kept"
    );

    backend
        .delete_user(pb::DeleteUserRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap();
    assert_error(
        backend
            .get_user(pb::GetUserRequest { name: created.name })
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn external_user_ids_are_unique_within_an_application_only() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, a) = server.application(&developer, "A").await;
    let (_, b) = server.application(&developer, "B").await;
    server.user(&a, "same").await;
    let duplicate = a
        .create_user(pb::CreateUserRequest {
            parent: String::new(),
            user: user("same", ""),
        })
        .await;
    assert_error(duplicate, Code::AlreadyExists, "ALREADY_EXISTS");
    server.user(&b, "same").await;
}

#[tokio::test]
async fn lists_filter_by_email_and_external_id_and_follow_page_tokens() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (application, backend) = server.application(&developer, "App").await;
    for i in 0..7 {
        backend
            .create_user(pb::CreateUserRequest {
                parent: String::new(),
                user: user(&format!("e{i}"), &format!("u{}@x.io", i % 2)),
            })
            .await
            .unwrap();
    }
    let all: Vec<pb::User> = backend
        .stream_users(pb::ListUsersRequest {
            page_size: 3,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|u| u.external_user_id.as_str())
            .collect::<Vec<_>>(),
        ["e0", "e1", "e2", "e3", "e4", "e5", "e6"]
    );

    let by_email: Vec<pb::User> = backend
        .stream_users(pb::ListUsersRequest {
            email: "U1@x.io".into(),
            page_size: 1,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(by_email.len(), 3);
    let by_external = backend
        .list_users(pb::ListUsersRequest {
            external_user_id: "e4".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_external.users.len(), 1);

    // A page token belongs to its filters.
    let first = backend
        .list_users(pb::ListUsersRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let mixed = backend
        .list_users(pb::ListUsersRequest {
            page_size: 2,
            page_token: first.next_page_token,
            email: "u1@x.io".into(),
            ..Default::default()
        })
        .await;
    let error = assert_error(mixed, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(violated_fields(&error), ["page_token"]);

    // Developers list across applications or within one.
    let (_, other) = server.application(&developer, "Other").await;
    server.user(&other, "x").await;
    let everyone: Vec<pb::User> = developer
        .stream_users(Default::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(everyone.len(), 8);
    let scoped = developer
        .list_users(pb::ListUsersRequest {
            parent: application.name,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(scoped.users.len(), 7);
}

#[tokio::test]
async fn a_key_of_one_application_never_sees_or_changes_another_applications_users() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (app_a, a) = server.application(&developer, "A").await;
    let (_, b) = server.application(&developer, "B").await;
    let alice = server.user(&a, "alice").await;
    server.user(&b, "bob").await;

    let name = || alice.name.clone();
    assert_error(
        b.get_user(pb::GetUserRequest { name: name() }).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let update = b
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::User {
                name: name(),
                first_name: "Mallory".into(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await;
    assert_error(update, Code::NotFound, "NOT_FOUND");
    assert_error(
        b.delete_user(pb::DeleteUserRequest { name: name() }).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_error(
        b.create_sdk_token(pb::CreateSdkTokenRequest { user: name() })
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_error(
        b.create_invitation_code(pb::CreateInvitationCodeRequest { parent: name() })
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let foreign_parent = b
        .create_user(pb::CreateUserRequest {
            parent: app_a.name.clone(),
            user: user("sneaky", ""),
        })
        .await;
    assert_error(foreign_parent, Code::NotFound, "NOT_FOUND");
    let listed = b
        .list_users(pb::ListUsersRequest {
            parent: app_a.name,
            ..Default::default()
        })
        .await;
    assert_error(listed, Code::NotFound, "NOT_FOUND");
    let own = b.list_users(Default::default()).await.unwrap();
    assert_eq!(
        own.users
            .iter()
            .map(|u| u.external_user_id.as_str())
            .collect::<Vec<_>>(),
        ["bob"]
    );

    // Alice is untouched.
    assert_eq!(
        a.get_user(pb::GetUserRequest { name: name() })
            .await
            .unwrap()
            .first_name,
        ""
    );
}

#[tokio::test]
async fn an_sdk_token_reads_its_own_user_and_nothing_else() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let me = server.user(&backend, "me").await;
    let other = server.user(&backend, "other").await;
    let token = backend
        .create_sdk_token(pb::CreateSdkTokenRequest {
            user: me.name.clone(),
        })
        .await
        .unwrap();
    let phone = server.client.with_token(token.access_token);

    assert_eq!(
        phone
            .get_user(pb::GetUserRequest {
                name: me.name.clone()
            })
            .await
            .unwrap()
            .name,
        me.name
    );
    assert_error(
        phone
            .get_user(pb::GetUserRequest {
                name: other.name.clone(),
            })
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_error(
        phone.list_users(Default::default()).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert_error(
        phone
            .delete_user(pb::DeleteUserRequest {
                name: me.name.clone(),
            })
            .await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    let create = phone
        .create_user(pb::CreateUserRequest {
            parent: String::new(),
            user: user("x", ""),
        })
        .await;
    assert_error(create, Code::PermissionDenied, "PERMISSION_DENIED");
    let mint = phone
        .create_sdk_token(pb::CreateSdkTokenRequest { user: me.name })
        .await;
    assert_error(mint, Code::PermissionDenied, "PERMISSION_DENIED");
}

#[tokio::test]
async fn developers_must_name_the_application_of_a_new_user() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (application, _) = server.application(&developer, "App").await;
    let missing = developer
        .create_user(pb::CreateUserRequest {
            parent: String::new(),
            user: user("u", ""),
        })
        .await;
    let error = assert_error(missing, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(violated_fields(&error), ["parent"]);
    let created = developer
        .create_user(pb::CreateUserRequest {
            parent: application.name.clone(),
            user: user("u", ""),
        })
        .await
        .unwrap();
    assert_eq!(created.application, application.name);
}

#[tokio::test]
async fn deleting_an_application_deletes_its_users() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (application, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    developer
        .delete_application(pb::DeleteApplicationRequest {
            name: application.name,
        })
        .await
        .unwrap();
    assert_error(
        developer
            .get_user(pb::GetUserRequest { name: user.name })
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );
    assert_error(
        backend.list_users(Default::default()).await,
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
    );
}
