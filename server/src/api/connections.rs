//! `owl.v1.ConnectionService` and `owl.v1.ProviderService` over gRPC: convert messages and
//! delegate to `domain::connections`.

use std::sync::Arc;

use owl::pb;
use owl::pb::connection_service_server::ConnectionService;
use owl::pb::provider_service_server::ProviderService;
use tonic::{Request, Response, Status};

use super::auth::caller;
use super::convert::{one_child_name, one_name, timestamp};
use crate::domain::Context;
use crate::domain::connections::{
    ConnectionState, Connections, ProviderView, StoredConnection, SyncMode, connection_name,
};
use crate::domain::error::Error;
use crate::domain::validate::Violations;

/// The ConnectionService implementation.
pub struct ConnectionApi(pub Arc<Context>);

/// The ProviderService implementation.
pub struct ProviderApi(pub Arc<Context>);

fn connection(c: StoredConnection) -> pb::Connection {
    let state = match c.state {
        ConnectionState::Active => pb::ConnectionState::Active,
        ConnectionState::Expired => pb::ConnectionState::Expired,
        ConnectionState::Revoked => pb::ConnectionState::Revoked,
    };
    pb::Connection {
        name: connection_name(&c),
        provider: c.provider,
        state: state as i32,
        state_reason: c.state_reason.unwrap_or_default(),
        provider_user_id: c.provider_user_id.unwrap_or_default(),
        scope: c.scope.unwrap_or_default(),
        create_time: timestamp(c.created_at),
        update_time: timestamp(c.updated_at),
        last_sync_time: c.last_synced_at.and_then(timestamp),
    }
}

fn provider(p: ProviderView) -> pb::Provider {
    let mode = match p.sync_mode {
        SyncMode::Pull => pb::SyncMode::Pull,
        SyncMode::Webhook => pb::SyncMode::Webhook,
    };
    pb::Provider {
        name: format!("providers/{}", p.info.key),
        display_name: p.info.display_name.into(),
        capabilities: Some(pb::ProviderCapabilities {
            pull: p.info.pull,
            push: p.info.push,
            data_types: p.info.data_types.iter().map(|s| s.to_string()).collect(),
            backfill_days: p.info.backfill_days,
            pkce: p.pkce,
        }),
        configured: p.configured,
        enabled: p.enabled,
        sync_mode: mode as i32,
        update_time: p.updated_at.and_then(timestamp),
    }
}

#[tonic::async_trait]
impl ConnectionService for ConnectionApi {
    async fn start_connection(
        &self,
        request: Request<pb::StartConnectionRequest>,
    ) -> Result<Response<pb::StartConnectionResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let user = one_name(&r.parent, "users", "parent")?;
        let started = Connections(&self.0)
            .start(&caller, user, &r.provider, &r.redirect_uri)
            .await?;
        Ok(Response::new(pb::StartConnectionResponse {
            authorization_url: started.authorization_url,
            expire_time: timestamp(started.expires_at),
        }))
    }

    async fn list_connections(
        &self,
        request: Request<pb::ListConnectionsRequest>,
    ) -> Result<Response<pb::ListConnectionsResponse>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let user = super::convert::parse_name(&r.parent, "users", "parent", &mut v);
        let page = crate::domain::page::PageRequest::parse(r.page_size, &r.page_token, "", &mut v);
        v.finish().map_err(Status::from)?;
        let user = user.ok_or_else(|| Status::from(Error::invalid("parent", "is required")))?;
        let found = Connections(&self.0).list(&caller, user, page).await?;
        Ok(Response::new(pb::ListConnectionsResponse {
            connections: found.items.into_iter().map(connection).collect(),
            next_page_token: found.next_page_token,
        }))
    }

    async fn get_connection(
        &self,
        request: Request<pb::GetConnectionRequest>,
    ) -> Result<Response<pb::Connection>, Status> {
        let caller = caller(&self.0, &request).await?;
        let (user, id) = one_child_name(&request.get_ref().name, "users", "connections", "name")?;
        let found = Connections(&self.0).get(&caller, user, id).await?;
        Ok(Response::new(connection(found)))
    }

    async fn delete_connection(
        &self,
        request: Request<pb::DeleteConnectionRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let (user, id) = one_child_name(&r.name, "users", "connections", "name")?;
        Connections(&self.0)
            .delete(&caller, user, id, r.delete_data)
            .await?;
        Ok(Response::new(()))
    }
}

#[tonic::async_trait]
impl ProviderService for ProviderApi {
    async fn list_providers(
        &self,
        request: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        caller(&self.0, &request).await?;
        let all = Connections(&self.0).providers().await?;
        Ok(Response::new(pb::ListProvidersResponse {
            providers: all.into_iter().map(provider).collect(),
        }))
    }

    async fn update_provider(
        &self,
        request: Request<pb::UpdateProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let caller = caller(&self.0, &request).await?;
        let r = request.into_inner();
        let body = r.provider.unwrap_or_default();
        let mask = r.update_mask.map(|m| m.paths).unwrap_or_default();
        let mut v = Violations::new();
        let key = body.name.strip_prefix("providers/").unwrap_or_default();
        v.check(
            !key.is_empty(),
            "provider.name",
            "must be providers/{provider}",
        );
        v.check(!mask.is_empty(), "update_mask", "name the fields to change");
        for path in &mask {
            v.check(
                matches!(path.as_str(), "enabled" | "sync_mode"),
                "update_mask",
                &format!("cannot update {path:?}"),
            );
        }
        let has = |field: &str| mask.iter().any(|p| p == field);
        let mode = match pb::SyncMode::try_from(body.sync_mode) {
            Ok(pb::SyncMode::Pull) => Some(SyncMode::Pull),
            Ok(pb::SyncMode::Webhook) => Some(SyncMode::Webhook),
            _ => {
                v.check(
                    !has("sync_mode"),
                    "provider.sync_mode",
                    "must be PULL or WEBHOOK",
                );
                None
            }
        };
        v.finish().map_err(Status::from)?;
        let updated = Connections(&self.0)
            .update_provider(
                &caller,
                key,
                has("enabled").then_some(body.enabled),
                mode.filter(|_| has("sync_mode")),
            )
            .await?;
        Ok(Response::new(provider(updated)))
    }
}
