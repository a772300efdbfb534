//! Outbound (`to`), inbound (`from`) and whole-proxy policies: collect the contributions that
//! apply, order them by [`Precedence`], merge field by field.

use std::collections::BTreeSet;

use crate::policy::trace::TraceConf;
use crate::policy::{Conf, Merge, PolicySpec, Provenance};
use crate::proxy::{InboundConfig, OutboundConfig, PerSource};
use crate::resource::{Resource, Spec};
use crate::target::TargetKind;

use super::Proxy;
use super::precedence::{Precedence, sort_ascending};

/// One applicable entry: its key, the policy it came from, and its configuration.
type Contribution<'a, C> = (Precedence, (String, &'a C));

/// Merges contributions from least to most precedent; `None` when there are none.
fn merge<C: Merge + Default>(
    mut contributions: Vec<Contribution<'_, C>>,
    path: &str,
    provenance: &mut Provenance,
) -> Option<C> {
    if contributions.is_empty() {
        return None;
    }
    sort_ascending(&mut contributions);
    let mut result = C::default();
    for (_, (origin, conf)) in contributions {
        result.merge_from(conf, &origin, path, provenance);
    }
    Some(result)
}

fn policy_specificity<C>(spec: &PolicySpec<C>) -> u8 {
    spec.target_ref
        .as_ref()
        .map_or(0, |target| target.specificity())
}

/// The merged outbound configuration of one kind for destination `service`.
fn outbound_conf<'a, C: Conf + 'a>(
    selecting: &[&'a Resource],
    service: &str,
    path: &str,
    provenance: &mut Provenance,
) -> Option<C> {
    let kind = C::KIND;
    let mut contributions = Vec::new();
    for resource in selecting {
        let Some(spec) = C::policy(&resource.spec) else {
            continue;
        };
        for (position, item) in spec.to.iter().enumerate() {
            let (Some(target), Some(conf)) = (&item.target_ref, &item.default) else {
                continue;
            };
            if target.selects_peer(service) {
                let key = Precedence::new(
                    policy_specificity(spec),
                    target.specificity(),
                    resource.name(),
                    position,
                );
                contributions.push((key, (format!("{kind}/{}", resource.name()), conf)));
            }
        }
    }
    merge(contributions, path, provenance)
}

/// The merged inbound configuration of one kind: for every source, and per named source.
fn inbound_conf<'a, C: Conf + 'a>(
    selecting: &[&'a Resource],
    proxy: &Proxy<'_>,
    tags: &std::collections::BTreeMap<String, String>,
    path: &str,
    provenance: &mut Provenance,
) -> PerSource<C> {
    // (key, origin, conf, source service or None for every source)
    let kind = C::KIND;
    let mut entries: Vec<(Precedence, String, &'a C, Option<String>)> = Vec::new();
    for resource in selecting {
        let Some(spec) = C::policy(&resource.spec) else {
            continue;
        };
        if !spec
            .target_ref
            .as_ref()
            .is_some_and(|target| target.selects_inbound(proxy.name, tags))
        {
            continue;
        }
        for (position, item) in spec.from.iter().enumerate() {
            let (Some(target), Some(conf)) = (&item.target_ref, &item.default) else {
                continue;
            };
            let source = match target.kind {
                TargetKind::Mesh => None,
                TargetKind::Service => target.name.clone(),
                TargetKind::Dataplane => continue,
            };
            let key = Precedence::new(
                policy_specificity(spec),
                target.specificity(),
                resource.name(),
                position,
            );
            entries.push((key, format!("{kind}/{}", resource.name()), conf, source));
        }
    }
    let collect = |source: Option<&str>| -> Vec<Contribution<'a, C>> {
        entries
            .iter()
            .filter(|(_, _, _, entry_source)| {
                entry_source.is_none() || entry_source.as_deref() == source
            })
            .map(|(key, origin, conf, _)| (key.clone(), (origin.clone(), *conf)))
            .collect()
    };
    let named: BTreeSet<String> = entries
        .iter()
        .filter_map(|(_, _, _, source)| source.clone())
        .collect();
    let default = merge(collect(None), &format!("{path}.default"), provenance);
    let sources = named
        .into_iter()
        .filter_map(|source| {
            let merged = merge(
                collect(Some(&source)),
                &format!("{path}.sources[{source}]"),
                provenance,
            )?;
            Some((source, merged))
        })
        .collect();
    PerSource { default, sources }
}

pub(crate) fn apply_outbound(
    selecting: &[&Resource],
    service: &str,
    path: &str,
    config: &mut OutboundConfig,
    provenance: &mut Provenance,
) {
    config.timeout = outbound_conf(selecting, service, &format!("{path}.timeout"), provenance);
    config.retry = outbound_conf(selecting, service, &format!("{path}.retry"), provenance);
    config.circuit_breaker = outbound_conf(
        selecting,
        service,
        &format!("{path}.circuitBreaker"),
        provenance,
    );
    config.health_check = outbound_conf(
        selecting,
        service,
        &format!("{path}.healthCheck"),
        provenance,
    );
    config.load_balancing = outbound_conf(
        selecting,
        service,
        &format!("{path}.loadBalancing"),
        provenance,
    );
    config.access_log = outbound_conf(selecting, service, &format!("{path}.accessLog"), provenance);
}

pub(crate) fn apply_inbound(
    selecting: &[&Resource],
    proxy: &Proxy<'_>,
    tags: &std::collections::BTreeMap<String, String>,
    path: &str,
    config: &mut InboundConfig,
    provenance: &mut Provenance,
) {
    config.rate_limit = inbound_conf(
        selecting,
        proxy,
        tags,
        &format!("{path}.rateLimit"),
        provenance,
    );
    config.fault_injection = inbound_conf(
        selecting,
        proxy,
        tags,
        &format!("{path}.faultInjection"),
        provenance,
    );
    config.access_log = inbound_conf(
        selecting,
        proxy,
        tags,
        &format!("{path}.accessLog"),
        provenance,
    );
}

/// Trace applies to the whole proxy: one contribution per selecting policy.
pub(crate) fn trace(selecting: &[&Resource], provenance: &mut Provenance) -> Option<TraceConf> {
    let contributions: Vec<Contribution<'_, TraceConf>> = selecting
        .iter()
        .filter_map(|resource| match &resource.spec {
            Spec::Trace(spec) => {
                let conf = spec.default.as_ref()?;
                let specificity = spec
                    .target_ref
                    .as_ref()
                    .map_or(0, |target| target.specificity());
                Some((
                    Precedence::new(specificity, 0, resource.name(), 0),
                    (format!("Trace/{}", resource.name()), conf),
                ))
            }
            _ => None,
        })
        .collect();
    merge(contributions, "trace", provenance)
}
