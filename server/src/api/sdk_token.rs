//! `owl.v1.SdkTokenService` over gRPC: converts messages and delegates to `domain::sdk_tokens`.

use std::sync::Arc;

use owl::pb;
use owl::pb::sdk_token_service_server::SdkTokenService;
use tonic::{Request, Response, Status};

use super::auth::caller;
use super::convert::{one_name, timestamp};
use crate::domain::Context;
use crate::domain::model::Subject;
use crate::domain::sdk_tokens::SdkTokens;
use crate::domain::sessions::IssuedTokens;

/// The SdkTokenService implementation.
pub struct SdkTokenApi(pub Arc<Context>);

fn sdk_token(tokens: IssuedTokens) -> pb::SdkToken {
    let user = match tokens.subject {
        Subject::User(id) | Subject::Developer(id) => format!("users/{id}"),
    };
    pb::SdkToken {
        user,
        access_token: tokens.access_token,
        access_token_expire_time: timestamp(tokens.access_expires_at),
        refresh_token: tokens.refresh_token,
        refresh_token_expire_time: timestamp(tokens.refresh_expires_at),
    }
}

#[tonic::async_trait]
impl SdkTokenService for SdkTokenApi {
    async fn create_sdk_token(
        &self,
        request: Request<pb::CreateSdkTokenRequest>,
    ) -> Result<Response<pb::SdkToken>, Status> {
        let caller = caller(&self.0, &request).await?;
        let user_id = one_name(&request.get_ref().user, "users", "user")?;
        Ok(Response::new(sdk_token(
            SdkTokens(&self.0).create(&caller, user_id).await?,
        )))
    }

    async fn create_invitation_code(
        &self,
        request: Request<pb::CreateInvitationCodeRequest>,
    ) -> Result<Response<pb::InvitationCode>, Status> {
        let caller = caller(&self.0, &request).await?;
        let user_id = one_name(&request.get_ref().parent, "users", "parent")?;
        let issued = SdkTokens(&self.0).create_code(&caller, user_id).await?;
        Ok(Response::new(pb::InvitationCode {
            name: format!(
                "users/{}/invitationCodes/{}",
                issued.code.user_id, issued.code.id
            ),
            code: issued.plaintext,
            create_time: timestamp(issued.code.created_at),
            expire_time: timestamp(issued.code.expires_at),
        }))
    }

    async fn redeem_invitation_code(
        &self,
        request: Request<pb::RedeemInvitationCodeRequest>,
    ) -> Result<Response<pb::SdkToken>, Status> {
        let tokens = SdkTokens(&self.0)
            .redeem(&request.into_inner().code)
            .await?;
        Ok(Response::new(sdk_token(tokens)))
    }

    async fn refresh_sdk_token(
        &self,
        request: Request<pb::RefreshSdkTokenRequest>,
    ) -> Result<Response<pb::SdkToken>, Status> {
        let tokens = SdkTokens(&self.0)
            .refresh(&request.into_inner().refresh_token)
            .await?;
        Ok(Response::new(sdk_token(tokens)))
    }
}
