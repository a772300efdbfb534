//! CircuitBreaker (outbound): connection and request limits, and outlier ejection.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::duration::{DurationText, HOUR, MILLISECOND};
use crate::error::{Errors, at};

const MAX_LIMIT: i64 = 1_000_000;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CircuitBreakerConf {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pending_requests: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutlierDetection {
    #[serde(
        default,
        rename = "consecutive5xx",
        skip_serializing_if = "Option::is_none"
    )]
    pub consecutive_5xx: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ejection_time: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ejection_percent: Option<i64>,
}

crate::merge_fields!(OutlierDetection {
    leaf: [consecutive_5xx => "consecutive5xx", interval => "interval", base_ejection_time => "baseEjectionTime", max_ejection_percent => "maxEjectionPercent"],
});
crate::merge_fields!(CircuitBreakerConf {
    leaf: [max_connections => "maxConnections", max_pending_requests => "maxPendingRequests", max_requests => "maxRequests"],
    nested: [outlier_detection => "outlierDetection"],
});

impl super::Conf for CircuitBreakerConf {
    const DIRECTIONS: super::Directions = super::Directions::To;
    const KIND: crate::kind::Kind = crate::kind::Kind::CircuitBreaker;

    fn policy(spec: &crate::kind::Spec) -> Option<&super::PolicySpec<Self>> {
        match spec {
            crate::kind::Spec::CircuitBreaker(policy) => Some(policy),
            _ => None,
        }
    }

    fn check(&self, errors: &mut Errors, path: &str) {
        check::optional_range(
            errors,
            &at(path, "maxConnections"),
            self.max_connections,
            1,
            MAX_LIMIT,
        );
        check::optional_range(
            errors,
            &at(path, "maxPendingRequests"),
            self.max_pending_requests,
            1,
            MAX_LIMIT,
        );
        check::optional_range(
            errors,
            &at(path, "maxRequests"),
            self.max_requests,
            1,
            MAX_LIMIT,
        );
        if let Some(outlier) = &self.outlier_detection {
            let outlier_path = at(path, "outlierDetection");
            check::optional_range(
                errors,
                &at(&outlier_path, "consecutive5xx"),
                outlier.consecutive_5xx,
                1,
                1_000,
            );
            if let Some(interval) = &outlier.interval {
                interval.check(errors, &at(&outlier_path, "interval"), MILLISECOND, HOUR);
            }
            if let Some(time) = &outlier.base_ejection_time {
                time.check(
                    errors,
                    &at(&outlier_path, "baseEjectionTime"),
                    MILLISECOND,
                    HOUR,
                );
            }
            check::optional_range(
                errors,
                &at(&outlier_path, "maxEjectionPercent"),
                outlier.max_ejection_percent,
                0,
                100,
            );
        }
    }
}
