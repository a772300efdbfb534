//! A proxy's configuration as the zone holds and sends it: the configuration without its
//! endpoints, encoded once (about a kilobyte), and the endpoints of each service it calls,
//! encoded once per service and shared by every proxy calling it. With 10,000 proxies calling
//! services of 100 endpoints each, the endpoints are most of every configuration; sharing them
//! keeps the zone's memory per proxy near the size of what is proxy-specific. The JSON a proxy
//! receives is put together when it is sent.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::value::RawValue;
use weft_model::effective::{Dependencies, MeshView};
use weft_model::proxy::ProxyConfig;

/// One version of one proxy's configuration.
#[derive(Debug)]
pub struct Encoded {
    pub version: u64,
    /// The configuration without `endpoints`, a JSON object.
    head: String,
    /// The endpoints of each service the proxy calls (those with any), in service order: the
    /// service's name as a JSON string, and the list.
    endpoints: Vec<(Arc<str>, Arc<RawValue>)>,
}

impl Encoded {
    /// The configuration's JSON, as `ProxyConfig` reads it.
    pub fn json(&self) -> String {
        let size = self.head.len()
            + 16
            + self
                .endpoints
                .iter()
                .map(|(service, list)| service.len() + list.get().len() + 2)
                .sum::<usize>();
        let mut json = String::with_capacity(size);
        // `head` is a non-empty JSON object (it always has `mesh`): reopen it before its `}`.
        json.push_str(self.head.strip_suffix('}').unwrap_or(&self.head));
        json.push_str(",\"endpoints\":{");
        for (index, (service, list)) in self.endpoints.iter().enumerate() {
            if index > 0 {
                json.push(',');
            }
            json.push_str(service);
            json.push(':');
            json.push_str(list.get());
        }
        json.push_str("}}");
        json
    }

    /// Whether `self` and `other` send the same configuration (their versions aside).
    pub fn same_as(&self, other: &Encoded) -> bool {
        self.head == other.head
            && self.endpoints.len() == other.endpoints.len()
            && self
                .endpoints
                .iter()
                .zip(&other.endpoints)
                .all(|(a, b)| a.0 == b.0 && (Arc::ptr_eq(&a.1, &b.1) || a.1.get() == b.1.get()))
    }
}

/// Each service's encoded endpoints, kept across rounds so that proxies updated in different
/// rounds share one copy while a service's endpoints stay the same.
#[derive(Default)]
pub struct EndpointCache {
    meshes: HashMap<String, MeshEndpoints>,
}

#[derive(Default)]
struct MeshEndpoints {
    /// By service: its name as a JSON string, and its endpoints.
    encoded: HashMap<String, (Arc<str>, Arc<RawValue>)>,
    /// Services encoded again in the current round (their entry is current).
    fresh: HashSet<String>,
}

impl EndpointCache {
    /// Starts a round: every service is encoded again when a proxy first needs it, and what no
    /// proxy's configuration holds any more is forgotten.
    pub fn next_round(&mut self) {
        for mesh in self.meshes.values_mut() {
            mesh.fresh.clear();
            mesh.encoded
                .retain(|_, (_, list)| Arc::strong_count(list) > 1);
        }
        self.meshes.retain(|_, mesh| !mesh.encoded.is_empty());
    }

    /// `config` (without endpoints) and the endpoints of the services `dependencies` names,
    /// as version 0 (the caller numbers it).
    pub fn encode(
        &mut self,
        view: &MeshView<'_>,
        config: &ProxyConfig,
        dependencies: &Dependencies,
    ) -> serde_json::Result<Encoded> {
        let head = serde_json::to_string(config)?;
        let mesh = match self.meshes.get_mut(view.mesh()) {
            Some(mesh) => mesh,
            None => self.meshes.entry(view.mesh().to_string()).or_default(),
        };
        let mut endpoints = Vec::new();
        for service in dependencies.services() {
            if !mesh.fresh.contains(service) {
                mesh.refresh(view, service)?;
            }
            if let Some((name, list)) = mesh.encoded.get(service) {
                endpoints.push((name.clone(), list.clone()));
            }
        }
        Ok(Encoded {
            version: 0,
            head,
            endpoints,
        })
    }
}

impl MeshEndpoints {
    /// Encodes `service`'s endpoints; keeps the shared copy when they did not change.
    fn refresh(&mut self, view: &MeshView<'_>, service: &str) -> serde_json::Result<()> {
        self.fresh.insert(service.to_string());
        let list = view.endpoints(service);
        if list.is_empty() {
            self.encoded.remove(service);
            return Ok(());
        }
        let current = serde_json::value::to_raw_value(&list)?;
        let unchanged = self
            .encoded
            .get(service)
            .is_some_and(|(_, known)| known.get() == current.get());
        if !unchanged {
            let name: Arc<str> = Arc::from(serde_json::to_string(service)?);
            self.encoded
                .insert(service.to_string(), (name, Arc::from(current)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_model::effective::{proxy_config, proxy_config_with_dependencies};
    use weft_model::resource::{Author, parse_resources};

    const MESH: &str = "apiVersion: weft.dev/v1alpha1
kind: Mesh
metadata: {name: shop}
---
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: web-1, mesh: shop}
spec: {networking: {address: 10.0.0.1, inbound: [{port: 8080, servicePort: 18080, tags: {service: web}}], outbound: [{port: 9001, service: catalog}, {port: 9002, service: nobody}]}}
---
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: web-2, mesh: shop}
spec: {networking: {address: 10.0.0.2, inbound: [{port: 8080, servicePort: 18080, tags: {service: web}}], outbound: [{port: 9001, service: catalog}]}}
---
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: catalog-1, mesh: shop}
spec: {networking: {address: 10.0.0.3, inbound: [{port: 8081, servicePort: 18081, tags: {service: catalog, version: v1}}]}}
---
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: catalog-2, mesh: shop}
spec: {networking: {address: 10.0.0.4, inbound: [{port: 8081, servicePort: 18081, tags: {service: catalog, version: v2}}]}}
";

    #[test]
    fn the_assembled_json_is_the_whole_config_and_callers_share_endpoints() {
        let resources = parse_resources(MESH, Author::User).unwrap();
        let view = MeshView::new("shop", resources.iter());
        let mut cache = EndpointCache::default();
        cache.next_round();
        let mut encoded = Vec::new();
        for proxy in ["web-1", "web-2", "catalog-1"] {
            let (config, dependencies) = proxy_config_with_dependencies(&view, proxy).unwrap();
            let one = cache.encode(&view, &config, &dependencies).unwrap();
            let parsed: ProxyConfig = serde_json::from_str(&one.json()).unwrap();
            assert_eq!(Some(parsed), proxy_config(&view, proxy), "{proxy}");
            encoded.push(one);
        }
        // web-1 and web-2 hold one copy of catalog's endpoints; `nobody` has none to send.
        assert_eq!(encoded[0].endpoints.len(), 1);
        assert!(Arc::ptr_eq(
            &encoded[0].endpoints[0].1,
            &encoded[1].endpoints[0].1
        ));
        assert!(encoded[2].endpoints.is_empty());

        // The next round encodes again and keeps the shared copy: nothing changed.
        cache.next_round();
        let (config, dependencies) = proxy_config_with_dependencies(&view, "web-1").unwrap();
        let again = cache.encode(&view, &config, &dependencies).unwrap();
        assert!(again.same_as(&encoded[0]));
        assert!(Arc::ptr_eq(
            &again.endpoints[0].1,
            &encoded[1].endpoints[0].1
        ));
    }
}
