//! SdkTokenService through the SDK: minted tokens, invitation codes, refresh.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::Duration;
use common::{TestServer, assert_error};
use owl::{Code, pb};

#[tokio::test]
async fn an_invitation_code_is_redeemed_once_for_a_token_of_its_user() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    let code = backend
        .create_invitation_code(pb::CreateInvitationCodeRequest {
            parent: user.name.clone(),
        })
        .await
        .unwrap();
    assert_eq!(code.code.len(), 8);
    assert!(
        code.name
            .starts_with(&format!("{}/invitationCodes/", user.name))
    );
    assert_eq!(
        code.expire_time.unwrap().seconds - code.create_time.unwrap().seconds,
        7 * 24 * 3600
    );

    // Codes are case-insensitive and survive a typed dash.
    let typed = format!("{}-{}", &code.code[..4].to_lowercase(), &code.code[4..]);
    let token = server
        .client
        .redeem_invitation_code(pb::RedeemInvitationCodeRequest { code: typed })
        .await
        .unwrap();
    assert_eq!(token.user, user.name);
    let phone = server.client.with_token(&token.access_token);
    assert_eq!(
        phone
            .get_user(pb::GetUserRequest {
                name: user.name.clone()
            })
            .await
            .unwrap()
            .name,
        user.name
    );

    let again = server
        .client
        .redeem_invitation_code(pb::RedeemInvitationCodeRequest { code: code.code })
        .await;
    assert_error(again, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn invitation_codes_expire_after_user_invitation_code_expire_days() {
    let server = TestServer::start_with(&[("USER_INVITATION_CODE_EXPIRE_DAYS", "1")]).await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    let code = backend
        .create_invitation_code(pb::CreateInvitationCodeRequest { parent: user.name })
        .await
        .unwrap();
    server.clock.advance(Duration::days(1));
    let late = server
        .client
        .redeem_invitation_code(pb::RedeemInvitationCodeRequest { code: code.code })
        .await;
    assert_error(late, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn malformed_codes_are_invalid_arguments() {
    let server = TestServer::start().await;
    for code in ["", "ABC", "ABCDEFG0", "ABCDEFGHI"] {
        let result = server
            .client
            .redeem_invitation_code(pb::RedeemInvitationCodeRequest { code: code.into() })
            .await;
        assert_error(result, Code::InvalidArgument, "INVALID_ARGUMENT");
    }
}

#[tokio::test]
async fn sdk_tokens_expire_and_refresh_within_their_family() {
    let server = TestServer::start_with(&[("TOKEN_LIFETIME", "600")]).await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    let token = backend
        .create_sdk_token(pb::CreateSdkTokenRequest {
            user: user.name.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        token.access_token_expire_time.unwrap().seconds - server.clock_now(),
        600
    );
    server.clock.advance(Duration::seconds(601));
    let phone = server.client.with_token(&token.access_token);
    assert_error(
        phone
            .get_user(pb::GetUserRequest {
                name: user.name.clone(),
            })
            .await,
        Code::Unauthenticated,
        "EXPIRED_CREDENTIALS",
    );

    let renewed = server
        .client
        .refresh_sdk_token(pb::RefreshSdkTokenRequest {
            refresh_token: token.refresh_token.clone(),
        })
        .await
        .unwrap();
    server
        .client
        .with_token(&renewed.access_token)
        .get_user(pb::GetUserRequest { name: user.name })
        .await
        .unwrap();
    let reuse = server
        .client
        .refresh_sdk_token(pb::RefreshSdkTokenRequest {
            refresh_token: token.refresh_token,
        })
        .await;
    assert_error(reuse, Code::Unauthenticated, "INVALID_CREDENTIALS");
    // A developer refresh token is not an SDK refresh token, and the other way round.
    let dev = server
        .client
        .login(pb::LoginRequest {
            email: "admin@example.com".into(),
            password: common::PASSWORD.into(),
        })
        .await
        .unwrap();
    let wrong = server
        .client
        .refresh_sdk_token(pb::RefreshSdkTokenRequest {
            refresh_token: dev.refresh_token,
        })
        .await;
    assert_error(wrong, Code::Unauthenticated, "INVALID_CREDENTIALS");
    let wrong = server
        .client
        .refresh_token(pb::RefreshTokenRequest {
            refresh_token: renewed.refresh_token,
        })
        .await;
    assert_error(wrong, Code::Unauthenticated, "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn a_deleted_users_sdk_token_reaches_nothing() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, backend) = server.application(&developer, "App").await;
    let user = server.user(&backend, "u").await;
    let token = backend
        .create_sdk_token(pb::CreateSdkTokenRequest {
            user: user.name.clone(),
        })
        .await
        .unwrap();
    backend
        .delete_user(pb::DeleteUserRequest {
            name: user.name.clone(),
        })
        .await
        .unwrap();
    let phone = server.client.with_token(token.access_token);
    assert_error(
        phone.get_user(pb::GetUserRequest { name: user.name }).await,
        Code::NotFound,
        "NOT_FOUND",
    );
    let refresh = server
        .client
        .refresh_sdk_token(pb::RefreshSdkTokenRequest {
            refresh_token: token.refresh_token,
        })
        .await;
    assert_error(refresh, Code::Unauthenticated, "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn a_developers_refresh_token_sent_to_the_sdk_refresh_is_refused_unspent() {
    let server = TestServer::start().await;
    server.developer().await;
    let session = server
        .client
        .login(pb::LoginRequest {
            email: "admin@example.com".into(),
            password: common::PASSWORD.into(),
        })
        .await
        .unwrap();
    let wrong_door = server
        .client
        .refresh_sdk_token(pb::RefreshSdkTokenRequest {
            refresh_token: session.refresh_token.clone(),
        })
        .await;
    assert_error(wrong_door, Code::Unauthenticated, "INVALID_CREDENTIALS");
    // Before, the token was spent first: the developer's session ended here.
    server
        .client
        .refresh_token(pb::RefreshTokenRequest {
            refresh_token: session.refresh_token,
        })
        .await
        .unwrap();
}
