//! The OAuth2 every provider shares, over the `oauth2` crate: authorization URLs with state and
//! PKCE, code exchange and refresh. `oauth2` speaks its own HTTP types; `Http` carries them over
//! reqwest 0.13 (redirects off, as oauth2 advises against SSRF) and also serves providers' data
//! calls.

use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{ProviderError, Tokens};

/// Fields of token responses beyond the standard ones (Strava's athlete, Polar's x_user_id …).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Extra {
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl ExtraTokenFields for Extra {}

type TokenBody = StandardTokenResponse<Extra, BasicTokenType>;
type Client = oauth2::Client<
    BasicErrorResponse,
    TokenBody,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The HTTP client for providers: token endpoints and data APIs.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    /// A client with timeouts and without redirects.
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("owl/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Http { client })
    }

    /// The underlying reqwest client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends an `oauth2` request through reqwest and rebuilds its response.
    async fn send(&self, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let response = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| HttpError(e.to_string()))?;
        let mut rebuilt = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            rebuilt = rebuilt.header(name, value);
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| HttpError(e.to_string()))?;
        rebuilt
            .body(body.to_vec())
            .map_err(|e| HttpError(e.to_string()))
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// A transport failure on the way to a token endpoint.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// A provider's OAuth2 application as the deployment configured it.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub authorize_url: String,
    pub token_url: String,
    /// owl's callback registered with the provider.
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub pkce: bool,
    /// Client credentials in the body instead of HTTP Basic.
    pub credentials_in_body: bool,
    /// Further query parameters of the consent URL (Google's `access_type=offline`).
    pub authorize_params: Vec<(String, String)>,
}

/// The start of an authorization: where to send the browser, and the PKCE verifier to keep.
pub struct Authorization {
    pub url: String,
    pub pkce_verifier: Option<SecretString>,
}

impl OAuthApp {
    /// True when client credentials are set.
    pub fn configured(&self) -> bool {
        self.client_id.is_some() && self.client_secret.is_some()
    }

    fn client(&self) -> Result<Client, ProviderError> {
        let bad = |what: &str, e: url::ParseError| ProviderError::Malformed(format!("{what}: {e}"));
        let mut client =
            oauth2::Client::new(ClientId::new(self.client_id.clone().unwrap_or_default()))
                .set_auth_uri(
                    AuthUrl::new(self.authorize_url.clone())
                        .map_err(|e| bad("authorize url", e))?,
                )
                .set_token_uri(
                    TokenUrl::new(self.token_url.clone()).map_err(|e| bad("token url", e))?,
                )
                .set_redirect_uri(
                    RedirectUrl::new(self.redirect_uri.clone())
                        .map_err(|e| bad("redirect uri", e))?,
                )
                .set_auth_type(if self.credentials_in_body {
                    AuthType::RequestBody
                } else {
                    AuthType::BasicAuth
                });
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
        }
        Ok(client)
    }

    /// The provider's consent URL carrying `state` (and a PKCE challenge when it takes one).
    pub fn authorize(&self, state: &str) -> Result<Authorization, ProviderError> {
        let client = self.client()?;
        let state = state.to_owned();
        let mut request = client
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(self.scopes.iter().cloned().map(Scope::new));
        for (name, value) in &self.authorize_params {
            request = request.add_extra_param(name.as_str(), value.as_str());
        }
        let mut verifier = None;
        if self.pkce {
            let (challenge, v) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            verifier = Some(SecretString::from(v.secret().to_owned()));
        }
        let (url, _) = request.url();
        Ok(Authorization {
            url: url.to_string(),
            pkce_verifier: verifier,
        })
    }

    /// Exchanges an authorization code for tokens.
    pub async fn exchange(
        &self,
        http: &Http,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<Tokens, ProviderError> {
        let client = self.client()?;
        let mut request = client.exchange_code(AuthorizationCode::new(code.to_owned()));
        if let Some(v) = verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(v.to_owned()));
        }
        let body = request.request_async(http).await.map_err(token_error)?;
        Ok(tokens(body, Utc::now()))
    }

    /// Gets new tokens with a refresh token.
    pub async fn refresh(&self, http: &Http, refresh_token: &str) -> Result<Tokens, ProviderError> {
        self.refresh_with_scopes(http, refresh_token, &[]).await
    }

    /// Gets new tokens with a refresh token, sending `scopes` along (WHOOP asks for `offline`
    /// again, or the answer carries no new refresh token).
    pub async fn refresh_with_scopes(
        &self,
        http: &Http,
        refresh_token: &str,
        scopes: &[&str],
    ) -> Result<Tokens, ProviderError> {
        let client = self.client()?;
        let refresh = RefreshToken::new(refresh_token.to_owned());
        let body = client
            .exchange_refresh_token(&refresh)
            .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
            .request_async(http)
            .await
            .map_err(token_error)?;
        let mut tokens = tokens(body, Utc::now());
        // Providers that do not rotate refresh tokens leave them out of the response.
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(SecretString::from(refresh_token.to_owned()));
        }
        Ok(tokens)
    }
}

fn tokens(body: TokenBody, now: DateTime<Utc>) -> Tokens {
    let extra = &body.extra_fields().fields;
    let account_id = ["x_user_id", "user_id", "athlete"]
        .iter()
        .find_map(|k| extra.get(*k))
        .and_then(|v| match v {
            serde_json::Value::Object(o) => o.get("id").map(json_id),
            other => Some(json_id(other)),
        });
    Tokens {
        access_token: SecretString::from(body.access_token().secret().to_owned()),
        refresh_token: body
            .refresh_token()
            .map(|t| SecretString::from(t.secret().to_owned())),
        expires_at: body
            .expires_in()
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| now + d),
        scope: body
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
        account_id,
    }
}

fn json_id(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn token_error<E: std::error::Error + 'static>(
    error: RequestTokenError<E, BasicErrorResponse>,
) -> ProviderError {
    match error {
        RequestTokenError::ServerResponse(r) => ProviderError::Unauthorized(r.error().to_string()),
        RequestTokenError::Request(e) => ProviderError::Unavailable(e.to_string()),
        RequestTokenError::Parse(e, _) => ProviderError::Malformed(e.to_string()),
        RequestTokenError::Other(e) => ProviderError::Unavailable(e),
    }
}
