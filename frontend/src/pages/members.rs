//! A tenant's members: everyone in the tenant reads them; owners add members, change roles
//! and remove members.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use weft_api::users::MemberList;

use crate::api;
use crate::components::error::ErrorNotice;
use crate::me::use_session;

const ROLES: [&str; 3] = ["viewer", "editor", "owner"];

#[component]
pub fn MembersPage() -> impl IntoView {
    let params = use_params_map();
    let tenant = move || params.read().get("tenant").unwrap_or_default();
    let session = use_session();
    let version = RwSignal::new(0u32);
    let members = LocalResource::new(move || {
        version.get();
        let tenant = tenant();
        async move {
            api::get::<MemberList>(&format!(
                "/api/v1/tenants/{}/members",
                api::segment(&tenant)
            ))
            .await
        }
    });
    let owner = move || {
        session
            .me
            .get()
            .is_some_and(|me| me.can(&tenant(), "owner"))
    };
    let problem = RwSignal::new(None::<api::ApiError>);
    let change = move |method: &'static str, user: String, role: Option<String>| {
        let tenant = tenant();
        spawn_local(async move {
            let path = format!(
                "/api/v1/tenants/{}/members/{}",
                api::segment(&tenant),
                api::segment(&user)
            );
            let outcome = match role {
                Some(role) => api::send_json::<serde_json::Value>(
                    method,
                    &path,
                    &serde_json::json!({"role": role}),
                )
                .await
                .map(|_| ()),
                None => api::call(method, &path).await,
            };
            match outcome {
                Ok(()) => {
                    problem.set(None);
                    version.update(|version| *version += 1);
                }
                Err(error) => problem.set(Some(error)),
            }
        });
    };
    let new_user = RwSignal::new(String::new());
    let new_role = RwSignal::new(String::from("viewer"));
    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        change(
            "PUT",
            new_user.get_untracked(),
            Some(new_role.get_untracked()),
        );
        new_user.set(String::new());
    };
    view! {
        <section class="members">
            <h1>{move || format!("Members of {}", tenant())}</h1>
            {move || problem.get().map(|error| view! { <ErrorNotice error /> })}
            <Suspense fallback=|| view! { <p class="muted">"Loading members…"</p> }>
                {move || members.get().map(|result| match result {
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    Ok(list) => view! {
                        <table class="members">
                            <thead><tr><th>"User"</th><th>"Role"</th><th></th></tr></thead>
                            <tbody>
                                {list.items.into_iter().map(|member| {
                                    let user = member.user.clone();
                                    let removed = user.clone();
                                    let current = member.role.clone();
                                    view! {
                                        <tr data-member=member.user.clone()>
                                            <td>{member.user.clone()}</td>
                                            <td>
                                                <Show when=owner fallback={
                                                    let role = current.clone();
                                                    move || view! { <span class="role">{role.clone()}</span> }
                                                }>
                                                    <select
                                                        class="role"
                                                        on:change={
                                                            let user = user.clone();
                                                            move |event| change("PUT", user.clone(), Some(event_target_value(&event)))
                                                        }
                                                    >
                                                        {ROLES.iter().map(|role| view! {
                                                            <option value=*role selected=current == *role>{*role}</option>
                                                        }).collect_view()}
                                                    </select>
                                                </Show>
                                            </td>
                                            <td>
                                                <Show when=owner>
                                                    <button class="secondary remove" on:click={
                                                        let removed = removed.clone();
                                                        move |_| change("DELETE", removed.clone(), None)
                                                    }>"Remove"</button>
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
            <Show when=owner>
                <form class="toolbar add-member" on:submit=add>
                    <input name="user" aria-label="User" placeholder="user" required bind:value=new_user />
                    <select name="role" aria-label="Role" on:change=move |event| new_role.set(event_target_value(&event))>
                        {ROLES.iter().map(|role| view! { <option value=*role>{*role}</option> }).collect_view()}
                    </select>
                    <button type="submit">"Add member"</button>
                </form>
            </Show>
        </section>
    }
}
