//! The one list of resource kinds. REST routes, zone sync and the console are driven from it.

use serde::{Deserialize, Serialize};

/// Where a kind's resources are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Written through the global API, synced down to zones.
    Global,
    /// Registered by a zone, synced up to global (read-only through the global API).
    Zone,
}

macro_rules! kinds {
    ($($kind:ident => $plural:literal, $scoped:literal, $origin:ident;)*) => {
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

            /// The REST collection name: lower-case kind plus `s` (DESIGN.md §4).
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
        }
    };
}

kinds! {
    Tenant => "tenants", false, Global;
    Mesh => "meshes", false, Global;
    Zone => "zones", false, Global;
    Dataplane => "dataplanes", true, Zone;
    TrafficRoute => "trafficroutes", true, Global;
    TrafficPermission => "trafficpermissions", true, Global;
    Timeout => "timeouts", true, Global;
    Retry => "retrys", true, Global;
    CircuitBreaker => "circuitbreakers", true, Global;
    HealthCheck => "healthchecks", true, Global;
    RateLimit => "ratelimits", true, Global;
    FaultInjection => "faultinjections", true, Global;
    LoadBalancing => "loadbalancings", true, Global;
    AccessLog => "accesslogs", true, Global;
    Trace => "traces", true, Global;
    Rollout => "rollouts", true, Global;
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

impl Kind {
    /// A complete, valid example manifest of this kind (YAML): the console offers it as a
    /// template and the docs show it.
    pub fn example(self) -> &'static str {
        macro_rules! example {
            ($file:literal) => {
                include_str!(concat!("../manifests/", $file, ".yaml"))
            };
        }
        match self {
            Kind::Tenant => example!("tenants"),
            Kind::Mesh => example!("meshes"),
            Kind::Zone => example!("zones"),
            Kind::Dataplane => example!("dataplanes"),
            Kind::TrafficRoute => example!("trafficroutes"),
            Kind::TrafficPermission => example!("trafficpermissions"),
            Kind::Timeout => example!("timeouts"),
            Kind::Retry => example!("retrys"),
            Kind::CircuitBreaker => example!("circuitbreakers"),
            Kind::HealthCheck => example!("healthchecks"),
            Kind::RateLimit => example!("ratelimits"),
            Kind::FaultInjection => example!("faultinjections"),
            Kind::LoadBalancing => example!("loadbalancings"),
            Kind::AccessLog => example!("accesslogs"),
            Kind::Trace => example!("traces"),
            Kind::Rollout => example!("rollouts"),
        }
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
