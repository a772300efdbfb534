//! The GraphQL explorer (what GraphiQL offers, served from this origin so the content security
//! policy stays strict): a query and its variables, the answer, and the schema's types and
//! fields read by introspection. Queries go to `POST /api/graphql` with the session's token,
//! so they see exactly what the REST API would show the user.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};

use crate::api;
use crate::components::error::ErrorNotice;

const EXAMPLE: &str = "# Ctrl+Enter runs the query.\n{\n  whoami { user platformAdmin }\n  meshes {\n    name\n    tenant\n    services\n    dataplanes { name zone }\n  }\n}\n";

/// Enough of the schema to list every type with its fields and their types.
const INTROSPECTION: &str = "{ __schema { queryType { name } types { name kind description \
     fields { name description args { name type { name kind ofType { name kind ofType { name } } } } \
     type { name kind ofType { name kind ofType { name kind ofType { name } } } } } } } }";

/// `[MeshNode!]!` from an introspected type reference.
pub fn type_label(reference: &Value) -> String {
    let inner = || type_label(&reference["ofType"]);
    match reference["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", inner()),
        Some("LIST") => format!("[{}]", inner()),
        _ => reference["name"].as_str().unwrap_or("?").to_string(),
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Field {
    name: String,
    signature: String,
    description: String,
}

#[derive(Clone, Debug, PartialEq)]
struct TypeDoc {
    name: String,
    description: String,
    fields: Vec<Field>,
}

/// The object types of an introspection answer, the query type first, GraphQL's own left out.
fn type_docs(answer: &Value) -> Vec<TypeDoc> {
    let schema = &answer["data"]["__schema"];
    let root = schema["queryType"]["name"].as_str().unwrap_or("Query");
    let mut docs: Vec<TypeDoc> = schema["types"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|ty| ty["kind"] == "OBJECT")
        .filter_map(|ty| {
            let name = ty["name"].as_str()?;
            (!name.starts_with("__")).then(|| TypeDoc {
                name: name.to_string(),
                description: ty["description"].as_str().unwrap_or_default().to_string(),
                fields: ty["fields"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|field| {
                        let args: Vec<String> = field["args"]
                            .as_array()
                            .map(Vec::as_slice)
                            .unwrap_or_default()
                            .iter()
                            .map(|arg| {
                                format!(
                                    "{}: {}",
                                    arg["name"].as_str().unwrap_or("?"),
                                    type_label(&arg["type"])
                                )
                            })
                            .collect();
                        let args = if args.is_empty() {
                            String::new()
                        } else {
                            format!("({})", args.join(", "))
                        };
                        Field {
                            name: field["name"].as_str().unwrap_or("?").to_string(),
                            signature: format!("{args}: {}", type_label(&field["type"])),
                            description: field["description"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                        }
                    })
                    .collect(),
            })
        })
        .collect();
    docs.sort_by_key(|doc| (doc.name != root, doc.name.clone()));
    docs
}

async fn post(query: String, variables: Option<Value>) -> Result<Value, api::ApiError> {
    let mut body = json!({ "query": query });
    if let Some(variables) = variables {
        body["variables"] = variables;
    }
    api::send_json::<Value>("POST", "/api/graphql", &body).await
}

#[component]
pub fn GraphQlPage() -> impl IntoView {
    let query = RwSignal::new(EXAMPLE.to_string());
    let variables = RwSignal::new(String::new());
    let answer = RwSignal::new(None::<String>);
    let problem = RwSignal::new(None::<api::ApiError>);
    let running = RwSignal::new(false);
    let schema = LocalResource::new(|| post(INTROSPECTION.to_string(), None));
    let run = move || {
        if running.get_untracked() {
            return;
        }
        let text = variables.get_untracked();
        let variables = if text.trim().is_empty() {
            None
        } else {
            match serde_json::from_str::<Value>(&text) {
                Ok(value @ Value::Object(_)) => Some(value),
                Ok(_) => {
                    answer.set(Some("variables: must be a JSON object".into()));
                    return;
                }
                Err(error) => {
                    answer.set(Some(format!("variables: not JSON: {error}")));
                    return;
                }
            }
        };
        running.set(true);
        let query = query.get_untracked();
        spawn_local(async move {
            match post(query, variables).await {
                Ok(value) => {
                    problem.set(None);
                    answer.set(Some(
                        serde_json::to_string_pretty(&value).unwrap_or_default(),
                    ));
                }
                Err(error) => {
                    answer.set(None);
                    problem.set(Some(error));
                }
            }
            running.set(false);
        });
    };
    let on_key = move |event: leptos::ev::KeyboardEvent| {
        if event.key() == "Enter" && (event.ctrl_key() || event.meta_key()) {
            event.prevent_default();
            run();
        }
    };
    view! {
        <section class="graphql">
            <h1>"GraphQL"</h1>
            <p class="muted">"One query across tenants, meshes, services, dataplanes, policies, zones and the graph — only what you may see."</p>
            <div class="graphql-panes">
                <div class="graphql-editor">
                    <textarea
                        name="query"
                        aria-label="GraphQL query"
                        class="code"
                        rows="18"
                        spellcheck="false"
                        prop:value=move || query.get()
                        on:input=move |event| query.set(event_target_value(&event))
                        on:keydown=on_key
                    ></textarea>
                    <textarea
                        name="variables"
                        aria-label="Variables, as a JSON object"
                        class="code"
                        rows="3"
                        spellcheck="false"
                        placeholder="variables, as a JSON object"
                        prop:value=move || variables.get()
                        on:input=move |event| variables.set(event_target_value(&event))
                        on:keydown=on_key
                    ></textarea>
                    <button class="run" disabled=move || running.get() on:click=move |_| run()>
                        {move || if running.get() { "Running…" } else { "Run (Ctrl+Enter)" }}
                    </button>
                </div>
                <div class="graphql-answer">
                    {move || problem.get().map(|error| view! { <ErrorNotice error /> })}
                    <pre class="answer">{move || answer.get().unwrap_or_default()}</pre>
                </div>
                <aside class="graphql-schema">
                    <h2>"Schema"</h2>
                    <Suspense fallback=|| view! { <p class="muted">"Reading the schema…"</p> }>
                        {move || schema.get().map(|result| match result {
                            Err(error) => view! { <ErrorNotice error /> }.into_any(),
                            Ok(value) => type_docs(&value).into_iter().map(|doc| view! {
                                <details class="type" data-type=doc.name.clone() open=doc.name == "Query">
                                    <summary title=doc.description.clone()>{doc.name.clone()}</summary>
                                    <ul>
                                        {doc.fields.into_iter().map(|field| view! {
                                            <li title=field.description>
                                                <code>{field.name}</code>
                                                <span class="muted">{field.signature}</span>
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                </details>
                            }).collect_view().into_any(),
                        })}
                    </Suspense>
                </aside>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_references_read_as_graphql_writes_them() {
        let reference = json!({"kind": "NON_NULL", "ofType": {"kind": "LIST", "ofType":
            {"kind": "NON_NULL", "ofType": {"kind": "OBJECT", "name": "MeshNode"}}}});
        assert_eq!(type_label(&reference), "[MeshNode!]!");
        assert_eq!(
            type_label(&json!({"kind": "SCALAR", "name": "String"})),
            "String"
        );
    }

    #[test]
    fn the_query_type_comes_first_and_introspection_types_are_left_out() {
        let answer = json!({"data": {"__schema": {"queryType": {"name": "Query"}, "types": [
            {"kind": "OBJECT", "name": "MeshNode", "fields": [{"name": "name", "args": [],
                "type": {"kind": "SCALAR", "name": "String"}}]},
            {"kind": "OBJECT", "name": "__Type", "fields": []},
            {"kind": "SCALAR", "name": "String"},
            {"kind": "OBJECT", "name": "Query", "fields": [{"name": "mesh", "args": [
                {"name": "name", "type": {"kind": "NON_NULL", "ofType": {"kind": "SCALAR", "name": "String"}}}],
                "type": {"kind": "OBJECT", "name": "MeshNode"}}]}
        ]}}});
        let docs = type_docs(&answer);
        let names: Vec<&str> = docs.iter().map(|doc| doc.name.as_str()).collect();
        assert_eq!(names, ["Query", "MeshNode"]);
        assert_eq!(docs[0].fields[0].signature, "(name: String!): MeshNode");
    }
}
