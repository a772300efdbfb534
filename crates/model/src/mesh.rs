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
    /// The tenant that owns the mesh. Written through the API, every mesh names one (global
    /// fills it in when the caller owns exactly one tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
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

/// Where a mesh's root CA comes from: made and kept by weft-global (`builtin`, the default)
/// or given by the user (`provided`). Changing it rotates the CA without dropping a request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<BuiltinCa>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provided: Option<ProvidedCa>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuiltinCa {}

/// A CA certificate and its private key, PEM. The key is taken out when the mesh is stored
/// (kept encrypted beside the certificate) and never shown again; a stored mesh has none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvidedCa {
    #[serde(default)]
    pub certificate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl CaSettings {
    /// The provided CA, when the mesh names one.
    pub fn provided(&self) -> Option<&ProvidedCa> {
        self.provided.as_ref()
    }
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
        if let Some(tenant) = &self.tenant
            && let Some(problem) = crate::name::name_problem(tenant)
        {
            errors.add(at(path, "tenant"), problem);
        }
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
            if let Some(ca) = &mtls.ca {
                let ca_path = at(&mtls_path, "ca");
                if ca.builtin.is_some() && ca.provided.is_some() {
                    errors.add(ca_path.clone(), "give builtin or provided, not both");
                }
                if let Some(provided) = &ca.provided {
                    let provided_path = at(&ca_path, "provided");
                    if !provided.certificate.contains("-----BEGIN CERTIFICATE-----") {
                        errors.add(
                            at(&provided_path, "certificate"),
                            "must be a PEM certificate (-----BEGIN CERTIFICATE-----)",
                        );
                    }
                    if let Some(key) = &provided.key
                        && !(key.contains("-----BEGIN") && key.contains("PRIVATE KEY-----"))
                    {
                        errors.add(
                            at(&provided_path, "key"),
                            "must be a PEM private key (-----BEGIN PRIVATE KEY-----)",
                        );
                    }
                }
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

impl crate::kind::KindSpec for MeshSpec {
    fn check_spec(&self, errors: &mut crate::error::Errors, path: &str) {
        MeshSpec::check(self, errors, path);
    }
}
