//! Rollout: a canary of one service from stable tags to canary tags in weighted steps, judged
//! by metric gates. Definition and validation here; the controller runs in weft-global.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::duration::{DAY, DurationText, HOUR, MILLISECOND};
use crate::error::{Errors, at, index};
use crate::name::{check_name, check_tags};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnNoTraffic {
    Hold,
    Fail,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub stable: Option<Subset>,
    #[serde(default)]
    pub canary: Option<Subset>,
    /// Canary weight in percent at each step, increasing, ending at 100.
    #[serde(default)]
    pub steps: Vec<i64>,
    #[serde(default)]
    pub interval: Option<DurationText>,
    #[serde(default)]
    pub gates: Option<Gates>,
    #[serde(default)]
    pub max_failed_checks: Option<i64>,
    #[serde(default)]
    pub on_no_traffic: Option<OnNoTraffic>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subset {
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gates {
    /// Minimum share of non-5xx responses, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    /// Maximum 99th percentile latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<DurationText>,
    /// Fewer canary requests than this in an interval means "no traffic".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_requests: Option<i64>,
}

impl RolloutSpec {
    pub fn check(&self, errors: &mut Errors, path: &str) {
        check_name(errors, &at(path, "service"), &self.service);
        for (subset, name) in [(&self.stable, "stable"), (&self.canary, "canary")] {
            let subset_path = at(path, name);
            match subset {
                None => errors.add(&subset_path, "is required"),
                Some(subset) => {
                    let tags_path = at(&subset_path, "tags");
                    if subset.tags.is_empty() {
                        errors.add(&tags_path, "must name at least one tag, e.g. version");
                    }
                    check_tags(errors, &tags_path, subset.tags.iter(), false);
                    // Telemetry tells a service's versions apart by this tag.
                    if !subset.tags.is_empty()
                        && !subset.tags.contains_key(crate::dataplane::VERSION_TAG)
                    {
                        errors.add(
                            &tags_path,
                            "must include version (telemetry tells the canary from stable by it)",
                        );
                    }
                }
            }
        }
        if let (Some(stable), Some(canary)) = (&self.stable, &self.canary)
            && !stable.tags.is_empty()
            && stable.tags == canary.tags
        {
            errors.add(
                at(&at(path, "canary"), "tags"),
                "must differ from the stable tags",
            );
        }
        let steps_path = at(path, "steps");
        if self.steps.is_empty() {
            errors.add(&steps_path, "needs at least one step");
        }
        check::length(errors, &steps_path, &self.steps, 100);
        for (position, step) in self.steps.iter().enumerate() {
            let step_path = index(&steps_path, position);
            check::range(errors, &step_path, *step, 1, 100);
            if position > 0 && *step <= self.steps[position - 1] {
                errors.add(&step_path, "steps must increase");
            }
        }
        if self.steps.last().is_some_and(|last| *last != 100) {
            errors.add(&steps_path, "the last step must be 100");
        }
        match &self.interval {
            Some(interval) => interval.check(
                errors,
                &at(path, "interval"),
                crate::duration::Duration::from_millis(1000),
                DAY,
            ),
            None => errors.add(at(path, "interval"), "is required"),
        }
        if let Some(gates) = &self.gates {
            let gates_path = at(path, "gates");
            if let Some(rate) = gates.success_rate {
                check::percent(errors, &at(&gates_path, "successRate"), rate);
            }
            if let Some(p99) = &gates.p99 {
                p99.check(errors, &at(&gates_path, "p99"), MILLISECOND, HOUR);
            }
            check::optional_range(
                errors,
                &at(&gates_path, "minRequests"),
                gates.min_requests,
                0,
                1_000_000_000,
            );
        }
        check::optional_range(
            errors,
            &at(path, "maxFailedChecks"),
            self.max_failed_checks,
            1,
            100,
        );
    }
}

impl crate::kind::KindSpec for RolloutSpec {
    fn check_spec(&self, errors: &mut crate::error::Errors, path: &str) {
        RolloutSpec::check(self, errors, path);
    }
}
