//! The effective configuration of one proxy: a pure function of the proxy's Dataplane and the
//! resources of its mesh, recording which policy produced every setting.
//!
//! Targeting: a policy applies to a proxy when its `spec.targetRef` selects the proxy (for
//! inbound settings, the inbound). Precedence and merging are in [`precedence`] and
//! [`policies`]; routes in [`routes`]; permissions in [`permissions`]. `docs/policies.md`
//! explains the rules with worked examples.

mod endpoints;
mod permissions;
mod policies;
pub mod precedence;
mod report;
mod routes;

use crate::dataplane::{DataplaneSpec, ZONE_LABEL};
use crate::mesh::MeshSpec;
use crate::policy::Provenance;
use crate::proxy::{InboundConfig, OutboundConfig, ProxyConfig};
use crate::resource::{Resource, Spec};

pub use report::{AppliedPolicy, Explanation};

/// Everything of one mesh the computation reads: the Mesh resource (when known) and the
/// mesh's dataplanes and policies, in any order.
#[derive(Clone, Debug, Default)]
pub struct MeshView<'a> {
    pub mesh: &'a str,
    pub resources: Vec<&'a Resource>,
}

/// The proxy being configured.
pub(crate) struct Proxy<'a> {
    pub name: &'a str,
    pub resource: &'a Resource,
    pub spec: &'a DataplaneSpec,
}

impl<'a> MeshView<'a> {
    pub fn new(mesh: &'a str, resources: impl IntoIterator<Item = &'a Resource>) -> Self {
        MeshView {
            mesh,
            resources: resources.into_iter().collect(),
        }
    }

    fn mesh_spec(&self) -> Option<&'a MeshSpec> {
        self.resources
            .iter()
            .find_map(|resource| match &resource.spec {
                Spec::Mesh(spec) if resource.name() == self.mesh => Some(spec),
                _ => None,
            })
    }

    fn dataplane(&self, name: &str) -> Option<Proxy<'a>> {
        self.resources
            .iter()
            .find_map(|resource| match &resource.spec {
                Spec::Dataplane(spec) if resource.name() == name => Some(Proxy {
                    name: resource.name(),
                    resource,
                    spec,
                }),
                _ => None,
            })
    }

    /// Policies (and routes) whose `spec.targetRef` selects the proxy at all.
    fn selecting(&self, proxy: &Proxy<'_>) -> Vec<&'a Resource> {
        self.resources
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
    explain(view, dataplane).map(|explanation| explanation.config)
}

/// The configuration and the policies that produced it, in the order they were applied.
pub fn explain(view: &MeshView<'_>, dataplane: &str) -> Option<Explanation> {
    let proxy = view.dataplane(dataplane)?;
    let selecting = view.selecting(&proxy);
    let mesh_spec = view.mesh_spec();
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
                permissions::for_inbound(view, &selecting, &proxy, &inbound.tags, mtls);
            policies::apply_inbound(
                &selecting,
                &proxy,
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
                rules: routes::rules_for(&selecting, &outbound.service),
                ..OutboundConfig::default()
            };
            let path = format!("outbound[{}]", outbound.service);
            policies::apply_outbound(
                &selecting,
                &outbound.service,
                &path,
                &mut config,
                &mut provenance,
            );
            config
        })
        .collect();

    let trace = policies::trace(&selecting, &mut provenance);
    let endpoints = endpoints::for_outbound(view, &outbound);
    let config = ProxyConfig {
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
    };
    let policies = report::applied(&selecting, &proxy, &config);
    Some(Explanation { config, policies })
}

/// Ports were validated to 1..=65535 before a resource is stored.
fn port(value: i64) -> u16 {
    u16::try_from(value).unwrap_or(0)
}
