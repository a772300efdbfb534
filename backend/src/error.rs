//! The one error type of weft-global and its one mapping to HTTP.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use weft_api::error::{self as codes, ErrorBody};
use weft_model::ValidationErrors;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("validation failed: {0}")]
    Validation(ValidationErrors),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("too many requests; retry after {0:?}")]
    TooManyRequests(std::time::Duration),
    #[error("method not allowed: {0}")]
    MethodNotAllowed(String),
    #[error("store error: {0}")]
    Store(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<ValidationErrors> for Error {
    fn from(errors: ValidationErrors) -> Self {
        Error::Validation(errors)
    }
}

impl Error {
    fn status_and_body(&self) -> (StatusCode, ErrorBody) {
        match self {
            Error::Validation(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorBody::new(
                    codes::VALIDATION_FAILED,
                    format!("invalid resource: {errors}"),
                )
                .with_details(errors.0.clone()),
            ),
            Error::BadRequest(message) => (
                StatusCode::BAD_REQUEST,
                ErrorBody::new(codes::BAD_REQUEST, message),
            ),
            Error::Unauthorized(message) => (
                StatusCode::UNAUTHORIZED,
                ErrorBody::new(codes::UNAUTHORIZED, *message),
            ),
            Error::Forbidden(message) => (
                StatusCode::FORBIDDEN,
                ErrorBody::new(codes::FORBIDDEN, *message),
            ),
            Error::NotFound(what) => (
                StatusCode::NOT_FOUND,
                ErrorBody::new(codes::NOT_FOUND, format!("{what} not found")),
            ),
            Error::Conflict(message) => (
                StatusCode::CONFLICT,
                ErrorBody::new(codes::CONFLICT, message),
            ),
            Error::TooManyRequests(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorBody::new(
                    codes::TOO_MANY_REQUESTS,
                    format!("too many attempts; retry in {} s", wait.as_secs().max(1)),
                ),
            ),
            Error::MethodNotAllowed(message) => (
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorBody::new(codes::BAD_REQUEST, message),
            ),
            Error::Store(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorBody::new(
                    codes::UNAVAILABLE,
                    "the store is unavailable; retry shortly",
                ),
            ),
            Error::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorBody::new(codes::INTERNAL, "internal error; see the server log"),
            ),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status_and_body().0
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, body) = self.status_and_body();
        if status.is_server_error() {
            // Details stay in the log; the client gets a generic message.
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (status, Json(body)).into_response();
        if let Error::TooManyRequests(wait) = &self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(wait.as_secs().max(1)),
            );
        }
        response
    }
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        match &error {
            Error::Validation(errors) => tonic::Status::invalid_argument(errors.to_string()),
            Error::BadRequest(message) => tonic::Status::invalid_argument(message.clone()),
            Error::Unauthorized(message) => tonic::Status::unauthenticated(*message),
            Error::Forbidden(message) => tonic::Status::permission_denied(*message),
            Error::NotFound(what) => tonic::Status::not_found(format!("{what} not found")),
            Error::Conflict(message) => tonic::Status::aborted(message.clone()),
            Error::TooManyRequests(_) => tonic::Status::resource_exhausted("too many requests"),
            Error::MethodNotAllowed(message) => tonic::Status::permission_denied(message.clone()),
            Error::Store(_) => {
                tracing::error!(error = %error, "sync request failed");
                tonic::Status::unavailable("the global store is unavailable")
            }
            Error::Internal(_) => {
                tracing::error!(error = %error, "sync request failed");
                tonic::Status::internal("internal error")
            }
        }
    }
}
