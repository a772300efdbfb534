//! Route matches compiled for the request path: regexes built once per config, header names
//! parsed once.

use http::{HeaderMap, HeaderName};
use regex::Regex;
use weft_model::check::{REGEX_SIZE_LIMIT, anchored as whole};
use weft_model::traffic_route::{PathMatch, RouteMatch, prefix_matches};

/// What routing looks at in a request.
pub struct RequestFacts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

#[derive(Debug)]
enum Condition {
    Exact(String),
    Regex(Regex),
    Present,
}

impl Condition {
    fn holds(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (Condition::Present, value) => value.is_some(),
            (Condition::Exact(wanted), Some(value)) => wanted == value,
            (Condition::Regex(regex), Some(value)) => regex.is_match(value),
            (_, None) => false,
        }
    }
}

#[derive(Debug)]
enum PathCondition {
    Any,
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

#[derive(Debug)]
pub struct CompiledMatch {
    path: PathCondition,
    method: Option<String>,
    headers: Vec<(HeaderName, Condition)>,
    query: Vec<(String, Condition)>,
}

/// Whole-value match, as Gateway API specifies for regexes.
fn anchored(pattern: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(&whole(pattern))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| format!("invalid regex {pattern:?}: {error}"))
}

impl CompiledMatch {
    pub fn compile(route_match: &RouteMatch) -> Result<CompiledMatch, String> {
        let path = match &route_match.path {
            None => PathCondition::Any,
            Some(PathMatch {
                exact: Some(exact), ..
            }) => PathCondition::Exact(exact.clone()),
            Some(PathMatch {
                regex: Some(regex), ..
            }) => PathCondition::Regex(anchored(regex)?),
            Some(PathMatch {
                prefix: Some(prefix),
                ..
            }) => PathCondition::Prefix(prefix.clone()),
            Some(_) => PathCondition::Any,
        };
        let headers = route_match
            .headers
            .iter()
            .map(|header| {
                let name = HeaderName::from_bytes(header.name.to_ascii_lowercase().as_bytes())
                    .map_err(|_| format!("invalid header name {:?}", header.name))?;
                let condition = match (&header.exact, &header.regex) {
                    (Some(exact), _) => Condition::Exact(exact.clone()),
                    (None, Some(regex)) => Condition::Regex(anchored(regex)?),
                    (None, None) => Condition::Present,
                };
                Ok((name, condition))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let query = route_match
            .query
            .iter()
            .map(|parameter| {
                let condition = match (&parameter.exact, &parameter.regex) {
                    (Some(exact), _) => Condition::Exact(exact.clone()),
                    (None, Some(regex)) => Condition::Regex(anchored(regex)?),
                    (None, None) => Condition::Present,
                };
                Ok((parameter.name.clone(), condition))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(CompiledMatch {
            path,
            method: route_match.method.clone(),
            headers,
            query,
        })
    }

    pub fn matches(&self, request: &RequestFacts<'_>) -> bool {
        if self
            .method
            .as_deref()
            .is_some_and(|method| method != request.method)
        {
            return false;
        }
        let path_ok = match &self.path {
            PathCondition::Any => true,
            PathCondition::Exact(exact) => request.path == exact,
            PathCondition::Prefix(prefix) => prefix_matches(prefix, request.path),
            PathCondition::Regex(regex) => regex.is_match(request.path),
        };
        if !path_ok {
            return false;
        }
        let headers_ok = self.headers.iter().all(|(name, condition)| {
            // Several values of one header are matched as their comma-joined list.
            let values: Vec<&str> = request
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            condition.holds((!values.is_empty()).then(|| values.join(",")).as_deref())
        });
        if !headers_ok {
            return false;
        }
        self.query.iter().all(|(name, condition)| {
            let value = request
                .query
                .and_then(|query| {
                    form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name.as_str())
                })
                .map(|(_, value)| value.into_owned());
            condition.holds(value.as_deref())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_model::traffic_route::{HeaderMatch, QueryMatch};

    fn facts<'a>(
        method: &'a str,
        path: &'a str,
        query: Option<&'a str>,
        headers: &'a HeaderMap,
    ) -> RequestFacts<'a> {
        RequestFacts {
            method,
            path,
            query,
            headers,
        }
    }

    #[test]
    fn headers_query_and_regex_paths() {
        let route_match = RouteMatch {
            path: Some(PathMatch {
                regex: Some("/items/[0-9]+".into()),
                ..Default::default()
            }),
            method: Some("GET".into()),
            headers: vec![
                HeaderMatch {
                    name: "X-User".into(),
                    exact: Some("alice".into()),
                    ..Default::default()
                },
                HeaderMatch {
                    name: "x-canary".into(),
                    present: Some(true),
                    ..Default::default()
                },
            ],
            query: vec![QueryMatch {
                name: "view".into(),
                regex: Some("full|short".into()),
                ..Default::default()
            }],
        };
        let compiled = CompiledMatch::compile(&route_match).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-user", "alice".parse().unwrap());
        headers.insert("x-canary", "".parse().unwrap());
        assert!(compiled.matches(&facts("GET", "/items/42", Some("view=full&x=1"), &headers)));
        assert!(
            !compiled.matches(&facts("GET", "/items/42x", Some("view=full"), &headers)),
            "regex matches the whole path"
        );
        assert!(!compiled.matches(&facts("GET", "/items/42", Some("view=fuller"), &headers)));
        assert!(!compiled.matches(&facts("GET", "/items/42", None, &headers)));
        assert!(!compiled.matches(&facts("POST", "/items/42", Some("view=full"), &headers)));
        headers.remove("x-canary");
        assert!(!compiled.matches(&facts("GET", "/items/42", Some("view=full"), &headers)));
    }

    #[test]
    fn query_values_are_decoded() {
        let route_match = RouteMatch {
            query: vec![QueryMatch {
                name: "q".into(),
                exact: Some("a b".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let compiled = CompiledMatch::compile(&route_match).unwrap();
        let headers = HeaderMap::new();
        assert!(compiled.matches(&facts("GET", "/", Some("q=a%20b"), &headers)));
        assert!(compiled.matches(&facts("GET", "/", Some("q=a+b"), &headers)));
    }
}
