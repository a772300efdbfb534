//! FaultInjection (inbound): delay or abort a share of the requests from a source.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::duration::{DurationText, HOUR, MILLISECOND};
use crate::error::{Errors, at};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultInjectionConf {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Delay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<Abort>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delay {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<DurationText>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Abort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
}

crate::merge_fields!(Delay { leaf: [percent => "percent", value => "value"] });
crate::merge_fields!(Abort { leaf: [percent => "percent", status => "status"] });
crate::merge_fields!(FaultInjectionConf { leaf: [], nested: [delay => "delay", abort => "abort"] });

impl super::Conf for FaultInjectionConf {
    const DIRECTIONS: super::Directions = super::Directions::From;
    const KIND: crate::kind::Kind = crate::kind::Kind::FaultInjection;

    fn policy(spec: &crate::kind::Spec) -> Option<&super::PolicySpec<Self>> {
        match spec {
            crate::kind::Spec::FaultInjection(policy) => Some(policy),
            _ => None,
        }
    }

    fn check(&self, errors: &mut Errors, path: &str) {
        if self.delay.is_none() && self.abort.is_none() {
            errors.add(path, "set delay, abort or both");
        }
        if let Some(delay) = &self.delay {
            let delay_path = at(path, "delay");
            match delay.percent {
                Some(percent) => check::percent(errors, &at(&delay_path, "percent"), percent),
                None => errors.add(at(&delay_path, "percent"), "is required"),
            }
            match &delay.value {
                Some(value) => value.check(errors, &at(&delay_path, "value"), MILLISECOND, HOUR),
                None => errors.add(at(&delay_path, "value"), "is required"),
            }
        }
        if let Some(abort) = &self.abort {
            let abort_path = at(path, "abort");
            match abort.percent {
                Some(percent) => check::percent(errors, &at(&abort_path, "percent"), percent),
                None => errors.add(at(&abort_path, "percent"), "is required"),
            }
            match abort.status {
                Some(status) => check::status(errors, &at(&abort_path, "status"), status, 400, 599),
                None => errors.add(at(&abort_path, "status"), "is required"),
            }
        }
    }
}
