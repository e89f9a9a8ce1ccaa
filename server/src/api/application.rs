//! `owl.v1.ApplicationService` over gRPC: converts messages and delegates to `domain::applications`.

use std::sync::Arc;

use owl::pb::application_service_server::ApplicationService;
use owl::pb::{self, ApiKeyState};
use tonic::{Request, Response, Status};

use super::auth::caller;
use super::convert::{one_child_name, one_name, page_request, parse_name, timestamp};
use crate::domain::Context;
use crate::domain::applications::{ApplicationFields, Applications, MintedApiKey};
use crate::domain::model::{ApiKey, Application};
use crate::domain::validate::Violations;

/// The ApplicationService implementation.
pub struct ApplicationApi(pub Arc<Context>);

fn application(a: Application) -> pb::Application {
    pb::Application {
        name: format!("applications/{}", a.id),
        display_name: a.display_name,
        description: a.description,
        redirect_uris: a.redirect_uris,
        create_time: timestamp(a.created_at),
        update_time: timestamp(a.updated_at),
    }
}

fn api_key(k: ApiKey, secret: Option<String>) -> pb::ApiKey {
    let state = if k.revoked_at.is_some() {
        ApiKeyState::Revoked
    } else {
        ApiKeyState::Active
    };
    pb::ApiKey {
        name: format!("applications/{}/apiKeys/{}", k.application_id, k.id),
        display_name: k.display_name,
        key_prefix: k.key_prefix,
        key: secret.unwrap_or_default(),
        state: state as i32,
        create_time: timestamp(k.created_at),
        revoke_time: k.revoked_at.and_then(timestamp),
    }
}

fn minted(m: MintedApiKey) -> pb::ApiKey {
    api_key(m.key, Some(m.secret))
}

fn fields(a: &pb::Application) -> ApplicationFields {
    ApplicationFields {
        display_name: a.display_name.clone(),
        description: a.description.clone(),
        redirect_uris: a.redirect_uris.clone(),
    }
}

#[tonic::async_trait]
impl ApplicationService for ApplicationApi {
    async fn create_application(
        &self,
        request: Request<pb::CreateApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let caller = caller(&self.0, &request).await?;
        let body = request.into_inner().application.unwrap_or_default();
        let created = Applications(&self.0).create(&caller, fields(&body)).await?;
        Ok(Response::new(application(created)))
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let caller = caller(&self.0, &request).await?;
        let id = one_name(&request.get_ref().name, "applications", "name")?;
        Ok(Response::new(application(
            Applications(&self.0).get(&caller, id).await?,
        )))
    }

    async fn list_applications(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Result<Response<pb::ListApplicationsResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let result = Applications(&self.0)
            .list(&caller, page_request(r.page_size, &r.page_token)?)
            .await?;
        Ok(Response::new(pb::ListApplicationsResponse {
            applications: result.items.into_iter().map(application).collect(),
            next_page_token: result.next_page_token,
        }))
    }

    async fn update_application(
        &self,
        request: Request<pb::UpdateApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let body = r.application.unwrap_or_default();
        let id = one_name(&body.name, "applications", "application.name")?;
        let mask = r.update_mask.map(|m| m.paths).unwrap_or_default();
        let updated = Applications(&self.0)
            .update(&caller, id, fields(&body), &mask)
            .await?;
        Ok(Response::new(application(updated)))
    }

    async fn delete_application(
        &self,
        request: Request<pb::DeleteApplicationRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&self.0, &request).await?;
        let id = one_name(&request.get_ref().name, "applications", "name")?;
        Applications(&self.0).delete(&caller, id).await?;
        Ok(Response::new(()))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::ApiKey>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let parent = parse_name(&r.parent, "applications", "parent", &mut v);
        let display_name = r.api_key.map(|k| k.display_name).unwrap_or_default();
        v.text(&display_name, "api_key.display_name", false, 100);
        v.finish()?;
        let parent = parent.ok_or_else(|| Status::invalid_argument("parent is required"))?;
        let created = Applications(&self.0)
            .create_key(&caller, parent, &display_name)
            .await?;
        Ok(Response::new(minted(created)))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let parent = parse_name(&r.parent, "applications", "parent", &mut v);
        let page =
            crate::domain::page::PageRequest::parse(r.page_size, &r.page_token, &r.parent, &mut v);
        v.finish()?;
        let parent = parent.ok_or_else(|| Status::invalid_argument("parent is required"))?;
        let result = Applications(&self.0)
            .list_keys(&caller, parent, page)
            .await?;
        Ok(Response::new(pb::ListApiKeysResponse {
            api_keys: result.items.into_iter().map(|k| api_key(k, None)).collect(),
            next_page_token: result.next_page_token,
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::ApiKey>, Status> {
        let caller = caller(&self.0, &request).await?;
        let (application_id, id) =
            one_child_name(&request.get_ref().name, "applications", "apiKeys", "name")?;
        let revoked = Applications(&self.0)
            .revoke_key(&caller, application_id, id)
            .await?;
        Ok(Response::new(api_key(revoked, None)))
    }

    async fn rotate_api_key(
        &self,
        request: Request<pb::RotateApiKeyRequest>,
    ) -> Result<Response<pb::ApiKey>, Status> {
        let caller = caller(&self.0, &request).await?;
        let (application_id, id) =
            one_child_name(&request.get_ref().name, "applications", "apiKeys", "name")?;
        let rotated = Applications(&self.0)
            .rotate_key(&caller, application_id, id)
            .await?;
        Ok(Response::new(minted(rotated)))
    }
}
