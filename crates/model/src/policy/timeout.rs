//! Timeout (outbound): how long to wait for a connection, a response, and on idle connections.

use serde::{Deserialize, Serialize};

use crate::duration::{DAY, DurationText, LONGEST, MILLISECOND};
use crate::error::{Errors, at};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeoutConf {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<DurationText>,
    /// Whole request, first byte sent to last byte received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<DurationText>,
    /// Idle connection lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<DurationText>,
    /// Idle time allowed on an open stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_idle: Option<DurationText>,
}

crate::merge_fields!(TimeoutConf { leaf: [connect => "connect", request => "request", idle => "idle", stream_idle => "streamIdle"] });

impl super::Conf for TimeoutConf {
    const DIRECTIONS: super::Directions = super::Directions::To;
    const KIND: crate::kind::Kind = crate::kind::Kind::Timeout;

    fn policy(spec: &crate::kind::Spec) -> Option<&super::PolicySpec<Self>> {
        match spec {
            crate::kind::Spec::Timeout(policy) => Some(policy),
            _ => None,
        }
    }

    fn check(&self, errors: &mut Errors, path: &str) {
        if let Some(connect) = &self.connect {
            connect.check(errors, &at(path, "connect"), MILLISECOND, DAY);
        }
        for (value, name) in [
            (&self.request, "request"),
            (&self.idle, "idle"),
            (&self.stream_idle, "streamIdle"),
        ] {
            if let Some(value) = value {
                value.check(errors, &at(path, name), MILLISECOND, LONGEST);
            }
        }
        if self.connect.is_none()
            && self.request.is_none()
            && self.idle.is_none()
            && self.stream_idle.is_none()
        {
            errors.add(
                path,
                "set at least one of connect, request, idle, streamIdle",
            );
        }
    }
}
