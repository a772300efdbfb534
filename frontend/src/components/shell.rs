//! The frame around every logged-in page: header, navigation, logout. Sends visitors without a
//! valid session to the login page.

use leptos::prelude::*;
use leptos_router::components::{A, Redirect};
use leptos_router::hooks::use_navigate;

use crate::session;

#[component]
pub fn Shell(children: ChildrenFn) -> impl IntoView {
    let navigate = use_navigate();
    let logout = move |_| {
        session::clear();
        navigate("/login", Default::default());
    };
    view! {
        <Show when=|| session::token().is_some() fallback=|| view! { <Redirect path="/login" /> }>
            <header class="top">
                <A href="/" attr:class="brand">"weft"</A>
                <nav>
                    <A href="/">"Meshes"</A>
                    <A href="/apply">"Apply"</A>
                </nav>
                <button class="link" on:click=logout.clone()>"Log out"</button>
            </header>
            <main>{children()}</main>
        </Show>
    }
}
