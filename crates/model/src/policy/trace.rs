//! Trace: where a proxy sends spans and which share of requests it samples. Applies to the
//! whole proxy, so it has `spec.default` rather than `to` or `from`.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, at};
use crate::target::TargetRef;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceSpec {
    #[serde(default)]
    pub target_ref: Option<TargetRef>,
    #[serde(default)]
    pub default: Option<TraceConf>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceConf {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<TraceBackend>,
    /// Percentage of requests traced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceBackend {
    #[serde(default)]
    pub otlp: Option<Otlp>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Otlp {
    /// `http://host:port` of an OTLP/gRPC collector.
    #[serde(default)]
    pub endpoint: String,
}

crate::merge_fields!(TraceConf { leaf: [backend => "backend", sampling => "sampling"] });

impl TraceSpec {
    pub fn check(&self, errors: &mut Errors, path: &str) {
        match &self.target_ref {
            Some(target) => target.check(errors, &at(path, "targetRef")),
            None => errors.add(at(path, "targetRef"), "is required"),
        }
        let default_path = at(path, "default");
        let Some(conf) = &self.default else {
            errors.add(default_path, "is required");
            return;
        };
        if let Some(sampling) = conf.sampling {
            check::percent(errors, &at(&default_path, "sampling"), sampling);
        }
        // A partial setting is fine (a service sampling more than the mesh); an empty one is not.
        if conf.backend.is_none() && conf.sampling.is_none() {
            errors.add(&default_path, "set backend, sampling or both");
        }
        match &conf.backend {
            None => {}
            Some(TraceBackend { otlp: None }) => {
                errors.add(at(&at(&default_path, "backend"), "otlp"), "is required")
            }
            Some(TraceBackend { otlp: Some(otlp) }) => {
                let endpoint_path = at(&at(&at(&default_path, "backend"), "otlp"), "endpoint");
                let address = otlp
                    .endpoint
                    .strip_prefix("http://")
                    .or_else(|| otlp.endpoint.strip_prefix("https://"));
                match address {
                    Some(address) => crate::policy::access_log::check_address(
                        errors,
                        &endpoint_path,
                        address.trim_end_matches('/'),
                    ),
                    None => errors.add(&endpoint_path, "must start with http:// or https://"),
                }
            }
        }
    }
}

impl crate::kind::KindSpec for TraceSpec {
    fn check_spec(&self, errors: &mut crate::error::Errors, path: &str) {
        TraceSpec::check(self, errors, path);
    }

    fn target(&self) -> Option<&crate::target::TargetRef> {
        self.target_ref.as_ref()
    }
}
