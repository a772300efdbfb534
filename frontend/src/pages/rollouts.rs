//! Canary rollouts: the list of a mesh's rollouts, and one rollout live — its step bar,
//! weights, the canary's success rate, p99 and request rate against the gates, the decision
//! history, and the actions (with a confirmation) for those whose role allows them.

use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use serde_json::Value;
use weft_api::inventory::ResourceList;
use weft_api::rollouts::{RolloutFrame, RolloutStatus};
use weft_model::Manifest;

use crate::api::{self, StreamStatus};
use crate::components::chart::{Chart, Sample};
use crate::components::error::ErrorNotice;
use crate::me::use_session;
use crate::show::{short_time, text};

/// Samples kept for the live charts (one a second).
const CHART_SAMPLES: usize = 180;

/// "25 %" of a weight.
fn percent(value: &Value) -> String {
    value
        .as_u64()
        .map(|weight| format!("{weight} %"))
        .unwrap_or_default()
}

#[component]
pub fn RolloutsPage() -> impl IntoView {
    let params = use_params_map();
    let mesh = move || params.read().get("mesh").unwrap_or_default();
    let rollouts = LocalResource::new(move || {
        let path = format!("/api/v1/meshes/{}/rollouts", api::segment(&mesh()));
        async move { api::get::<ResourceList>(&path).await }
    });
    view! {
        <section class="rollouts">
            <h1>"Rollouts of " <A href=move || format!("/meshes/{}", api::segment(&mesh()))>{mesh}</A></h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading rollouts…"</p> }>
                {move || rollouts.get().map(|result| match result {
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    Ok(list) if list.items.is_empty() => view! {
                        <p class="notice">"No rollout in this mesh. Apply a Rollout (service, stable and canary tags, steps, interval, gates) to start one."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <table class="rollouts">
                            <thead><tr><th>"Rollout"</th><th>"Service"</th><th>"Phase"</th><th>"Step"</th><th>"Canary"</th><th>"Reason"</th></tr></thead>
                            <tbody>
                                {list.items.into_iter().map(|rollout| {
                                    let status = rollout.status.clone().unwrap_or_default();
                                    let steps = rollout.spec["steps"].as_array().map_or(0, Vec::len);
                                    let href = format!("/meshes/{}/rollouts/{}", api::segment(&mesh()), api::segment(&rollout.metadata.name));
                                    let name = rollout.metadata.name.clone();
                                    let label = name.clone();
                                    let service = text(&rollout.spec["service"]);
                                    view! {
                                        <tr data-rollout=name>
                                            <td><A href=href>{label}</A></td>
                                            <td>{service}</td>
                                            <td class=format!("phase {}", text(&status["phase"]))>{text(&status["phase"])}</td>
                                            <td>{format!("{} of {steps}", status["step"].as_u64().unwrap_or(0) + 1)}</td>
                                            <td>{percent(&status["canaryWeight"])}</td>
                                            <td class="muted">{text(&status["reason"])}</td>
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

#[component]
pub fn RolloutPage() -> impl IntoView {
    let params = use_params_map();
    // Another rollout is another page: rebuild it so the old stream closes.
    move || {
        let mesh = params.read().get("mesh").unwrap_or_default();
        let name = params.read().get("name").unwrap_or_default();
        view! { <RolloutView mesh name /> }
    }
}

/// The charts' samples, newest last.
#[derive(Clone, Default)]
struct Series {
    success: Vec<Sample>,
    p99: Vec<Sample>,
    rate: Vec<Sample>,
}

impl Series {
    fn push(&mut self, frame: &RolloutFrame) {
        let at = frame.live.at as f64 / 1000.0;
        for (series, value) in [
            (&mut self.success, frame.live.success_rate),
            (&mut self.p99, frame.live.p99_millis),
            (&mut self.rate, Some(frame.live.requests_per_second)),
        ] {
            series.push(Sample { at, value });
            if series.len() > CHART_SAMPLES {
                series.remove(0);
            }
        }
    }
}

#[component]
fn RolloutView(mesh: String, name: String) -> impl IntoView {
    let session = use_session();
    let path = format!(
        "/api/v1/meshes/{}/rollouts/{}",
        api::segment(&mesh),
        api::segment(&name)
    );
    let manifest = LocalResource::new({
        let path = path.clone();
        move || {
            let path = path.clone();
            async move { api::get::<Manifest>(&path).await }
        }
    });
    let mesh_path = format!("/api/v1/meshes/{}", api::segment(&mesh));
    let mesh_manifest = LocalResource::new(move || {
        let path = mesh_path.clone();
        async move { api::get::<Manifest>(&path).await }
    });
    let status = RwSignal::new(None::<RolloutStatus>);
    let series = RwSignal::new(Series::default());
    let stream = RwSignal::new(StreamStatus::Connecting);
    let gone = RwSignal::new(false);
    let problem = RwSignal::new(None::<api::ApiError>);
    let confirming = RwSignal::new(None::<&'static str>);

    let cancelled = Rc::new(Cell::new(false));
    let abort = web_sys::AbortController::new().ok();
    if let Some(abort) = abort.clone() {
        let url = format!("{path}/stream");
        let stream_cancelled = cancelled.clone();
        spawn_local(async move {
            api::follow::<RolloutFrame>(
                &url,
                "rollout",
                stream_cancelled,
                abort,
                move |frame| {
                    series.update(|series| series.push(&frame));
                    status.set(Some(frame.status));
                },
                move |next| {
                    if let StreamStatus::Retrying(reason) = &next
                        && reason.contains("404")
                    {
                        gone.set(true);
                    }
                    stream.set(next);
                },
            )
            .await;
        });
    }
    let cleanup = send_wrapper::SendWrapper::new((Some(cancelled), abort));
    on_cleanup(move || {
        let (cancelled, abort) = &*cleanup;
        if let Some(cancelled) = cancelled {
            cancelled.set(true);
        }
        if let Some(abort) = abort {
            abort.abort();
        }
    });

    // Only editors and owners of the mesh's tenant see the actions (the server checks anyway).
    let may_act = move || {
        let tenant = mesh_manifest
            .get()
            .and_then(Result::ok)
            .map(|mesh| text(&mesh.spec["tenant"]))
            .unwrap_or_default();
        session.me.get().is_some_and(|me| me.can(&tenant, "editor"))
    };
    let act = {
        let path = path.clone();
        move |action: &'static str| {
            let url = format!("{path}/{action}");
            confirming.set(None);
            spawn_local(async move {
                match api::send_json::<RolloutStatus>("POST", &url, &Value::Null).await {
                    Ok(next) => {
                        problem.set(None);
                        status.set(Some(next));
                    }
                    Err(error) => problem.set(Some(error)),
                }
            });
        }
    };
    let spec = move || {
        manifest
            .get()
            .and_then(Result::ok)
            .map(|manifest| manifest.spec)
            .unwrap_or_default()
    };
    let gate = move |field: &str| {
        let spec = spec();
        match field {
            "successRate" => spec["gates"]["successRate"].as_f64(),
            _ => spec["gates"]["p99"]
                .as_str()
                .and_then(|text| weft_model::duration::Duration::parse(text).ok())
                .map(|p99| p99.as_std().as_secs_f64() * 1000.0),
        }
    };
    let phase = move || {
        status
            .get()
            .map(|status| status.state.phase.name())
            .unwrap_or("")
    };
    let actions: [(&'static str, &'static str, &'static str); 4] = [
        (
            "pause",
            "Pause",
            "Pause: the weights stay where they are until you resume.",
        ),
        (
            "resume",
            "Resume",
            "Resume at the current step; its interval starts again.",
        ),
        (
            "promote",
            "Promote",
            "Promote: send all traffic to the canary now.",
        ),
        (
            "abort",
            "Abort",
            "Abort: send all traffic back to stable now.",
        ),
    ];
    let allowed = move |action: &str| match (action, phase()) {
        (_, "Promoted" | "RolledBack" | "Aborted" | "") => false,
        ("resume", phase) => phase == "Paused",
        ("pause", phase) => phase != "Paused" && phase != "RollingBack",
        (_, phase) => phase != "RollingBack",
    };

    view! {
        <section class="rollout" data-rollout=name.clone()>
            <div class="title-row">
                <h1>"Rollout " <span class="rollout-name">{name.clone()}</span></h1>
                <p class="stream-status" data-status=move || match stream.get() {
                    StreamStatus::Live => "live",
                    StreamStatus::Connecting => "connecting",
                    StreamStatus::Retrying(_) => "retrying",
                }>{move || match stream.get() {
                    StreamStatus::Live => "live".to_string(),
                    StreamStatus::Connecting => "connecting…".to_string(),
                    StreamStatus::Retrying(reason) => format!("reconnecting ({reason})"),
                }}</p>
            </div>
            <p class="muted">
                {move || format!("service {} · stable {} → canary {} · every {}",
                    text(&spec()["service"]), text(&spec()["stable"]["tags"]["version"]),
                    text(&spec()["canary"]["tags"]["version"]), text(&spec()["interval"]))}
                " · " <A href=format!("/meshes/{}/rollouts", api::segment(&mesh))>"all rollouts"</A>
            </p>
            <Show when=move || gone.get()>
                <p class="notice error">"This rollout does not exist (any more)."</p>
            </Show>
            {move || problem.get().map(|error| view! { <ErrorNotice error /> })}
            {move || status.get().map(|current| {
                let steps: Vec<u64> = spec()["steps"].as_array().map(|steps| steps.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
                let state = current.state.clone();
                view! {
                    <div class="rollout-summary">
                        <span class=format!("phase {}", state.phase.name()) data-phase=state.phase.name()>{state.phase.name()}</span>
                        <span class="weights" data-weight=state.canary_weight.to_string()>
                            {format!("stable {} % · canary {} %", 100 - state.canary_weight.min(100), state.canary_weight)}
                        </span>
                        {state.paused_by.clone().map(|by| view! { <span class="muted">{format!("paused by {by}")}</span> })}
                        {(!state.reason.is_empty()).then(|| view! { <span class="reason">{state.reason.clone()}</span> })}
                    </div>
                    <ol class="step-bar">
                        {steps.iter().enumerate().map(|(index, weight)| {
                            let class = if index < state.step || state.phase.name() == "Promoted" {
                                "step done"
                            } else if index == state.step && state.canary_weight > 0 {
                                "step current"
                            } else {
                                "step"
                            };
                            view! { <li class=class data-step=index.to_string()>{format!("{weight} %")}</li> }
                        }).collect_view()}
                    </ol>
                }
            })}
            <div class="rollout-actions">
                <Show when=may_act>
                    {actions.iter().map(|(action, label, _)| {
                        let action = *action;
                        view! {
                            <button class=format!("secondary action-{action}") disabled=move || !allowed(action)
                                on:click=move |_| confirming.set(Some(action))>{*label}</button>
                        }
                    }).collect_view()}
                </Show>
                {move || confirming.get().map(|action| {
                    let question = actions.iter().find(|(name, _, _)| *name == action).map(|(_, _, question)| *question).unwrap_or_default();
                    let act = act.clone();
                    view! {
                        <div class="confirm notice">
                            <span>{question}</span>
                            <button class="confirm-yes" on:click=move |_| act(action)>"Confirm"</button>
                            <button class="secondary confirm-no" on:click=move |_| confirming.set(None)>"Cancel"</button>
                        </div>
                    }
                })}
            </div>
            <div class="charts">
                <Chart title="canary success rate (%)" samples=Signal::derive(move || series.get().success) gate=Signal::derive(move || gate("successRate")) floor=Some(0.0) ceiling=Some(100.0) class="chart-success" />
                <Chart title="canary p99 (ms)" samples=Signal::derive(move || series.get().p99) gate=Signal::derive(move || gate("p99")) floor=Some(0.0) ceiling=None class="chart-p99" />
                <Chart title="canary requests per second" samples=Signal::derive(move || series.get().rate) gate=Signal::derive(|| None) floor=Some(0.0) ceiling=None class="chart-rate" />
            </div>
            <h2>"Decisions"</h2>
            {move || status.get().map(|current| view! {
                <table class="history">
                    <thead><tr><th>"When"</th><th>"Who"</th><th>"Weight"</th><th>"Check"</th><th>"Measured"</th><th>"Gates"</th><th>"Decision"</th></tr></thead>
                    <tbody>
                        {current.history.into_iter().map(|entry| {
                            let decision = entry.decision;
                            let check = decision.check.clone();
                            let verdict = check.as_ref().map(|check| format!("{:?}", check.verdict)).unwrap_or_default();
                            let measured = check.as_ref().map(|check| format!(
                                "{} req · {} · p99 {}",
                                check.measured.requests,
                                check.measured.success_rate.map(|rate| format!("{rate:.1} % ok")).unwrap_or_else(|| "no answers".into()),
                                check.measured.p99_millis.map(|p99| format!("{p99:.0} ms")).unwrap_or_else(|| "–".into()),
                            )).unwrap_or_default();
                            let gates = check.as_ref().map(|check| {
                                let mut parts = vec![format!("≥ {} req", check.min_requests)];
                                if let Some(rate) = check.success_rate_gate { parts.push(format!("≥ {rate} %")); }
                                if let Some(p99) = check.p99_gate_millis { parts.push(format!("p99 ≤ {p99:.0} ms")); }
                                parts.join(" · ")
                            }).unwrap_or_default();
                            view! {
                                <tr data-entry=entry.id.clone() data-verdict=verdict.clone()>
                                    <td>{short_time(&entry.at)}</td>
                                    <td>{decision.by.clone()}</td>
                                    <td>{if decision.weight_before == decision.weight_after { format!("{} %", decision.weight_after) } else { format!("{} → {} %", decision.weight_before, decision.weight_after) }}</td>
                                    <td class=format!("verdict {verdict}")>{verdict.clone()}</td>
                                    <td>{measured}</td>
                                    <td class="muted">{gates}</td>
                                    <td>{decision.message.clone()}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            })}
        </section>
    }
}
