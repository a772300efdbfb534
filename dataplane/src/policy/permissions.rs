//! TrafficPermission (inbound): who may call this service. The caller is the identity its
//! certificate proves (never a header); the first rule whose source matches decides, else the
//! default (deny in strict meshes). A denied request gets 403 naming the rule, and the answer
//! says it was a denial so that the caller's proxy counts it.

use std::sync::Arc;

use http::HeaderValue;
use tower::Layer;
use weft_model::proxy::Permissions;
use weft_model::traffic_permission::Action;

use crate::error::ProxyError;
use crate::stack::{Request, ResponseFuture, Stack};

/// Set on answers the proxy gives for a denial.
pub const DENIED_HEADER: &str = "x-weft-denied";

enum Matcher {
    Any,
    /// A service (or the services a `tags` source stands for).
    Services(Vec<String>),
}

struct Rule {
    matcher: Matcher,
    allow: bool,
    origin: String,
}

#[derive(Clone)]
pub struct PermissionsLayer {
    rules: Arc<[Rule]>,
    default_allow: bool,
}

impl PermissionsLayer {
    /// `None` when every caller is allowed anyway.
    pub fn new(permissions: &Permissions) -> Option<PermissionsLayer> {
        let default_allow = permissions.default_action == Action::Allow;
        if default_allow && permissions.rules.is_empty() {
            return None;
        }
        let rules = permissions
            .rules
            .iter()
            .map(|entry| Rule {
                matcher: match (&entry.source.service, &entry.source.tags) {
                    (Some(service), _) => Matcher::Services(vec![service.clone()]),
                    (None, Some(_)) => Matcher::Services(entry.services.clone()),
                    (None, None) => Matcher::Any,
                },
                allow: entry.action == Action::Allow,
                origin: entry.origin.clone(),
            })
            .collect();
        Some(PermissionsLayer {
            rules,
            default_allow,
        })
    }

    /// Whether `caller` (a verified service, or `None` for plaintext) may pass; the rule that
    /// decided, if any.
    fn decide(&self, caller: Option<&str>) -> (bool, Option<&str>) {
        for rule in self.rules.iter() {
            let matches = match &rule.matcher {
                Matcher::Any => true,
                Matcher::Services(services) => {
                    caller.is_some_and(|caller| services.iter().any(|service| service == caller))
                }
            };
            if matches {
                return (rule.allow, Some(&rule.origin));
            }
        }
        (self.default_allow, None)
    }
}

#[derive(Clone)]
pub struct Permission {
    inner: Stack,
    layer: PermissionsLayer,
}

impl Layer<Stack> for PermissionsLayer {
    type Service = Permission;

    fn layer(&self, inner: Stack) -> Permission {
        Permission {
            inner,
            layer: self.clone(),
        }
    }
}

impl Permission {
    fn serve(&self, request: Request) -> ResponseFuture {
        let caller = crate::source::verified(&request);
        let (allowed, rule) = self.layer.decide(caller);
        if allowed {
            return self.inner.call(request);
        }
        let error = ProxyError::Denied {
            caller: caller.map_or_else(
                || "an unverified caller".to_string(),
                |c| format!("service {c}"),
            ),
            rule: rule.map_or_else(
                || "no TrafficPermission allows it".to_string(),
                |r| format!("denied by {r}"),
            ),
        };
        tracing::debug!(%error, "request denied");
        Box::pin(async move {
            let mut response = error.into_response();
            response
                .headers_mut()
                .insert(DENIED_HEADER, HeaderValue::from_static("true"));
            Ok(response)
        })
    }
}

crate::stack_service!(Permission);
