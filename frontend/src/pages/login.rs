//! Login with user name and password.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use crate::{api, session};

#[component]
pub fn LoginPage() -> impl IntoView {
    let username = RwSignal::new(String::from("admin"));
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let navigate = use_navigate();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::login(username.get_untracked(), password.get_untracked()).await {
                Ok(response) => {
                    session::store(&response.token, &response.expires_at);
                    navigate("/", Default::default());
                }
                Err(failure) => error.set(Some(failure.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <main class="login">
            <form class="card" on:submit=submit>
                <h1>"weft"</h1>
                <p class="muted">"Sign in to the console"</p>
                <label>
                    "User"
                    <input name="username" autocomplete="username" required bind:value=username />
                </label>
                <label>
                    "Password"
                    <input name="password" type="password" autocomplete="current-password" required bind:value=password />
                </label>
                {move || error.get().map(|message| view! { <p class="notice error" role="alert">{message}</p> })}
                <button type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}
