//! The frame around every logged-in page: header with navigation, the signed-in user, the
//! tenant switcher and logout. Sends visitors without a valid session to the login page.
//! Navigation shows only what the user's roles allow.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{A, Redirect};
use leptos_router::hooks::use_navigate;
use weft_api::auth::WhoAmI;

use crate::me::{Me, Session};
use crate::{api, session};

#[component]
pub fn Shell(children: ChildrenFn) -> impl IntoView {
    let state = Session::new();
    provide_context(state);
    let who = LocalResource::new(|| api::get::<WhoAmI>("/api/v1/whoami"));
    Effect::new(move |_| {
        if let Some(Ok(who)) = who.get() {
            state.me.set(Some(Me { who }));
        }
    });
    let navigate = use_navigate();
    let logout = move |_| {
        let navigate = navigate.clone();
        spawn_local(async move {
            // Revoke the token on the server too; the session ends here either way.
            let _ = api::call("POST", "/api/v1/auth/logout").await;
            session::clear();
            navigate("/login", Default::default());
        });
    };
    let can_edit = move || state.me.get().is_some_and(|me| me.anywhere("editor"));
    let can_audit = move || state.me.get().is_some_and(|me| me.anywhere("owner"));
    let tenant = move || state.tenant.get();
    view! {
        <Show when=|| session::token().is_some() fallback=|| view! { <Redirect path="/login" /> }>
            <header class="top">
                <A href="/" attr:class="brand">"weft"</A>
                <nav>
                    <A href="/">"Meshes"</A>
                    <A href="/zones" attr:class="nav-zones">"Zones"</A>
                    <Show when=can_edit><A href="/apply" attr:class="nav-apply">"Apply"</A></Show>
                    <Show when=move || !tenant().is_empty()>
                        <A href=move || format!("/tenants/{}/members", api::segment(&tenant())) attr:class="nav-members">"Members"</A>
                    </Show>
                    <A href="/tokens" attr:class="nav-tokens">"API tokens"</A>
                    <Show when=can_audit><A href="/audit" attr:class="nav-audit">"Audit log"</A></Show>
                    <A href="/api/graphql" attr:class="nav-graphql">"GraphQL"</A>
                </nav>
                <TenantSwitcher />
                <span class="who" data-user=move || state.me.get().map(|me| me.who.user).unwrap_or_default()>
                    {move || state.me.get().map(|me| {
                        let badge = if me.who.platform_admin { " · platform admin" } else { "" };
                        format!("{}{badge}", me.who.user)
                    })}
                </span>
                <button class="link logout" on:click=logout.clone()>"Log out"</button>
            </header>
            <main>{children()}</main>
        </Show>
    }
}

/// Picks the tenant whose meshes the console shows ("all" shows every tenant the user is in).
#[component]
fn TenantSwitcher() -> impl IntoView {
    let state = use_context::<Session>().unwrap_or_else(Session::new);
    let tenants =
        LocalResource::new(|| api::get::<weft_api::inventory::ResourceList>("/api/v1/tenants"));
    let names = move || {
        tenants
            .get()
            .and_then(Result::ok)
            .map(|list| {
                list.items
                    .into_iter()
                    .map(|tenant| tenant.metadata.name)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    view! {
        <select
            name="tenant"
            class="tenant-switcher"
            title="Tenant"
            on:change=move |event| state.choose(event_target_value(&event))
            prop:value=move || state.tenant.get()
        >
            <option value="">"All tenants"</option>
            {move || names().into_iter().map(|name| {
                let label = name.clone();
                view! { <option value=name>{label}</option> }
            }).collect_view()}
        </select>
    }
}
