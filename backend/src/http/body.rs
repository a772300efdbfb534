//! Reading request bodies with JSON errors for every failure.

use axum::body::Body;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub async fn read_text(body: Body) -> Result<String> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            Error::BadRequest(format!(
                "request body is unreadable or larger than {MAX_BODY_BYTES} bytes"
            ))
        })?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::BadRequest("request body is not UTF-8".into()))
}

pub async fn read_json<T: DeserializeOwned>(body: Body) -> Result<T> {
    let text = read_text(body).await?;
    serde_json::from_str(&text)
        .map_err(|error| Error::BadRequest(format!("invalid JSON body: {error}")))
}
