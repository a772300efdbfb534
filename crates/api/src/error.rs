//! The JSON error body every API error uses.

use serde::{Deserialize, Serialize};
use weft_model::FieldError;

pub const VALIDATION_FAILED: &str = "validation_failed";
pub const BAD_REQUEST: &str = "bad_request";
pub const UNAUTHORIZED: &str = "unauthorized";
pub const FORBIDDEN: &str = "forbidden";
pub const NOT_FOUND: &str = "not_found";
pub const CONFLICT: &str = "conflict";
pub const TOO_MANY_REQUESTS: &str = "too_many_requests";
pub const UNAVAILABLE: &str = "unavailable";
pub const INTERNAL: &str = "internal";

/// `{"error": {"code": "...", "message": "...", "details": [{"field": "...", "message": "..."}]}}`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<FieldProblem>))]
    pub details: Vec<FieldError>,
}

/// The shape of one entry of `details` (a `weft_model::FieldError`), for the API document.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
pub struct FieldProblem {
    /// The path of the field, e.g. `spec.to[0].rules[0].backends[1].weight`.
    pub field: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message: message.into(),
                details: Vec::new(),
            },
        }
    }

    pub fn with_details(mut self, details: Vec<FieldError>) -> Self {
        self.error.details = details;
        self
    }
}
