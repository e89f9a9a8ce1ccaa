//! The network surface on one port: gRPC services, grpc-web (HTTP/1.1), health, reflection,
//! CORS, security headers and the plain HTTP routes under `/api/v1`.

use std::sync::Arc;

use owl::pb::application_service_server::ApplicationServiceServer;
use owl::pb::connection_service_server::ConnectionServiceServer;
use owl::pb::developer_service_server::DeveloperServiceServer;
use owl::pb::event_service_server::EventServiceServer;
use owl::pb::provider_service_server::ProviderServiceServer;
use owl::pb::sdk_sync_service_server::SdkSyncServiceServer;
use owl::pb::sdk_token_service_server::SdkTokenServiceServer;
use owl::pb::summary_service_server::SummaryServiceServer;
use owl::pb::sync_service_server::SyncServiceServer;
use owl::pb::time_series_service_server::TimeSeriesServiceServer;
use owl::pb::user_service_server::UserServiceServer;
use tonic::service::RoutesBuilder;

use crate::AppState;

mod application;
mod auth;
mod connections;
mod convert;
mod developer;
mod events;
mod http;
mod imports;
mod oauth;
mod panics;
mod sdk_sync;
mod sdk_token;
pub mod status;
mod stream;
mod summaries;
mod sync;
mod time_series;
mod user;

use application::ApplicationApi;
use connections::{ConnectionApi, ProviderApi};
use developer::DeveloperApi;
use events::EventApi;
use sdk_sync::SdkSyncApi;
use sdk_token::SdkTokenApi;
use summaries::SummaryApi;
use sync::SyncApi;
use time_series::TimeSeriesApi;
use user::UserApi;

/// Largest sample write message: 100,000 samples of ~20 bytes, with room to spare.
const MAX_SAMPLE_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

/// Every route of the server, with its layers.
pub async fn router(state: &AppState) -> anyhow::Result<axum::Router> {
    let ctx = state.ctx.clone();
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<DeveloperServiceServer<DeveloperApi>>()
        .await;
    health_reporter
        .set_serving::<ApplicationServiceServer<ApplicationApi>>()
        .await;
    health_reporter
        .set_serving::<UserServiceServer<UserApi>>()
        .await;
    health_reporter
        .set_serving::<SdkTokenServiceServer<SdkTokenApi>>()
        .await;

    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(owl::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };

    let mut routes = RoutesBuilder::default();
    routes
        .add_service(health_service)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(DeveloperServiceServer::new(DeveloperApi(ctx.clone())))
        .add_service(ApplicationServiceServer::new(ApplicationApi(ctx.clone())))
        .add_service(UserServiceServer::new(UserApi(ctx.clone())))
        .add_service(SdkTokenServiceServer::new(SdkTokenApi(ctx.clone())))
        .add_service(
            SdkSyncServiceServer::new(SdkSyncApi(ctx.clone()))
                .max_decoding_message_size(sdk_sync::MAX_MESSAGE_BYTES),
        )
        .add_service(EventServiceServer::new(EventApi(ctx.clone())))
        .add_service(SummaryServiceServer::new(SummaryApi(ctx.clone())))
        .add_service(ConnectionServiceServer::new(ConnectionApi(ctx.clone())))
        .add_service(ProviderServiceServer::new(ProviderApi(ctx.clone())))
        .add_service(SyncServiceServer::new(SyncApi {
            ctx: ctx.clone(),
            jobs: state.jobs.clone(),
        }))
        .add_service(imports::service(state))
        .add_service(
            TimeSeriesServiceServer::new(TimeSeriesApi(Arc::clone(&ctx)))
                .max_decoding_message_size(MAX_SAMPLE_MESSAGE_BYTES),
        );

    // grpc-web translation only in front of gRPC: it answers other HTTP/1.1 requests with 400.
    let grpc = routes
        .routes()
        .into_axum_router()
        .layer(panics::grpc())
        .layer(crate::metrics::GrpcMetricsLayer::new())
        .layer(tonic_web::GrpcWebLayer::new());
    let plain = http::routes(state)
        .merge(oauth::routes(state))
        .merge(crate::metrics::routes(state))
        .layer(panics::http());
    Ok(http::layered(grpc.merge(plain), state))
}
