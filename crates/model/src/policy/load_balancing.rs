//! LoadBalancing (outbound): the algorithm, hashing, and locality (prefer the local zone,
//! fail over between zones).

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Errors, at, index};
use crate::name::check_name;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    RoundRobin,
    LeastRequest,
    P2CEwma,
    RingHash,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancingConf {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_on: Option<HashOn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<Locality>,
}

/// What RingHash hashes: one request header, one cookie, or the source address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HashOn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Name of a cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Locality {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefer_local_zone: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<Vec<Failover>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failover {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: Vec<String>,
}

crate::merge_fields!(Locality { leaf: [prefer_local_zone => "preferLocalZone", failover => "failover"] });
crate::merge_fields!(LoadBalancingConf { leaf: [algorithm => "type", hash_on => "hashOn"], nested: [locality => "locality"] });

impl super::Conf for LoadBalancingConf {
    const DIRECTIONS: super::Directions = super::Directions::To;
    const KIND: crate::kind::Kind = crate::kind::Kind::LoadBalancing;

    fn policy(spec: &crate::kind::Spec) -> Option<&super::PolicySpec<Self>> {
        match spec {
            crate::kind::Spec::LoadBalancing(policy) => Some(policy),
            _ => None,
        }
    }

    fn check(&self, errors: &mut Errors, path: &str) {
        if let Some(hash_on) = &self.hash_on {
            let hash_path = at(path, "hashOn");
            if self.algorithm.is_some() && self.algorithm != Some(Algorithm::RingHash) {
                errors.add(&hash_path, "only applies to type RingHash");
            }
            check::one_of(
                errors,
                &hash_path,
                &[
                    ("header", hash_on.header.is_some()),
                    ("cookie", hash_on.cookie.is_some()),
                    ("sourceIp", hash_on.source_ip == Some(true)),
                ],
            );
            if let Some(header) = &hash_on.header {
                check::header_name(errors, &at(&hash_path, "header"), header);
            }
            if let Some(cookie) = &hash_on.cookie {
                check::header_name(errors, &at(&hash_path, "cookie"), cookie);
            }
        }
        if let Some(failover) = self
            .locality
            .as_ref()
            .and_then(|locality| locality.failover.as_ref())
        {
            let failover_path = at(&at(path, "locality"), "failover");
            check::length(errors, &failover_path, failover, 32);
            for (position, rule) in failover.iter().enumerate() {
                let rule_path = index(&failover_path, position);
                check_name(errors, &at(&rule_path, "from"), &rule.from);
                let to_path = at(&rule_path, "to");
                if rule.to.is_empty() {
                    errors.add(&to_path, "must name at least one zone");
                }
                check::length(errors, &to_path, &rule.to, 32);
                for (zone_position, zone) in rule.to.iter().enumerate() {
                    check_name(errors, &index(&to_path, zone_position), zone);
                }
            }
        }
    }
}
