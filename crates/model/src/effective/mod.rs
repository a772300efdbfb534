//! The effective configuration of one proxy: a pure function of the proxy's Dataplane and the
//! resources of its mesh, recording which policy produced every setting.
//!
//! Targeting: a policy applies to a proxy when its `spec.targetRef` selects the proxy (for
//! inbound settings, the inbound). Precedence and merging are in [`precedence`] and
//! [`policies`]; routes in [`routes`]; permissions in [`permissions`]. `docs/policies.md`
//! explains the rules with worked examples.

mod dependencies;
mod endpoints;
mod permissions;
mod policies;
pub mod precedence;
mod report;
mod routes;

use std::collections::HashMap;

use crate::dataplane::{DataplaneSpec, Inbound, SERVICE_TAG, ZONE_LABEL};
use crate::mesh::MeshSpec;
use crate::policy::Provenance;
use crate::proxy::{InboundConfig, OutboundConfig, ProxyConfig};
use crate::resource::{Resource, Spec};

pub use dependencies::{Change, Dependencies};
pub use report::{AppliedPolicy, Explanation};

/// Everything of one mesh the computation reads: the Mesh resource (when known) and the
/// mesh's dataplanes and policies, in any order.
///
/// Built once and then asked for any number of proxies: it indexes dataplanes by name, the
/// inbounds of every service (the endpoints) and the resources with a `targetRef`, so one
/// proxy's configuration costs its own policies and endpoints, not the size of the mesh.
#[derive(Clone, Debug, Default)]
pub struct MeshView<'a> {
    mesh: &'a str,
    mesh_spec: Option<&'a MeshSpec>,
    dataplanes: HashMap<&'a str, (&'a Resource, &'a DataplaneSpec)>,
    /// Inbounds by their `service` tag: (dataplane, its spec, the inbound).
    inbounds: HashMap<&'a str, Vec<(&'a Resource, &'a DataplaneSpec, &'a Inbound)>>,
    /// Routes and policies: every resource with a `spec.targetRef`.
    targeted: Vec<&'a Resource>,
}

/// The proxy being configured.
pub(crate) struct Proxy<'a> {
    pub name: &'a str,
    pub resource: &'a Resource,
    pub spec: &'a DataplaneSpec,
}

impl<'a> MeshView<'a> {
    pub fn new(mesh: &'a str, resources: impl IntoIterator<Item = &'a Resource>) -> Self {
        let mut view = MeshView {
            mesh,
            ..MeshView::default()
        };
        for resource in resources {
            match &resource.spec {
                Spec::Mesh(spec) if resource.name() == mesh => {
                    view.mesh_spec.get_or_insert(spec);
                }
                Spec::Dataplane(spec) => {
                    view.dataplanes
                        .entry(resource.name())
                        .or_insert((resource, spec));
                    for inbound in &spec.networking.inbound {
                        if let Some(service) = inbound.tags.get(SERVICE_TAG) {
                            view.inbounds
                                .entry(service)
                                .or_default()
                                .push((resource, spec, inbound));
                        }
                    }
                }
                spec if spec.target_ref().is_some() => view.targeted.push(resource),
                _ => {}
            }
        }
        view
    }

    pub fn mesh(&self) -> &'a str {
        self.mesh
    }

    fn dataplane(&self, name: &str) -> Option<Proxy<'a>> {
        let (resource, spec) = self.dataplanes.get(name)?;
        Some(Proxy {
            name: resource.name(),
            resource,
            spec,
        })
    }

    /// The inbounds of every dataplane, by service.
    pub(crate) fn inbounds(
        &self,
    ) -> impl Iterator<Item = (&'a Resource, &'a DataplaneSpec, &'a Inbound)> + '_ {
        self.inbounds.values().flatten().copied()
    }

    /// The inbounds of `service`'s dataplanes.
    pub(crate) fn inbounds_of(
        &self,
        service: &str,
    ) -> &[(&'a Resource, &'a DataplaneSpec, &'a Inbound)] {
        self.inbounds.get(service).map_or(&[], Vec::as_slice)
    }

    /// The endpoints of `service`: every inbound of its dataplanes, in every zone, in order.
    pub fn endpoints(&self, service: &str) -> Vec<crate::proxy::EndpointConfig> {
        endpoints::of_service(self, service)
    }

    /// Policies (and routes) whose `spec.targetRef` selects the proxy at all.
    fn selecting(&self, proxy: &Proxy<'_>) -> Vec<&'a Resource> {
        self.targeted
            .iter()
            .copied()
            .filter(|resource| {
                resource
                    .spec
                    .target_ref()
                    .is_some_and(|target| target.selects(proxy.name, proxy.spec))
            })
            .collect()
    }
}

/// The configuration proxy `dataplane` receives, or `None` when it is not in the view.
pub fn proxy_config(view: &MeshView<'_>, dataplane: &str) -> Option<ProxyConfig> {
    let proxy = view.dataplane(dataplane)?;
    let selecting = view.selecting(&proxy);
    Some(configure(view, &proxy, &selecting, true))
}

/// The configuration *without its endpoints*, and what it was computed from (see
/// [`Dependencies`]). The endpoints are those of [`Dependencies::services`], from
/// [`MeshView::endpoints`]: a caller configuring many proxies computes (and encodes) each
/// service's endpoints once instead of once per proxy.
pub fn proxy_config_with_dependencies(
    view: &MeshView<'_>,
    dataplane: &str,
) -> Option<(ProxyConfig, Dependencies)> {
    let proxy = view.dataplane(dataplane)?;
    let selecting = view.selecting(&proxy);
    let config = configure(view, &proxy, &selecting, false);
    let dependencies = Dependencies::of(&selecting, &config);
    Some((config, dependencies))
}

/// The configuration and the policies that produced it, in the order they were applied.
pub fn explain(view: &MeshView<'_>, dataplane: &str) -> Option<Explanation> {
    let proxy = view.dataplane(dataplane)?;
    let selecting = view.selecting(&proxy);
    let config = configure(view, &proxy, &selecting, true);
    let policies = report::applied(&selecting, &proxy, &config);
    Some(Explanation { config, policies })
}

/// The configuration; its `endpoints` only `with_endpoints`.
fn configure(
    view: &MeshView<'_>,
    proxy: &Proxy<'_>,
    selecting: &[&Resource],
    with_endpoints: bool,
) -> ProxyConfig {
    let mesh_spec = view.mesh_spec;
    let mtls = mesh_spec.map(MeshSpec::mtls_mode).unwrap_or_default();
    let mut provenance = Provenance::new();
    let (service, version) = proxy.spec.identity();

    let inbound: Vec<InboundConfig> = proxy
        .spec
        .networking
        .inbound
        .iter()
        .map(|inbound| {
            let mut config = InboundConfig {
                port: port(inbound.port),
                service_address: inbound
                    .service_address
                    .clone()
                    .unwrap_or_else(|| "127.0.0.1".to_string()),
                service_port: port(inbound.service_port),
                tags: inbound.tags.clone(),
                protocol: inbound.protocol.unwrap_or_default(),
                ..InboundConfig::default()
            };
            let path = format!("inbound[{}]", config.port);
            config.permissions =
                permissions::for_inbound(view, selecting, proxy, &inbound.tags, mtls);
            policies::apply_inbound(
                selecting,
                proxy,
                &inbound.tags,
                &path,
                &mut config,
                &mut provenance,
            );
            config
        })
        .collect();

    let outbound: Vec<OutboundConfig> = proxy
        .spec
        .networking
        .outbound
        .iter()
        .map(|outbound| {
            let mut config = OutboundConfig {
                port: port(outbound.port),
                service: outbound.service.clone(),
                protocol: outbound.protocol.unwrap_or_default(),
                rules: routes::rules_for(selecting, &outbound.service),
                ..OutboundConfig::default()
            };
            let path = format!("outbound[{}]", outbound.service);
            policies::apply_outbound(
                selecting,
                &outbound.service,
                &path,
                &mut config,
                &mut provenance,
            );
            config
        })
        .collect();

    let trace = policies::trace(selecting, &mut provenance);
    let endpoints = if with_endpoints {
        endpoints::for_outbound(view, &outbound)
    } else {
        Default::default()
    };
    ProxyConfig {
        mesh: view.mesh.to_string(),
        dataplane: proxy.name.to_string(),
        service,
        version,
        zone: proxy.resource.metadata.labels.get(ZONE_LABEL).cloned(),
        mtls,
        inbound,
        outbound,
        endpoints,
        trace,
        provenance,
    }
}

/// Ports were validated to 1..=65535 before a resource is stored.
fn port(value: i64) -> u16 {
    u16::try_from(value).unwrap_or(0)
}
