//! `owl.v1.UserService` over gRPC: converts messages and delegates to `domain::users`.

use std::sync::Arc;

use owl::pb;
use owl::pb::user_service_server::UserService;
use tonic::{Request, Response, Status};

use super::auth::caller;
use super::convert::{one_name, parse_optional_name, timestamp};
use crate::domain::Context;
use crate::domain::model::{User, UserFilter};
use crate::domain::page::PageRequest;
use crate::domain::users::{UserFields, Users};
use crate::domain::validate::Violations;

/// The UserService implementation.
pub struct UserApi(pub Arc<Context>);

/// The protobuf form of a user.
pub fn user(u: User) -> pb::User {
    pb::User {
        name: format!("users/{}", u.id),
        application: format!("applications/{}", u.application_id),
        external_user_id: u.external_user_id.unwrap_or_default(),
        email: u.email.unwrap_or_default(),
        first_name: u.first_name.unwrap_or_default(),
        last_name: u.last_name.unwrap_or_default(),
        time_zone: u.time_zone.unwrap_or_default(),
        create_time: timestamp(u.created_at),
        update_time: timestamp(u.updated_at),
    }
}

fn fields(u: pb::User) -> UserFields {
    UserFields {
        external_user_id: u.external_user_id,
        email: u.email,
        first_name: u.first_name,
        last_name: u.last_name,
        time_zone: u.time_zone,
    }
}

fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

#[tonic::async_trait]
impl UserService for UserApi {
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let parent = parse_optional_name(&r.parent, "applications", "parent", &mut v);
        v.finish()?;
        let created = Users(&self.0)
            .create(&caller, parent, fields(r.user.unwrap_or_default()))
            .await?;
        Ok(Response::new(user(created)))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = caller(&self.0, &request).await?;
        let id = one_name(&request.get_ref().name, "users", "name")?;
        Ok(Response::new(user(Users(&self.0).get(&caller, id).await?)))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let parent = parse_optional_name(&r.parent, "applications", "parent", &mut v);
        let query = format!(
            "{}|{}|{}",
            r.parent,
            r.email.to_lowercase(),
            r.external_user_id
        );
        let page = PageRequest::parse(r.page_size, &r.page_token, &query, &mut v);
        v.finish()?;
        let filter = UserFilter {
            application_id: None,
            email: non_empty(r.email),
            external_user_id: non_empty(r.external_user_id),
        };
        let result = Users(&self.0).list(&caller, parent, filter, page).await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: result.items.into_iter().map(user).collect(),
            next_page_token: result.next_page_token,
        }))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let body = r.user.unwrap_or_default();
        let id = one_name(&body.name, "users", "user.name")?;
        let mask = r.update_mask.map(|m| m.paths).unwrap_or_default();
        let updated = Users(&self.0)
            .update(&caller, id, fields(body), &mask)
            .await?;
        Ok(Response::new(user(updated)))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&self.0, &request).await?;
        let id = one_name(&request.get_ref().name, "users", "name")?;
        Users(&self.0).delete(&caller, id).await?;
        Ok(Response::new(()))
    }
}
