//! Dataplane: one proxy, its address, the services it fronts (inbound) and the services it calls (outbound).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::error::{Errors, at, index};
use crate::name::{check_name, check_tags};

/// Tag naming the service an inbound belongs to.
pub const SERVICE_TAG: &str = "service";
/// Tag naming the version of that service.
pub const VERSION_TAG: &str = "version";
/// Label the zone sets on every dataplane it registers.
pub const ZONE_LABEL: &str = "weft.dev/zone";

const MAX_LISTENERS: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataplaneSpec {
    #[serde(default)]
    pub networking: Networking,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Networking {
    /// Address other proxies use to reach this one.
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub inbound: Vec<Inbound>,
    #[serde(default)]
    pub outbound: Vec<Outbound>,
    /// A gRPC application configured over xDS, with no weft-dp in front of it: it serves its
    /// inbounds itself (`port` equals `servicePort`, or both are 0 for an application that
    /// serves nothing) and calls its outbounds directly (their `port` is 0).
    #[serde(default, skip_serializing_if = "is_false")]
    pub proxyless: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inbound {
    /// Port the proxy listens on for this service.
    #[serde(default)]
    pub port: i64,
    /// Port the application listens on.
    #[serde(default)]
    pub service_port: i64,
    /// Address the application listens on; 127.0.0.1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_address: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// What the application speaks on this port; `http` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outbound {
    /// Local port the application calls to reach `service`.
    #[serde(default)]
    pub port: i64,
    #[serde(default)]
    pub service: String,
    /// What the application speaks to `service`; `http` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
}

/// The protocol on a listener. `http` accepts HTTP/1.1 and HTTP/2 (prior knowledge) from
/// clients and speaks HTTP/1.1 to the application; `http2` and `grpc` speak HTTP/2 to the
/// application; `tcp` proxies bytes without looking at them.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Http,
    Http2,
    Grpc,
    Tcp,
}

impl Protocol {
    pub fn is_http(self) -> bool {
        self != Protocol::Tcp
    }

    /// Whether the application side of the listener speaks HTTP/2.
    pub fn is_http2(self) -> bool {
        matches!(self, Protocol::Http2 | Protocol::Grpc)
    }
}

fn check_port(errors: &mut Errors, path: &str, port: i64) {
    if !(1..=65535).contains(&port) {
        errors.add(path, "must be a port between 1 and 65535");
    }
}

fn check_address(errors: &mut Errors, path: &str, address: &str) {
    if address.is_empty() {
        errors.add(path, "is required");
    } else if address.parse::<IpAddr>().is_err() {
        errors.add(path, "must be an IPv4 or IPv6 address");
    }
}

impl DataplaneSpec {
    pub fn check(&self, errors: &mut Errors, path: &str) {
        let networking = at(path, "networking");
        check_address(
            errors,
            &at(&networking, "address"),
            &self.networking.address,
        );
        let mut ports = BTreeSet::new();
        let inbound_path = at(&networking, "inbound");
        if self.networking.inbound.is_empty() {
            errors.add(&inbound_path, "needs at least one inbound");
        }
        if self.networking.inbound.len() > MAX_LISTENERS {
            errors.add(
                &inbound_path,
                format!("must have at most {MAX_LISTENERS} entries"),
            );
        }
        let proxyless = self.networking.proxyless;
        for (position, inbound) in self.networking.inbound.iter().enumerate() {
            let item = index(&inbound_path, position);
            if proxyless {
                if inbound.port != inbound.service_port {
                    errors.add(
                        at(&item, "servicePort"),
                        "must equal port: a proxyless application serves its own port",
                    );
                }
                if inbound.port != 0 {
                    check_port(errors, &at(&item, "port"), inbound.port);
                }
            } else {
                check_port(errors, &at(&item, "port"), inbound.port);
                check_port(errors, &at(&item, "servicePort"), inbound.service_port);
            }
            if let Some(address) = &inbound.service_address {
                check_address(errors, &at(&item, "serviceAddress"), address);
            }
            if !ports.insert(inbound.port) {
                errors.add(
                    at(&item, "port"),
                    "port is already used by another listener",
                );
            }
            let tags = at(&item, "tags");
            check_tags(errors, &tags, inbound.tags.iter(), false);
            match inbound.tags.get(SERVICE_TAG) {
                Some(service) => check_name(errors, &at(&tags, SERVICE_TAG), service),
                None => errors.add(at(&tags, SERVICE_TAG), "is required"),
            }
        }
        let outbound_path = at(&networking, "outbound");
        if self.networking.outbound.len() > MAX_LISTENERS {
            errors.add(
                &outbound_path,
                format!("must have at most {MAX_LISTENERS} entries"),
            );
        }
        for (position, outbound) in self.networking.outbound.iter().enumerate() {
            let item = index(&outbound_path, position);
            if proxyless {
                if outbound.port != 0 {
                    errors.add(
                        at(&item, "port"),
                        "must be 0: a proxyless application has no local listener",
                    );
                }
                check_name(errors, &at(&item, "service"), &outbound.service);
                continue;
            }
            check_port(errors, &at(&item, "port"), outbound.port);
            if !ports.insert(outbound.port) {
                errors.add(
                    at(&item, "port"),
                    "port is already used by another listener",
                );
            }
            check_name(errors, &at(&item, "service"), &outbound.service);
        }
    }

    /// The services this proxy fronts, from its inbound `service` tags.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.networking
            .inbound
            .iter()
            .filter_map(|inbound| inbound.tags.get(SERVICE_TAG).map(String::as_str))
    }

    /// Service and version of the first inbound: the identity this proxy reports traffic as.
    pub fn identity(&self) -> (String, Option<String>) {
        let first = self.networking.inbound.first();
        let service = first
            .and_then(|inbound| inbound.tags.get(SERVICE_TAG))
            .cloned()
            .unwrap_or_default();
        let version = first
            .and_then(|inbound| inbound.tags.get(VERSION_TAG))
            .cloned();
        (service, version)
    }
}

impl crate::kind::KindSpec for DataplaneSpec {
    fn check_spec(&self, errors: &mut crate::error::Errors, path: &str) {
        DataplaneSpec::check(self, errors, path);
    }
}
