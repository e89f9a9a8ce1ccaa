//! `Client`: one channel, the caller's credentials, and a typed method per RPC.

use futures::Stream;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::pb;
use crate::pb::application_service_client::ApplicationServiceClient;
use crate::pb::connection_service_client::ConnectionServiceClient;
use crate::pb::developer_service_client::DeveloperServiceClient;
use crate::pb::event_service_client::EventServiceClient;
use crate::pb::provider_service_client::ProviderServiceClient;
use crate::pb::sdk_sync_service_client::SdkSyncServiceClient;
use crate::pb::sdk_token_service_client::SdkTokenServiceClient;
use crate::pb::summary_service_client::SummaryServiceClient;
use crate::pb::sync_service_client::SyncServiceClient;
use crate::pb::time_series_service_client::TimeSeriesServiceClient;
use crate::pb::user_service_client::UserServiceClient;
use crate::{Error, paginate};

/// What a client authenticates with.
#[derive(Clone, Debug, Default)]
pub enum Credentials {
    /// No credentials (Onboard, Login, RedeemInvitationCode, …).
    #[default]
    None,
    /// An application's API key, sent as `x-api-key`.
    ApiKey(String),
    /// A developer session token or an SDK token, sent as `authorization: Bearer`.
    Bearer(String),
}

/// Adds the credentials to every request.
#[derive(Clone, Debug)]
pub struct Auth(Credentials);

impl Interceptor for Auth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let invalid = |_| {
            tonic::Status::invalid_argument(
                "credentials contain characters not allowed in metadata",
            )
        };
        match &self.0 {
            Credentials::None => {}
            Credentials::ApiKey(key) => {
                let value: AsciiMetadataValue = key.parse().map_err(invalid)?;
                request.metadata_mut().insert("x-api-key", value);
            }
            Credentials::Bearer(token) => {
                let value: AsciiMetadataValue =
                    MetadataValue::try_from(format!("Bearer {token}")).map_err(invalid)?;
                request.metadata_mut().insert("authorization", value);
            }
        }
        Ok(request)
    }
}

/// A connection to an owl server with one set of credentials. Cloning is cheap and shares the
/// connection; `with_*` return a clone with other credentials.
#[derive(Clone, Debug)]
pub struct Client {
    channel: Channel,
    credentials: Credentials,
}

impl Client {
    /// Connects to `url`, such as `http://127.0.0.1:8000`.
    pub async fn connect(url: impl Into<String>) -> Result<Self, Error> {
        let endpoint =
            Endpoint::from_shared(url.into()).map_err(|e| Error::InvalidInput(e.to_string()))?;
        Ok(Self::from_channel(endpoint.connect().await?))
    }

    /// Wraps an existing channel.
    pub fn from_channel(channel: Channel) -> Self {
        Client {
            channel,
            credentials: Credentials::None,
        }
    }

    /// The same connection, authenticated with an application's API key.
    pub fn with_api_key(&self, key: impl Into<String>) -> Self {
        Client {
            channel: self.channel.clone(),
            credentials: Credentials::ApiKey(key.into()),
        }
    }

    /// The same connection, authenticated with a developer session token or an SDK token.
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Client {
            channel: self.channel.clone(),
            credentials: Credentials::Bearer(token.into()),
        }
    }

    /// The same connection without credentials.
    pub fn without_credentials(&self) -> Self {
        Client {
            channel: self.channel.clone(),
            credentials: Credentials::None,
        }
    }

    /// The credentials this client sends.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The underlying channel, for generated clients of other services (health, reflection).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    pub(crate) fn auth(&self) -> Auth {
        Auth(self.credentials.clone())
    }

    /// The generated DeveloperService client with these credentials.
    pub fn developers(&self) -> DeveloperServiceClient<InterceptedService<Channel, Auth>> {
        DeveloperServiceClient::with_interceptor(self.channel(), self.auth())
    }

    /// The generated ApplicationService client with these credentials.
    pub fn applications(&self) -> ApplicationServiceClient<InterceptedService<Channel, Auth>> {
        ApplicationServiceClient::with_interceptor(self.channel(), self.auth())
    }

    /// The generated UserService client with these credentials.
    pub fn users(&self) -> UserServiceClient<InterceptedService<Channel, Auth>> {
        UserServiceClient::with_interceptor(self.channel(), self.auth())
    }

    /// The generated SdkTokenService client with these credentials.
    pub fn sdk_tokens(&self) -> SdkTokenServiceClient<InterceptedService<Channel, Auth>> {
        SdkTokenServiceClient::with_interceptor(self.channel(), self.auth())
    }
}

impl Client {
    /// The generated EventService client with these credentials.
    pub fn events(&self) -> EventServiceClient<InterceptedService<Channel, Auth>> {
        EventServiceClient::with_interceptor(self.channel(), self.auth())
    }

    /// The generated SummaryService client with these credentials.
    pub fn summaries(&self) -> SummaryServiceClient<InterceptedService<Channel, Auth>> {
        SummaryServiceClient::with_interceptor(self.channel(), self.auth())
    }

    /// The generated TimeSeriesService client with these credentials.
    pub fn time_series(&self) -> TimeSeriesServiceClient<InterceptedService<Channel, Auth>> {
        TimeSeriesServiceClient::with_interceptor(self.channel(), self.auth())
    }

    /// The generated ConnectionService client with these credentials.
    pub fn connections(&self) -> ConnectionServiceClient<InterceptedService<Channel, Auth>> {
        ConnectionServiceClient::with_interceptor(self.channel(), self.auth())
    }

    /// The generated ProviderService client with these credentials.
    pub fn providers(&self) -> ProviderServiceClient<InterceptedService<Channel, Auth>> {
        ProviderServiceClient::with_interceptor(self.channel(), self.auth())
    }

    /// The generated SyncService client with these credentials.
    pub fn syncs(&self) -> SyncServiceClient<InterceptedService<Channel, Auth>> {
        SyncServiceClient::with_interceptor(self.channel(), self.auth())
    }

    /// Watches a user's sync runs (`WatchSyncStatus`): the latest runs, then every change,
    /// until the stream is dropped.
    pub async fn watch_sync_status(
        &self,
        request: pb::WatchSyncStatusRequest,
    ) -> Result<impl Stream<Item = Result<pb::SyncRun, Error>> + use<>, Error> {
        use futures::StreamExt;
        let stream = self.syncs().watch_sync_status(request).await?.into_inner();
        Ok(stream.map(|item| item.map_err(Error::from)))
    }

    /// Streams sample batches in one transaction (`StreamSamples`); the first message names
    /// the user. Native gRPC only: browsers use `write_samples`.
    pub async fn stream_samples(
        &self,
        messages: impl Stream<Item = pb::StreamSamplesRequest> + Send + 'static,
    ) -> Result<pb::StreamSamplesResponse, Error> {
        Ok(self
            .time_series()
            .stream_samples(messages)
            .await?
            .into_inner())
    }
}

impl Client {
    /// The generated SdkSyncService client with these credentials.
    pub fn sdk_sync(&self) -> SdkSyncServiceClient<InterceptedService<Channel, Auth>> {
        SdkSyncServiceClient::with_interceptor(self.channel(), self.auth())
            .max_encoding_message_size(24 * 1024 * 1024)
    }

    /// Streams HealthKit / Health Connect batches (`StreamHealthBatches`); the first message
    /// names the user. Native gRPC only: browsers and React Native use `push_health_batch`.
    pub async fn stream_health_batches(
        &self,
        messages: impl Stream<Item = pb::StreamHealthBatchesRequest> + Send + 'static,
    ) -> Result<pb::StreamHealthBatchesResponse, Error> {
        Ok(self
            .sdk_sync()
            .stream_health_batches(messages)
            .await?
            .into_inner())
    }
}

/// One typed method per RPC: request in, resource out, `Error` on failure.
macro_rules! rpcs {
    ($service:ident { $($method:ident($request:ty) -> $response:ty;)* }) => {
        impl Client {
            $(
                #[doc = concat!("Calls `", stringify!($method), "` of the ", stringify!($service), " service.")]
                pub async fn $method(&self, request: $request) -> Result<$response, Error> {
                    Ok(self.$service().$method(request).await?.into_inner())
                }
            )*
        }
    };
}

rpcs!(developers {
    onboard(pb::OnboardRequest) -> pb::Session;
    login(pb::LoginRequest) -> pb::Session;
    refresh_token(pb::RefreshTokenRequest) -> pb::Session;
    change_password(pb::ChangePasswordRequest) -> ();
    list_developers(pb::ListDevelopersRequest) -> pb::ListDevelopersResponse;
    create_invitation(pb::CreateInvitationRequest) -> pb::Invitation;
    list_invitations(pb::ListInvitationsRequest) -> pb::ListInvitationsResponse;
    delete_invitation(pb::DeleteInvitationRequest) -> ();
    accept_invitation(pb::AcceptInvitationRequest) -> pb::Session;
});

rpcs!(applications {
    create_application(pb::CreateApplicationRequest) -> pb::Application;
    get_application(pb::GetApplicationRequest) -> pb::Application;
    list_applications(pb::ListApplicationsRequest) -> pb::ListApplicationsResponse;
    update_application(pb::UpdateApplicationRequest) -> pb::Application;
    delete_application(pb::DeleteApplicationRequest) -> ();
    create_api_key(pb::CreateApiKeyRequest) -> pb::ApiKey;
    list_api_keys(pb::ListApiKeysRequest) -> pb::ListApiKeysResponse;
    revoke_api_key(pb::RevokeApiKeyRequest) -> pb::ApiKey;
    rotate_api_key(pb::RotateApiKeyRequest) -> pb::ApiKey;
});

rpcs!(users {
    create_user(pb::CreateUserRequest) -> pb::User;
    get_user(pb::GetUserRequest) -> pb::User;
    list_users(pb::ListUsersRequest) -> pb::ListUsersResponse;
    update_user(pb::UpdateUserRequest) -> pb::User;
    delete_user(pb::DeleteUserRequest) -> ();
});

rpcs!(time_series {
    list_series_types(pb::ListSeriesTypesRequest) -> pb::ListSeriesTypesResponse;
    list_data_sources(pb::ListDataSourcesRequest) -> pb::ListDataSourcesResponse;
    write_samples(pb::WriteSamplesRequest) -> pb::WriteSamplesResponse;
    list_samples(pb::ListSamplesRequest) -> pb::ListSamplesResponse;
    aggregate_samples(pb::AggregateSamplesRequest) -> pb::AggregateSamplesResponse;
    delete_samples(pb::DeleteSamplesRequest) -> pb::DeleteSamplesResponse;
    get_source_priority(pb::GetSourcePriorityRequest) -> pb::SourcePriority;
    update_source_priority(pb::UpdateSourcePriorityRequest) -> pb::SourcePriority;
});

rpcs!(events {
    list_workout_types(pb::ListWorkoutTypesRequest) -> pb::ListWorkoutTypesResponse;
    write_workouts(pb::WriteWorkoutsRequest) -> pb::WriteWorkoutsResponse;
    write_sleep_sessions(pb::WriteSleepSessionsRequest) -> pb::WriteSleepSessionsResponse;
    list_workouts(pb::ListWorkoutsRequest) -> pb::ListWorkoutsResponse;
    get_workout(pb::GetWorkoutRequest) -> pb::Workout;
    list_sleep_sessions(pb::ListSleepSessionsRequest) -> pb::ListSleepSessionsResponse;
    delete_events(pb::DeleteEventsRequest) -> ();
});

rpcs!(summaries {
    list_daily_summaries(pb::ListDailySummariesRequest) -> pb::ListDailySummariesResponse;
});

rpcs!(connections {
    start_connection(pb::StartConnectionRequest) -> pb::StartConnectionResponse;
    list_connections(pb::ListConnectionsRequest) -> pb::ListConnectionsResponse;
    get_connection(pb::GetConnectionRequest) -> pb::Connection;
    delete_connection(pb::DeleteConnectionRequest) -> ();
});

rpcs!(providers {
    list_providers(pb::ListProvidersRequest) -> pb::ListProvidersResponse;
    update_provider(pb::UpdateProviderRequest) -> pb::Provider;
});

rpcs!(syncs {
    sync_connection(pb::SyncConnectionRequest) -> pb::SyncRun;
    sync_user(pb::SyncUserRequest) -> pb::SyncUserResponse;
    list_sync_runs(pb::ListSyncRunsRequest) -> pb::ListSyncRunsResponse;
});

rpcs!(sdk_sync {
    push_health_batch(pb::PushHealthBatchRequest) -> pb::PushHealthBatchResponse;
});

rpcs!(sdk_tokens {
    create_sdk_token(pb::CreateSdkTokenRequest) -> pb::SdkToken;
    create_invitation_code(pb::CreateInvitationCodeRequest) -> pb::InvitationCode;
    redeem_invitation_code(pb::RedeemInvitationCodeRequest) -> pb::SdkToken;
    refresh_sdk_token(pb::RefreshSdkTokenRequest) -> pb::SdkToken;
});

/// A stream over every item of a list RPC, following page tokens.
macro_rules! streams {
    ($($name:ident: $method:ident($request:ty) -> $item:ty, $field:ident;)*) => {
        impl Client {
            $(
                #[doc = concat!("Every item of `", stringify!($method), "`, page after page.")]
                pub fn $name(&self, request: $request) -> impl Stream<Item = Result<$item, Error>> + use<> {
                    let client = self.clone();
                    paginate(move |page_token| {
                        let client = client.clone();
                        let mut request = <$request>::clone(&request);
                        request.page_token = page_token;
                        async move {
                            let page = client.$method(request).await?;
                            Ok((page.$field, page.next_page_token))
                        }
                    })
                }
            )*
        }
    };
}

streams! {
    stream_developers: list_developers(pb::ListDevelopersRequest) -> pb::Developer, developers;
    stream_invitations: list_invitations(pb::ListInvitationsRequest) -> pb::Invitation, invitations;
    stream_applications: list_applications(pb::ListApplicationsRequest) -> pb::Application, applications;
    stream_api_keys: list_api_keys(pb::ListApiKeysRequest) -> pb::ApiKey, api_keys;
    stream_users: list_users(pb::ListUsersRequest) -> pb::User, users;
    stream_data_sources: list_data_sources(pb::ListDataSourcesRequest) -> pb::DataSource, data_sources;
    stream_sample_series: list_samples(pb::ListSamplesRequest) -> pb::SampleSeries, series;
    stream_workouts: list_workouts(pb::ListWorkoutsRequest) -> pb::Workout, workouts;
    stream_sleep_sessions: list_sleep_sessions(pb::ListSleepSessionsRequest) -> pb::SleepSession, sleep_sessions;
    stream_connections: list_connections(pb::ListConnectionsRequest) -> pb::Connection, connections;
    stream_sync_runs: list_sync_runs(pb::ListSyncRunsRequest) -> pb::SyncRun, sync_runs;
}
