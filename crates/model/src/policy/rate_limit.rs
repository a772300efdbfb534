//! RateLimit (inbound): at most `requests` per `interval` from a source, then `onLimit`.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::duration::{DurationText, HOUR, MILLISECOND};
use crate::error::{Errors, at};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitConf {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<DurationText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_limit: Option<OnLimit>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
}

crate::merge_fields!(OnLimit { leaf: [status => "status"] });
crate::merge_fields!(RateLimitConf { leaf: [requests => "requests", interval => "interval"], nested: [on_limit => "onLimit"] });

impl super::Conf for RateLimitConf {
    const DIRECTIONS: super::Directions = super::Directions::From;
    const KIND: crate::kind::Kind = crate::kind::Kind::RateLimit;

    fn policy(spec: &crate::kind::Spec) -> Option<&super::PolicySpec<Self>> {
        match spec {
            crate::kind::Spec::RateLimit(policy) => Some(policy),
            _ => None,
        }
    }

    fn check(&self, errors: &mut Errors, path: &str) {
        check::optional_range(
            errors,
            &at(path, "requests"),
            self.requests,
            1,
            1_000_000_000,
        );
        if let Some(interval) = &self.interval {
            interval.check(errors, &at(path, "interval"), MILLISECOND, HOUR);
        }
        if let Some(status) = self.on_limit.as_ref().and_then(|on_limit| on_limit.status) {
            check::status(
                errors,
                &at(&at(path, "onLimit"), "status"),
                status,
                400,
                599,
            );
        }
    }
}
