//! One mesh: its live traffic graph and its services.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use weft_api::inventory::{ServiceHealth, ServiceList, ServiceView};

use crate::api::{self, StreamStatus};
use crate::components::error::ErrorNotice;
use crate::components::graph::{GraphView, LockGlyph, RolloutMark};
use crate::layout::{Layout, Scene};
use crate::pages::dataplanes::DataplaneTable;

#[component]
pub fn MeshPage() -> impl IntoView {
    let params = use_params_map();
    // A different mesh is a different page: rebuild it so the old stream is closed.
    move || {
        let mesh = params.read().get("mesh").unwrap_or_default();
        view! { <MeshView mesh /> }
    }
}

#[component]
fn MeshView(mesh: String) -> impl IntoView {
    let scene = RwSignal::new(None::<Scene>);
    // Active rollouts, read again with the graph at most every 5 s (no loop of its own).
    let marks = RwSignal::new(Vec::<RolloutMark>::new());
    let marks_read_at = Rc::new(Cell::new(f64::NEG_INFINITY));
    let rollouts_path = format!("/api/v1/meshes/{}/rollouts", api::segment(&mesh));
    let generated_at = RwSignal::new(String::new());
    let status = RwSignal::new(StreamStatus::Connecting);
    let logged_out = RwSignal::new(false);

    let cancelled = Rc::new(Cell::new(false));
    let abort = web_sys::AbortController::new().ok();
    if let Some(abort) = abort.clone() {
        let layout = Rc::new(RefCell::new(Layout::default()));
        let stream_mesh = mesh.clone();
        let stream_cancelled = cancelled.clone();
        spawn_local(async move {
            api::follow_graph(
                stream_mesh,
                stream_cancelled,
                abort,
                move |graph| {
                    let now = js_sys::Date::now();
                    if now - marks_read_at.get() >= 5_000.0 {
                        marks_read_at.set(now);
                        let path = rollouts_path.clone();
                        spawn_local(async move {
                            if let Ok(list) =
                                api::get::<weft_api::inventory::ResourceList>(&path).await
                            {
                                marks.set(rollout_marks(&list));
                            }
                        });
                    }
                    let placed = layout.borrow_mut().place(&graph);
                    generated_at.set(graph.generated_at.clone());
                    scene.set(Some(placed));
                },
                move |next| status.set(next),
            )
            .await;
            // The stream only gives up when the session ended.
            if crate::session::token().is_none() {
                logged_out.set(true);
            }
        });
    }
    let cleanup_abort = send_wrapper(abort);
    let cleanup_cancelled = send_wrapper(Some(cancelled));
    on_cleanup(move || {
        if let Some(cancelled) = Cell::take(&*cleanup_cancelled) {
            cancelled.set(true);
        }
        if let Some(abort) = Cell::take(&*cleanup_abort) {
            abort.abort();
        }
    });

    let services_path = format!("/api/v1/meshes/{}/services", api::segment(&mesh));
    let services = LocalResource::new(move || {
        let path = services_path.clone();
        async move { api::get::<ServiceList>(&path).await }
    });

    view! {
        <Show when=move || logged_out.get()>
            <leptos_router::components::Redirect path="/login" />
        </Show>
        <section class="mesh">
            <div class="title-row">
                <h1>"Mesh " <span class="mesh-name">{mesh.clone()}</span></h1>
                <leptos_router::components::A href=format!("/meshes/{}/rollouts", api::segment(&mesh)) attr:class="rollouts-link">"Rollouts"</leptos_router::components::A>
                <p class="stream-status" data-status=move || match status.get() {
                    StreamStatus::Live => "live",
                    StreamStatus::Connecting => "connecting",
                    StreamStatus::Retrying(_) => "retrying",
                }>
                    {move || match status.get() {
                        StreamStatus::Live => format!("live · {}", short_time(&generated_at.get())),
                        StreamStatus::Connecting => "connecting…".to_string(),
                        StreamStatus::Retrying(reason) => format!("reconnecting ({reason})"),
                    }}
                </p>
            </div>
            <GraphView scene=scene.into() marks=marks.into() />
            <ul class="legend">
                <li class="healthy">"healthy"</li>
                <li class="degraded">"some 5xx"</li>
                <li class="failing">"≥ 10 % 5xx"</li>
                <li class="idle">"idle"</li>
                <li class="mtls"><svg class="lock" width="11" height="13" viewBox="0 0 11 13" aria-hidden="true"><LockGlyph /></svg>" all mTLS"</li>
                <li class="denied">"denied by permissions"</li>
                <li class="muted">"rates over the last 10 s"</li>
            </ul>
        </section>
        <section>
            <h2>"Services"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading services…"</p> }>
                {move || services.get().map(|result| match result {
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    Ok(list) if list.items.is_empty() => view! { <p class="notice">"No dataplane has registered in this mesh yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="services">
                            <thead><tr><th>"Service"</th><th>"Versions"</th><th>"Instances"</th><th>"Zones"</th><th>"Health checks"</th></tr></thead>
                            <tbody>
                                {list.items.into_iter().map(|service| { let checks = health_text(&service); view! {
                                    <tr>
                                        <td>{service.name}</td>
                                        <td>{service.versions.join(", ")}</td>
                                        <td>{service.instances}</td>
                                        <td>{service.zones.join(", ")}</td>
                                        <td class=health_class(service.health)>{checks}</td>
                                    </tr>
                                }}).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
        </section>
        <section>
            <h2>"Dataplanes"</h2>
            <DataplaneTable mesh=mesh.clone() />
        </section>
    }
}

/// The services under a rollout that is still moving.
fn rollout_marks(list: &weft_api::inventory::ResourceList) -> Vec<RolloutMark> {
    list.items
        .iter()
        .filter_map(|rollout| {
            let status = rollout.status.as_ref()?;
            let phase = status["phase"].as_str()?;
            if matches!(phase, "Promoted" | "RolledBack" | "Aborted") {
                return None;
            }
            let version = |subset: &str| {
                rollout.spec[subset]["tags"]["version"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            };
            Some(RolloutMark {
                service: rollout.spec["service"].as_str()?.to_string(),
                stable_version: version("stable"),
                canary_version: version("canary"),
                canary_weight: u32::try_from(status["canaryWeight"].as_u64()?).ok()?,
            })
        })
        .collect()
}

fn health_class(health: ServiceHealth) -> &'static str {
    match health {
        ServiceHealth::Unknown => "health unknown",
        ServiceHealth::Healthy => "health healthy",
        ServiceHealth::Degraded => "health degraded",
        ServiceHealth::Unhealthy => "health failing",
    }
}

/// "2 of 3 failing", "passing", "not checked".
fn health_text(service: &ServiceView) -> String {
    match service.health {
        ServiceHealth::Unknown => "not checked".into(),
        ServiceHealth::Healthy => "passing".into(),
        ServiceHealth::Degraded | ServiceHealth::Unhealthy => format!(
            "{} of {} failing",
            service.unhealthy_instances,
            service.instances - service.unchecked_instances
        ),
    }
}

/// `HH:MM:SS` of an RFC 3339 time.
fn short_time(rfc3339: &str) -> String {
    rfc3339
        .split('T')
        .nth(1)
        .map(|time| time.chars().take(8).collect())
        .unwrap_or_default()
}

/// Holds a browser-only value for `on_cleanup`, which needs `Send` (the console is single-threaded).
fn send_wrapper<T: 'static>(value: Option<T>) -> send_wrapper::SendWrapper<Cell<Option<T>>> {
    send_wrapper::SendWrapper::new(Cell::new(value))
}
