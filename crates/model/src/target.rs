//! `targetRef`: which proxies a policy selects, and how specific that selection is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dataplane::DataplaneSpec;
use crate::error::{Errors, at};
use crate::name::{check_name, check_tags};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TargetKind {
    Mesh,
    Service,
    Dataplane,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    pub kind: TargetKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl TargetRef {
    /// Checks the combination of fields: Mesh takes nothing, Service takes a name,
    /// Dataplane takes a name or tags.
    pub fn check(&self, errors: &mut Errors, path: &str) {
        match self.kind {
            TargetKind::Mesh => {
                if self.name.is_some() {
                    errors.add(at(path, "name"), "must not be set when kind is Mesh");
                }
                if !self.tags.is_empty() {
                    errors.add(at(path, "tags"), "must not be set when kind is Mesh");
                }
            }
            TargetKind::Service => {
                match &self.name {
                    Some(name) => check_name(errors, &at(path, "name"), name),
                    None => errors.add(at(path, "name"), "is required when kind is Service"),
                }
                if !self.tags.is_empty() {
                    errors.add(at(path, "tags"), "must not be set when kind is Service");
                }
            }
            TargetKind::Dataplane => {
                match (&self.name, self.tags.is_empty()) {
                    (Some(_), false) => errors.add(path, "set either name or tags, not both"),
                    (None, true) => errors.add(path, "a Dataplane target needs a name or tags"),
                    _ => {}
                }
                if let Some(name) = &self.name {
                    check_name(errors, &at(path, "name"), name);
                }
                check_tags(errors, &at(path, "tags"), self.tags.iter(), true);
            }
        }
    }

    /// Higher is more specific: Mesh < Service < Dataplane by tags < Dataplane by name.
    pub fn specificity(&self) -> u8 {
        match (self.kind, &self.name) {
            (TargetKind::Mesh, _) => 0,
            (TargetKind::Service, _) => 1,
            (TargetKind::Dataplane, None) => 2,
            (TargetKind::Dataplane, Some(_)) => 3,
        }
    }

    /// Whether this target selects the inbound with `tags` of proxy `name`: Mesh selects every
    /// inbound, Service the inbounds of that service, Dataplane by name all of that proxy's,
    /// Dataplane by tags the inbounds carrying those tags.
    pub fn selects_inbound(&self, name: &str, tags: &BTreeMap<String, String>) -> bool {
        match self.kind {
            TargetKind::Mesh => true,
            TargetKind::Service => {
                tags.get(crate::dataplane::SERVICE_TAG).map(String::as_str) == self.name.as_deref()
            }
            TargetKind::Dataplane => match &self.name {
                Some(wanted) => wanted == name,
                None => self
                    .tags
                    .iter()
                    .all(|(tag, value)| tags.get(tag) == Some(value)),
            },
        }
    }

    /// Whether a `to`/`from` item with this target concerns peer service `service`.
    pub fn selects_peer(&self, service: &str) -> bool {
        match self.kind {
            TargetKind::Mesh => true,
            TargetKind::Service => self.name.as_deref() == Some(service),
            TargetKind::Dataplane => false,
        }
    }

    /// Whether this target selects the proxy `name` with `spec`.
    pub fn selects(&self, name: &str, spec: &DataplaneSpec) -> bool {
        match self.kind {
            TargetKind::Mesh => true,
            TargetKind::Service => spec
                .services()
                .any(|service| Some(service) == self.name.as_deref()),
            TargetKind::Dataplane => match &self.name {
                Some(wanted) => wanted == name,
                None => spec.networking.inbound.iter().any(|inbound| {
                    self.tags
                        .iter()
                        .all(|(tag, value)| inbound.tags.get(tag) == Some(value))
                }),
            },
        }
    }
}
