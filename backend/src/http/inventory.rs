//! Read views: services of a mesh, zones, and the configuration a proxy receives.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::Json;
use axum::extract::{Path, Query, State};
use weft_api::inventory::{PolicyReport, ServiceHealth, ServiceList, ServiceView};
use weft_model::dataplane::{SERVICE_TAG, VERSION_TAG, ZONE_LABEL};
use weft_model::effective::{Explanation, MeshView, explain};
use weft_model::proxy::ProxyConfig;
use weft_model::{Kind, Resource, Spec};

use super::AppState;
use super::list::ListQuery;
use crate::error::{Error, Result};
use crate::store::StoredResource;

/// Typed live resources of one kind in a mesh; rows that no longer validate are skipped with a warning.
pub async fn typed(state: &AppState, kind: Kind, mesh: &str) -> Result<Vec<Resource>> {
    Ok(typed_rows(&state.store.list(kind, Some(mesh)).await?))
}

/// Typed forms of stored rows; rows that no longer validate are skipped with a warning.
pub(super) fn typed_rows(rows: &[StoredResource]) -> Vec<Resource> {
    rows.iter()
        .filter_map(|row| match row.to_resource() {
            Ok(resource) => Some(resource),
            Err(error) => {
                tracing::warn!(%error, "skipping stored resource");
                None
            }
        })
        .collect()
}

/// Registered instances per (service, version) in a mesh, with their zones.
pub async fn instances(
    state: &AppState,
    mesh: &str,
) -> Result<BTreeMap<(String, Option<String>), crate::traffic::Instances>> {
    let mut counts: BTreeMap<(String, Option<String>), crate::traffic::Instances> = BTreeMap::new();
    for dataplane in typed(state, Kind::Dataplane, mesh).await? {
        let zone = dataplane.metadata.labels.get(ZONE_LABEL);
        if let Spec::Dataplane(spec) = &dataplane.spec {
            for inbound in &spec.networking.inbound {
                if let Some(service) = inbound.tags.get(SERVICE_TAG) {
                    let key = (service.clone(), inbound.tags.get(VERSION_TAG).cloned());
                    let entry = counts.entry(key).or_default();
                    entry.count += 1;
                    entry.zones.extend(zone.cloned());
                }
            }
        }
    }
    Ok(counts)
}

pub async fn services(
    State(state): State<AppState>,
    Path(mesh): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<ServiceList>> {
    let list = ListQuery::parse(&query, false)?;
    let page = list.page(services_of(&state, &mesh).await?, |service| &service.name);
    Ok(Json(ServiceList {
        items: page.items,
        continue_token: page.next,
    }))
}

/// The services of a mesh with their versions, instances, zones and health.
pub async fn services_of(state: &AppState, mesh: &str) -> Result<Vec<ServiceView>> {
    #[derive(Default)]
    struct Seen {
        versions: BTreeSet<String>,
        instances: usize,
        zones: BTreeSet<String>,
        unhealthy: usize,
        unchecked: usize,
    }
    let mut services: BTreeMap<String, Seen> = BTreeMap::new();
    for dataplane in typed(state, Kind::Dataplane, mesh).await? {
        let zone = dataplane.metadata.labels.get(ZONE_LABEL).cloned();
        if let Spec::Dataplane(spec) = &dataplane.spec {
            for inbound in &spec.networking.inbound {
                let Some(service) = inbound.tags.get(SERVICE_TAG) else {
                    continue;
                };
                let entry = services.entry(service.clone()).or_default();
                entry
                    .versions
                    .extend(inbound.tags.get(VERSION_TAG).cloned());
                entry.instances += 1;
                entry.zones.extend(zone.clone());
                let port = u16::try_from(inbound.port).unwrap_or(0);
                match state.traffic.health.of(mesh, dataplane.name(), port) {
                    Some(false) => entry.unhealthy += 1,
                    Some(true) => {}
                    None => entry.unchecked += 1,
                }
            }
        }
    }
    Ok(services
        .into_iter()
        .map(|(name, seen)| ServiceView {
            name,
            versions: seen.versions.into_iter().collect(),
            instances: seen.instances,
            zones: seen.zones.into_iter().collect(),
            unhealthy_instances: seen.unhealthy,
            unchecked_instances: seen.unchecked,
            health: ServiceHealth::from_counts(seen.instances, seen.unhealthy, seen.unchecked),
        })
        .collect())
}

/// The explanation of one proxy from the mesh resource, its dataplanes and policies.
pub async fn explain_dataplane(state: &AppState, mesh: &str, name: &str) -> Result<Explanation> {
    let resources = typed_rows(&state.store.mesh_resources(mesh).await?);
    let view = MeshView::new(mesh, resources.iter());
    explain(&view, name).ok_or_else(|| Error::NotFound(format!("Dataplane {name:?}")))
}

/// The configuration the proxy receives, computed with the same function the zone uses.
pub async fn dataplane_config(
    State(state): State<AppState>,
    Path((mesh, name)): Path<(String, String)>,
) -> Result<Json<ProxyConfig>> {
    Ok(Json(explain_dataplane(&state, &mesh, &name).await?.config))
}

/// Which policies apply to the proxy, in which order, why, and what came out.
pub async fn dataplane_policies(
    State(state): State<AppState>,
    Path((mesh, name)): Path<(String, String)>,
) -> Result<Json<PolicyReport>> {
    let explanation = explain_dataplane(&state, &mesh, &name).await?;
    Ok(Json(PolicyReport {
        mesh,
        dataplane: name,
        policies: explanation.policies,
        config: explanation.config,
    }))
}
