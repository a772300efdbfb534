//! HealthCheck (outbound): active checks of each endpoint of a destination.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::duration::{DurationText, HOUR, MILLISECOND};
use crate::error::{Errors, at, index};
use crate::policy::merge::{Merge, Provenance};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckConf {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_threshold: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_threshold: Option<i64>,
    /// HTTP check; exclusive with `tcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCheck>,
    /// Connect-only check; exclusive with `http`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpCheck>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpCheck {
    #[serde(default)]
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_statuses: Vec<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcpCheck {}

impl Merge for HealthCheckConf {
    fn merge_from(&mut self, other: &Self, origin: &str, path: &str, provenance: &mut Provenance) {
        for (mine, theirs, name) in [
            (&mut self.interval, &other.interval, "interval"),
            (&mut self.timeout, &other.timeout, "timeout"),
        ] {
            if let Some(value) = theirs {
                *mine = Some(value.clone());
                provenance.insert(format!("{path}.{name}"), origin.to_string());
            }
        }
        for (mine, theirs, name) in [
            (
                &mut self.unhealthy_threshold,
                &other.unhealthy_threshold,
                "unhealthyThreshold",
            ),
            (
                &mut self.healthy_threshold,
                &other.healthy_threshold,
                "healthyThreshold",
            ),
        ] {
            if let Some(value) = theirs {
                *mine = Some(*value);
                provenance.insert(format!("{path}.{name}"), origin.to_string());
            }
        }
        // http and tcp are one choice: a policy that makes it replaces both.
        if other.http.is_some() || other.tcp.is_some() {
            self.http = other.http.clone();
            self.tcp = other.tcp.clone();
            provenance.insert(format!("{path}.check"), origin.to_string());
        }
    }
}

impl super::Conf for HealthCheckConf {
    const DIRECTIONS: super::Directions = super::Directions::To;
    const KIND: crate::kind::Kind = crate::kind::Kind::HealthCheck;

    fn policy(spec: &crate::kind::Spec) -> Option<&super::PolicySpec<Self>> {
        match spec {
            crate::kind::Spec::HealthCheck(policy) => Some(policy),
            _ => None,
        }
    }

    fn check(&self, errors: &mut Errors, path: &str) {
        if let Some(interval) = &self.interval {
            interval.check(errors, &at(path, "interval"), MILLISECOND, HOUR);
        }
        if let Some(timeout) = &self.timeout {
            timeout.check(errors, &at(path, "timeout"), MILLISECOND, HOUR);
        }
        if let (Some(interval), Some(timeout)) = (
            self.interval.as_ref().and_then(DurationText::get),
            self.timeout.as_ref().and_then(DurationText::get),
        ) && timeout >= interval
        {
            errors.add(at(path, "timeout"), "must be shorter than interval");
        }
        check::optional_range(
            errors,
            &at(path, "unhealthyThreshold"),
            self.unhealthy_threshold,
            1,
            100,
        );
        check::optional_range(
            errors,
            &at(path, "healthyThreshold"),
            self.healthy_threshold,
            1,
            100,
        );
        if self.http.is_some() && self.tcp.is_some() {
            errors.add(path, "set only one of http, tcp");
        }
        if let Some(http) = &self.http {
            let http_path = at(path, "http");
            let check_path = at(&http_path, "path");
            if !http.path.starts_with('/') {
                errors.add(&check_path, "must start with /");
            } else {
                check::text(errors, &check_path, &http.path, 1024);
            }
            let statuses = at(&http_path, "expectedStatuses");
            check::length(errors, &statuses, &http.expected_statuses, 32);
            for (position, status) in http.expected_statuses.iter().enumerate() {
                check::status(errors, &index(&statuses, position), *status, 100, 599);
            }
        }
    }
}
