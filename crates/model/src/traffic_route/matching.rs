//! Request matching: what a route rule's `matches` accept, and how specific each match is.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, at, index};

const MAX_PATH_LENGTH: usize = 1024;
const MAX_CONDITIONS: usize = 16;
pub const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Every header condition must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatch>,
    /// Every query parameter condition must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<QueryMatch>,
}

/// Exactly one of `exact`, `prefix` (whole path segments) or `regex` (whole path).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// A header by name, with exactly one of `exact`, `regex` or `present: true`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderMatch {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
}

/// A query parameter by name, with exactly one of `exact` or `regex`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryMatch {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

impl RouteMatch {
    pub(crate) fn check(&self, errors: &mut Errors, path: &str) {
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
        let headers_path = at(path, "headers");
        check::length(errors, &headers_path, &self.headers, MAX_CONDITIONS);
        for (position, header) in self.headers.iter().enumerate() {
            let item = index(&headers_path, position);
            check::header_name(errors, &at(&item, "name"), &header.name);
            check::one_of(
                errors,
                &item,
                &[
                    ("exact", header.exact.is_some()),
                    ("regex", header.regex.is_some()),
                    ("present", header.present == Some(true)),
                ],
            );
            if let Some(value) = &header.exact {
                check::header_value(errors, &at(&item, "exact"), value);
            }
            if let Some(pattern) = &header.regex {
                check::regex(errors, &at(&item, "regex"), pattern);
            }
        }
        let query_path = at(path, "query");
        check::length(errors, &query_path, &self.query, MAX_CONDITIONS);
        for (position, parameter) in self.query.iter().enumerate() {
            let item = index(&query_path, position);
            check::text(errors, &at(&item, "name"), &parameter.name, 256);
            check::one_of(
                errors,
                &item,
                &[
                    ("exact", parameter.exact.is_some()),
                    ("regex", parameter.regex.is_some()),
                ],
            );
            if let Some(value) = &parameter.exact {
                check::text(errors, &at(&item, "exact"), value, 1024);
            }
            if let Some(pattern) = &parameter.regex {
                check::regex(errors, &at(&item, "regex"), pattern);
            }
        }
    }

    /// Ordering key, most specific greatest: exact path, then regex, then longer prefix; then
    /// more header and query conditions; then a method.
    pub fn specificity(&self) -> (u8, usize, usize, usize, u8) {
        let (rank, length) = match &self.path {
            Some(PathMatch {
                exact: Some(exact), ..
            }) => (3, exact.len()),
            Some(PathMatch {
                regex: Some(regex), ..
            }) => (2, regex.len()),
            Some(PathMatch {
                prefix: Some(prefix),
                ..
            }) => (1, prefix.len()),
            _ => (0, 0),
        };
        (
            rank,
            length,
            self.headers.len(),
            self.query.len(),
            u8::from(self.method.is_some()),
        )
    }

    /// A match that accepts every request.
    pub fn is_catch_all(&self) -> bool {
        self.method.is_none()
            && self.headers.is_empty()
            && self.query.is_empty()
            && match &self.path {
                None => true,
                Some(PathMatch {
                    exact: None,
                    regex: None,
                    prefix,
                }) => prefix.as_deref().is_none_or(|p| p == "/"),
                Some(_) => false,
            }
    }

    /// `prefix: /` means the same as no path match; write it one way so duplicates are found.
    pub fn normalized(mut self) -> RouteMatch {
        if self.path.as_ref().is_some_and(|path| {
            path.exact.is_none() && path.regex.is_none() && path.prefix.as_deref() == Some("/")
        }) {
            self.path = None;
        }
        self
    }
}

impl PathMatch {
    fn check(&self, errors: &mut Errors, path: &str) {
        check::one_of(
            errors,
            path,
            &[
                ("exact", self.exact.is_some()),
                ("prefix", self.prefix.is_some()),
                ("regex", self.regex.is_some()),
            ],
        );
        if let Some(value) = &self.exact {
            check_path_value(errors, &at(path, "exact"), value);
        }
        if let Some(value) = &self.prefix {
            check_path_value(errors, &at(path, "prefix"), value);
        }
        if let Some(pattern) = &self.regex {
            check::regex(errors, &at(path, "regex"), pattern);
        }
    }
}

/// Prefixes match whole path segments: `/api` matches `/api` and `/api/x`, not `/apix`.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    let trimmed = prefix.trim_end_matches('/');
    trimmed.is_empty()
        || path == trimmed
        || (path.starts_with(trimmed) && path[trimmed.len()..].starts_with('/'))
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

#[cfg(test)]
mod tests {
    use super::*;

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
                prefix_matches(pattern, path),
                expected,
                "{pattern} vs {path}"
            );
        }
    }

    #[test]
    fn specificity_orders_exact_regex_prefix() {
        let exact = RouteMatch {
            path: Some(PathMatch {
                exact: Some("/a".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let regex = RouteMatch {
            path: Some(PathMatch {
                regex: Some("/a.*".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let long = RouteMatch {
            path: Some(PathMatch {
                prefix: Some("/api/v2".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let short = RouteMatch {
            path: Some(PathMatch {
                prefix: Some("/api".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut all = [
            short.clone(),
            exact.clone(),
            long.clone(),
            regex.clone(),
            RouteMatch::default(),
        ];
        all.sort_by_key(|m| std::cmp::Reverse(m.specificity()));
        assert_eq!(all, [exact, regex, long, short, RouteMatch::default()]);
        assert!(RouteMatch::default().is_catch_all());
        let slash = RouteMatch {
            path: Some(PathMatch {
                prefix: Some("/".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(slash.normalized(), RouteMatch::default());
    }
}
