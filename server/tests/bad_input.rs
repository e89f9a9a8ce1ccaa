//! Bad input through the SDK: empty, oversized, malformed and mistyped values, and bad
//! credentials, each with its code and reason; the server stays usable after all of them.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, assert_error, violated_fields};
use owl::pb::user_service_client::UserServiceClient;
use owl::{Code, pb};

#[tokio::test]
async fn empty_and_malformed_resource_names_are_invalid_arguments() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let uuid = uuid::Uuid::now_v7();
    let names = [
        String::new(),
        "users/".into(),
        "users/123".into(),
        format!("applications/{uuid}"), // a name of the wrong type
        format!("users/{uuid}/extra"),
        "users/../../etc/passwd".into(),
        "ü".repeat(10_000),
    ];
    for name in names {
        let result = developer
            .get_user(pb::GetUserRequest { name: name.clone() })
            .await;
        let error = assert_error(result, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(violated_fields(&error), ["name"], "{name:.40}");
    }
    let key_name = developer
        .revoke_api_key(pb::RevokeApiKeyRequest {
            name: format!("applications/{uuid}/keys/{uuid}"),
        })
        .await;
    assert_error(key_name, Code::InvalidArgument, "INVALID_ARGUMENT");
    // A well-formed name of nothing is NOT_FOUND.
    assert_error(
        developer
            .get_user(pb::GetUserRequest {
                name: format!("users/{uuid}"),
            })
            .await,
        Code::NotFound,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn oversized_and_mistyped_user_fields_are_all_reported() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let request = pb::CreateUserRequest {
        parent: String::new(),
        user: Some(pb::User {
            external_user_id: "x".repeat(256),
            email: format!("{}@example.com", "a".repeat(320)),
            first_name: "line\nbreak".into(),
            last_name: "y".repeat(101),
            time_zone: "Mars/Olympus_Mons".into(),
            ..Default::default()
        }),
    };
    let error = assert_error(
        backend.create_user(request).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(
        violated_fields(&error),
        [
            "user.external_user_id",
            "user.email",
            "user.first_name",
            "user.last_name",
            "user.time_zone"
        ]
    );
    assert!(
        backend
            .list_users(Default::default())
            .await
            .unwrap()
            .users
            .is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn page_sizes_and_tokens_are_checked() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let result = developer
        .list_users(pb::ListUsersRequest {
            page_size: -1,
            page_token: "%%%".into(),
            ..Default::default()
        })
        .await;
    let error = assert_error(result, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(violated_fields(&error), ["page_size", "page_token"]);
    let forged = developer
        .list_applications(pb::ListApplicationsRequest {
            page_size: 0,
            page_token: "AAAA".into(),
        })
        .await;
    assert_error(forged, Code::InvalidArgument, "INVALID_ARGUMENT");
    // Huge page sizes are capped, not refused.
    developer
        .list_applications(pb::ListApplicationsRequest {
            page_size: i32::MAX,
            page_token: String::new(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn update_masks_name_only_writable_fields() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    let result = backend
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::User {
                name: user.name,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["name".into(), "application".into()],
            }),
        })
        .await;
    let error = assert_error(result, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(violated_fields(&error), ["update_mask", "update_mask"]);
}

#[tokio::test]
async fn missing_malformed_and_forged_credentials_are_unauthenticated() {
    let server = TestServer::start().await;
    server.developer().await;
    assert_error(
        server.client.list_users(Default::default()).await,
        Code::Unauthenticated,
        "MISSING_CREDENTIALS",
    );
    for token in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        let result = server
            .client
            .with_token(token)
            .list_users(Default::default())
            .await;
        assert_error(result, Code::Unauthenticated, "INVALID_CREDENTIALS");
    }
    // A token signed with another key.
    let other =
        TestServer::start_with(&[("SECRET_KEY", "another-secret-key-that-is-long-enough")]).await;
    let foreign = other.developer().await;
    let foreign_token = match foreign.credentials() {
        owl::Credentials::Bearer(token) => token.clone(),
        _ => unreachable!(),
    };
    let result = server
        .client
        .with_token(foreign_token)
        .list_users(Default::default())
        .await;
    assert_error(result, Code::Unauthenticated, "INVALID_CREDENTIALS");

    // Not a bearer scheme.
    let mut raw = UserServiceClient::new(server.client.channel());
    let mut request = tonic::Request::new(pb::ListUsersRequest::default());
    request
        .metadata_mut()
        .insert("authorization", "Basic YWRtaW46YWRtaW4=".parse().unwrap());
    let status = raw.list_users(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused_and_the_server_stays_usable() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let huge = pb::CreateApplicationRequest {
        application: Some(pb::Application {
            display_name: "x".repeat(5 * 1024 * 1024),
            ..Default::default()
        }),
    };
    let error = developer.create_application(huge).await.unwrap_err();
    assert_eq!(error.code(), Code::OutOfRange, "{error}");
    developer
        .list_applications(Default::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn bytes_that_are_not_the_request_message_are_refused_without_harm() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    // A well-formed gRPC frame whose payload is not a valid CreateApplicationRequest.
    let body: Vec<u8> = [&[0u8, 0, 0, 0, 4][..], &[0x0a, 0x05, 0xff, 0xff]].concat();
    let http = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = http
        .post(format!(
            "{}/owl.v1.ApplicationService/CreateApplication",
            server.url
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "gRPC errors travel in grpc-status");
    let code = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        matches!(code.as_deref(), Some("13") | Some("3")),
        "decode failure answered, got {code:?}"
    );
    assert!(
        developer
            .list_applications(Default::default())
            .await
            .unwrap()
            .applications
            .is_empty()
    );
}

#[tokio::test]
async fn every_authenticated_method_refuses_a_call_without_credentials() {
    let server = TestServer::start().await;
    let c = &server.client;
    let results: Vec<(&str, Result<(), owl::Error>)> = vec![
        (
            "ChangePassword",
            c.change_password(Default::default()).await,
        ),
        (
            "ListDevelopers",
            c.list_developers(Default::default()).await.map(drop),
        ),
        (
            "CreateInvitation",
            c.create_invitation(Default::default()).await.map(drop),
        ),
        (
            "ListInvitations",
            c.list_invitations(Default::default()).await.map(drop),
        ),
        (
            "DeleteInvitation",
            c.delete_invitation(Default::default()).await,
        ),
        (
            "CreateApplication",
            c.create_application(Default::default()).await.map(drop),
        ),
        (
            "GetApplication",
            c.get_application(Default::default()).await.map(drop),
        ),
        (
            "ListApplications",
            c.list_applications(Default::default()).await.map(drop),
        ),
        (
            "UpdateApplication",
            c.update_application(Default::default()).await.map(drop),
        ),
        (
            "DeleteApplication",
            c.delete_application(Default::default()).await,
        ),
        (
            "CreateApiKey",
            c.create_api_key(Default::default()).await.map(drop),
        ),
        (
            "ListApiKeys",
            c.list_api_keys(Default::default()).await.map(drop),
        ),
        (
            "RevokeApiKey",
            c.revoke_api_key(Default::default()).await.map(drop),
        ),
        (
            "RotateApiKey",
            c.rotate_api_key(Default::default()).await.map(drop),
        ),
        (
            "CreateUser",
            c.create_user(Default::default()).await.map(drop),
        ),
        ("GetUser", c.get_user(Default::default()).await.map(drop)),
        (
            "ListUsers",
            c.list_users(Default::default()).await.map(drop),
        ),
        (
            "UpdateUser",
            c.update_user(Default::default()).await.map(drop),
        ),
        ("DeleteUser", c.delete_user(Default::default()).await),
        (
            "CreateSdkToken",
            c.create_sdk_token(Default::default()).await.map(drop),
        ),
        (
            "CreateInvitationCode",
            c.create_invitation_code(Default::default()).await.map(drop),
        ),
    ];
    for (method, result) in results {
        let error = result.expect_err(method);
        assert_eq!(error.code(), Code::Unauthenticated, "{method}");
        assert_eq!(
            error.reason().as_deref(),
            Some("MISSING_CREDENTIALS"),
            "{method}"
        );
    }
}

#[tokio::test]
async fn unauthenticated_methods_validate_their_empty_requests() {
    let server = TestServer::start().await;
    let c = &server.client;
    let results: Vec<(&str, Result<(), owl::Error>, &[&str])> = vec![
        (
            "Onboard",
            c.onboard(Default::default()).await.map(drop),
            &["email", "password"],
        ),
        (
            "Login",
            c.login(Default::default()).await.map(drop),
            &["email", "password"],
        ),
        (
            "RefreshToken",
            c.refresh_token(Default::default()).await.map(drop),
            &["refresh_token"],
        ),
        (
            "AcceptInvitation",
            c.accept_invitation(Default::default()).await.map(drop),
            &["token", "password"],
        ),
        (
            "RedeemInvitationCode",
            c.redeem_invitation_code(Default::default()).await.map(drop),
            &["code"],
        ),
        (
            "RefreshSdkToken",
            c.refresh_sdk_token(Default::default()).await.map(drop),
            &["refresh_token"],
        ),
    ];
    for (method, result, fields) in results {
        let error = assert_error(result, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(violated_fields(&error), fields, "{method}");
    }
}
