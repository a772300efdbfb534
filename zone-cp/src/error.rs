//! The one error type of weft-zone and its mapping to gRPC status.

use weft_model::ValidationErrors;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid dataplane: {0}")]
    Invalid(ValidationErrors),
    #[error("{0}")]
    Rejected(String),
    /// No valid token for what the caller asked.
    #[error("{0}")]
    Unauthenticated(String),
    /// A valid token that does not allow what the caller asked.
    #[error("{0}")]
    Forbidden(String),
    #[error("local store error: {0}")]
    Store(#[from] sqlx::Error),
    #[error("local store migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        match error {
            Error::Invalid(errors) => {
                tonic::Status::invalid_argument(format!("invalid dataplane: {errors}"))
            }
            Error::Rejected(message) => tonic::Status::failed_precondition(message),
            Error::Unauthenticated(message) => tonic::Status::unauthenticated(message),
            Error::Forbidden(message) => tonic::Status::permission_denied(message),
            other => {
                tracing::error!(error = %other, "dataplane request failed");
                tonic::Status::internal("internal error in the zone control plane")
            }
        }
    }
}
