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
use crate::highlight::YamlEditor;
use crate::pages::policy_form::PolicyForm;

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
            <p class="muted">"Every policy of the mesh by kind; open one to edit it."</p>
            <div class="toolbar">
                <label>"New policy "
                    <select name="new-policy" on:change=move |event| {
                        let plural = event_target_value(&event);
                        if !plural.is_empty() {
                            leptos_router::hooks::use_navigate()(&format!("/meshes/{}/new/{plural}", api::segment(&mesh())), Default::default());
                        }
                    }>
                        <option value="">"choose a kind…"</option>
                        {mesh_kinds().map(|kind| view! { <option value=kind.plural()>{kind.name()}</option> }).collect_view()}
                    </select>
                </label>
            </div>
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

/// A kind's example as a new policy of `mesh`.
fn example_manifest(mesh: &str, plural: &str) -> Manifest {
    let example = Kind::from_plural(plural)
        .and_then(|kind| weft_model::manifest::parse_documents(kind.example()).ok())
        .and_then(|mut documents| (!documents.is_empty()).then(|| documents.remove(0)))
        .unwrap_or_default();
    let mut manifest: Manifest = serde_json::from_value(example).unwrap_or_default();
    manifest.metadata.mesh = Some(mesh.to_string());
    manifest
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
    // `/meshes/{mesh}/new/{plural}` starts a new policy from the kind's example.
    let creating = move || params.read().get("name").is_none();
    let path_of = move |name: &str| {
        format!(
            "/api/v1/meshes/{}/{}/{}",
            api::segment(&mesh()),
            api::segment(&plural()),
            api::segment(name)
        )
    };
    let reloads = RwSignal::new(0u32);
    let stored = LocalResource::new(move || {
        reloads.get();
        let (creating, mesh, plural) = (creating(), mesh(), plural());
        let path = path_of(&name());
        async move {
            if creating {
                Ok(example_manifest(&mesh, &plural))
            } else {
                api::get::<Manifest>(&path).await
            }
        }
    });
    let original = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    // After a new policy is saved, its own page (navigation happens in an effect, so the
    // handlers below stay copyable).
    let go_to = RwSignal::new(None::<String>);
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(page) = go_to.get() {
            navigate(&page, Default::default());
        }
    });
    // Validation as you type, by the model the server runs.
    let problems = Memo::new(move |_| match parse_resources(&text.get(), Author::User) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0,
    });
    let show_diff = RwSignal::new(false);
    // What saving would change in the proxies (a dry run on the server).
    let preview = RwSignal::new(None::<Result<weft_api::inventory::ApplyResponse, api::ApiError>>);
    let ask_preview = move |_| {
        let body = text.get_untracked();
        spawn_local(async move {
            preview.set(Some(
                api::post_text::<weft_api::inventory::ApplyResponse>(
                    "/api/v1/apply?dryRun=true",
                    body,
                )
                .await,
            ));
        });
    };
    let loaded = move |manifest: &Manifest| {
        let yaml = editable(manifest);
        original.set(if creating() {
            String::new()
        } else {
            yaml.clone()
        });
        text.set(yaml);
    };
    // The form and the YAML are two views of one document; the YAML is what is validated,
    // compared and saved.
    let form = RwSignal::new(false);
    let document = RwSignal::new(Value::Null);
    let switch_problem = RwSignal::new(None::<String>);
    Effect::watch(
        move || document.get(),
        move |document, _, _| {
            if form.get_untracked() && !document.is_null() {
                text.set(serde_saphyr::to_string(document).unwrap_or_default());
            }
        },
        false,
    );
    Effect::new(move |_| {
        if let Some(Ok(manifest)) = stored.get() {
            loaded(&manifest);
            // A new policy opens in the form.
            if creating()
                && let Ok(mut documents) =
                    weft_model::manifest::parse_documents(&text.get_untracked())
                && !documents.is_empty()
            {
                document.set(documents.remove(0));
                form.set(true);
            }
        }
    });
    let to_form = move |_| match weft_model::manifest::parse_documents(&text.get_untracked()) {
        Ok(mut documents) if documents.len() == 1 => {
            switch_problem.set(None);
            document.set(documents.remove(0));
            form.set(true);
        }
        Ok(_) => switch_problem.set(Some("the form edits one document".into())),
        Err(errors) => switch_problem.set(Some(format!("fix the YAML first: {errors}"))),
    };
    let example = move || {
        let kind =
            document.with_untracked(|doc| doc["kind"].as_str().unwrap_or_default().to_string());
        Kind::parse(&kind)
            .and_then(|kind| weft_model::manifest::parse_documents(kind.example()).ok())
            .and_then(|mut documents| (!documents.is_empty()).then(|| documents.remove(0)))
            .unwrap_or_default()
    };
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
        let target = if creating() {
            document["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        } else {
            name()
        };
        let path = path_of(&target);
        let created_at = creating().then(|| {
            format!(
                "/meshes/{}/policies/{}/{}",
                api::segment(&mesh()),
                api::segment(&plural()),
                api::segment(&target)
            )
        });
        spawn_local(async move {
            saved.set(Some(
                match api::send_json::<Manifest>("PUT", &path, &document).await {
                    Ok(manifest) => {
                        if let Some(page) = created_at {
                            go_to.set(Some(page));
                        }
                        original.set(editable(&manifest));
                        text.set(editable(&manifest));
                        form.set(false);
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
            <h1>{move || format!("{} ", plural())}<span class="policy-name">{move || if creating() { "(new)".to_string() } else { name() }}</span></h1>
            <p class="muted">"in mesh " <A href=move || format!("/meshes/{}/policies", api::segment(&mesh()))>{mesh}</A></p>
            {move || stored.get().and_then(Result::err).map(|error| view! { <ErrorNotice error /> })}
            <div class="view-switch" role="tablist">
                <button role="tab" name="view-yaml" class=move || if form.get() { "secondary" } else { "" } on:click=move |_| form.set(false)>"YAML"</button>
                <button role="tab" name="view-form" class=move || if form.get() { "" } else { "secondary" } on:click=to_form>"Form"</button>
                {move || switch_problem.get().map(|problem| view! { <span class="field-error">{problem}</span> })}
            </div>
            <Show when=move || form.get() fallback=move || view! {
                <YamlEditor name="manifest" label="The policy as YAML" text
                    on_input=move |value| { saved.set(None); text.set(value) } />
            }>
                {move || {
                    // Rebuilt only when the form opens (the example is read untracked).
                    form.get();
                    view! { <PolicyForm document errors=Signal::derive(move || problems.get()) example=example() /> }
                }}
            </Show>
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
                <button class="secondary" name="preview" disabled=move || !problems.get().is_empty() on:click=ask_preview>"Which proxies?"</button>
                <button class="secondary" name="diff" on:click=move |_| show_diff.update(|shown| *shown = !*shown)>
                    {move || if show_diff.get() { "Hide changes" } else { "Show changes" }}
                </button>
                <button name="save" disabled=move || !problems.get().is_empty() || text.get() == original.get()
                    on:click=move |_| save(false)>"Save"</button>
            </div>
            {move || preview.get().map(|answer| match answer {
                Ok(answer) => view! { <div class="notice preview">{crate::pages::apply::effects_view(answer.effects)}</div> }.into_any(),
                Err(error) => view! { <ErrorNotice error /> }.into_any(),
            })}
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
