//! Retry (outbound): how many times, on which failures, with which backoff and budget.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::duration::{DurationText, HOUR, MILLISECOND};
use crate::error::{Errors, at, index};

/// Named retry conditions; a three-digit status code is accepted as well. The last five are
/// gRPC statuses (`grpc-status` in the response headers or trailers).
pub const RETRY_ON: [&str; 11] = [
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// Where a Retry is silent (Envoy's defaults): two attempts, on `5xx`, backoff from 25 ms up
/// to ten times the base. weft-dp and the zone's xDS translation both read these.
pub const DEFAULT_ATTEMPTS: i64 = 2;
pub const DEFAULT_RETRY_ON: &str = "5xx";
pub const DEFAULT_BACKOFF_BASE: std::time::Duration = std::time::Duration::from_millis(25);
pub const DEFAULT_BACKOFF_MAX_FACTOR: u32 = 10;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryConf {
    /// Total attempts including the first; 1 disables retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_try_timeout: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<DurationText>,
}

/// Retries may add at most `percent` of the original requests, but always `minPerSecond`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_per_second: Option<i64>,
}

crate::merge_fields!(Backoff { leaf: [base => "base", max => "max"] });
crate::merge_fields!(Budget { leaf: [percent => "percent", min_per_second => "minPerSecond"] });
crate::merge_fields!(RetryConf {
    leaf: [attempts => "attempts", per_try_timeout => "perTryTimeout", retry_on => "retryOn"],
    nested: [backoff => "backoff", budget => "budget"],
});

fn valid_condition(condition: &str) -> bool {
    RETRY_ON.contains(&condition)
        || (condition.len() == 3
            && condition
                .parse::<u16>()
                .is_ok_and(|status| (100..=599).contains(&status)))
}

impl super::Conf for RetryConf {
    const DIRECTIONS: super::Directions = super::Directions::To;
    const KIND: crate::kind::Kind = crate::kind::Kind::Retry;

    fn policy(spec: &crate::kind::Spec) -> Option<&super::PolicySpec<Self>> {
        match spec {
            crate::kind::Spec::Retry(policy) => Some(policy),
            _ => None,
        }
    }

    fn check(&self, errors: &mut Errors, path: &str) {
        check::optional_range(errors, &at(path, "attempts"), self.attempts, 1, 10);
        if let Some(timeout) = &self.per_try_timeout {
            timeout.check(errors, &at(path, "perTryTimeout"), MILLISECOND, HOUR);
        }
        if let Some(backoff) = &self.backoff {
            let backoff_path = at(path, "backoff");
            for (value, name) in [(&backoff.base, "base"), (&backoff.max, "max")] {
                if let Some(value) = value {
                    value.check(errors, &at(&backoff_path, name), MILLISECOND, HOUR);
                }
            }
            if let (Some(base), Some(max)) = (
                backoff.base.as_ref().and_then(DurationText::get),
                backoff.max.as_ref().and_then(DurationText::get),
            ) && max < base
            {
                errors.add(at(&backoff_path, "max"), "must not be shorter than base");
            }
        }
        if let Some(conditions) = &self.retry_on {
            let conditions_path = at(path, "retryOn");
            check::length(errors, &conditions_path, conditions, 16);
            if conditions.is_empty() {
                errors.add(&conditions_path, "must name at least one condition");
            }
            for (position, condition) in conditions.iter().enumerate() {
                if !valid_condition(condition) {
                    errors.add(
                        index(&conditions_path, position),
                        format!(
                            "must be one of {} or a status code such as \"503\"",
                            RETRY_ON.join(", ")
                        ),
                    );
                }
            }
        }
        if let Some(budget) = &self.budget {
            let budget_path = at(path, "budget");
            if let Some(percent) = budget.percent {
                check::percent(errors, &at(&budget_path, "percent"), percent);
            }
            check::optional_range(
                errors,
                &at(&budget_path, "minPerSecond"),
                budget.min_per_second,
                0,
                100_000,
            );
        }
    }
}
