//! TrafficRoute: HTTP matching and weighted backends chosen by tags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Errors, at, index};
use crate::name::{check_name, check_tags};
use crate::target::{TargetKind, TargetRef};

const MAX_TO: usize = 64;
const MAX_RULES: usize = 64;
const MAX_MATCHES: usize = 16;
const MAX_BACKENDS: usize = 16;
const MAX_PATH_LENGTH: usize = 1024;
pub const MAX_WEIGHT: i64 = 10_000;
pub const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficRouteSpec {
    /// The proxies whose outbound traffic this route shapes.
    #[serde(default)]
    pub target_ref: Option<TargetRef>,
    #[serde(default)]
    pub to: Vec<RouteTo>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTo {
    /// The destination service whose traffic is routed.
    #[serde(default)]
    pub target_ref: Option<TargetRef>,
    #[serde(default)]
    pub rules: Vec<RouteRule>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteRule {
    /// Any one of these must match; an empty list matches every request.
    #[serde(default)]
    pub matches: Vec<RouteMatch>,
    #[serde(default)]
    pub backends: Vec<Backend>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
        if self.to.len() > MAX_TO {
            errors.add(&to_path, format!("must have at most {MAX_TO} entries"));
        }
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
        if self.rules.len() > MAX_RULES {
            errors.add(
                &rules_path,
                format!("must have at most {MAX_RULES} entries"),
            );
        }
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
        if self.matches.len() > MAX_MATCHES {
            errors.add(
                &matches_path,
                format!("must have at most {MAX_MATCHES} entries"),
            );
        }
        for (position, route_match) in self.matches.iter().enumerate() {
            route_match.check(errors, &index(&matches_path, position));
        }
        let backends_path = at(path, "backends");
        if self.backends.is_empty() {
            errors.add(&backends_path, "needs at least one backend");
        }
        if self.backends.len() > MAX_BACKENDS {
            errors.add(
                &backends_path,
                format!("must have at most {MAX_BACKENDS} entries"),
            );
        }
        for (position, backend) in self.backends.iter().enumerate() {
            backend.check(errors, &index(&backends_path, position));
        }
        let all_weights_valid = self
            .backends
            .iter()
            .all(|b| (0..=MAX_WEIGHT).contains(&b.weight));
        if !self.backends.is_empty()
            && all_weights_valid
            && self.backends.iter().all(|backend| backend.weight == 0)
        {
            errors.add(
                &backends_path,
                "at least one backend needs a weight above 0",
            );
        }
    }
}

impl RouteMatch {
    fn check(&self, errors: &mut Errors, path: &str) {
        if let Some(path_match) = &self.path {
            path_match.check(errors, &at(path, "path"));
        }
        if let Some(method) = &self.method
            && !METHODS.contains(&method.as_str())
        {
            errors.add(
                at(path, "method"),
                format!("must be one of {}", METHODS.join(", ")),
            );
        }
    }

    /// Whether a request with `method` and `path` (without query) matches.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = self.method.as_deref().is_none_or(|wanted| wanted == method);
        let path_ok = self.path.as_ref().is_none_or(|wanted| wanted.matches(path));
        method_ok && path_ok
    }

    /// Ordering key: exact paths first, then longer prefixes, then method matches.
    pub fn specificity(&self) -> (u8, usize, u8) {
        let (rank, length) = match &self.path {
            Some(PathMatch {
                exact: Some(exact), ..
            }) => (2, exact.len()),
            Some(PathMatch {
                prefix: Some(prefix),
                ..
            }) => (1, prefix.len()),
            _ => (0, 0),
        };
        (rank, length, u8::from(self.method.is_some()))
    }

    /// A match that accepts every request (no method and no path beyond `/`).
    pub fn is_catch_all(&self) -> bool {
        self.method.is_none()
            && match &self.path {
                None => true,
                Some(PathMatch {
                    exact: None,
                    prefix,
                }) => prefix.as_deref().is_none_or(|p| p == "/"),
                Some(_) => false,
            }
    }
}

impl PathMatch {
    fn check(&self, errors: &mut Errors, path: &str) {
        match (&self.exact, &self.prefix) {
            (Some(_), Some(_)) => errors.add(path, "set exactly one of exact or prefix"),
            (None, None) => errors.add(path, "set one of exact or prefix"),
            (Some(value), None) => check_path_value(errors, &at(path, "exact"), value),
            (None, Some(value)) => check_path_value(errors, &at(path, "prefix"), value),
        }
    }

    /// Prefixes match whole path segments: `/api` matches `/api` and `/api/x`, not `/apix`.
    pub fn matches(&self, path: &str) -> bool {
        if let Some(exact) = &self.exact {
            return path == exact;
        }
        match &self.prefix {
            Some(prefix) => {
                let trimmed = prefix.trim_end_matches('/');
                trimmed.is_empty()
                    || path == trimmed
                    || (path.starts_with(trimmed) && path[trimmed.len()..].starts_with('/'))
            }
            None => true,
        }
    }
}

fn check_path_value(errors: &mut Errors, path: &str, value: &str) {
    if !value.starts_with('/') {
        errors.add(path, "must start with /");
    } else if value.len() > MAX_PATH_LENGTH {
        errors.add(
            path,
            format!("must be at most {MAX_PATH_LENGTH} characters"),
        );
    } else if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '?' || c == '#')
    {
        errors.add(
            path,
            "must not contain whitespace, control characters, ? or #",
        );
    }
}

impl Backend {
    fn check(&self, errors: &mut Errors, path: &str) {
        if self.service.is_empty() {
            errors.add(at(path, "service"), "is required");
        } else {
            check_name(errors, &at(path, "service"), &self.service);
        }
        check_tags(errors, &at(path, "tags"), self.tags.iter(), false);
        if self.weight < 0 {
            errors.add(at(path, "weight"), "must not be negative");
        } else if self.weight > MAX_WEIGHT {
            errors.add(at(path, "weight"), format!("must be at most {MAX_WEIGHT}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(p: &str) -> PathMatch {
        PathMatch {
            exact: None,
            prefix: Some(p.into()),
        }
    }

    #[test]
    fn prefix_matches_whole_segments() {
        for (pattern, path, expected) in [
            ("/", "/anything", true),
            ("/api", "/api", true),
            ("/api", "/api/v1", true),
            ("/api/", "/api/v1", true),
            ("/api", "/apix", false),
            ("/api", "/", false),
        ] {
            assert_eq!(
                prefix(pattern).matches(path),
                expected,
                "{pattern} vs {path}"
            );
        }
    }

    #[test]
    fn method_and_path_both_count() {
        let m = RouteMatch {
            path: Some(prefix("/a")),
            method: Some("POST".into()),
        };
        assert!(m.matches("POST", "/a/b"));
        assert!(!m.matches("GET", "/a/b"));
        assert!(!m.matches("POST", "/b"));
    }
}
