//! One outbound of a proxy's effective configuration as an xDS RouteConfiguration: its rules
//! in order (most specific first, as the model sorted them), each with its matches, weighted
//! clusters, header changes, mirror, rewrite or redirect, and the outbound's retry and timeout.

use envoy_types::pb::envoy::config::core::v3::RuntimeFractionalPercent;
use envoy_types::pb::envoy::config::core::v3::{
    HeaderValue, HeaderValueOption, header_value_option::HeaderAppendAction,
};
use envoy_types::pb::envoy::config::route::v3::{
    HeaderMatcher, QueryParameterMatcher, RedirectAction, RetryPolicy, Route, RouteAction,
    RouteConfiguration, RouteMatch, VirtualHost, WeightedCluster, header_matcher,
    query_parameter_matcher, redirect_action, retry_policy::RetryBackOff, route, route_action,
    route_match, weighted_cluster::ClusterWeight,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{RegexMatcher, StringMatcher, string_matcher};
use envoy_types::pb::envoy::r#type::v3::FractionalPercent;
use envoy_types::pb::envoy::r#type::v3::fractional_percent::DenominatorType;
use envoy_types::pb::google::protobuf::UInt32Value;
use weft_model::policy::load_balancing::{Algorithm, LoadBalancingConf};
use weft_model::policy::retry::{
    DEFAULT_ATTEMPTS, DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_MAX_FACTOR, DEFAULT_RETRY_ON, RetryConf,
};
use weft_model::proxy::{OutboundConfig, RuleConfig};
use weft_model::traffic_route::{Filter, HeaderModifier, PathRewrite, Redirect};
use weft_model::traffic_route::{HeaderMatch, QueryMatch};

use super::clusters::cluster_name;
use super::{duration, text_duration};

pub fn route_configuration(name: &str, outbound: &OutboundConfig) -> RouteConfiguration {
    let routes = outbound
        .rules
        .iter()
        .map(|rule| translate_rule(rule, outbound))
        .collect();
    RouteConfiguration {
        name: name.to_string(),
        virtual_hosts: vec![VirtualHost {
            name: outbound.service.clone(),
            // One route configuration per listener: every authority the client dials it with.
            domains: vec!["*".to_string()],
            routes,
            ..VirtualHost::default()
        }],
        ..RouteConfiguration::default()
    }
}

fn translate_rule(rule: &RuleConfig, outbound: &OutboundConfig) -> Route {
    let mut route = Route {
        name: rule.origin.clone(),
        r#match: Some(route_match(rule)),
        ..Route::default()
    };
    let redirect = rule
        .filters
        .iter()
        .find_map(|f| f.request_redirect.as_ref());
    if let Some(redirect) = redirect {
        route.action = Some(route::Action::Redirect(redirect_action(redirect)));
        return route;
    }
    let mut action = RouteAction {
        cluster_specifier: Some(route_action::ClusterSpecifier::WeightedClusters(
            WeightedCluster {
                clusters: rule
                    .backends
                    .iter()
                    .filter(|backend| backend.weight > 0)
                    .map(|backend| ClusterWeight {
                        name: cluster_name(&backend.service, &backend.tags),
                        weight: Some(UInt32Value {
                            value: backend.weight,
                        }),
                        ..ClusterWeight::default()
                    })
                    .collect(),
                ..WeightedCluster::default()
            },
        )),
        ..RouteAction::default()
    };
    if let Some(limit) = outbound
        .timeout
        .as_ref()
        .and_then(|t| text_duration(t.request.as_ref()))
    {
        action.timeout = Some(limit);
        // gRPC reads the deadline from here (gRFC A31), Envoy from `timeout`.
        action.max_stream_duration = Some(route_action::MaxStreamDuration {
            max_stream_duration: Some(limit),
            ..Default::default()
        });
    }
    if let Some(retry) = &outbound.retry {
        action.retry_policy = retry_policy(retry);
    }
    if let Some(balancing) = &outbound.load_balancing {
        action.hash_policy = hash_policy(balancing);
    }
    for filter in &rule.filters {
        apply_filter(filter, &mut route, &mut action);
    }
    route.action = Some(route::Action::Route(action));
    route
}

fn string_matcher(exact: Option<&String>, regex: Option<&String>) -> Option<StringMatcher> {
    let pattern = match (exact, regex) {
        (Some(exact), _) => string_matcher::MatchPattern::Exact(exact.clone()),
        (None, Some(regex)) => string_matcher::MatchPattern::SafeRegex(RegexMatcher {
            regex: regex.clone(),
            ..RegexMatcher::default()
        }),
        (None, None) => return None,
    };
    Some(StringMatcher {
        match_pattern: Some(pattern),
        ..StringMatcher::default()
    })
}

fn route_match(rule: &RuleConfig) -> RouteMatch {
    let matching = &rule.route_match;
    let path = matching.path.as_ref();
    let path_specifier = match (
        path.and_then(|p| p.exact.as_ref()),
        path.and_then(|p| p.prefix.as_ref()),
        path.and_then(|p| p.regex.as_ref()),
    ) {
        (Some(exact), _, _) => route_match::PathSpecifier::Path(exact.clone()),
        (None, Some(prefix), _) => route_match::PathSpecifier::Prefix(prefix.clone()),
        (None, None, Some(regex)) => route_match::PathSpecifier::SafeRegex(RegexMatcher {
            regex: regex.clone(),
            ..RegexMatcher::default()
        }),
        (None, None, None) => route_match::PathSpecifier::Prefix(String::new()),
    };
    let mut headers: Vec<HeaderMatcher> = matching.headers.iter().map(header_matcher).collect();
    if let Some(method) = &matching.method {
        headers.push(HeaderMatcher {
            name: ":method".into(),
            header_match_specifier: Some(header_matcher::HeaderMatchSpecifier::StringMatch(
                StringMatcher {
                    match_pattern: Some(string_matcher::MatchPattern::Exact(method.clone())),
                    ..StringMatcher::default()
                },
            )),
            ..HeaderMatcher::default()
        });
    }
    RouteMatch {
        path_specifier: Some(path_specifier),
        headers,
        query_parameters: matching.query.iter().map(query_matcher).collect(),
        ..RouteMatch::default()
    }
}

fn header_matcher(header: &HeaderMatch) -> HeaderMatcher {
    let specifier = match string_matcher(header.exact.as_ref(), header.regex.as_ref()) {
        Some(matcher) => header_matcher::HeaderMatchSpecifier::StringMatch(matcher),
        None => header_matcher::HeaderMatchSpecifier::PresentMatch(header.present.unwrap_or(true)),
    };
    HeaderMatcher {
        name: header.name.to_ascii_lowercase(),
        header_match_specifier: Some(specifier),
        ..HeaderMatcher::default()
    }
}

fn query_matcher(query: &QueryMatch) -> QueryParameterMatcher {
    let specifier = match string_matcher(query.exact.as_ref(), query.regex.as_ref()) {
        Some(matcher) => {
            query_parameter_matcher::QueryParameterMatchSpecifier::StringMatch(matcher)
        }
        None => query_parameter_matcher::QueryParameterMatchSpecifier::PresentMatch(true),
    };
    QueryParameterMatcher {
        name: query.name.clone(),
        query_parameter_match_specifier: Some(specifier),
    }
}

/// Total attempts become retries; the gRPC status conditions keep their names (gRFC A44),
/// three-digit codes become retriable status codes.
fn retry_policy(conf: &RetryConf) -> Option<RetryPolicy> {
    let attempts = conf.attempts.unwrap_or(DEFAULT_ATTEMPTS);
    if attempts <= 1 {
        return None;
    }
    let conditions: Vec<String> = conf
        .retry_on
        .clone()
        .unwrap_or_else(|| vec![DEFAULT_RETRY_ON.to_string()]);
    let codes: Vec<u32> = conditions
        .iter()
        .filter_map(|condition| condition.parse::<u32>().ok())
        .collect();
    let mut retry_on: Vec<&str> = conditions
        .iter()
        .filter(|condition| condition.parse::<u32>().is_err())
        .map(String::as_str)
        .collect();
    if !codes.is_empty() {
        retry_on.push("retriable-status-codes");
    }
    let backoff = conf.backoff.as_ref();
    let base = backoff
        .and_then(|b| b.base.as_ref()?.get())
        .map(|base| base.as_std())
        .unwrap_or(DEFAULT_BACKOFF_BASE);
    let max = backoff
        .and_then(|b| b.max.as_ref()?.get())
        .map(|max| max.as_std())
        .unwrap_or(base * DEFAULT_BACKOFF_MAX_FACTOR)
        .max(base);
    Some(RetryPolicy {
        retry_on: retry_on.join(","),
        num_retries: Some(UInt32Value {
            value: u32::try_from(attempts - 1).unwrap_or(u32::MAX),
        }),
        per_try_timeout: text_duration(conf.per_try_timeout.as_ref()),
        retriable_status_codes: codes,
        retry_back_off: Some(RetryBackOff {
            base_interval: Some(duration(base)),
            max_interval: Some(duration(max)),
        }),
        ..RetryPolicy::default()
    })
}

fn hash_policy(conf: &LoadBalancingConf) -> Vec<route_action::HashPolicy> {
    use route_action::hash_policy::{ConnectionProperties, Cookie, Header, PolicySpecifier};
    if conf.algorithm != Some(Algorithm::RingHash) {
        return Vec::new();
    }
    let Some(hash_on) = &conf.hash_on else {
        return Vec::new();
    };
    let mut policies = Vec::new();
    if let Some(header) = &hash_on.header {
        policies.push(PolicySpecifier::Header(Header {
            header_name: header.to_ascii_lowercase(),
            regex_rewrite: None,
        }));
    }
    if let Some(cookie) = &hash_on.cookie {
        policies.push(PolicySpecifier::Cookie(Cookie {
            name: cookie.clone(),
            ..Cookie::default()
        }));
    }
    if hash_on.source_ip == Some(true) {
        policies.push(PolicySpecifier::ConnectionProperties(
            ConnectionProperties { source_ip: true },
        ));
    }
    policies
        .into_iter()
        .map(|specifier| route_action::HashPolicy {
            terminal: false,
            policy_specifier: Some(specifier),
        })
        .collect()
}

fn header_options(modifier: &HeaderModifier) -> Vec<HeaderValueOption> {
    let option = |name: &str, value: &str, action: HeaderAppendAction| HeaderValueOption {
        header: Some(HeaderValue {
            key: name.to_ascii_lowercase(),
            value: value.to_string(),
            ..HeaderValue::default()
        }),
        append_action: action as i32,
        ..HeaderValueOption::default()
    };
    modifier
        .set
        .iter()
        .map(|h| {
            option(
                &h.name,
                &h.value,
                HeaderAppendAction::OverwriteIfExistsOrAdd,
            )
        })
        .chain(
            modifier
                .add
                .iter()
                .map(|h| option(&h.name, &h.value, HeaderAppendAction::AppendIfExistsOrAdd)),
        )
        .collect()
}

fn apply_filter(filter: &Filter, route: &mut Route, action: &mut RouteAction) {
    if let Some(modifier) = &filter.request_header_modifier {
        route
            .request_headers_to_add
            .extend(header_options(modifier));
        route
            .request_headers_to_remove
            .extend(modifier.remove.iter().map(|h| h.to_ascii_lowercase()));
    }
    if let Some(modifier) = &filter.response_header_modifier {
        route
            .response_headers_to_add
            .extend(header_options(modifier));
        route
            .response_headers_to_remove
            .extend(modifier.remove.iter().map(|h| h.to_ascii_lowercase()));
    }
    if let Some(rewrite) = &filter.url_rewrite {
        if let Some(host) = &rewrite.hostname {
            action.host_rewrite_specifier = Some(
                route_action::HostRewriteSpecifier::HostRewriteLiteral(host.clone()),
            );
        }
        match rewrite.path.as_ref() {
            Some(PathRewrite {
                replace_prefix_match: Some(prefix),
                ..
            }) => action.prefix_rewrite = prefix.clone(),
            Some(PathRewrite {
                replace_full_path: Some(path),
                ..
            }) => {
                action.regex_rewrite = Some(
                    envoy_types::pb::envoy::r#type::matcher::v3::RegexMatchAndSubstitute {
                        pattern: Some(RegexMatcher {
                            regex: "^.*$".into(),
                            ..RegexMatcher::default()
                        }),
                        substitution: path.clone(),
                    },
                )
            }
            _ => {}
        }
    }
    if let Some(mirror) = &filter.request_mirror
        && let Some(backend) = &mirror.backend
    {
        let percent = mirror.percentage.unwrap_or(100.0).clamp(0.0, 100.0);
        action
            .request_mirror_policies
            .push(route_action::RequestMirrorPolicy {
                cluster: cluster_name(&backend.service, &backend.tags),
                runtime_fraction: Some(RuntimeFractionalPercent {
                    default_value: Some(FractionalPercent {
                        // Millionths keep four decimals of the percentage.
                        numerator: (percent * 10_000.0).round() as u32,
                        denominator: DenominatorType::Million as i32,
                    }),
                    runtime_key: String::new(),
                }),
                ..Default::default()
            });
    }
}

fn redirect_action(redirect: &Redirect) -> RedirectAction {
    use redirect_action::{PathRewriteSpecifier, RedirectResponseCode, SchemeRewriteSpecifier};
    let code = match redirect.status_code {
        Some(301) => RedirectResponseCode::MovedPermanently,
        Some(303) => RedirectResponseCode::SeeOther,
        Some(307) => RedirectResponseCode::TemporaryRedirect,
        Some(308) => RedirectResponseCode::PermanentRedirect,
        _ => RedirectResponseCode::Found,
    };
    RedirectAction {
        scheme_rewrite_specifier: redirect
            .scheme
            .clone()
            .map(SchemeRewriteSpecifier::SchemeRedirect),
        host_redirect: redirect.hostname.clone().unwrap_or_default(),
        port_redirect: redirect
            .port
            .and_then(|port| u32::try_from(port).ok())
            .unwrap_or(0),
        path_rewrite_specifier: redirect.path.as_ref().and_then(|path| {
            path.replace_full_path
                .clone()
                .map(PathRewriteSpecifier::PathRedirect)
                .or_else(|| {
                    path.replace_prefix_match
                        .clone()
                        .map(PathRewriteSpecifier::PrefixRewrite)
                })
        }),
        response_code: code as i32,
        ..RedirectAction::default()
    }
}
