//! The OpenAPI 3.1 document of the REST API, built from the route table ([`super::routes`])
//! and the wire types of `weft-api` (utoipa schemas), served at `/api/v1/openapi.json`.

use std::sync::OnceLock;

use axum::Json;
use axum::http::Method;
use serde_json::Value;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
    Required, ResponseBuilder, ResponsesBuilder, Schema,
};
use utoipa::{PartialSchema, ToSchema};
use weft_model::Kind;
use weft_model::manifest::API_VERSION;

use super::routes::{self, Payload, Route};
use crate::access::Access;

/// The component schemas of the wire types, with the types they use.
fn wire_schemas() -> Vec<(String, RefOr<Schema>)> {
    let mut schemas = Vec::new();
    macro_rules! add {
        ($($type:ty),* $(,)?) => {
            $(
                schemas.push((<$type as ToSchema>::name().into_owned(), <$type as PartialSchema>::schema()));
                <$type as ToSchema>::schemas(&mut schemas);
            )*
        };
    }
    use weft_api::{audit, auth, error, graph, graphql, inventory, tokens, users};
    add!(
        auth::LoginRequest,
        auth::LoginResponse,
        auth::WhoAmI,
        auth::Membership,
        auth::ApiTokenRequest,
        auth::ApiTokenView,
        auth::IssuedApiToken,
        auth::ApiTokenList,
        auth::KeyRotation,
        users::NewUser,
        users::UserChange,
        users::PasswordChange,
        users::UserView,
        users::UserList,
        users::Member,
        users::MemberRole,
        users::MemberList,
        audit::AuditEntry,
        audit::AuditPage,
        tokens::ZoneTokenRequest,
        tokens::DataplaneTokenRequest,
        tokens::IssuedToken,
        tokens::TokenView,
        tokens::TokenList,
        inventory::ResourceList,
        inventory::ServiceList,
        inventory::ServiceView,
        inventory::ServiceHealth,
        inventory::PolicyReport,
        inventory::ApplyResponse,
        inventory::ApplyItem,
        inventory::ProxyEffect,
        graph::Graph,
        graph::GraphNode,
        graph::GraphEdge,
        graph::Health,
        error::ErrorBody,
        error::ErrorDetail,
        error::FieldProblem,
        graphql::GraphQlRequest,
    );
    // The rollout's state and decisions come from weft-model, which carries no schema derive.
    schemas.push((
        "RolloutStatus".into(),
        RefOr::T(
            free_object(
                "phase, step, canaryWeight, failedChecks, pausedBy, reason, and the newest \
                 decisions in history (historyContinue pages on through …/history); see \
                 docs/rollouts.md",
            )
            .into(),
        ),
    ));
    schemas.push((
        "RolloutHistory".into(),
        RefOr::T(
            free_object(
                "items: decisions newest first (at, by, phase, step, weightBefore, \
                 weightAfter, check, message); continue: the next page",
            )
            .into(),
        ),
    ));
    schemas
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::new(Type::String))
}

fn free_object(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Object))
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .description(Some(description))
}

/// `metadata` of every manifest.
fn metadata_schema() -> Schema {
    let read_only = |description: &str| {
        string()
            .read_only(Some(true))
            .description(Some(description))
    };
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Object))
        .property(
            "name",
            string().description(Some("a DNS label: a-z, 0-9 and '-'")),
        )
        .required("name")
        .property(
            "mesh",
            string().description(Some("the mesh of a mesh-scoped resource")),
        )
        .property(
            "labels",
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::Object))
                .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(
                    string().into(),
                )))),
        )
        .property(
            "resourceVersion",
            string().description(Some(
                "server-owned; send it back to replace only this version (409 otherwise)",
            )),
        )
        .property("creationTime", read_only("server-owned, RFC 3339"))
        .property("modificationTime", read_only("server-owned, RFC 3339"))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .into()
}

/// A manifest of `kind`.
fn manifest_schema(kind: Kind) -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Object))
        .description(Some(format!(
            "A {kind} manifest (YAML or JSON). The spec is validated by the server, which names \
             every failing field. In a PUT, metadata.name and metadata.mesh default to the URL's."
        )))
        .property("apiVersion", string().enum_values(Some([API_VERSION])))
        .required("apiVersion")
        .property("kind", string().enum_values(Some([kind.name()])))
        .required("kind")
        .property("metadata", Ref::from_schema_name("Metadata"))
        .property(
            "spec",
            free_object("the kind's settings; see docs/policies.md"),
        )
        .required("spec")
        .property(
            "status",
            free_object("server-owned; ignored on input").read_only(Some(true)),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .into()
}

fn manifest_list_schema(kind: Kind) -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Object))
        .property(
            "items",
            utoipa::openapi::schema::ArrayBuilder::new()
                .items(Ref::from_schema_name(manifest_name(kind))),
        )
        .required("items")
        .property(
            "total",
            ObjectBuilder::new().schema_type(SchemaType::new(Type::Integer)),
        )
        .required("total")
        .property(
            "continue",
            string().description(Some(
                "where the next page starts (send it back as `continue`); absent on the last page",
            )),
        )
        .into()
}

fn manifest_name(kind: Kind) -> String {
    format!("{}Manifest", kind.name())
}

fn content(payload: &Payload) -> Vec<(&'static str, RefOr<Schema>)> {
    let reference = |name: String| RefOr::Ref(Ref::from_schema_name(name));
    match payload {
        Payload::None => Vec::new(),
        Payload::Json(name) => vec![("application/json", reference(name.to_string()))],
        Payload::Manifest(kind) => vec![
            ("application/json", reference(manifest_name(*kind))),
            ("application/yaml", reference(manifest_name(*kind))),
        ],
        Payload::ManifestList(kind) => vec![(
            "application/json",
            reference(format!("{}List", kind.name())),
        )],
        Payload::Documents => vec![(
            "application/yaml",
            RefOr::T(
                string()
                    .description(Some("one or more manifests separated by ---"))
                    .into(),
            ),
        )],
        Payload::Events(name) => vec![(
            "text/event-stream",
            RefOr::T(
                string()
                    .description(Some(format!("server-sent events, each data line a {name}")))
                    .into(),
            ),
        )],
        Payload::AnyJson => vec![("application/json", RefOr::T(free_object("JSON").into()))],
        Payload::Html => vec![("text/html", RefOr::T(string().into()))],
        Payload::GraphQl => vec![(
            "application/json",
            RefOr::T(free_object("a GraphQL response: data and errors").into()),
        )],
    }
}

fn method(method: &Method) -> HttpMethod {
    match *method {
        Method::GET => HttpMethod::Get,
        Method::PUT => HttpMethod::Put,
        Method::POST => HttpMethod::Post,
        Method::DELETE => HttpMethod::Delete,
        Method::PATCH => HttpMethod::Patch,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        _ => HttpMethod::Trace,
    }
}

/// Who may call a route, in words, for the document.
fn who(access: Access) -> &'static str {
    match access {
        Access::Public => "anyone",
        Access::User => "any signed-in user (what they see is narrowed to their tenants)",
        Access::PlatformAdmin => "platform admins",
        Access::Tenant(role) | Access::Mesh(role) => match role {
            weft_model::tenant::Role::Owner => "owners of the tenant (of the mesh)",
            weft_model::tenant::Role::Editor => "editors and owners of the tenant (of the mesh)",
            weft_model::tenant::Role::Viewer => "members of the tenant (of the mesh)",
        },
        Access::TenantOrCreate => "the tenant's owners; platform admins create tenants",
        Access::MeshOrCreate => "the mesh's tenant owners; owners of the tenant it names create it",
    }
}

fn operation_id(route: &Route) -> String {
    let mut id = route.method.as_str().to_lowercase();
    for part in route
        .path
        .split('/')
        .filter(|part| !part.is_empty() && *part != "v1")
    {
        let part = part.trim_start_matches('{').trim_end_matches('}');
        id.push('_');
        id.extend(
            part.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id
}

fn paths(routes: &[Route]) -> Paths {
    let mut paths = Paths::new();
    for route in routes {
        let mut operation = OperationBuilder::new()
            .operation_id(Some(operation_id(route)))
            .summary(Some(route.summary.clone()))
            .description(Some(format!("Who may call it: {}.", who(route.access))))
            .tag(route.tag);
        for name in route.parameters() {
            operation = operation.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(string().min_length(Some(1)))),
            );
        }
        for (name, description) in route.query {
            operation = operation.parameter(
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(*description))
                    .schema(Some(string())),
            );
        }
        let request = content(&route.request);
        if !request.is_empty() {
            let required = if route.optional_body {
                Required::False
            } else {
                Required::True
            };
            let mut body = RequestBodyBuilder::new().required(Some(required));
            for (media, schema) in request {
                body = body.content(media, ContentBuilder::new().schema(Some(schema)).build());
            }
            operation = operation.request_body(Some(body.build()));
        }
        let success = |description: String| {
            let mut response = ResponseBuilder::new().description(description);
            for (media, schema) in content(&route.response) {
                response =
                    response.content(media, ContentBuilder::new().schema(Some(schema)).build());
            }
            response
        };
        let error = ResponseBuilder::new()
            .description(
                "an error: 400 bad input, 401 no valid token, 403 role too low, 404 not found or \
                 not visible to the caller, 409 conflict, 422 invalid fields, 429 too many \
                 attempts, 503 store unavailable",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            );
        let mut responses = ResponsesBuilder::new()
            .response(route.status.to_string(), success(route.summary.clone()));
        if route.creates {
            responses = responses.response("201", success("created".to_string()));
        }
        operation = operation.responses(responses.response("default", error));
        if route.access != Access::Public {
            operation =
                operation.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
        }
        paths.add_path_operation(
            format!("/api{}", route.path),
            vec![method(&route.method)],
            operation.build(),
        );
    }
    paths
}

/// The whole document.
pub fn document() -> OpenApi {
    let routes = routes::all();
    let mut components = ComponentsBuilder::new()
        .schema("Metadata", metadata_schema())
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    for (name, schema) in wire_schemas() {
        components = components.schema(name, schema);
    }
    for &kind in Kind::ALL {
        components = components
            .schema(manifest_name(kind), manifest_schema(kind))
            .schema(format!("{}List", kind.name()), manifest_list_schema(kind));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Weft global control plane API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Every route needs `Authorization: Bearer <token>` except login and this \
                     document. Errors are always `{\"error\": {code, message, details}}`.",
                ))
                .build(),
        )
        .paths(paths(&routes))
        .components(Some(components.build()))
        .build()
}

/// `GET /api/v1/openapi.json` (built once).
pub async fn serve() -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(
        DOCUMENT
            .get_or_init(|| serde_json::to_value(document()).unwrap_or(Value::Null))
            .clone(),
    )
}
