//! A typed, validated resource: envelope plus the kind's spec.

use serde_json::Value;

use crate::dataplane::DataplaneSpec;
use crate::error::{Errors, FieldError, ValidationErrors};
use crate::kind::Kind;
use crate::manifest::{API_VERSION, Manifest, Metadata, decode, decode_lenient};
use crate::mesh::MeshSpec;
use crate::policy::access_log::AccessLogConf;
use crate::policy::circuit_breaker::CircuitBreakerConf;
use crate::policy::fault_injection::FaultInjectionConf;
use crate::policy::health_check::HealthCheckConf;
use crate::policy::load_balancing::LoadBalancingConf;
use crate::policy::rate_limit::RateLimitConf;
use crate::policy::retry::RetryConf;
use crate::policy::timeout::TimeoutConf;
use crate::policy::trace::TraceSpec;
use crate::policy::{Directions, PolicySpec};
use crate::rollout::RolloutSpec;
use crate::target::TargetRef;
use crate::tenant::TenantSpec;
use crate::traffic_permission::TrafficPermissionSpec;
use crate::traffic_route::TrafficRouteSpec;
use crate::zone::ZoneSpec;

#[derive(Clone, Debug, PartialEq)]
pub enum Spec {
    Tenant(TenantSpec),
    Mesh(MeshSpec),
    Zone(ZoneSpec),
    Dataplane(DataplaneSpec),
    TrafficRoute(TrafficRouteSpec),
    TrafficPermission(TrafficPermissionSpec),
    Timeout(PolicySpec<TimeoutConf>),
    Retry(PolicySpec<RetryConf>),
    CircuitBreaker(PolicySpec<CircuitBreakerConf>),
    HealthCheck(PolicySpec<HealthCheckConf>),
    RateLimit(PolicySpec<RateLimitConf>),
    FaultInjection(PolicySpec<FaultInjectionConf>),
    LoadBalancing(PolicySpec<LoadBalancingConf>),
    AccessLog(PolicySpec<AccessLogConf>),
    Trace(TraceSpec),
    Rollout(RolloutSpec),
}

/// Applies `$body` to the inner spec of every variant.
macro_rules! each_spec {
    ($spec:expr, $inner:ident => $body:expr) => {
        match $spec {
            Spec::Tenant($inner) => $body,
            Spec::Mesh($inner) => $body,
            Spec::Zone($inner) => $body,
            Spec::Dataplane($inner) => $body,
            Spec::TrafficRoute($inner) => $body,
            Spec::TrafficPermission($inner) => $body,
            Spec::Timeout($inner) => $body,
            Spec::Retry($inner) => $body,
            Spec::CircuitBreaker($inner) => $body,
            Spec::HealthCheck($inner) => $body,
            Spec::RateLimit($inner) => $body,
            Spec::FaultInjection($inner) => $body,
            Spec::LoadBalancing($inner) => $body,
            Spec::AccessLog($inner) => $body,
            Spec::Trace($inner) => $body,
            Spec::Rollout($inner) => $body,
        }
    };
}

fn typed<T: serde::de::DeserializeOwned>(
    value: Value,
    wrap: fn(T) -> Spec,
) -> (Option<Spec>, Vec<FieldError>) {
    let (decoded, errors) = decode_lenient::<T>(value, "spec");
    (decoded.map(wrap), errors)
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Tenant(_) => Kind::Tenant,
            Spec::Mesh(_) => Kind::Mesh,
            Spec::Zone(_) => Kind::Zone,
            Spec::Dataplane(_) => Kind::Dataplane,
            Spec::TrafficRoute(_) => Kind::TrafficRoute,
            Spec::TrafficPermission(_) => Kind::TrafficPermission,
            Spec::Timeout(_) => Kind::Timeout,
            Spec::Retry(_) => Kind::Retry,
            Spec::CircuitBreaker(_) => Kind::CircuitBreaker,
            Spec::HealthCheck(_) => Kind::HealthCheck,
            Spec::RateLimit(_) => Kind::RateLimit,
            Spec::FaultInjection(_) => Kind::FaultInjection,
            Spec::LoadBalancing(_) => Kind::LoadBalancing,
            Spec::AccessLog(_) => Kind::AccessLog,
            Spec::Trace(_) => Kind::Trace,
            Spec::Rollout(_) => Kind::Rollout,
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
        match kind {
            Kind::Tenant => typed(value, Spec::Tenant),
            Kind::Mesh => typed(value, Spec::Mesh),
            Kind::Zone => typed(value, Spec::Zone),
            Kind::Dataplane => typed(value, Spec::Dataplane),
            Kind::TrafficRoute => typed(value, Spec::TrafficRoute),
            Kind::TrafficPermission => typed(value, Spec::TrafficPermission),
            Kind::Timeout => typed(value, Spec::Timeout),
            Kind::Retry => typed(value, Spec::Retry),
            Kind::CircuitBreaker => typed(value, Spec::CircuitBreaker),
            Kind::HealthCheck => typed(value, Spec::HealthCheck),
            Kind::RateLimit => typed(value, Spec::RateLimit),
            Kind::FaultInjection => typed(value, Spec::FaultInjection),
            Kind::LoadBalancing => typed(value, Spec::LoadBalancing),
            Kind::AccessLog => typed(value, Spec::AccessLog),
            Kind::Trace => typed(value, Spec::Trace),
            Kind::Rollout => typed(value, Spec::Rollout),
        }
    }

    fn check(&self, errors: &mut Errors) {
        const PATH: &str = "spec";
        match self {
            Spec::Tenant(spec) => spec.check(errors, PATH),
            Spec::Mesh(spec) => spec.check(errors, PATH),
            Spec::Zone(spec) => spec.check(errors, PATH),
            Spec::Dataplane(spec) => spec.check(errors, PATH),
            Spec::TrafficRoute(spec) => spec.check(errors, PATH),
            Spec::TrafficPermission(spec) => spec.check(errors, PATH),
            Spec::Timeout(spec) => spec.check(errors, PATH, Directions::To),
            Spec::Retry(spec) => spec.check(errors, PATH, Directions::To),
            Spec::CircuitBreaker(spec) => spec.check(errors, PATH, Directions::To),
            Spec::HealthCheck(spec) => spec.check(errors, PATH, Directions::To),
            Spec::LoadBalancing(spec) => spec.check(errors, PATH, Directions::To),
            Spec::RateLimit(spec) => spec.check(errors, PATH, Directions::From),
            Spec::FaultInjection(spec) => spec.check(errors, PATH, Directions::From),
            Spec::AccessLog(spec) => spec.check(errors, PATH, Directions::Both),
            Spec::Trace(spec) => spec.check(errors, PATH),
            Spec::Rollout(spec) => spec.check(errors, PATH),
        }
    }

    pub fn to_value(&self) -> Value {
        // Specs are plain data with string keys: serialising them cannot fail.
        each_spec!(self, spec => serde_json::to_value(spec)).unwrap_or(Value::Null)
    }

    /// The proxies a policy selects (`spec.targetRef`), for kinds that have one.
    pub fn target_ref(&self) -> Option<&TargetRef> {
        match self {
            Spec::TrafficRoute(spec) => spec.target_ref.as_ref(),
            Spec::TrafficPermission(spec) => spec.target_ref.as_ref(),
            Spec::Timeout(spec) => spec.target_ref.as_ref(),
            Spec::Retry(spec) => spec.target_ref.as_ref(),
            Spec::CircuitBreaker(spec) => spec.target_ref.as_ref(),
            Spec::HealthCheck(spec) => spec.target_ref.as_ref(),
            Spec::RateLimit(spec) => spec.target_ref.as_ref(),
            Spec::FaultInjection(spec) => spec.target_ref.as_ref(),
            Spec::LoadBalancing(spec) => spec.target_ref.as_ref(),
            Spec::AccessLog(spec) => spec.target_ref.as_ref(),
            Spec::Trace(spec) => spec.target_ref.as_ref(),
            Spec::Tenant(_)
            | Spec::Mesh(_)
            | Spec::Zone(_)
            | Spec::Dataplane(_)
            | Spec::Rollout(_) => None,
        }
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
