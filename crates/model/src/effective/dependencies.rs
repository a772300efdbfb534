//! What one proxy's configuration was computed from, so that a change to the mesh recomputes
//! only the proxies it can concern: the zone keeps each proxy's [`Dependencies`] beside its
//! configuration and asks them about every changed resource.
//!
//! A configuration reads the Mesh resource, the proxy's own Dataplane, the routes and policies
//! whose `targetRef` selects the proxy, and the inbounds of the services it sends to (its
//! endpoints). A permission that names its callers by tags also reads every dataplane's tags.

use std::collections::BTreeSet;

use crate::dataplane::DataplaneSpec;
use crate::kind::Kind;
use crate::proxy::ProxyConfig;
use crate::resource::{Resource, Spec};

/// What a proxy's configuration depends on besides the Mesh and its own Dataplane.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dependencies {
    /// Routes and policies whose `targetRef` selected the proxy.
    policies: BTreeSet<(Kind, String)>,
    /// Services whose endpoints the configuration lists (outbounds and their route backends).
    services: BTreeSet<String>,
    /// A permission names its callers by tags; which services carry them can change with any
    /// dataplane.
    any_dataplane: bool,
}

/// One resource of the mesh that changed: as it was and as it is (`None`: absent).
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    pub before: Option<&'a Resource>,
    pub after: Option<&'a Resource>,
}

impl Dependencies {
    pub(crate) fn of(selecting: &[&Resource], config: &ProxyConfig) -> Dependencies {
        Dependencies {
            policies: selecting
                .iter()
                .map(|resource| (resource.kind(), resource.name().to_string()))
                .collect(),
            services: config.endpoint_services().map(str::to_string).collect(),
            any_dataplane: config.inbound.iter().any(|inbound| {
                inbound
                    .permissions
                    .rules
                    .iter()
                    .any(|rule| rule.source.service.is_none() && rule.source.tags.is_some())
            }),
        }
    }

    /// The services whose endpoints the configuration carries (those that have any).
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(String::as_str)
    }

    /// Whether `change` can alter the configuration of proxy `name` (whose Dataplane is now
    /// `spec`), given that these dependencies were computed before the change.
    pub fn concerned_by(&self, name: &str, spec: &DataplaneSpec, change: Change<'_>) -> bool {
        let Some(resource) = change.after.or(change.before) else {
            return false;
        };
        match &resource.spec {
            Spec::Mesh(_) => true,
            Spec::Dataplane(_) => {
                resource.name() == name
                    || self.any_dataplane
                    || [change.before, change.after]
                        .into_iter()
                        .flatten()
                        .any(|dataplane| match &dataplane.spec {
                            Spec::Dataplane(other) => other
                                .services()
                                .any(|service| self.services.contains(service)),
                            _ => false,
                        })
            }
            _ => {
                self.policies
                    .contains(&(resource.kind(), resource.name().to_string()))
                    || change
                        .after
                        .and_then(|after| after.spec.target_ref())
                        .is_some_and(|target| target.selects(name, spec))
            }
        }
    }
}
