//! The topology the scale test and the `weft-scale` benchmark share: weft-global, one zone
//! `z1` serving mesh `scale`, and simulated proxies spread over numbered services.

use std::path::Path;

use weft_sim::proxies::ProxySpec;

use crate::free_port;
use crate::topology::{Global, GlobalOptions, Zone};

pub const MESH: &str = "scale";

/// The name of service number `index`.
pub fn service(index: usize) -> String {
    format!("svc-{index:03}")
}

/// weft-global (embedded store) and zone `z1`, with mesh [`MESH`] of tenant `scale-team`.
pub fn start(work: &Path) -> (Global, Zone) {
    let global = start_global(work);
    let api = global.api();
    let zone = Zone::start(
        work,
        "z1",
        &global.upstream(),
        free_port(),
        free_port(),
        &api.zone_token("z1"),
    );
    zone.wait_for_mesh(MESH);
    (global, zone)
}

/// weft-global (embedded store) with mesh [`MESH`] of tenant `scale-team`.
pub fn start_global(work: &Path) -> Global {
    let global = Global::start(work, GlobalOptions::local("weft-scale-password"));
    global.api().apply_all(&format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Tenant\nmetadata: {{name: scale-team}}\nspec: {{displayName: Scale}}\n---\napiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {{name: {MESH}}}\nspec: {{tenant: scale-team}}\n"
    ));
    global
}

/// `proxies` simulated proxies named `p-00000…`, proxy `i` serving service `i % services` and
/// calling the `calls` services after its own (wrapping around), each with a dataplane token
/// of its service (one issued per service).
pub fn proxies(global: &Global, proxies: usize, services: usize, calls: usize) -> Vec<ProxySpec> {
    let tokens = tokens(global, services);
    (0..proxies)
        .map(|index| proxy(index, services, calls, &tokens[index % services]))
        .collect()
}

/// A dataplane token for each of the first `services` services, in order.
pub fn tokens(global: &Global, services: usize) -> Vec<String> {
    let api = global.api();
    (0..services)
        .map(|index| api.dataplane_token(MESH, &service(index)))
        .collect()
}

/// Simulated proxy number `index` (`p-00042`), serving service `index % services` with its
/// `token`, calling the `calls` services after its own.
pub fn proxy(index: usize, services: usize, calls: usize, token: &str) -> ProxySpec {
    ProxySpec {
        mesh: MESH.to_string(),
        name: format!("p-{index:05}"),
        service: service(index % services),
        version: "v1".to_string(),
        port: u16::try_from(20_000 + index % 40_000).unwrap_or(20_000),
        calls: callees(index % services, services, calls),
        token: token.to_string(),
    }
}

/// The services service `index` calls: the `calls` next ones, never itself.
pub fn callees(index: usize, services: usize, calls: usize) -> Vec<String> {
    (1..=calls.min(services.saturating_sub(1)))
        .map(|step| service((index + step) % services))
        .collect()
}
