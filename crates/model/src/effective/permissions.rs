//! Who may call one inbound: every rule of every TrafficPermission selecting the inbound, most
//! specific first (policy target, then source: service before tags before any, then name,
//! then position); the first rule matching the caller decides. With no matching rule, a
//! strict mTLS mesh denies and other meshes allow.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use crate::mesh::MtlsMode;
use crate::proxy::{PermissionEntry, Permissions};
use crate::resource::{Resource, Spec};
use crate::traffic_permission::Action;

use super::{MeshView, Proxy};
use crate::dataplane::SERVICE_TAG;

/// Most specific first: policy target, source, then name and position.
type RuleKey<'a> = (Reverse<u8>, Reverse<u8>, &'a str, usize);

/// The services whose dataplanes in the mesh have an inbound carrying every tag of `wanted`.
fn services_with(view: &MeshView<'_>, wanted: &BTreeMap<String, String>) -> Vec<String> {
    let mut services: Vec<String> = view
        .inbounds()
        .filter(|(_, _, inbound)| {
            wanted
                .iter()
                .all(|(tag, value)| inbound.tags.get(tag) == Some(value))
        })
        .filter_map(|(_, _, inbound)| inbound.tags.get(SERVICE_TAG).cloned())
        .collect();
    services.sort();
    services.dedup();
    services
}

pub(crate) fn for_inbound(
    view: &MeshView<'_>,
    selecting: &[&Resource],
    proxy: &Proxy<'_>,
    tags: &BTreeMap<String, String>,
    mtls: MtlsMode,
) -> Permissions {
    let mut entries: Vec<(RuleKey<'_>, PermissionEntry)> = Vec::new();
    for resource in selecting {
        let Spec::TrafficPermission(spec) = &resource.spec else {
            continue;
        };
        let Some(target) = &spec.target_ref else {
            continue;
        };
        if !target.selects_inbound(proxy.name, tags) {
            continue;
        }
        for (position, rule) in spec.from.iter().enumerate() {
            let Some(action) = rule.action else { continue };
            let key = (
                Reverse(target.specificity()),
                Reverse(rule.source.specificity()),
                resource.name(),
                position,
            );
            let entry = PermissionEntry {
                source: rule.source.clone(),
                action,
                origin: format!("TrafficPermission/{}", resource.name()),
                services: match (&rule.source.service, &rule.source.tags) {
                    (None, Some(tags)) => services_with(view, tags),
                    _ => Vec::new(),
                },
            };
            entries.push((key, entry));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Permissions {
        default_action: if mtls == MtlsMode::Strict {
            Action::Deny
        } else {
            Action::Allow
        },
        rules: entries.into_iter().map(|(_, entry)| entry).collect(),
    }
}
