//! TrafficPermission: who may call the selected proxies. Sources are matched by the identity
//! their proxy presents; the first matching rule decides. Without a matching rule, a strict
//! mTLS mesh denies and other meshes allow.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, at, index};
use crate::name::{check_name, check_tags};
use crate::target::TargetRef;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Action {
    Allow,
    Deny,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficPermissionSpec {
    /// The destination proxies.
    #[serde(default)]
    pub target_ref: Option<TargetRef>,
    #[serde(default)]
    pub from: Vec<PermissionRule>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionRule {
    #[serde(default)]
    pub source: Source,
    #[serde(default)]
    pub action: Option<Action>,
}

/// Exactly one of `service`, `tags` or `any: true`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<bool>,
}

impl Source {
    /// Higher is more specific: any < tags < service.
    pub fn specificity(&self) -> u8 {
        match (&self.service, &self.tags) {
            (Some(_), _) => 2,
            (None, Some(_)) => 1,
            _ => 0,
        }
    }

    /// Whether a caller with `tags` (including `service`) matches.
    pub fn matches(&self, tags: &BTreeMap<String, String>) -> bool {
        if let Some(service) = &self.service {
            return tags.get(crate::dataplane::SERVICE_TAG) == Some(service);
        }
        if let Some(wanted) = &self.tags {
            return wanted
                .iter()
                .all(|(tag, value)| tags.get(tag) == Some(value));
        }
        self.any == Some(true)
    }
}

impl TrafficPermissionSpec {
    pub fn check(&self, errors: &mut Errors, path: &str) {
        match &self.target_ref {
            Some(target) => target.check(errors, &at(path, "targetRef")),
            None => errors.add(at(path, "targetRef"), "is required"),
        }
        let from_path = at(path, "from");
        if self.from.is_empty() {
            errors.add(&from_path, "needs at least one rule");
        }
        check::length(errors, &from_path, &self.from, 64);
        for (position, rule) in self.from.iter().enumerate() {
            let rule_path = index(&from_path, position);
            let source_path = at(&rule_path, "source");
            let source = &rule.source;
            check::one_of(
                errors,
                &source_path,
                &[
                    ("service", source.service.is_some()),
                    ("tags", source.tags.is_some()),
                    ("any", source.any == Some(true)),
                ],
            );
            if source.any == Some(false) {
                errors.add(at(&source_path, "any"), "must be true when set");
            }
            if let Some(service) = &source.service {
                check_name(errors, &at(&source_path, "service"), service);
            }
            if let Some(tags) = &source.tags {
                let tags_path = at(&source_path, "tags");
                if tags.is_empty() {
                    errors.add(&tags_path, "must name at least one tag");
                }
                check_tags(errors, &tags_path, tags.iter(), false);
            }
            if rule.action.is_none() {
                errors.add(at(&rule_path, "action"), "is required (Allow or Deny)");
            }
        }
    }
}

impl crate::kind::KindSpec for TrafficPermissionSpec {
    fn check_spec(&self, errors: &mut crate::error::Errors, path: &str) {
        TrafficPermissionSpec::check(self, errors, path);
    }

    fn target(&self) -> Option<&crate::target::TargetRef> {
        self.target_ref.as_ref()
    }
}
