//! TrafficRoute: HTTP matching (path, method, headers, query), weighted backends chosen by
//! tags, and filters (header changes, redirect, rewrite, mirror).

mod filters;
mod matching;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, at, index};
use crate::name::{check_name, check_tags};
use crate::target::{TargetKind, TargetRef};

pub use filters::{Filter, Header, HeaderModifier, Mirror, PathRewrite, Redirect, UrlRewrite};
pub use matching::{HeaderMatch, METHODS, PathMatch, QueryMatch, RouteMatch, prefix_matches};

const MAX_TO: usize = 64;
const MAX_RULES: usize = 64;
const MAX_MATCHES: usize = 16;
const MAX_BACKENDS: usize = 16;
const MAX_FILTERS: usize = 16;
pub const MAX_WEIGHT: i64 = 10_000;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficRouteSpec {
    /// The proxies whose outbound traffic this route shapes.
    #[serde(default)]
    pub target_ref: Option<TargetRef>,
    #[serde(default)]
    pub to: Vec<RouteTo>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTo {
    /// The destination service whose traffic is routed.
    #[serde(default)]
    pub target_ref: Option<TargetRef>,
    #[serde(default)]
    pub rules: Vec<RouteRule>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteRule {
    /// Any one of these must match; an empty list matches every request.
    #[serde(default)]
    pub matches: Vec<RouteMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// Required unless a filter redirects.
    #[serde(default)]
    pub backends: Vec<Backend>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backend {
    #[serde(default)]
    pub service: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default = "default_weight")]
    pub weight: i64,
}

fn default_weight() -> i64 {
    1
}

impl TrafficRouteSpec {
    pub fn check(&self, errors: &mut Errors, path: &str) {
        match &self.target_ref {
            Some(target) => target.check(errors, &at(path, "targetRef")),
            None => errors.add(at(path, "targetRef"), "is required"),
        }
        let to_path = at(path, "to");
        if self.to.is_empty() {
            errors.add(&to_path, "needs at least one destination");
        }
        check::length(errors, &to_path, &self.to, MAX_TO);
        for (position, to) in self.to.iter().enumerate() {
            to.check(errors, &index(&to_path, position));
        }
    }
}

impl RouteTo {
    fn check(&self, errors: &mut Errors, path: &str) {
        let target_path = at(path, "targetRef");
        match &self.target_ref {
            Some(target) if target.kind == TargetKind::Service => {
                target.check(errors, &target_path)
            }
            Some(_) => errors.add(at(&target_path, "kind"), "must be Service"),
            None => errors.add(&target_path, "is required"),
        }
        let rules_path = at(path, "rules");
        if self.rules.is_empty() {
            errors.add(&rules_path, "needs at least one rule");
        }
        check::length(errors, &rules_path, &self.rules, MAX_RULES);
        for (position, rule) in self.rules.iter().enumerate() {
            rule.check(errors, &index(&rules_path, position));
        }
    }

    /// The destination service name, when the target is well formed.
    pub fn service(&self) -> Option<&str> {
        self.target_ref
            .as_ref()
            .filter(|target| target.kind == TargetKind::Service)
            .and_then(|target| target.name.as_deref())
    }
}

impl RouteRule {
    fn check(&self, errors: &mut Errors, path: &str) {
        let matches_path = at(path, "matches");
        check::length(errors, &matches_path, &self.matches, MAX_MATCHES);
        for (position, route_match) in self.matches.iter().enumerate() {
            route_match.check(errors, &index(&matches_path, position));
        }
        let filters_path = at(path, "filters");
        check::length(errors, &filters_path, &self.filters, MAX_FILTERS);
        for (position, filter) in self.filters.iter().enumerate() {
            filter.check(errors, &index(&filters_path, position), &self.matches);
        }
        let redirects = self
            .filters
            .iter()
            .any(|filter| filter.request_redirect.is_some());
        let rewrites = self
            .filters
            .iter()
            .any(|filter| filter.url_rewrite.is_some());
        if redirects && rewrites {
            errors.add(
                &filters_path,
                "requestRedirect and urlRewrite cannot be combined",
            );
        }
        let backends_path = at(path, "backends");
        if redirects && !self.backends.is_empty() {
            errors.add(&backends_path, "must be empty when the rule redirects");
        }
        if !redirects && self.backends.is_empty() {
            errors.add(&backends_path, "needs at least one backend");
        }
        check::length(errors, &backends_path, &self.backends, MAX_BACKENDS);
        for (position, backend) in self.backends.iter().enumerate() {
            backend.check(errors, &index(&backends_path, position), true);
        }
        let weights_valid = self
            .backends
            .iter()
            .all(|b| (0..=MAX_WEIGHT).contains(&b.weight));
        if !self.backends.is_empty()
            && weights_valid
            && self.backends.iter().all(|backend| backend.weight == 0)
        {
            errors.add(
                &backends_path,
                "at least one backend needs a weight above 0",
            );
        }
    }
}

impl Backend {
    pub(crate) fn check(&self, errors: &mut Errors, path: &str, weighted: bool) {
        if self.service.is_empty() {
            errors.add(at(path, "service"), "is required");
        } else {
            check_name(errors, &at(path, "service"), &self.service);
        }
        check_tags(errors, &at(path, "tags"), self.tags.iter(), false);
        if !weighted {
            return;
        }
        if self.weight < 0 {
            errors.add(at(path, "weight"), "must not be negative");
        } else if self.weight > MAX_WEIGHT {
            errors.add(at(path, "weight"), format!("must be at most {MAX_WEIGHT}"));
        }
    }
}

impl crate::kind::KindSpec for TrafficRouteSpec {
    fn check_spec(&self, errors: &mut crate::error::Errors, path: &str) {
        TrafficRouteSpec::check(self, errors, path);
    }

    fn target(&self) -> Option<&crate::target::TargetRef> {
        self.target_ref.as_ref()
    }
}
