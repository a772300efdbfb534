//! A mesh's policies: every kind's resources in one page, and one policy in a YAML editor that
//! validates as you type with the same model the server runs, shows the difference from the
//! stored version, saves with its resourceVersion, and explains a conflict.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use serde_json::Value;
use weft_api::inventory::ResourceList;
use weft_model::kind::Origin;
use weft_model::resource::{Author, parse_resources};
use weft_model::{FieldError, Kind, Manifest};

use crate::api;
use crate::components::error::ErrorNotice;

/// The kinds users write inside a mesh.
fn mesh_kinds() -> impl Iterator<Item = Kind> {
    Kind::ALL
        .iter()
        .copied()
        .filter(|kind| kind.is_mesh_scoped() && kind.origin() == Origin::Global)
}

#[component]
pub fn PoliciesPage() -> impl IntoView {
    let params = use_params_map();
    let mesh = move || params.read().get("mesh").unwrap_or_default();
    view! {
        <section class="policies-page">
            <h1>"Policies of " <A href=move || format!("/meshes/{}", api::segment(&mesh()))>{mesh}</A></h1>
            <p class="muted">"Every policy of the mesh by kind; open one to edit it. New ones: " <A href="/apply">"Apply"</A>"."</p>
            {move || {
                let mesh = mesh();
                mesh_kinds().map(|kind| view! { <KindSection mesh=mesh.clone() kind /> }).collect_view()
            }}
        </section>
    }
}

#[component]
fn KindSection(mesh: String, kind: Kind) -> impl IntoView {
    let path = format!("/api/v1/meshes/{}/{}", api::segment(&mesh), kind.plural());
    let list = LocalResource::new(move || {
        let path = path.clone();
        async move { api::get::<ResourceList>(&path).await }
    });
    move || {
        let mesh = mesh.clone();
        list.get().map(move |result| match result {
            Err(error) => view! { <ErrorNotice error /> }.into_any(),
            Ok(list) if list.items.is_empty() => ().into_any(),
            Ok(list) => view! {
                <div class="kind-section" data-kind=kind.name()>
                    <h2>{format!("{} ({})", kind.name(), list.total)}</h2>
                    <ul class="policy-list">
                        {list.items.into_iter().map(|item| {
                            let name = item.metadata.name.clone();
                            let href = format!("/meshes/{}/policies/{}/{}", api::segment(&mesh), kind.plural(), api::segment(&name));
                            let id = format!("{}/{name}", kind.name());
                            view! { <li data-policy=id><A href=href>{name}</A></li> }
                        }).collect_view()}
                    </ul>
                </div>
            }.into_any(),
        })
    }
}

/// The manifest as the editor shows it: without the server's status and timestamps.
fn editable(manifest: &Manifest) -> String {
    let mut manifest = manifest.clone();
    manifest.status = None;
    manifest.metadata.creation_time = None;
    manifest.metadata.modification_time = None;
    serde_saphyr::to_string(&manifest).unwrap_or_default()
}

/// `+`/`-` lines of what changed, with a little context.
pub fn line_diff(before: &str, after: &str) -> Vec<(char, String)> {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut out = Vec::new();
    for group in diff.grouped_ops(2) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                out.push((sign, change.value().trim_end_matches('\n').to_string()));
            }
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
enum Saved {
    Done(String),
    Conflict,
    Failed(api::ApiError),
}

#[component]
pub fn PolicyPage() -> impl IntoView {
    let params = use_params_map();
    let mesh = move || params.read().get("mesh").unwrap_or_default();
    let plural = move || params.read().get("plural").unwrap_or_default();
    let name = move || params.read().get("name").unwrap_or_default();
    let path = move || {
        format!(
            "/api/v1/meshes/{}/{}/{}",
            api::segment(&mesh()),
            api::segment(&plural()),
            api::segment(&name())
        )
    };
    let reloads = RwSignal::new(0u32);
    let stored = LocalResource::new(move || {
        reloads.get();
        let path = path();
        async move { api::get::<Manifest>(&path).await }
    });
    let original = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(manifest)) = stored.get() {
            let yaml = editable(&manifest);
            original.set(yaml.clone());
            text.set(yaml);
        }
    });
    // Validation as you type, by the model the server runs.
    let problems = Memo::new(move |_| match parse_resources(&text.get(), Author::User) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0,
    });
    let show_diff = RwSignal::new(false);
    let saved = RwSignal::new(None::<Saved>);
    let save = move |overwrite: bool| {
        let body = text.get_untracked();
        let Ok(mut documents) = weft_model::manifest::parse_documents(&body) else {
            return;
        };
        let Some(mut document) = documents.pop() else {
            return;
        };
        if overwrite
            && let Some(metadata) = document.get_mut("metadata").and_then(Value::as_object_mut)
        {
            metadata.remove("resourceVersion");
        }
        let path = path();
        spawn_local(async move {
            saved.set(Some(
                match api::send_json::<Manifest>("PUT", &path, &document).await {
                    Ok(manifest) => {
                        let yaml = editable(&manifest);
                        original.set(yaml.clone());
                        text.set(yaml);
                        Saved::Done(manifest.metadata.resource_version.unwrap_or_default())
                    }
                    Err(error) if error.status == 409 => Saved::Conflict,
                    Err(error) => Saved::Failed(error),
                },
            ));
        });
    };
    view! {
        <section class="policy-editor">
            <h1>{move || format!("{} ", plural())}<span class="policy-name">{name}</span></h1>
            <p class="muted">"in mesh " <A href=move || format!("/meshes/{}/policies", api::segment(&mesh()))>{mesh}</A></p>
            {move || stored.get().and_then(Result::err).map(|error| view! { <ErrorNotice error /> })}
            <textarea name="manifest" class="code" spellcheck="false" rows="20"
                aria-label="The policy as YAML"
                prop:value=move || text.get()
                on:input=move |event| { saved.set(None); text.set(event_target_value(&event)) }></textarea>
            <div class="validation" aria-live="polite">
                {move || {
                    let problems: Vec<FieldError> = problems.get();
                    if problems.is_empty() {
                        view! { <p class="ok-text" data-valid="true">"✓ valid"</p> }.into_any()
                    } else {
                        view! {
                            <ul class="field-errors" data-valid="false">
                                {problems.into_iter().map(|problem| view! {
                                    <li><code class="field">{problem.field}</code>" "{problem.message}</li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }
                }}
            </div>
            <div class="toolbar">
                <button class="secondary" name="diff" on:click=move |_| show_diff.update(|shown| *shown = !*shown)>
                    {move || if show_diff.get() { "Hide changes" } else { "Show changes" }}
                </button>
                <button name="save" disabled=move || !problems.get().is_empty() || text.get() == original.get()
                    on:click=move |_| save(false)>"Save"</button>
            </div>
            <Show when=move || show_diff.get()>
                <pre class="diff">
                    {move || {
                        let lines = line_diff(&original.get(), &text.get());
                        if lines.is_empty() {
                            view! { <span class="muted">"No changes."</span> }.into_any()
                        } else {
                            lines.into_iter().map(|(sign, line)| {
                                let class = match sign { '+' => "added", '-' => "removed", _ => "same" };
                                view! { <span class=class>{format!("{sign} {line}\n")}</span> }
                            }).collect_view().into_any()
                        }
                    }}
                </pre>
            </Show>
            {move || saved.get().map(|outcome| match outcome {
                Saved::Done(version) => view! { <p class="notice ok" data-saved=version.clone()>{format!("Saved as version {version}.")}</p> }.into_any(),
                Saved::Conflict => view! {
                    <div class="notice error conflict" role="alert">
                        <p>"Someone changed this policy since you opened it. Reload to see their version (your edits are lost), or overwrite theirs with yours."</p>
                        <button class="secondary" name="reload" on:click=move |_| { saved.set(None); reloads.update(|n| *n += 1) }>"Reload"</button>
                        " "
                        <button name="overwrite" on:click=move |_| save(true)>"Overwrite"</button>
                    </div>
                }.into_any(),
                Saved::Failed(error) => view! { <ErrorNotice error /> }.into_any(),
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_diff_shows_removed_and_added_lines_with_context() {
        let before = "a: 1\nb: 2\nc: 3\n";
        let after = "a: 1\nb: 5\nc: 3\n";
        let diff = super::line_diff(before, after);
        assert!(diff.contains(&('-', "b: 2".to_string())));
        assert!(diff.contains(&('+', "b: 5".to_string())));
        assert!(diff.contains(&(' ', "a: 1".to_string())));
        assert!(super::line_diff(before, before).is_empty());
    }
}
