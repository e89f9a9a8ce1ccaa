//! `owl.v1.DeveloperService` over gRPC: converts messages and delegates to `domain::developers`.

use std::sync::Arc;

use owl::pb::developer_service_server::DeveloperService;
use owl::pb::{self, InvitationState as PbState};
use secrecy::SecretString;
use tonic::{Request, Response, Status};

use super::auth::caller;
use super::convert::{one_name, page_request, timestamp};
use crate::domain::Context;
use crate::domain::developers::Developers;
use crate::domain::model::{Developer, Invitation, InvitationState, Subject};
use crate::domain::sessions::IssuedTokens;

/// The DeveloperService implementation.
pub struct DeveloperApi(pub Arc<Context>);

fn session(tokens: IssuedTokens) -> pb::Session {
    let developer = match tokens.subject {
        Subject::Developer(id) | Subject::User(id) => format!("developers/{id}"),
    };
    pb::Session {
        developer,
        access_token: tokens.access_token,
        access_token_expire_time: timestamp(tokens.access_expires_at),
        refresh_token: tokens.refresh_token,
        refresh_token_expire_time: timestamp(tokens.refresh_expires_at),
    }
}

fn developer(d: Developer) -> pb::Developer {
    pb::Developer {
        name: format!("developers/{}", d.id),
        email: d.email,
        create_time: timestamp(d.created_at),
    }
}

fn invitation(i: Invitation, now: chrono::DateTime<chrono::Utc>) -> pb::Invitation {
    let state = match i.state(now) {
        InvitationState::Pending => PbState::Pending,
        InvitationState::Accepted => PbState::Accepted,
        InvitationState::Revoked => PbState::Revoked,
        InvitationState::Expired => PbState::Expired,
    };
    pb::Invitation {
        name: format!("invitations/{}", i.id),
        email: i.email,
        state: state as i32,
        inviter: i
            .inviter_id
            .map(|id| format!("developers/{id}"))
            .unwrap_or_default(),
        create_time: timestamp(i.created_at),
        expire_time: timestamp(i.expires_at),
    }
}

fn secret(value: String) -> SecretString {
    SecretString::from(value)
}

#[tonic::async_trait]
impl DeveloperService for DeveloperApi {
    async fn onboard(
        &self,
        request: Request<pb::OnboardRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let r = request.into_inner();
        let tokens = Developers(&self.0)
            .onboard(&r.email, &secret(r.password))
            .await?;
        Ok(Response::new(session(tokens)))
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let r = request.into_inner();
        let tokens = Developers(&self.0)
            .login(&r.email, &secret(r.password))
            .await?;
        Ok(Response::new(session(tokens)))
    }

    async fn refresh_token(
        &self,
        request: Request<pb::RefreshTokenRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let tokens = Developers(&self.0)
            .refresh(&request.into_inner().refresh_token)
            .await?;
        Ok(Response::new(session(tokens)))
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        Developers(&self.0)
            .change_password(
                &caller,
                &secret(r.current_password),
                &secret(r.new_password),
            )
            .await?;
        Ok(Response::new(()))
    }

    async fn list_developers(
        &self,
        request: Request<pb::ListDevelopersRequest>,
    ) -> Result<Response<pb::ListDevelopersResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let result = Developers(&self.0)
            .list(&caller, page_request(r.page_size, &r.page_token)?)
            .await?;
        Ok(Response::new(pb::ListDevelopersResponse {
            developers: result.items.into_iter().map(developer).collect(),
            next_page_token: result.next_page_token,
        }))
    }

    async fn create_invitation(
        &self,
        request: Request<pb::CreateInvitationRequest>,
    ) -> Result<Response<pb::Invitation>, Status> {
        let caller = caller(&self.0, &request).await?;
        let email = request
            .into_inner()
            .invitation
            .map(|i| i.email)
            .unwrap_or_default();
        let created = Developers(&self.0).invite(&caller, &email).await?;
        Ok(Response::new(invitation(created, self.0.clock.now())))
    }

    async fn list_invitations(
        &self,
        request: Request<pb::ListInvitationsRequest>,
    ) -> Result<Response<pb::ListInvitationsResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let result = Developers(&self.0)
            .list_invitations(&caller, page_request(r.page_size, &r.page_token)?)
            .await?;
        let now = self.0.clock.now();
        Ok(Response::new(pb::ListInvitationsResponse {
            invitations: result
                .items
                .into_iter()
                .map(|i| invitation(i, now))
                .collect(),
            next_page_token: result.next_page_token,
        }))
    }

    async fn delete_invitation(
        &self,
        request: Request<pb::DeleteInvitationRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&self.0, &request).await?;
        let id = one_name(&request.get_ref().name, "invitations", "name")?;
        Developers(&self.0).revoke_invitation(&caller, id).await?;
        Ok(Response::new(()))
    }

    async fn accept_invitation(
        &self,
        request: Request<pb::AcceptInvitationRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        let r = request.into_inner();
        let tokens = Developers(&self.0)
            .accept_invitation(&r.token, &secret(r.password))
            .await?;
        Ok(Response::new(session(tokens)))
    }
}
