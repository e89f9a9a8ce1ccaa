//! Reads credentials from gRPC metadata and resolves the caller.

use secrecy::SecretString;
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::domain::Context;
use crate::domain::auth::{Authenticator, Caller, Credential};
use crate::domain::error::{Error, Reason};

/// The credential in `authorization: Bearer …` or `x-api-key`, if any.
pub fn credential(metadata: &MetadataMap) -> Result<Option<Credential>, Error> {
    let malformed = || Error::unauthenticated(Reason::InvalidCredentials, "malformed credentials");
    if let Some(value) = metadata.get("authorization") {
        let value = value.to_str().map_err(|_| malformed())?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(malformed)?;
        return Ok(Some(Credential::Bearer(SecretString::from(
            token.to_owned(),
        ))));
    }
    if let Some(value) = metadata.get("x-api-key") {
        let key = value.to_str().map_err(|_| malformed())?.trim();
        return Ok(Some(Credential::ApiKey(SecretString::from(key.to_owned()))));
    }
    Ok(None)
}

/// Authenticates the caller of a request.
pub async fn caller<T>(ctx: &Context, request: &tonic::Request<T>) -> Result<Caller, Status> {
    let credential = credential(request.metadata())?;
    Ok(Authenticator(ctx).authenticate(credential).await?)
}
