//! Mesh: an isolated mesh with its own CA and trust domain (`spiffe://<mesh>/…`).

use serde::{Deserialize, Serialize};

use crate::check;
use crate::duration::{DAY, DurationText};
use crate::error::{Errors, at};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MtlsMode {
    /// No mTLS between proxies.
    #[default]
    Off,
    /// Proxies present certificates and accept plaintext too (migration).
    Permissive,
    /// Only mTLS; traffic without a TrafficPermission allowing it is denied.
    Strict,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls: Option<Mtls>,
    /// Thresholds of the traffic graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphSettings>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mtls {
    #[serde(default)]
    pub mode: MtlsMode,
    /// Lifetime of workload certificates (rotated at 70 %); default 24h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_lifetime: Option<DurationText>,
    /// Where the mesh's CA comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaSettings>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaSettings {
    /// Built-in CA kept by weft-global (the only kind for now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<BuiltinCa>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuiltinCa {
    /// Key algorithm of the CA and workload keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<KeyType>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    #[serde(rename = "ECDSA_P256")]
    EcdsaP256,
    #[serde(rename = "ED25519")]
    Ed25519,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphSettings {
    /// Share of 5xx (percent) at which an edge is failing; default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_percent: Option<f64>,
}

impl MeshSpec {
    pub fn check(&self, errors: &mut Errors, path: &str) {
        if let Some(mtls) = &self.mtls {
            let mtls_path = at(path, "mtls");
            if let Some(lifetime) = &mtls.certificate_lifetime {
                // Short lifetimes are for trying rotation out; 24 h is the default.
                lifetime.check(
                    errors,
                    &at(&mtls_path, "certificateLifetime"),
                    crate::duration::Duration::from_millis(10_000),
                    DAY * 30,
                );
            }
        }
        if let Some(failure) = self.graph.as_ref().and_then(|graph| graph.failure_percent) {
            let failure_path = at(&at(path, "graph"), "failurePercent");
            check::percent(errors, &failure_path, failure);
            if failure == 0.0 {
                errors.add(failure_path, "must be above 0");
            }
        }
    }

    pub fn mtls_mode(&self) -> MtlsMode {
        self.mtls.as_ref().map(|mtls| mtls.mode).unwrap_or_default()
    }
}
