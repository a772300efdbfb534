//! The landing page: every mesh the caller can see, and the zones.

use leptos::prelude::*;
use leptos_router::components::A;
use weft_api::inventory::ResourceList;

use crate::api;
use crate::components::error::ErrorNotice;
use crate::me::use_session;

#[component]
pub fn MeshesPage() -> impl IntoView {
    let meshes = LocalResource::new(|| api::get::<ResourceList>("/api/v1/meshes"));
    let session = use_session();
    let zones = LocalResource::new(|| api::get::<ResourceList>("/api/v1/zones"));
    view! {
        <section>
            <h1>"Meshes"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading meshes…"</p> }>
                {move || meshes.get().map(|result| match result.map(|mut list| {
                    // Only the chosen tenant's meshes (every visible mesh when none is chosen).
                    let tenant = session.tenant.get();
                    list.items.retain(|mesh| tenant.is_empty() || mesh.spec["tenant"] == tenant.as_str());
                    list
                }) {
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    Ok(list) if list.items.is_empty() => view! {
                        <p class="notice">"No meshes yet. Create one with PUT /api/v1/meshes/{name}."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="cards meshes">
                            {list.items.into_iter().map(|mesh| {
                                let name = mesh.metadata.name.clone();
                                let title = name.clone();
                                let href = format!("/meshes/{}", api::segment(&name));
                                let labels: Vec<String> = mesh.metadata.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                                let tenant = mesh.spec["tenant"].as_str().unwrap_or_default().to_string();
                                view! {
                                    <li class="card">
                                        <A href=href attr:class="mesh-link" attr:data-mesh=name>{title}</A>
                                        <p class="muted mesh-tenant">{format!("tenant {tenant}")}</p>
                                        <p class="muted">{labels.join(" ")}</p>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Suspense>
        </section>
        <section>
            <h2>"Zones"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading zones…"</p> }>
                {move || zones.get().map(|result| match result {
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    Ok(list) if list.items.is_empty() => view! { <p class="notice">"No zone has connected yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="zones">
                            <thead><tr><th>"Zone"</th><th>"State"</th><th>"Dataplanes"</th><th>"Version"</th><th>"Last seen"</th></tr></thead>
                            <tbody>
                                {list.items.into_iter().map(|zone| {
                                    let status = zone.status.clone().unwrap_or_default();
                                    let online = status["online"].as_bool().unwrap_or(false);
                                    let text = |field: &str| status[field].as_str().unwrap_or_default().to_string();
                                    let disabled = zone.spec["enabled"] == serde_json::Value::Bool(false);
                                    let state = match (disabled, online) {
                                        (true, _) => "disabled",
                                        (false, true) => "online",
                                        (false, false) => "offline",
                                    };
                                    view! {
                                        <tr data-zone=zone.metadata.name.clone()>
                                            <td>{zone.metadata.name.clone()}</td>
                                            <td class=state>{state}</td>
                                            <td>{status["dataplanes"].as_u64().unwrap_or(0)}</td>
                                            <td>{text("version")}</td>
                                            <td class="muted">{text("lastSeen")}</td>
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
