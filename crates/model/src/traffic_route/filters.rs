//! Route filters, one action each: change request or response headers, redirect, rewrite the
//! URL, or mirror a share of the requests to another backend.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, at, index};

use super::{Backend, RouteMatch};

/// Exactly one field is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header_modifier: Option<HeaderModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_header_modifier: Option<HeaderModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_redirect: Option<Redirect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_rewrite: Option<UrlRewrite>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_mirror: Option<Mirror>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderModifier {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<Header>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<Header>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Redirect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathRewrite>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlRewrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathRewrite>,
}

/// Exactly one of `replaceFullPath` or `replacePrefixMatch` (the latter needs prefix matches).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathRewrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_full_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_prefix_match: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mirror {
    #[serde(default)]
    pub backend: Option<Backend>,
    /// Share of requests copied, in percent; default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<f64>,
}

const REDIRECT_CODES: [i64; 5] = [301, 302, 303, 307, 308];

impl Filter {
    pub(crate) fn check(&self, errors: &mut Errors, path: &str, matches: &[RouteMatch]) {
        check::one_of(
            errors,
            path,
            &[
                (
                    "requestHeaderModifier",
                    self.request_header_modifier.is_some(),
                ),
                (
                    "responseHeaderModifier",
                    self.response_header_modifier.is_some(),
                ),
                ("requestRedirect", self.request_redirect.is_some()),
                ("urlRewrite", self.url_rewrite.is_some()),
                ("requestMirror", self.request_mirror.is_some()),
            ],
        );
        if let Some(modifier) = &self.request_header_modifier {
            modifier.check(errors, &at(path, "requestHeaderModifier"));
        }
        if let Some(modifier) = &self.response_header_modifier {
            modifier.check(errors, &at(path, "responseHeaderModifier"));
        }
        if let Some(redirect) = &self.request_redirect {
            let redirect_path = at(path, "requestRedirect");
            if let Some(scheme) = &redirect.scheme
                && scheme != "http"
                && scheme != "https"
            {
                errors.add(at(&redirect_path, "scheme"), "must be http or https");
            }
            if let Some(hostname) = &redirect.hostname {
                check_hostname(errors, &at(&redirect_path, "hostname"), hostname);
            }
            check::optional_range(errors, &at(&redirect_path, "port"), redirect.port, 1, 65535);
            if let Some(rewrite) = &redirect.path {
                rewrite.check(errors, &at(&redirect_path, "path"), matches);
            }
            if let Some(code) = redirect.status_code
                && !REDIRECT_CODES.contains(&code)
            {
                errors.add(
                    at(&redirect_path, "statusCode"),
                    "must be 301, 302, 303, 307 or 308",
                );
            }
        }
        if let Some(rewrite) = &self.url_rewrite {
            let rewrite_path = at(path, "urlRewrite");
            if rewrite.hostname.is_none() && rewrite.path.is_none() {
                errors.add(&rewrite_path, "set hostname, path or both");
            }
            if let Some(hostname) = &rewrite.hostname {
                check_hostname(errors, &at(&rewrite_path, "hostname"), hostname);
            }
            if let Some(path_rewrite) = &rewrite.path {
                path_rewrite.check(errors, &at(&rewrite_path, "path"), matches);
            }
        }
        if let Some(mirror) = &self.request_mirror {
            let mirror_path = at(path, "requestMirror");
            match &mirror.backend {
                Some(backend) => backend.check(errors, &at(&mirror_path, "backend"), false),
                None => errors.add(at(&mirror_path, "backend"), "is required"),
            }
            if let Some(percentage) = mirror.percentage {
                check::percent(errors, &at(&mirror_path, "percentage"), percentage);
            }
        }
    }
}

impl HeaderModifier {
    fn check(&self, errors: &mut Errors, path: &str) {
        if self.set.is_empty() && self.add.is_empty() && self.remove.is_empty() {
            errors.add(path, "set at least one of set, add, remove");
        }
        for (list, name) in [(&self.set, "set"), (&self.add, "add")] {
            let list_path = at(path, name);
            check::length(errors, &list_path, list, 32);
            for (position, header) in list.iter().enumerate() {
                let item = index(&list_path, position);
                check::header_name(errors, &at(&item, "name"), &header.name);
                check::header_value(errors, &at(&item, "value"), &header.value);
            }
        }
        let remove_path = at(path, "remove");
        check::length(errors, &remove_path, &self.remove, 32);
        for (position, name) in self.remove.iter().enumerate() {
            check::header_name(errors, &index(&remove_path, position), name);
        }
    }
}

impl PathRewrite {
    fn check(&self, errors: &mut Errors, path: &str, matches: &[RouteMatch]) {
        check::one_of(
            errors,
            path,
            &[
                ("replaceFullPath", self.replace_full_path.is_some()),
                ("replacePrefixMatch", self.replace_prefix_match.is_some()),
            ],
        );
        for (value, name) in [
            (&self.replace_full_path, "replaceFullPath"),
            (&self.replace_prefix_match, "replacePrefixMatch"),
        ] {
            if let Some(value) = value {
                if value.starts_with('/') {
                    check::text(errors, &at(path, name), value, 1024);
                } else {
                    errors.add(at(path, name), "must start with /");
                }
            }
        }
        if self.replace_prefix_match.is_some()
            && (matches.is_empty()
                || matches
                    .iter()
                    .any(|m| m.path.as_ref().is_none_or(|p| p.prefix.is_none())))
        {
            errors.add(
                at(path, "replacePrefixMatch"),
                "needs every match of the rule to have a path prefix",
            );
        }
    }
}

fn check_hostname(errors: &mut Errors, path: &str, hostname: &str) {
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if hostname.len() > 253 || !hostname.split('.').all(valid_label) {
        errors.add(path, "must be a DNS host name");
    }
}
