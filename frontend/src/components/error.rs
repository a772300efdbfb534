//! How an API error shows on a page; an expired session goes back to the login page.

use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::api::ApiError;

#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
    if error.unauthorized() {
        return view! { <Redirect path="/login" /> }.into_any();
    }
    view! { <p class="notice error" role="alert">{error.message}</p> }.into_any()
}
