//! The audit log: `GET /api/v1/audit`.

use serde::{Deserialize, Serialize};

/// One write through the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    /// RFC 3339 with milliseconds.
    pub at: String,
    pub user: String,
    /// Id of the token the request carried.
    pub token_id: String,
    /// The client's address.
    pub address: String,
    /// `create`, `update`, `delete`, `issue`, `revoke`, `rotate`, …
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<String>,
    /// A resource kind, or `User`, `ApiToken`, `ZoneToken`, `DataplaneToken`, `SigningKey`,
    /// `MeshCA`, `Session`.
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_version: Option<String>,
}

/// A page of entries, newest first; `continue` goes on with older ones (`?continue=…`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Where the next page starts (send it back as `continue`); absent on the last page.
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
}
