//! A typed, validated resource: envelope plus the kind's spec.

use serde_json::Value;

use crate::error::{Errors, ValidationErrors};
pub use crate::kind::Spec;
use crate::kind::{Kind, KindSpec};
use crate::manifest::{API_VERSION, Manifest, Metadata, decode};
use crate::policy::{Conf, PolicySpec};
use crate::target::TargetRef;

/// Policies of the to/from shape: their lists are checked for the directions the
/// configuration allows.
impl<C: Conf> KindSpec for PolicySpec<C> {
    fn check_spec(&self, errors: &mut Errors, path: &str) {
        PolicySpec::check(self, errors, path, C::DIRECTIONS);
    }

    fn target(&self) -> Option<&TargetRef> {
        self.target_ref.as_ref()
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
    /// A user, through the API or a file: `weft.dev/` labels are refused.
    User,
    /// A zone registering its dataplanes (or a row Weft stored).
    Zone,
    /// Weft's own controllers (the TrafficRoute of a rollout).
    Weft,
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
        manifest.metadata.check(&mut errors, author != Author::User);
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
            status: None,
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
                for error in found.0 {
                    errors.add(prefixed(position, &error.field), error.message);
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
