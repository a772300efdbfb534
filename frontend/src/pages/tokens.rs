//! API tokens for automation: the user's tokens, a form to issue one (its secret is shown
//! once), and revocation.

use leptos::prelude::*;
use leptos::task::spawn_local;
use weft_api::auth::{ApiTokenList, IssuedApiToken};

use crate::api;
use crate::components::error::ErrorNotice;

#[component]
pub fn TokensPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let tokens = LocalResource::new(move || {
        version.get();
        api::get::<ApiTokenList>("/api/v1/auth/tokens")
    });
    let name = RwSignal::new(String::new());
    let tenant = RwSignal::new(String::new());
    let role = RwSignal::new(String::new());
    let valid_for = RwSignal::new(String::from("720h"));
    let issued = RwSignal::new(None::<IssuedApiToken>);
    let problem = RwSignal::new(None::<api::ApiError>);
    let create = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let mut request = serde_json::json!({"name": name.get_untracked()});
        for (field, value) in [
            ("tenant", tenant.get_untracked()),
            ("role", role.get_untracked()),
            ("validFor", valid_for.get_untracked()),
        ] {
            if !value.trim().is_empty() {
                request[field] = serde_json::Value::String(value.trim().to_string());
            }
        }
        spawn_local(async move {
            match api::send_json::<IssuedApiToken>("POST", "/api/v1/auth/tokens", &request).await {
                Ok(token) => {
                    problem.set(None);
                    issued.set(Some(token));
                    name.set(String::new());
                    version.update(|version| *version += 1);
                }
                Err(error) => problem.set(Some(error)),
            }
        });
    };
    let revoke = move |id: String| {
        spawn_local(async move {
            match api::call(
                "DELETE",
                &format!("/api/v1/auth/tokens/{}", api::segment(&id)),
            )
            .await
            {
                Ok(()) => version.update(|version| *version += 1),
                Err(error) => problem.set(Some(error)),
            }
        });
    };
    view! {
        <section class="tokens">
            <h1>"API tokens"</h1>
            <p class="muted">"Tokens for scripts and CI, narrowed to a tenant and a role if you like; never more than you may do yourself."</p>
            <form class="toolbar issue-token" on:submit=create>
                <input name="name" aria-label="Token name" placeholder="name, e.g. ci-deploy" required bind:value=name />
                <input name="tenant" aria-label="Tenant (optional)" placeholder="tenant (optional)" bind:value=tenant />
                <select name="role" aria-label="Role" on:change=move |event| role.set(event_target_value(&event))>
                    <option value="">"your roles"</option>
                    <option value="viewer">"viewer"</option>
                    <option value="editor">"editor"</option>
                    <option value="owner">"owner"</option>
                </select>
                <input name="validFor" aria-label="Valid for (e.g. 30d)" placeholder="valid for" bind:value=valid_for />
                <button type="submit">"Issue token"</button>
            </form>
            {move || problem.get().map(|error| view! { <ErrorNotice error /> })}
            {move || issued.get().map(|token| view! {
                <div class="notice issued">
                    <p>"Copy the token now; it is not shown again:"</p>
                    <code class="secret">{token.token}</code>
                </div>
            })}
            <Suspense fallback=|| view! { <p class="muted">"Loading tokens…"</p> }>
                {move || tokens.get().map(|result| match result {
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    Ok(list) if list.items.is_empty() => view! { <p class="notice">"No API tokens yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="tokens">
                            <thead><tr><th>"Name"</th><th>"User"</th><th>"Tenant"</th><th>"Role"</th><th>"Expires"</th><th>"State"</th><th></th></tr></thead>
                            <tbody>
                                {list.items.into_iter().map(|token| {
                                    let id = token.id.clone();
                                    let revoked = token.revoked_at.is_some();
                                    view! {
                                        <tr data-token=token.name.clone()>
                                            <td>{token.name.clone()}</td>
                                            <td>{token.user.clone()}</td>
                                            <td>{token.tenant.clone().unwrap_or_else(|| "any".into())}</td>
                                            <td>{token.role.clone().unwrap_or_else(|| "yours".into())}</td>
                                            <td class="muted">{token.expires_at.clone()}</td>
                                            <td class="state">{if revoked { "revoked" } else { "valid" }}</td>
                                            <td>
                                                <Show when=move || !revoked>
                                                    <button class="secondary revoke" on:click={
                                                        let id = id.clone();
                                                        move |_| revoke(id.clone())
                                                    }>"Revoke"</button>
                                                </Show>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
