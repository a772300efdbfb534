//! A typed, validated resource: envelope plus the kind's spec.

use serde_json::Value;

use crate::dataplane::DataplaneSpec;
use crate::error::{Errors, FieldError, ValidationErrors};
use crate::kind::Kind;
use crate::manifest::{API_VERSION, Manifest, Metadata, decode, decode_lenient};
use crate::mesh::MeshSpec;
use crate::traffic_route::TrafficRouteSpec;

#[derive(Clone, Debug, PartialEq)]
pub enum Spec {
    Mesh(MeshSpec),
    Dataplane(DataplaneSpec),
    TrafficRoute(TrafficRouteSpec),
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Mesh(_) => Kind::Mesh,
            Spec::Dataplane(_) => Kind::Dataplane,
            Spec::TrafficRoute(_) => Kind::TrafficRoute,
        }
    }

    /// The decoded spec (when its types were right) and the unknown fields found.
    fn decode(kind: Kind, value: Value) -> (Option<Spec>, Vec<FieldError>) {
        // An absent spec is an empty object, so required fields inside it are reported by name.
        let value = if value.is_null() {
            Value::Object(Default::default())
        } else {
            value
        };
        fn typed<T: serde::de::DeserializeOwned>(
            value: Value,
            wrap: fn(T) -> Spec,
        ) -> (Option<Spec>, Vec<FieldError>) {
            let (decoded, errors) = decode_lenient::<T>(value, "spec");
            (decoded.map(wrap), errors)
        }
        match kind {
            Kind::Mesh => typed(value, Spec::Mesh),
            Kind::Dataplane => typed(value, Spec::Dataplane),
            Kind::TrafficRoute => typed(value, Spec::TrafficRoute),
        }
    }

    fn check(&self, errors: &mut Errors) {
        match self {
            Spec::Mesh(spec) => spec.check(errors, "spec"),
            Spec::Dataplane(spec) => spec.check(errors, "spec"),
            Spec::TrafficRoute(spec) => spec.check(errors, "spec"),
        }
    }

    pub fn to_value(&self) -> Value {
        let result = match self {
            Spec::Mesh(spec) => serde_json::to_value(spec),
            Spec::Dataplane(spec) => serde_json::to_value(spec),
            Spec::TrafficRoute(spec) => serde_json::to_value(spec),
        };
        // Specs are plain data with string keys: serialising them cannot fail.
        result.unwrap_or(Value::Null)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub metadata: Metadata,
    pub spec: Spec,
}

/// Who is submitting a manifest: users may not set Weft's reserved labels, zones may.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Author {
    User,
    Zone,
}

impl Resource {
    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    /// Decodes and validates one manifest, reporting every failing field at once.
    pub fn from_value(value: Value, author: Author) -> Result<Resource, ValidationErrors> {
        let manifest: Manifest = decode(value, "")?;
        Resource::from_manifest(manifest, author)
    }

    pub fn from_manifest(manifest: Manifest, author: Author) -> Result<Resource, ValidationErrors> {
        let mut errors = Errors::new();
        if manifest.api_version != API_VERSION {
            errors.add("apiVersion", format!("must be {API_VERSION}"));
        }
        let Some(kind) = Kind::parse(&manifest.kind) else {
            let known: Vec<&str> = Kind::ALL.iter().map(|kind| kind.name()).collect();
            errors.add(
                "kind",
                format!(
                    "unknown kind {:?}; known kinds: {}",
                    manifest.kind,
                    known.join(", ")
                ),
            );
            return Err(errors.finish().unwrap_err());
        };
        manifest.metadata.check(&mut errors, author == Author::Zone);
        match (&manifest.metadata.mesh, kind.is_mesh_scoped()) {
            (None, true) => errors.add("metadata.mesh", format!("is required for {kind}")),
            (Some(_), false) => errors.add("metadata.mesh", format!("must not be set for {kind}")),
            _ => {}
        }
        let (spec, decode_errors) = Spec::decode(kind, manifest.spec);
        errors.extend(ValidationErrors(decode_errors));
        if let Some(spec) = &spec {
            spec.check(&mut errors);
        }
        match (errors.finish(), spec) {
            (Ok(()), Some(spec)) => Ok(Resource {
                metadata: manifest.metadata,
                spec,
            }),
            (Err(errors), _) => Err(errors),
            (Ok(()), None) => Err(ValidationErrors::single("spec", "could not be decoded")),
        }
    }

    pub fn to_manifest(&self) -> Manifest {
        Manifest {
            api_version: API_VERSION.to_string(),
            kind: self.kind().name().to_string(),
            metadata: self.metadata.clone(),
            spec: self.spec.to_value(),
        }
    }

    pub fn mesh(&self) -> Option<&str> {
        self.metadata.mesh.as_deref()
    }

    pub fn name(&self) -> &str {
        &self.metadata.name
    }
}

/// Parses a body of one or more manifests, validating each; errors are prefixed `documents[i]`
/// when there is more than one document.
pub fn parse_resources(text: &str, author: Author) -> Result<Vec<Resource>, ValidationErrors> {
    let documents = crate::manifest::parse_documents(text)?;
    let many = documents.len() > 1;
    let mut errors = Errors::new();
    let mut resources = Vec::with_capacity(documents.len());
    for (position, document) in documents.into_iter().enumerate() {
        match Resource::from_value(document, author) {
            Ok(resource) => resources.push(resource),
            Err(found) if many => {
                for mut error in found.0 {
                    error.field = prefixed(position, &error.field);
                    errors.add(error.field, error.message);
                }
            }
            Err(found) => errors.extend(found),
        }
    }
    errors.finish().map(|()| resources)
}

fn prefixed(position: usize, field: &str) -> String {
    if field.is_empty() {
        format!("documents[{position}]")
    } else {
        format!("documents[{position}].{field}")
    }
}
