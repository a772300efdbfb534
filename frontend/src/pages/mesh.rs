//! One mesh: its live traffic graph and its services.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use weft_api::inventory::{ServiceHealth, ServiceList, ServiceView};

use crate::api::{self, StreamStatus};
use crate::components::error::ErrorNotice;
use std::collections::HashMap;

use leptos_router::components::A;

use crate::components::chart::{Chart, Sample};
use crate::components::graph::{
    GraphControls, GraphView, LabelMode, LockGlyph, RolloutMark, Selection, ZOOM_STEPS,
};
use crate::layout::{Layout, Scene};
use crate::pages::dataplanes::DataplaneTable;
use crate::show::short_time;

/// The time windows the graph offers.
const WINDOWS: [(&str, &str); 4] = [
    ("10s", "10 s"),
    ("1m", "1 min"),
    ("5m", "5 min"),
    ("15m", "15 min"),
];

/// Samples of an edge kept for its sparklines (one a second).
const EDGE_SAMPLES: usize = 300;

#[component]
pub fn MeshPage() -> impl IntoView {
    let params = use_params_map();
    // How the graph is shown outlives the stream: a new window or mesh keeps the choices.
    let controls = GraphControls::new();
    let window = RwSignal::new(WINDOWS[0].0.to_string());
    // A different mesh or window is a different stream: rebuild so the old one is closed.
    move || {
        let mesh = params.read().get("mesh").unwrap_or_default();
        let chosen = window.get();
        view! { <MeshView mesh chosen window controls /> }
    }
}

/// One edge's figures over time, for its sparklines.
#[derive(Clone, Default)]
struct EdgeSeries {
    rate: Vec<Sample>,
    errors: Vec<Sample>,
    p99: Vec<Sample>,
}

#[component]
fn MeshView(
    mesh: String,
    chosen: String,
    window: RwSignal<String>,
    controls: GraphControls,
) -> impl IntoView {
    let scene = RwSignal::new(None::<Scene>);
    // The newest graph; the scene is laid out from it, per version or per service (each with
    // its own sticky layout, so switching back finds everything where it was).
    let latest = RwSignal::new(None::<weft_api::graph::Graph>);
    // One sticky layout per view: by version or service, banded by zone or not.
    let layouts = send_wrapper::SendWrapper::new(RefCell::new([
        Layout::default(),
        Layout::default(),
        Layout::grouped_by_zone(),
        Layout::grouped_by_zone(),
    ]));
    // The first graph on screen is marked for the Performance API (the browser test reads it).
    let painted = RwSignal::new(false);
    Effect::new(move |_| {
        let grouped = controls.by_service.get();
        let view = usize::from(controls.zones.get()) * 2 + usize::from(grouped);
        let pins = controls.pins.get();
        latest.with(|graph| {
            if let Some(graph) = graph {
                let layout = &mut layouts.borrow_mut()[view];
                let placed = if grouped {
                    layout.place(&crate::layout::by_service(graph), &pins)
                } else {
                    layout.place(graph, &pins)
                };
                scene.set(Some(placed));
                if !painted.get_untracked() {
                    painted.set(true);
                    // The next frame's callback runs once this one's pixels are on screen.
                    request_animation_frame(|| {
                        request_animation_frame(|| performance_mark("weft-graph-painted"));
                    });
                }
            }
        });
    });
    let series = RwSignal::new(HashMap::<String, EdgeSeries>::new());
    // Active rollouts, read again with the graph at most every 5 s (no loop of its own).
    let marks = RwSignal::new(Vec::<RolloutMark>::new());
    let marks_read_at = Rc::new(Cell::new(f64::NEG_INFINITY));
    let rollouts_path = format!("/api/v1/meshes/{}/rollouts", api::segment(&mesh));
    let generated_at = RwSignal::new(String::new());
    let status = RwSignal::new(StreamStatus::Connecting);
    // Replay: seconds back from now (0: live). The stream keeps running; its frames are held
    // back while replaying.
    let replay = RwSignal::new(0u64);
    let window_seconds = WINDOWS
        .iter()
        .position(|(value, _)| *value == chosen)
        .map_or(10, |index| [10u64, 60, 300, 900][index]);
    let replay_max = 900u64.saturating_sub(window_seconds);
    let replay_path = format!(
        "/api/v1/meshes/{}/graph?window={}",
        api::segment(&mesh),
        api::segment(&chosen)
    );
    Effect::watch(
        move || replay.get(),
        move |ago, _, _| {
            if *ago == 0 {
                return;
            }
            let path = format!("{replay_path}&ago={ago}s");
            spawn_local(async move {
                if let Ok(graph) = api::get::<weft_api::graph::Graph>(&path).await {
                    generated_at.set(graph.generated_at.clone());
                    latest.set(Some(graph));
                }
            });
        },
        false,
    );
    let logged_out = RwSignal::new(false);

    let cancelled = Rc::new(Cell::new(false));
    let abort = web_sys::AbortController::new().ok();
    if let Some(abort) = abort.clone() {
        let stream_mesh = mesh.clone();
        let stream_window = chosen.clone();
        let stream_cancelled = cancelled.clone();
        spawn_local(async move {
            api::follow_graph(
                stream_mesh,
                stream_window,
                stream_cancelled,
                abort,
                move |graph| {
                    if !painted.get_untracked() {
                        performance_mark("weft-graph-data");
                    }
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
                    let at = js_sys::Date::now() / 1000.0;
                    series.update(|series| {
                        for edge in &graph.edges {
                            let entry = series
                                .entry(format!("{}->{}", edge.source, edge.target))
                                .or_default();
                            for (samples, value) in [
                                (&mut entry.rate, Some(edge.requests_per_second)),
                                (&mut entry.errors, Some(edge.error_rate * 100.0)),
                                (&mut entry.p99, edge.p99_millis),
                            ] {
                                samples.push(Sample { at, value });
                                if samples.len() > EDGE_SAMPLES {
                                    samples.remove(0);
                                }
                            }
                        }
                    });
                    if replay.get_untracked() == 0 {
                        generated_at.set(graph.generated_at.clone());
                        latest.set(Some(graph));
                    }
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
                <span class="mesh-links">
                    <A href=format!("/meshes/{}/policies", api::segment(&mesh)) attr:class="policies-link">"Policies"</A>
                    <A href=format!("/meshes/{}/rollouts", api::segment(&mesh)) attr:class="rollouts-link">"Rollouts"</A>
                </span>
                <p class="stream-status" data-status=move || match status.get() {
                    _ if replay.get() > 0 => "replay",
                    StreamStatus::Live => "live",
                    StreamStatus::Connecting => "connecting",
                    StreamStatus::Retrying(_) => "retrying",
                }>
                    {move || match status.get() {
                        _ if replay.get() > 0 => format!("replay · {}", short_time(&generated_at.get())),
                        StreamStatus::Live => format!("live · {}", short_time(&generated_at.get())),
                        StreamStatus::Connecting => "connecting…".to_string(),
                        StreamStatus::Retrying(reason) => format!("reconnecting ({reason})"),
                    }}
                </p>
            </div>
            <div class="graph-toolbar toolbar">
                <label>"Window "
                    <select name="window" prop:value=move || window.get() on:change=move |event| window.set(event_target_value(&event))>
                        {WINDOWS.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Edge labels "
                    <select name="labels" on:change=move |event| controls.label.set(LabelMode::parse(&event_target_value(&event)))>
                        {LabelMode::ALL.iter().map(|(mode, value, label)| {
                            let mode = *mode;
                            view! { <option value=*value selected=move || controls.label.get() == mode>{*label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>"Find " <input name="find" placeholder="e.g. catalog" prop:value=move || controls.find.get() on:input=move |event| controls.find.set(event_target_value(&event)) on:change=move |event| controls.find.set(event_target_value(&event)) /></label>
                <label>"Hide " <input name="hide" placeholder="names, comma-separated" prop:value=move || controls.hide.get() on:input=move |event| controls.hide.set(event_target_value(&event)) on:change=move |event| controls.hide.set(event_target_value(&event)) /></label>
                <label>"Replay "
                    <input type="range" name="replay" min="0" max=replay_max.to_string() step="5"
                        aria-label="How far back the graph ends (0 is live)"
                        prop:value=move || (replay_max - replay.get().min(replay_max)).to_string()
                        on:change=move |event| {
                            // Right is now; left goes back.
                            let position: u64 = event_target_value(&event).parse().unwrap_or(replay_max);
                            replay.set(replay_max.saturating_sub(position));
                        } />
                    <span class="replay-value">{move || match replay.get() { 0 => "live".to_string(), ago => format!("{} ago", human(ago)) }}</span>
                    <Show when=move || replay.get() != 0>
                        <button class="secondary back-to-live" on:click=move |_| replay.set(0)>"Live"</button>
                    </Show>
                </label>
                <span class="zoom" role="group" aria-label="Zoom">
                    <button class="secondary" name="zoom-out" aria-label="Zoom out" on:click=move |_| controls.zoom.update(|zoom| *zoom = ZOOM_STEPS.iter().rev().copied().find(|step| *step < *zoom - 1e-9).unwrap_or(ZOOM_STEPS[0]))>"−"</button>
                    <span class="zoom-value">{move || format!("{:.0} %", controls.zoom.get() * 100.0)}</span>
                    <button class="secondary" name="zoom-in" aria-label="Zoom in" on:click=move |_| controls.zoom.update(|zoom| *zoom = ZOOM_STEPS.iter().copied().find(|step| *step > *zoom + 1e-9).unwrap_or(ZOOM_STEPS[ZOOM_STEPS.len() - 1]))>"+"</button>
                </span>
                <label><input type="checkbox" name="zones" prop:checked=move || controls.zones.get() on:change=move |event| controls.zones.set(event_target_checked(&event)) />" zones"</label>
                <Show when=move || controls.pins.with(|pins| !pins.is_empty())>
                    <button class="secondary" name="unpin" on:click=move |_| controls.pins.set(Default::default())>"Release pinned"</button>
                </Show>
                <label><input type="checkbox" name="by-service" prop:checked=move || controls.by_service.get() on:change=move |event| controls.by_service.set(event_target_checked(&event)) />" by service"</label>
                <label><input type="checkbox" name="problems" prop:checked=move || controls.problems_only.get() on:change=move |event| controls.problems_only.set(event_target_checked(&event)) />" only problems"</label>
            </div>
            <div class="graph-area" data-window=chosen.clone()>
                <GraphView scene=scene.into() marks=marks.into() controls />
                <SidePanel mesh=mesh.clone() scene=scene.into() series=series.into() marks=marks.into() controls />
            </div>
            <ul class="legend">
                <li class="healthy">"healthy"</li>
                <li class="degraded">"⚠ some 5xx"</li>
                <li class="failing">"✖ ≥ 10 % 5xx"</li>
                <li class="idle">"idle"</li>
                <li class="mtls"><svg class="lock" width="11" height="13" viewBox="0 0 11 13" aria-hidden="true"><LockGlyph /></svg>" all mTLS"</li>
                <li class="denied">"denied by permissions"</li>
                <li class="muted">{format!("rates over the last {}", WINDOWS.iter().find(|(value, _)| *value == chosen).map_or("10 s", |(_, label)| *label))}</li>
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

/// What is picked in the graph, in detail: an edge's figures and sparklines, or a node's
/// instances, dataplanes (to inspect) and rollout.
#[component]
fn SidePanel(
    mesh: String,
    scene: Signal<Option<Scene>>,
    series: Signal<HashMap<String, EdgeSeries>>,
    marks: Signal<Vec<RolloutMark>>,
    controls: GraphControls,
) -> impl IntoView {
    let dataplanes_path = format!("/api/v1/meshes/{}/dataplanes", api::segment(&mesh));
    let dataplanes = LocalResource::new(move || {
        let path = dataplanes_path.clone();
        async move { api::get::<weft_api::inventory::ResourceList>(&path).await }
    });
    move || {
        let selected = controls.selected.get()?;
        let close = move |_| controls.selected.set(None);
        let body = match selected {
            Selection::Edge(source, target) => {
                let id = format!("{source}->{target}");
                let edge = scene.get().and_then(|scene| {
                    scene
                        .edges
                        .into_iter()
                        .find(|edge| edge.source == source && edge.target == target)
                });
                let figures = edge
                    .map(|edge| {
                        format!(
                            "{} · {:.1} % errors · p50 {} · p99 {} · {}{}",
                            crate::layout::format_rate(edge.requests_per_second),
                            edge.error_rate * 100.0,
                            edge.p50_millis
                                .map_or("–".into(), |ms| format!("{ms:.1} ms")),
                            edge.p99_millis
                                .map_or("–".into(), |ms| format!("{ms:.1} ms")),
                            crate::layout::format_mtls(edge.mtls, edge.mtls_share),
                            if edge.denied_per_second > 0.0 {
                                format!(
                                    " · {}",
                                    crate::layout::format_denied(edge.denied_per_second)
                                )
                            } else {
                                String::new()
                            },
                        )
                    })
                    .unwrap_or_else(|| "no traffic in this window".into());
                let key = id.clone();
                let pick = move |part: fn(&EdgeSeries) -> Vec<Sample>| {
                    let key = key.clone();
                    Signal::derive(move || series.get().get(&key).map(part).unwrap_or_default())
                };
                view! {
                    <h3 class="panel-title">{format!("{source} → {target}")}</h3>
                    <p class="edge-figures">{figures}</p>
                    <Chart title="requests/s" samples=pick(|s| s.rate.clone()) gate=Signal::derive(|| None) floor=Some(0.0) ceiling=None class="spark-rate" />
                    <Chart title="errors (%)" samples=pick(|s| s.errors.clone()) gate=Signal::derive(|| None) floor=Some(0.0) ceiling=None class="spark-errors" />
                    <Chart title="p99 (ms)" samples=pick(|s| s.p99.clone()) gate=Signal::derive(|| None) floor=Some(0.0) ceiling=None class="spark-p99" />
                    <p class="muted">"Since this page opened, one point a second."</p>
                }.into_any()
            }
            Selection::Node(id) => {
                let node = scene
                    .get()
                    .and_then(|scene| scene.nodes.into_iter().find(|node| node.id == id));
                let service = node
                    .as_ref()
                    .map(|node| node.service.clone())
                    .unwrap_or_default();
                let version = node.as_ref().and_then(|node| node.version.clone());
                let instances = node.as_ref().map_or(0, |node| node.instances);
                let serving: Vec<String> = dataplanes
                    .get()
                    .and_then(Result::ok)
                    .map(|list| {
                        list.items
                            .iter()
                            .filter(|dataplane| {
                                dataplane.spec["networking"]["inbound"]
                                    .as_array()
                                    .is_some_and(|inbound| {
                                        inbound.iter().any(|port| {
                                            port["tags"]["service"] == service.as_str()
                                                && version.as_deref().is_none_or(|version| {
                                                    port["tags"]["version"] == version
                                                })
                                        })
                                    })
                            })
                            .map(|dataplane| dataplane.metadata.name.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                let rollout = marks.get().into_iter().find(|mark| mark.service == service);
                let mesh = mesh.clone();
                view! {
                    <h3 class="panel-title">{id.clone()}</h3>
                    <p>{format!("{instances} instance(s)")}</p>
                    <h4>"Dataplanes"</h4>
                    <ul class="panel-dataplanes">
                        {serving.into_iter().map(|name| {
                            let href = format!("/meshes/{}/dataplanes/{}", api::segment(&mesh), api::segment(&name));
                            view! { <li><A href=href>{name.clone()}</A>" — policies and config"</li> }
                        }).collect_view()}
                    </ul>
                    {rollout.map(|mark| {
                        let href = format!("/meshes/{}/rollouts", api::segment(&mesh));
                        view! { <p class="panel-rollout">{format!("Under a rollout: canary {} at {} %. ", mark.canary_version, mark.canary_weight)}<A href=href>"Rollouts"</A></p> }
                    })}
                }.into_any()
            }
        };
        Some(view! {
            <aside class="side-panel">
                <button class="secondary close" on:click=close aria-label="Close the panel">"×"</button>
                {body}
            </aside>
        })
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

/// `45 s`, `3 min 20 s`.
fn human(seconds: u64) -> String {
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// Holds a browser-only value for `on_cleanup`, which needs `Send` (the console is single-threaded).
fn send_wrapper<T: 'static>(value: Option<T>) -> send_wrapper::SendWrapper<Cell<Option<T>>> {
    send_wrapper::SendWrapper::new(Cell::new(value))
}

/// A Performance API mark (the browser tests read the graph's first ones).
fn performance_mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|window| window.performance()) {
        let _ = performance.mark(name);
    }
}
