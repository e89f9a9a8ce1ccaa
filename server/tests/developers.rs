//! DeveloperService through the SDK: onboarding, sessions, passwords and invitations.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::Duration;
use common::{PASSWORD, TestServer, assert_error, violated_fields};
use owl::{Code, pb};

fn onboard(email: &str, password: &str) -> pb::OnboardRequest {
    pb::OnboardRequest {
        email: email.into(),
        password: password.into(),
    }
}

fn login(email: &str, password: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        email: email.into(),
        password: password.into(),
    }
}

#[tokio::test]
async fn onboarding_creates_the_first_developer_and_then_closes_for_good() {
    let server = TestServer::start().await;
    let session = server
        .client
        .onboard(onboard("Admin@Example.com", PASSWORD))
        .await
        .unwrap();
    assert!(session.developer.starts_with("developers/"));
    assert!(!session.access_token.is_empty() && session.refresh_token.starts_with("owr_"));

    let again = server
        .client
        .onboard(onboard("second@example.com", PASSWORD))
        .await;
    assert_error(again, Code::FailedPrecondition, "ONBOARDING_CLOSED");

    let developers = server
        .client
        .with_token(session.access_token)
        .list_developers(Default::default())
        .await
        .unwrap();
    assert_eq!(developers.developers.len(), 1);
    assert_eq!(developers.developers[0].email, "admin@example.com");
}

#[tokio::test]
async fn admin_email_creates_the_first_developer_at_start_and_closes_onboarding() {
    let server = TestServer::start_with(&[
        ("ADMIN_EMAIL", "boot@example.com"),
        ("ADMIN_PASSWORD", PASSWORD),
    ])
    .await;
    server
        .client
        .login(login("boot@example.com", PASSWORD))
        .await
        .unwrap();
    let onboard = server
        .client
        .onboard(onboard("other@example.com", PASSWORD))
        .await;
    assert_error(onboard, Code::FailedPrecondition, "ONBOARDING_CLOSED");
}

#[tokio::test]
async fn onboarding_reports_every_invalid_field_at_once() {
    let server = TestServer::start().await;
    let error = assert_error(
        server
            .client
            .onboard(onboard("not-an-email", "short"))
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["email", "password"]);
    // Nothing was created: onboarding is still open.
    server
        .client
        .onboard(onboard("admin@example.com", PASSWORD))
        .await
        .unwrap();
}

#[tokio::test]
async fn login_accepts_the_right_password_only() {
    let server = TestServer::start().await;
    server.developer().await;
    let session = server
        .client
        .login(login("ADMIN@example.com", PASSWORD))
        .await
        .unwrap();
    assert!(!session.access_token.is_empty());
    for (email, password) in [
        ("admin@example.com", "wrong password!!"),
        ("nobody@example.com", PASSWORD),
    ] {
        assert_error(
            server.client.login(login(email, password)).await,
            Code::Unauthenticated,
            "INVALID_CREDENTIALS",
        );
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session() {
    let server = TestServer::start().await;
    server.developer().await;
    let first = server
        .client
        .login(login("admin@example.com", PASSWORD))
        .await
        .unwrap();
    let refresh = |token: &str| pb::RefreshTokenRequest {
        refresh_token: token.into(),
    };

    let second = server
        .client
        .refresh_token(refresh(&first.refresh_token))
        .await
        .unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    server
        .client
        .with_token(&second.access_token)
        .list_developers(Default::default())
        .await
        .unwrap();

    // The first token again: reuse. The whole family, including the second token, is revoked.
    assert_error(
        server
            .client
            .refresh_token(refresh(&first.refresh_token))
            .await,
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
    );
    assert_error(
        server
            .client
            .refresh_token(refresh(&second.refresh_token))
            .await,
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
    );
}

#[tokio::test]
async fn access_tokens_and_refresh_tokens_expire() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let session = server
        .client
        .login(login("admin@example.com", PASSWORD))
        .await
        .unwrap();
    server.clock.advance(Duration::minutes(61));
    assert_error(
        developer.list_developers(Default::default()).await,
        Code::Unauthenticated,
        "EXPIRED_CREDENTIALS",
    );
    // The refresh token still works within its 30 days …
    let renewed = server
        .client
        .refresh_token(pb::RefreshTokenRequest {
            refresh_token: session.refresh_token,
        })
        .await
        .unwrap();
    server.clock.advance(Duration::days(31));
    // … but not after.
    let late = server
        .client
        .refresh_token(pb::RefreshTokenRequest {
            refresh_token: renewed.refresh_token,
        })
        .await;
    assert_error(late, Code::Unauthenticated, "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn changing_the_password_checks_the_old_one_and_ends_other_sessions() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let other = server
        .client
        .login(login("admin@example.com", PASSWORD))
        .await
        .unwrap();
    let change = |current: &str, new: &str| pb::ChangePasswordRequest {
        current_password: current.into(),
        new_password: new.into(),
    };

    let error = assert_error(
        developer
            .change_password(change("wrong password!!", "x"))
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["new_password"]);
    let error = assert_error(
        developer
            .change_password(change("wrong password!!", "a new password 123"))
            .await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["current_password"]);

    // A second later (access tokens carry their issue time in seconds), the change ends
    // every access token issued before it, the caller's own and the other session's.
    server.clock.advance(chrono::Duration::seconds(1));
    developer
        .change_password(change(PASSWORD, "a new password 123"))
        .await
        .unwrap();
    let other_client = server.client.with_token(other.access_token.clone());
    for stale in [&developer, &other_client] {
        assert_error(
            stale.list_developers(Default::default()).await,
            Code::Unauthenticated,
            "INVALID_CREDENTIALS",
        );
    }
    assert_error(
        server
            .client
            .login(login("admin@example.com", PASSWORD))
            .await,
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
    );
    let fresh = server
        .client
        .login(login("admin@example.com", "a new password 123"))
        .await
        .unwrap();
    // A session begun in the same second as the change works.
    server
        .client
        .with_token(fresh.access_token)
        .list_developers(Default::default())
        .await
        .unwrap();
    let stale = server
        .client
        .refresh_token(pb::RefreshTokenRequest {
            refresh_token: other.refresh_token,
        })
        .await;
    assert_error(stale, Code::Unauthenticated, "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn an_invitation_is_mailed_accepted_once_and_creates_a_developer() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let invitation = developer
        .create_invitation(pb::CreateInvitationRequest {
            invitation: Some(pb::Invitation {
                email: "New@Example.com".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    assert_eq!(invitation.email, "new@example.com");
    assert_eq!(invitation.state, pb::InvitationState::Pending as i32);
    let expire = invitation.expire_time.unwrap().seconds - invitation.create_time.unwrap().seconds;
    assert_eq!(
        expire,
        7 * 24 * 3600,
        "INVITATION_EXPIRE_DAYS defaults to 7"
    );

    let email = server.mailer.wait_for("new@example.com").await;
    let token = email
        .text
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let accept = |password: &str| pb::AcceptInvitationRequest {
        token: token.clone(),
        password: password.into(),
    };
    let session = server
        .client
        .accept_invitation(accept(PASSWORD))
        .await
        .unwrap();
    let new_developer = server.client.with_token(session.access_token);
    assert_eq!(
        new_developer
            .list_developers(Default::default())
            .await
            .unwrap()
            .developers
            .len(),
        2
    );

    assert_error(
        server.client.accept_invitation(accept(PASSWORD)).await,
        Code::FailedPrecondition,
        "INVITATION_NOT_PENDING",
    );
    let listed = developer
        .list_invitations(Default::default())
        .await
        .unwrap();
    assert_eq!(
        listed.invitations[0].state,
        pb::InvitationState::Accepted as i32
    );
}

#[tokio::test]
async fn invitations_expire_after_invitation_expire_days_and_can_be_revoked() {
    let server = TestServer::start_with(&[("INVITATION_EXPIRE_DAYS", "2")]).await;
    let developer = server.developer().await;
    let invite = |email: &str| pb::CreateInvitationRequest {
        invitation: Some(pb::Invitation {
            email: email.into(),
            ..Default::default()
        }),
    };
    developer
        .create_invitation(invite("late@example.com"))
        .await
        .unwrap();
    let revoked = developer
        .create_invitation(invite("revoked@example.com"))
        .await
        .unwrap();
    developer
        .delete_invitation(pb::DeleteInvitationRequest {
            name: revoked.name.clone(),
        })
        .await
        .unwrap();
    let again = developer
        .delete_invitation(pb::DeleteInvitationRequest {
            name: revoked.name.clone(),
        })
        .await;
    assert_error(again, Code::FailedPrecondition, "INVITATION_NOT_PENDING");

    let token_of = |text: &str| {
        text.split("token=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    };
    let late = token_of(&server.mailer.wait_for("late@example.com").await.text);
    let revoked_token = token_of(&server.mailer.wait_for("revoked@example.com").await.text);
    server.clock.advance(Duration::days(2));
    for token in [late, revoked_token] {
        let result = server
            .client
            .accept_invitation(pb::AcceptInvitationRequest {
                token,
                password: PASSWORD.into(),
            })
            .await;
        assert_error(result, Code::FailedPrecondition, "INVITATION_NOT_PENDING");
    }
    let session = server
        .client
        .login(login("admin@example.com", PASSWORD))
        .await
        .unwrap();
    let developer = server.client.with_token(session.access_token);
    let states: Vec<i32> = developer
        .list_invitations(Default::default())
        .await
        .unwrap()
        .invitations
        .iter()
        .map(|i| i.state)
        .collect();
    assert_eq!(
        states,
        [
            pb::InvitationState::Revoked as i32,
            pb::InvitationState::Expired as i32
        ],
        "newest first"
    );
}

#[tokio::test]
async fn inviting_an_existing_developer_or_a_bad_address_fails() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let invite = |email: &str| pb::CreateInvitationRequest {
        invitation: Some(pb::Invitation {
            email: email.into(),
            ..Default::default()
        }),
    };
    assert_error(
        developer
            .create_invitation(invite("admin@example.com"))
            .await,
        Code::AlreadyExists,
        "ALREADY_EXISTS",
    );
    let error = assert_error(
        developer.create_invitation(invite("nope")).await,
        Code::InvalidArgument,
        "INVALID_ARGUMENT",
    );
    assert_eq!(violated_fields(&error), ["invitation.email"]);
    let unknown = developer
        .accept_invitation(pb::AcceptInvitationRequest {
            token: "made-up".into(),
            password: PASSWORD.into(),
        })
        .await;
    assert_error(unknown, Code::NotFound, "NOT_FOUND");
}

#[tokio::test]
async fn developer_methods_need_a_developer() {
    let server = TestServer::start().await;
    let developer = server.developer().await;
    let (_, api_key) = server.application(&developer, "App").await;
    assert_error(
        server.client.list_developers(Default::default()).await,
        Code::Unauthenticated,
        "MISSING_CREDENTIALS",
    );
    assert_error(
        api_key.list_developers(Default::default()).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert_error(
        api_key.list_invitations(Default::default()).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
}
