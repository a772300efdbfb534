//! The one list of resource kinds. REST routes, the API document, zone sync, resource
//! decoding and the console are driven from it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Errors, FieldError};
use crate::manifest::decode_lenient;
use crate::target::TargetRef;

/// Where a kind's resources are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Written through the global API, synced down to zones.
    Global,
    /// Registered by a zone, synced up to global (read-only through the global API).
    Zone,
}

/// What every kind's spec provides: validation with field paths, and the proxies it targets
/// (for policies). Each kind's module implements it next to its type.
pub trait KindSpec:
    Clone + std::fmt::Debug + PartialEq + Serialize + serde::de::DeserializeOwned
{
    /// Reports every problem of the spec under `path`.
    fn check_spec(&self, errors: &mut Errors, path: &str);

    /// `spec.targetRef`, for kinds that have one.
    fn target(&self) -> Option<&TargetRef> {
        None
    }
}

/// The one list of kinds: name, spec type, REST plural, scope and origin. It generates
/// [`Kind`], [`Spec`] and everything that goes from one to the other; the example manifest of
/// each kind is `manifests/<plural>.yaml`.
macro_rules! kinds {
    ($($kind:ident: $spec:ty => $plural:literal, $scoped:literal, $origin:ident;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Kind {
            $($kind,)*
        }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$kind,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$kind => stringify!($kind),)*
                }
            }

            /// The REST collection name: lower-case kind plus `s`.
            pub fn plural(self) -> &'static str {
                match self {
                    $(Kind::$kind => $plural,)*
                }
            }

            /// Mesh-scoped kinds carry `metadata.mesh`; global-scoped ones must not.
            pub fn is_mesh_scoped(self) -> bool {
                match self {
                    $(Kind::$kind => $scoped,)*
                }
            }

            pub fn origin(self) -> Origin {
                match self {
                    $(Kind::$kind => Origin::$origin,)*
                }
            }

            /// A complete, valid example manifest of this kind (YAML): the console offers it
            /// as a template and the docs show it.
            pub fn example(self) -> &'static str {
                match self {
                    $(Kind::$kind => include_str!(concat!("../manifests/", $plural, ".yaml")),)*
                }
            }
        }

        /// The typed spec of a resource, one variant per kind.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Spec {
            $($kind($spec),)*
        }

        impl Spec {
            pub fn kind(&self) -> Kind {
                match self {
                    $(Spec::$kind(_) => Kind::$kind,)*
                }
            }

            /// The spec of `kind` from JSON (when its types were right) and the unknown or
            /// mistyped fields found.
            pub(crate) fn decode(kind: Kind, value: Value) -> (Option<Spec>, Vec<FieldError>) {
                // An absent spec is an empty object, so required fields inside it are
                // reported by name.
                let value = if value.is_null() {
                    Value::Object(Default::default())
                } else {
                    value
                };
                match kind {
                    $(Kind::$kind => {
                        let (decoded, errors) = decode_lenient::<$spec>(value, "spec");
                        (decoded.map(Spec::$kind), errors)
                    })*
                }
            }

            pub(crate) fn check(&self, errors: &mut Errors) {
                match self {
                    $(Spec::$kind(spec) => spec.check_spec(errors, "spec"),)*
                }
            }

            pub fn to_value(&self) -> Value {
                // Specs are plain data with string keys: serialising them cannot fail.
                match self {
                    $(Spec::$kind(spec) => serde_json::to_value(spec),)*
                }
                .unwrap_or(Value::Null)
            }

            /// The proxies a policy selects (`spec.targetRef`), for kinds that have one.
            pub fn target_ref(&self) -> Option<&TargetRef> {
                match self {
                    $(Spec::$kind(spec) => spec.target(),)*
                }
            }
        }
    };
}

use crate::policy::PolicySpec;
use crate::policy::{access_log, circuit_breaker, fault_injection, health_check};
use crate::policy::{load_balancing, rate_limit, retry, timeout, trace};

kinds! {
    Tenant: crate::tenant::TenantSpec => "tenants", false, Global;
    Mesh: crate::mesh::MeshSpec => "meshes", false, Global;
    Zone: crate::zone::ZoneSpec => "zones", false, Global;
    Dataplane: crate::dataplane::DataplaneSpec => "dataplanes", true, Zone;
    TrafficRoute: crate::traffic_route::TrafficRouteSpec => "trafficroutes", true, Global;
    TrafficPermission: crate::traffic_permission::TrafficPermissionSpec => "trafficpermissions", true, Global;
    Timeout: PolicySpec<timeout::TimeoutConf> => "timeouts", true, Global;
    Retry: PolicySpec<retry::RetryConf> => "retrys", true, Global;
    CircuitBreaker: PolicySpec<circuit_breaker::CircuitBreakerConf> => "circuitbreakers", true, Global;
    HealthCheck: PolicySpec<health_check::HealthCheckConf> => "healthchecks", true, Global;
    RateLimit: PolicySpec<rate_limit::RateLimitConf> => "ratelimits", true, Global;
    FaultInjection: PolicySpec<fault_injection::FaultInjectionConf> => "faultinjections", true, Global;
    LoadBalancing: PolicySpec<load_balancing::LoadBalancingConf> => "loadbalancings", true, Global;
    AccessLog: PolicySpec<access_log::AccessLogConf> => "accesslogs", true, Global;
    Trace: trace::TraceSpec => "traces", true, Global;
    Rollout: crate::rollout::RolloutSpec => "rollouts", true, Global;
}

impl Kind {
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|kind| kind.name() == name)
    }

    pub fn from_plural(plural: &str) -> Option<Kind> {
        Kind::ALL
            .iter()
            .copied()
            .find(|kind| kind.plural() == plural)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_plurals_round_trip() {
        for kind in Kind::ALL.iter().copied() {
            assert_eq!(Kind::parse(kind.name()), Some(kind));
            assert_eq!(Kind::from_plural(kind.plural()), Some(kind));
            if kind.is_mesh_scoped() {
                assert_eq!(
                    kind.plural(),
                    format!("{}s", kind.name().to_lowercase()),
                    "DESIGN.md §4 plural rule"
                );
            }
        }
        assert_eq!(Kind::ALL.len(), 16);
    }
}
