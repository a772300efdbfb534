//! Tokens for the control planes: zone tokens (`POST /api/v1/zones/{zone}/token`) and
//! dataplane tokens (`POST /api/v1/meshes/{mesh}/dataplane-tokens`). The secret is shown
//! once, in the answer to the POST; lists show ids only; `DELETE …/{id}` revokes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Body of `POST /api/v1/zones/{zone}/token` (may be empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ZoneTokenRequest {
    /// How long the token is valid, e.g. `720h`; one year when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<String>,
}

/// Body of `POST /api/v1/meshes/{mesh}/dataplane-tokens`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataplaneTokenRequest {
    /// The service the proxies serve (their inbound `service` tag).
    pub service: String,
    /// Tags every inbound of the proxies must carry, e.g. `{version: v2}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<String>,
}

/// A token as issued: the only time its secret is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct IssuedToken {
    pub id: String,
    pub token: String,
    #[serde(flatten)]
    pub about: TokenView,
}

/// A token without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: String,
    /// `zone` or `dataplane`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<String>,
    /// The zone, or the dataplanes' service.
    pub subject: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// RFC 3339.
    pub created_at: String,
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TokenList {
    pub items: Vec<TokenView>,
    /// Where the next page starts (send it back as `continue`); absent on the last page.
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
}
