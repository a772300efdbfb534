//! Apply manifests: validated in the browser with the same model the server uses, so every
//! failing field shows before anything is sent; then applied all or nothing.

use leptos::prelude::*;
use leptos::task::spawn_local;
use weft_api::inventory::ApplyResponse;
use weft_model::resource::{Author, parse_resources};
use weft_model::{FieldError, Kind};

use crate::api;
use crate::components::error::ErrorNotice;
use crate::highlight::YamlEditor;

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    /// Local validation passed: kind/name of each document.
    Valid(Vec<String>),
    /// Local validation failed; nothing was sent.
    Invalid(Vec<FieldError>),
    Applied(ApplyResponse),
    /// What applying would do (a dry run on the server): nothing was written.
    Preview(ApplyResponse),
    Failed(api::ApiError),
}

/// Validates `text` as the server would, without sending it.
fn validate(text: &str) -> Result<Vec<String>, Vec<FieldError>> {
    parse_resources(text, Author::User)
        .map(|resources| {
            resources
                .iter()
                .map(|resource| match resource.mesh() {
                    Some(mesh) => format!("{} {}/{}", resource.kind(), mesh, resource.name()),
                    None => format!("{} {}", resource.kind(), resource.name()),
                })
                .collect()
        })
        .map_err(|errors| errors.0)
}

#[component]
pub fn ApplyPage() -> impl IntoView {
    let text = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Outcome>);
    let busy = RwSignal::new(false);

    let check = move |_| {
        outcome.set(Some(match validate(&text.get_untracked()) {
            Ok(documents) => Outcome::Valid(documents),
            Err(errors) => Outcome::Invalid(errors),
        }));
    };
    let submit = move |dry_run: bool| {
        let body = text.get_untracked();
        if let Err(errors) = validate(&body) {
            outcome.set(Some(Outcome::Invalid(errors)));
            return;
        }
        busy.set(true);
        let path = if dry_run {
            "/api/v1/apply?dryRun=true"
        } else {
            "/api/v1/apply"
        };
        spawn_local(async move {
            outcome.set(Some(
                match api::post_text::<ApplyResponse>(path, body).await {
                    Ok(response) if dry_run => Outcome::Preview(response),
                    Ok(response) => Outcome::Applied(response),
                    Err(error) => Outcome::Failed(error),
                },
            ));
            busy.set(false);
        });
    };
    let template = move |event: leptos::ev::Event| {
        let chosen = event_target_value(&event);
        if let Some(kind) = Kind::parse(&chosen) {
            text.set(kind.example().to_string());
            outcome.set(None);
        }
    };

    view! {
        <section class="apply">
            <h1>"Apply manifests"</h1>
            <p class="muted">
                "YAML or JSON, several documents separated by ---. Every document is applied, or none. "
                "Send back a resourceVersion to refuse the write if someone changed the resource since you read it."
            </p>
            <div class="toolbar">
                <label>
                    "Start from an example "
                    <select name="template" on:change=template>
                        <option value="">"choose a kind…"</option>
                        {Kind::ALL.iter().filter(|kind| **kind != Kind::Dataplane).map(|kind| {
                            view! { <option value=kind.name()>{kind.name()}</option> }
                        }).collect_view()}
                    </select>
                </label>
            </div>
            <YamlEditor name="manifests" label="Manifests as YAML" text min_rows=22
                on_input=move |value| text.set(value) />
            <div class="toolbar">
                <button class="secondary" name="validate" on:click=check>"Validate"</button>
                <button class="secondary" name="preview" on:click=move |_| submit(true) disabled=move || busy.get()>
                    "Preview changes"
                </button>
                <button name="apply" on:click=move |_| submit(false) disabled=move || busy.get()>
                    {move || if busy.get() { "Applying…" } else { "Apply" }}
                </button>
            </div>
            {move || outcome.get().map(render)}
        </section>
    }
}

/// The proxies a dry run says would change, and how.
pub fn effects_view(effects: Vec<weft_api::inventory::ProxyEffect>) -> AnyView {
    if effects.is_empty() {
        return view! { <p class="muted">"No proxy's configuration would change."</p> }.into_any();
    }
    view! {
        <table class="effects">
            <thead><tr><th>"Dataplane"</th><th>"Policies of these documents that apply"</th><th>"Settings that would change"</th></tr></thead>
            <tbody>
                {effects.into_iter().map(|effect| view! {
                    <tr data-dataplane=effect.dataplane.clone()>
                        <td>{format!("{}/{}", effect.mesh, effect.dataplane)}</td>
                        <td>{effect.policies.join(", ")}</td>
                        <td><code>{effect.changed.join(", ")}</code></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

fn field_errors(errors: Vec<FieldError>) -> impl IntoView {
    view! {
        <ul class="field-errors">
            {errors.into_iter().map(|error| view! {
                <li><code class="field">{error.field}</code>" "{error.message}</li>
            }).collect_view()}
        </ul>
    }
}

fn render(outcome: Outcome) -> AnyView {
    match outcome {
        Outcome::Valid(documents) => view! {
            <div class="notice ok" data-outcome="valid">
                <p>{format!("{} valid document(s):", documents.len())}</p>
                <ul>{documents.into_iter().map(|d| view! { <li>{d}</li> }).collect_view()}</ul>
            </div>
        }
        .into_any(),
        Outcome::Invalid(errors) => view! {
            <div class="notice error" role="alert" data-outcome="invalid">
                <p>"Not sent: fix these first."</p>
                {field_errors(errors)}
            </div>
        }
        .into_any(),
        Outcome::Applied(response) => view! {
            <div class="notice ok" data-outcome="applied">
                <table class="results">
                    <thead><tr><th>"Kind"</th><th>"Name"</th><th>"Result"</th><th>"Version"</th></tr></thead>
                    <tbody>
                        {response.items.into_iter().map(|item| view! {
                            <tr>
                                <td>{item.kind}</td>
                                <td>{match item.mesh { Some(mesh) => format!("{mesh}/{}", item.name), None => item.name }}</td>
                                <td class="result">{item.result}</td>
                                <td>{item.resource_version}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any(),
        Outcome::Preview(response) => view! {
            <div class="notice" data-outcome="preview">
                <p>"Nothing was written. Applying would do this:"</p>
                <ul class="preview-items">
                    {response.items.into_iter().map(|item| view! {
                        <li>{format!("{} {} would be {}", item.kind, item.name, item.result)}</li>
                    }).collect_view()}
                </ul>
                {effects_view(response.effects)}
            </div>
        }
        .into_any(),
        Outcome::Failed(error) if !error.details.is_empty() => view! {
            <div class="notice error" role="alert" data-outcome="rejected">
                <p>{error.message.clone()}</p>
                {field_errors(error.details)}
            </div>
        }
        .into_any(),
        Outcome::Failed(error) => view! { <div data-outcome="rejected"><ErrorNotice error /></div> }.into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_like_the_server() {
        assert_eq!(
            validate(Kind::Timeout.example()).unwrap(),
            vec!["Timeout shop/defaults"]
        );
        let errors = validate("apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: Bad}\n")
            .unwrap_err();
        assert_eq!(errors[0].field, "metadata.name");
    }
}
