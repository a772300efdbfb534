//! Zones: each zone control plane, whether it is connected, its version, when it was last
//! seen, and how many of the dataplanes the user may see it holds.

use leptos::prelude::*;
use weft_api::inventory::ResourceList;

use crate::api;
use crate::components::error::ErrorNotice;

#[component]
pub fn ZonesPage() -> impl IntoView {
    let zones = LocalResource::new(|| api::get::<ResourceList>("/api/v1/zones"));
    view! {
        <section class="zones">
            <h1>"Zones"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading zones…"</p> }>
                {move || zones.get().map(|result| match result {
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    Ok(list) if list.items.is_empty() => view! { <p class="notice">"No zone has connected yet. Issue a zone token and start weft-zone."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="zones">
                            <thead><tr><th>"Zone"</th><th>"State"</th><th>"Version"</th><th>"Last seen"</th><th>"Dataplanes"</th></tr></thead>
                            <tbody>
                                {list.items.into_iter().map(|zone| {
                                    let status = zone.status.clone().unwrap_or_default();
                                    let online = status["online"].as_bool().unwrap_or(false);
                                    // Not colour alone: a symbol and a word too.
                                    let (class, label) = if online { ("zone-state online", "● online") } else { ("zone-state offline", "○ offline") };
                                    view! {
                                        <tr data-zone=zone.metadata.name.clone() data-online=online.to_string()>
                                            <td>{zone.metadata.name.clone()}</td>
                                            <td class=class>{label}</td>
                                            <td>{status["version"].as_str().unwrap_or("–").to_string()}</td>
                                            <td>{status["lastSeen"].as_str().unwrap_or("–").to_string()}</td>
                                            <td>{status["dataplanes"].as_u64().unwrap_or(0)}</td>
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

/// Any path the console does not know.
#[component]
pub fn NotFound() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    view! {
        <section class="not-found">
            <h1>"Page not found"</h1>
            <p>"Nothing lives at " <code>{move || location.pathname.get()}</code> "."</p>
            <p><leptos_router::components::A href="/">"Back to the meshes"</leptos_router::components::A></p>
        </section>
    }
}
