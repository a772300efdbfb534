//! The Weft console: login, meshes, and each mesh's live traffic graph.
//! Client-side rendered with Leptos and served by weft-global at `/`.

mod api;
mod app;
mod components;
mod highlight;
mod layout;
mod me;
mod pages;
mod session;
mod show;

fn main() {
    leptos::mount::mount_to_body(app::App);
}
