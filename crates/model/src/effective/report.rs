//! "Which policies apply to this proxy, in which order, and what came out."

use serde::{Deserialize, Serialize};

use crate::kind::Kind;
use crate::proxy::ProxyConfig;
use crate::resource::Resource;
use crate::target::{TargetKind, TargetRef};

use super::Proxy;

#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub config: ProxyConfig,
    /// By kind, most precedent first.
    pub policies: Vec<AppliedPolicy>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedPolicy {
    pub kind: Kind,
    pub name: String,
    pub target_ref: TargetRef,
    /// 0 Mesh, 1 Service, 2 Dataplane by tags, 3 Dataplane by name.
    pub specificity: u8,
    /// Why it selects the proxy.
    pub reason: String,
    /// The settings it produced (paths as in `provenance`, or route rules); empty when every
    /// setting it makes is overridden or concerns no peer of this proxy.
    pub effect: Vec<String>,
}

fn reason(target: &TargetRef, proxy: &Proxy<'_>) -> String {
    match target.kind {
        TargetKind::Mesh => "targets the whole mesh".to_string(),
        TargetKind::Service => format!(
            "targets service {}, which this proxy serves",
            target.name.as_deref().unwrap_or("")
        ),
        TargetKind::Dataplane => match &target.name {
            Some(name) => format!("targets dataplane {name}"),
            None => {
                let tags: Vec<String> = target
                    .tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                format!(
                    "targets dataplanes tagged {}, which {} is",
                    tags.join(","),
                    proxy.name
                )
            }
        },
    }
}

pub(crate) fn applied(
    selecting: &[&Resource],
    proxy: &Proxy<'_>,
    config: &ProxyConfig,
) -> Vec<AppliedPolicy> {
    let mut applied: Vec<AppliedPolicy> = selecting
        .iter()
        .filter_map(|resource| {
            let target = resource.spec.target_ref()?.clone();
            let origin = format!("{}/{}", resource.kind(), resource.name());
            let mut effect: Vec<String> = config
                .provenance
                .iter()
                .filter(|(_, by)| **by == origin)
                .map(|(path, _)| path.clone())
                .collect();
            for outbound in &config.outbound {
                for (position, rule) in outbound.rules.iter().enumerate() {
                    if rule.origin == origin {
                        effect.push(format!("outbound[{}].rules[{position}]", outbound.service));
                    }
                }
            }
            for inbound in &config.inbound {
                for (position, rule) in inbound.permissions.rules.iter().enumerate() {
                    if rule.origin == origin {
                        effect.push(format!(
                            "inbound[{}].permissions.rules[{position}]",
                            inbound.port
                        ));
                    }
                }
            }
            Some(AppliedPolicy {
                kind: resource.kind(),
                name: resource.name().to_string(),
                specificity: target.specificity(),
                reason: reason(&target, proxy),
                target_ref: target,
                effect,
            })
        })
        .collect();
    applied.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then_with(|| b.specificity.cmp(&a.specificity))
            .then_with(|| a.name.cmp(&b.name))
    });
    applied
}
