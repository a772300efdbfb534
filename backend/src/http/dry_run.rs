//! `POST /api/v1/apply?dryRun=true`: the documents checked and authorized exactly as a real
//! apply would, and instead of a write, what would happen — each document created, configured
//! or unchanged, and every proxy whose configuration would change: which of the documents'
//! policies would apply to it and which settings would move. Computed with the same function
//! that builds the proxies' configuration.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use weft_api::inventory::{ApplyItem, ProxyEffect};
use weft_model::effective::{MeshView, explain};
use weft_model::{Kind, Resource};

use super::AppState;
use super::inventory::typed_rows;
use crate::error::Result;

/// Settings listed per proxy, at most.
const MAX_CHANGED: usize = 100;

/// What each write would do to the stored resource.
pub async fn outcomes(
    state: &AppState,
    writes: &[(Resource, Option<u64>)],
) -> Result<Vec<ApplyItem>> {
    let mut items = Vec::new();
    for (resource, _) in writes {
        let mesh = resource.mesh().unwrap_or_default();
        let stored = state
            .store
            .get(resource.kind(), mesh, resource.name())
            .await?;
        let result = match &stored {
            None => "created",
            Some(row)
                if row.spec == resource.spec.to_value()
                    && row.labels == resource.metadata.labels =>
            {
                "unchanged"
            }
            Some(_) => "configured",
        };
        items.push(ApplyItem {
            kind: resource.kind().name().to_string(),
            mesh: resource.mesh().map(str::to_string),
            name: resource.name().to_string(),
            resource_version: stored
                .map(|row| row.revision.to_string())
                .unwrap_or_default(),
            result: result.to_string(),
        });
    }
    Ok(items)
}

/// `path → value` of every leaf of a JSON document.
fn flatten(value: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let next = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(child, next, out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                flatten(child, format!("{path}[{index}]"), out);
            }
        }
        leaf => {
            out.insert(path, leaf.clone());
        }
    }
}

/// Paths whose values differ between two configurations.
pub fn changed_settings(before: &Value, after: &Value) -> Vec<String> {
    let (mut old, mut new) = (BTreeMap::new(), BTreeMap::new());
    flatten(before, String::new(), &mut old);
    flatten(after, String::new(), &mut new);
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    paths
        .into_iter()
        .filter(|path| old.get(*path) != new.get(*path))
        .take(MAX_CHANGED)
        .cloned()
        .collect()
}

/// Every proxy of the meshes the writes touch whose configuration would change.
pub async fn effects(
    state: &AppState,
    writes: &[(Resource, Option<u64>)],
) -> Result<Vec<ProxyEffect>> {
    let mut by_mesh: BTreeMap<String, Vec<&Resource>> = BTreeMap::new();
    for (resource, _) in writes {
        let mesh = match resource.kind() {
            Kind::Mesh => resource.name(),
            _ => match resource.mesh() {
                Some(mesh) => mesh,
                None => continue,
            },
        };
        by_mesh.entry(mesh.to_string()).or_default().push(resource);
    }
    let mut effects = Vec::new();
    for (mesh, drafts) in by_mesh {
        let stored = typed_rows(&state.store.mesh_resources(&mesh).await?);
        let key = |resource: &Resource| (resource.kind(), resource.name().to_string());
        let drafted: BTreeSet<(Kind, String)> = drafts.iter().map(|draft| key(draft)).collect();
        let mut after: Vec<Resource> = stored
            .iter()
            .filter(|resource| !drafted.contains(&key(resource)))
            .cloned()
            .collect();
        after.extend(drafts.iter().map(|draft| (*draft).clone()));
        let before_view = MeshView::new(&mesh, stored.iter());
        let after_view = MeshView::new(&mesh, after.iter());
        for dataplane in after
            .iter()
            .filter(|resource| resource.kind() == Kind::Dataplane)
        {
            let Some(next) = explain(&after_view, dataplane.name()) else {
                continue;
            };
            let previous = explain(&before_view, dataplane.name());
            let policies: Vec<String> = next
                .policies
                .iter()
                .filter(|policy| drafted.contains(&(policy.kind, policy.name.clone())))
                .map(|policy| format!("{}/{}", policy.kind.name(), policy.name))
                .collect();
            let to_json = |value: &weft_model::proxy::ProxyConfig| {
                serde_json::to_value(value).unwrap_or_default()
            };
            let changed = changed_settings(
                &previous
                    .map(|explanation| to_json(&explanation.config))
                    .unwrap_or_default(),
                &to_json(&next.config),
            );
            if !policies.is_empty() || !changed.is_empty() {
                effects.push(ProxyEffect {
                    mesh: mesh.clone(),
                    dataplane: dataplane.name().to_string(),
                    policies,
                    changed,
                });
            }
        }
    }
    Ok(effects)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn changed_settings_name_every_leaf_that_moved() {
        let before = json!({"outbound": [{"service": "catalog", "timeout": {"request": "5s"}}], "mtls": "strict"});
        let after = json!({"outbound": [{"service": "catalog", "timeout": {"request": "7s"}, "retry": {"attempts": 3}}], "mtls": "strict"});
        assert_eq!(
            super::changed_settings(&before, &after),
            ["outbound[0].retry.attempts", "outbound[0].timeout.request"]
        );
        assert!(super::changed_settings(&after, &after).is_empty());
    }
}
