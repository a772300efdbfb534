//! Policies: one spec shape for every kind, and each kind's configuration.
//!
//! A policy selects proxies with `spec.targetRef` and configures outbound traffic in `to[]`
//! (one entry per destination: the whole mesh or one service) or inbound traffic in `from[]`
//! (one entry per source). Where a policy applies and in which order is decided once, in
//! [`crate::effective`]; a kind only says what its configuration is and how it merges.

pub mod access_log;
pub mod circuit_breaker;
pub mod fault_injection;
pub mod health_check;
pub mod load_balancing;
pub mod merge;
pub mod rate_limit;
pub mod retry;
pub mod timeout;
pub mod trace;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Errors, at, index};
use crate::target::{TargetKind, TargetRef};

pub use merge::{Merge, Provenance};

/// Most `to` or `from` entries in one policy.
pub const MAX_ITEMS: usize = 64;

/// What a policy kind configures.
pub trait Conf:
    Clone + Default + PartialEq + std::fmt::Debug + Serialize + DeserializeOwned + Merge
{
    /// The lists (`to[]`, `from[]`) a policy of this configuration accepts.
    const DIRECTIONS: Directions;
    /// The kind of the policies that carry this configuration.
    const KIND: crate::kind::Kind;

    /// The policy inside `spec`, when `spec` is of [`Conf::KIND`].
    fn policy(spec: &crate::kind::Spec) -> Option<&PolicySpec<Self>>;

    /// Checks the configuration, reporting every problem under `path`.
    fn check(&self, errors: &mut Errors, path: &str);
}

/// Which lists a policy kind accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directions {
    /// Outbound only (`to[]`): timeouts, retries, circuit breaking, health checks, load balancing.
    To,
    /// Inbound only (`from[]`): rate limits, fault injection.
    From,
    /// Both (`to[]` and `from[]`): access logs.
    Both,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "C: DeserializeOwned"))]
pub struct PolicySpec<C> {
    #[serde(default)]
    pub target_ref: Option<TargetRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<PolicyItem<C>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<PolicyItem<C>>,
}

impl<C> Default for PolicySpec<C> {
    fn default() -> Self {
        PolicySpec {
            target_ref: None,
            to: Vec::new(),
            from: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "C: DeserializeOwned"))]
pub struct PolicyItem<C> {
    /// The peer: `{kind: Mesh}` (every peer) or `{kind: Service, name}`.
    #[serde(default)]
    pub target_ref: Option<TargetRef>,
    #[serde(default)]
    pub default: Option<C>,
}

impl<C: Conf> PolicySpec<C> {
    pub fn check(&self, errors: &mut Errors, path: &str, directions: Directions) {
        match &self.target_ref {
            Some(target) => target.check(errors, &at(path, "targetRef")),
            None => errors.add(at(path, "targetRef"), "is required"),
        }
        let allows_to = matches!(directions, Directions::To | Directions::Both);
        let allows_from = matches!(directions, Directions::From | Directions::Both);
        if !allows_to && !self.to.is_empty() {
            errors.add(
                at(path, "to"),
                "this kind configures inbound traffic: use from",
            );
        }
        if !allows_from && !self.from.is_empty() {
            errors.add(
                at(path, "from"),
                "this kind configures outbound traffic: use to",
            );
        }
        if self.to.is_empty() && self.from.is_empty() {
            let wanted = match directions {
                Directions::To => "to",
                Directions::From => "from",
                Directions::Both => "to or from",
            };
            let field = if directions == Directions::From {
                "from"
            } else {
                "to"
            };
            errors.add(
                at(path, field),
                format!("needs at least one entry in {wanted}"),
            );
        }
        for (list, name) in [(&self.to, "to"), (&self.from, "from")] {
            let list_path = at(path, name);
            if list.len() > MAX_ITEMS {
                errors.add(&list_path, format!("must have at most {MAX_ITEMS} entries"));
            }
            for (position, item) in list.iter().enumerate() {
                item.check(errors, &index(&list_path, position));
            }
        }
    }
}

impl<C: Conf> PolicyItem<C> {
    fn check(&self, errors: &mut Errors, path: &str) {
        let target_path = at(path, "targetRef");
        match &self.target_ref {
            Some(target) if matches!(target.kind, TargetKind::Mesh | TargetKind::Service) => {
                target.check(errors, &target_path)
            }
            Some(_) => errors.add(at(&target_path, "kind"), "must be Mesh or Service"),
            None => errors.add(&target_path, "is required"),
        }
        match &self.default {
            Some(conf) => conf.check(errors, &at(path, "default")),
            None => errors.add(at(path, "default"), "is required"),
        }
    }
}
