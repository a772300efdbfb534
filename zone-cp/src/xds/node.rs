//! Who a proxyless application is: the xDS `node` of its first request. `node.id` is the name
//! of its Dataplane and `node.metadata` names its mesh, service, token and (when it serves)
//! its port; docs/xds.md shows a bootstrap file. The zone registers it as a Dataplane with
//! `networking.proxyless`, its outbounds being the services it asks listeners for.

use std::collections::BTreeMap;
use std::net::IpAddr;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
use serde_json::json;
use weft_model::ValidationErrors;
use weft_model::dataplane::SERVICE_TAG;
use weft_model::resource::{Author, Resource};

use crate::error::Error;

/// Metadata keys of the node.
pub const MESH: &str = "weft.dev/mesh";
pub const SERVICE: &str = "weft.dev/service";
pub const TOKEN: &str = "weft.dev/token";
pub const PORT: &str = "weft.dev/port";
pub const ADDRESS: &str = "weft.dev/address";
pub const TAGS: &str = "weft.dev/tags";

/// A proxyless application as its node describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Applicant {
    pub name: String,
    pub mesh: String,
    pub address: String,
    /// The port it serves its service on; 0 when it only calls.
    pub port: i64,
    /// Its service tag and any others (`version`, ...).
    pub tags: BTreeMap<String, String>,
    /// The dataplane token, when the node carries it (else the call's `authorization`).
    pub token: Option<String>,
}

fn invalid(field: &str, problem: impl Into<String>) -> Error {
    Error::Invalid(ValidationErrors::single(field, problem.into()))
}

fn text<'a>(metadata: &'a Struct, key: &str) -> Result<Option<&'a str>, Error> {
    match metadata
        .fields
        .get(key)
        .and_then(|value| value.kind.as_ref())
    {
        None | Some(Kind::NullValue(_)) => Ok(None),
        Some(Kind::StringValue(text)) => Ok(Some(text)),
        Some(_) => Err(invalid(&format!("node.metadata.{key}"), "must be a string")),
    }
}

fn port(metadata: &Struct) -> Result<i64, Error> {
    let field = format!("node.metadata.{PORT}");
    let port = match metadata
        .fields
        .get(PORT)
        .and_then(|value| value.kind.as_ref())
    {
        None | Some(Kind::NullValue(_)) => return Ok(0),
        Some(Kind::NumberValue(number)) if number.fract() == 0.0 => *number as i64,
        Some(Kind::StringValue(text)) => text
            .parse::<i64>()
            .map_err(|_| invalid(&field, "must be a port number"))?,
        Some(_) => return Err(invalid(&field, "must be a port number")),
    };
    if !(0..=65535).contains(&port) {
        return Err(invalid(&field, "must be a port between 0 and 65535"));
    }
    Ok(port)
}

fn tags(metadata: &Struct) -> Result<BTreeMap<String, String>, Error> {
    let field = format!("node.metadata.{TAGS}");
    match metadata
        .fields
        .get(TAGS)
        .and_then(|value| value.kind.as_ref())
    {
        None | Some(Kind::NullValue(_)) => Ok(BTreeMap::new()),
        Some(Kind::StructValue(tags)) => tags
            .fields
            .iter()
            .map(|(tag, value)| match &value.kind {
                Some(Kind::StringValue(text)) => Ok((tag.clone(), text.clone())),
                _ => Err(invalid(&format!("{field}.{tag}"), "must be a string")),
            })
            .collect(),
        Some(_) => Err(invalid(&field, "must be an object of strings")),
    }
}

impl Applicant {
    /// Reads the node; `peer` is the address the stream came from, used when the node names
    /// none.
    pub fn from_node(node: Option<&Node>, peer: Option<IpAddr>) -> Result<Applicant, Error> {
        let node = node.ok_or_else(|| invalid("node", "the first request must carry the node"))?;
        let empty = Struct::default();
        let metadata = node.metadata.as_ref().unwrap_or(&empty);
        let mesh = text(metadata, MESH)?
            .ok_or_else(|| invalid(&format!("node.metadata.{MESH}"), "is required"))?;
        let service = text(metadata, SERVICE)?
            .ok_or_else(|| invalid(&format!("node.metadata.{SERVICE}"), "is required"))?;
        let mut tags = tags(metadata)?;
        if tags.get(SERVICE_TAG).is_some_and(|tag| tag != service) {
            return Err(invalid(
                &format!("node.metadata.{TAGS}.{SERVICE_TAG}"),
                format!("must be {service:?} ({SERVICE}) or absent"),
            ));
        }
        tags.insert(SERVICE_TAG.to_string(), service.to_string());
        let address = match text(metadata, ADDRESS)? {
            Some(address) => address.to_string(),
            None => peer
                .map(|peer| peer.to_canonical().to_string())
                .ok_or_else(|| invalid(&format!("node.metadata.{ADDRESS}"), "is required"))?,
        };
        Ok(Applicant {
            name: node.id.clone(),
            mesh: mesh.to_string(),
            address,
            port: port(metadata)?,
            tags,
            token: text(metadata, TOKEN)?.map(str::to_string),
        })
    }

    /// Its service and version (the tags it registers with).
    pub fn identity(&self) -> (&str, Option<&str>) {
        (
            self.tags.get(SERVICE_TAG).map_or("", String::as_str),
            self.tags
                .get(weft_model::dataplane::VERSION_TAG)
                .map(String::as_str),
        )
    }

    /// Its Dataplane, calling `outbound`: checked like any manifest (names, tags, address).
    pub fn dataplane(&self, outbound: &[String]) -> Result<Resource, Error> {
        let manifest = json!({
            "apiVersion": weft_model::API_VERSION,
            "kind": "Dataplane",
            "metadata": {"name": self.name, "mesh": self.mesh},
            "spec": {"networking": {
                "address": self.address,
                "proxyless": true,
                "inbound": [{
                    "port": self.port,
                    "servicePort": self.port,
                    "tags": self.tags,
                    "protocol": "grpc",
                }],
                "outbound": outbound
                    .iter()
                    .map(|service| json!({"port": 0, "service": service, "protocol": "grpc"}))
                    .collect::<Vec<_>>(),
            }},
        });
        Resource::from_value(manifest, Author::User).map_err(Error::Invalid)
    }
}

/// A string for a node's metadata (tests and tools build nodes with it).
pub fn string(text: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(fields: &[(&str, Value)]) -> Node {
        Node {
            id: "search-1".into(),
            metadata: Some(Struct {
                fields: fields
                    .iter()
                    .map(|(key, value)| (key.to_string(), value.clone()))
                    .collect(),
            }),
            ..Node::default()
        }
    }

    #[test]
    fn a_node_names_a_proxyless_dataplane() {
        let applicant = Applicant::from_node(
            Some(&node(&[
                (MESH, string("shop")),
                (SERVICE, string("search")),
                (PORT, string("50051")),
                (TOKEN, string("secret")),
            ])),
            Some("10.0.0.9".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(applicant.address, "10.0.0.9");
        assert_eq!(applicant.port, 50051);
        assert_eq!(applicant.token.as_deref(), Some("secret"));
        let resource = applicant.dataplane(&["catalog".to_string()]).unwrap();
        let weft_model::Spec::Dataplane(spec) = &resource.spec else {
            panic!("not a Dataplane")
        };
        assert!(spec.networking.proxyless);
        assert_eq!(spec.networking.outbound[0].service, "catalog");
        assert_eq!(spec.identity().0, "search");
    }

    #[test]
    fn a_bad_node_is_refused_naming_the_field() {
        let cases: [(&[(&str, Value)], &str); 4] = [
            (&[(SERVICE, string("search"))], "weft.dev/mesh"),
            (&[(MESH, string("shop"))], "weft.dev/service"),
            (
                &[
                    (MESH, string("shop")),
                    (SERVICE, string("s")),
                    (PORT, string("x")),
                ],
                "weft.dev/port",
            ),
            (
                &[(MESH, string("Shop!")), (SERVICE, string("search"))],
                "metadata.mesh",
            ),
        ];
        for (fields, field) in cases {
            let error =
                Applicant::from_node(Some(&node(fields)), Some("10.0.0.9".parse().unwrap()))
                    .and_then(|applicant| applicant.dataplane(&[]))
                    .unwrap_err();
            assert!(error.to_string().contains(field), "{error} names {field}");
        }
        assert!(Applicant::from_node(None, None).is_err());
    }
}
