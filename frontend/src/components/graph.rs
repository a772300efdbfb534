//! The traffic graph as SVG: services and versions as boxes, calls as arrows labelled with
//! requests per second, error share and denials, coloured by health; a lock marks edges whose
//! traffic all travelled over mTLS.

use leptos::prelude::*;

use crate::layout::{
    NODE_HEIGHT, NODE_WIDTH, Scene, format_denied, format_errors, format_mtls, format_rate,
    health_class,
};

/// A service under an active rollout: its canary version and the canary's weight.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutMark {
    pub service: String,
    pub stable_version: String,
    pub canary_version: String,
    pub canary_weight: u32,
}

#[component]
pub fn GraphView(scene: Signal<Option<Scene>>, marks: Signal<Vec<RolloutMark>>) -> impl IntoView {
    move || {
        let marks = marks.get();
        match scene.get() {
        None => view! { <div class="graph empty"><p class="muted">"Waiting for the first graph…"</p></div> }.into_any(),
        Some(scene) if scene.nodes.is_empty() => view! {
            <div class="graph empty"><p class="muted">"No services and no traffic in this mesh yet."</p></div>
        }
        .into_any(),
        Some(scene) => render(scene, &marks).into_any(),
    }
    }
}

fn render(scene: Scene, marks: &[RolloutMark]) -> impl IntoView {
    let view_box = format!("0 0 {:.0} {:.0}", scene.width, scene.height);
    let edges = scene
        .edges
        .into_iter()
        .map(|edge| {
            let class = format!("edge {}", health_class(edge.health));
            let rate = format_rate(edge.requests_per_second);
            let errors = format_errors(edge.error_rate);
            let denied = format_denied(edge.denied_per_second);
            let tooltip = format!(
                "{} → {}: {rate}, {}{}{}, {}",
                edge.source,
                edge.target,
                if errors.is_empty() { "no errors".to_string() } else { errors.clone() },
                edge.p99_millis.map(|p| format!(", p99 {p:.1} ms")).unwrap_or_default(),
                if denied.is_empty() { String::new() } else { format!(", {denied} by permissions") },
                format_mtls(edge.mtls, edge.mtls_share),
            );
            // The lock sits just above the rate label.
            let lock = edge.mtls.then(|| {
                let (x, y) = (edge.label_x - 5.5, edge.label_y - 29.0);
                view! { <g class="lock" transform=format!("translate({x:.1},{y:.1})")><LockGlyph /></g> }
            });
            let denied_label = (!denied.is_empty()).then(|| {
                view! {
                    <text class="edge-label denied" x=format!("{:.1}", edge.label_x) y=format!("{:.1}", edge.label_y + 38.0) text-anchor="middle">
                        {denied.clone()}
                    </text>
                }
            });
            view! {
                <g class=class data-edge=format!("{}->{}", edge.source, edge.target) data-rps=format!("{:.3}", edge.requests_per_second)
                    data-mtls=if edge.mtls { "true" } else { "false" } data-denied=format!("{:.3}", edge.denied_per_second)>
                    <title>{tooltip}</title>
                    <path d=edge.path marker-end="url(#arrow)" />
                    <text class="edge-label" x=format!("{:.1}", edge.label_x) y=format!("{:.1}", edge.label_y) text-anchor="middle">
                        {rate}
                    </text>
                    <text class="edge-label errors" x=format!("{:.1}", edge.label_x) y=format!("{:.1}", edge.label_y + 22.0) text-anchor="middle">
                        {errors}
                    </text>
                    {denied_label}
                    {lock}
                </g>
            }
        })
        .collect_view();
    let nodes = scene
        .nodes
        .into_iter()
        .map(|node| {
            let mark = marks.iter().find(|mark| mark.service == node.service);
            let class = match (node.external, mark) {
                (true, _) => "node external",
                (false, Some(_)) => "node rollout",
                (false, None) => "node",
            };
            // Under a rollout, each version says its share: "canary 25 %" / "stable 75 %".
            let badge = mark.and_then(|mark| {
                let version = node.version.as_deref()?;
                let text = if version == mark.canary_version {
                    format!("canary {} %", mark.canary_weight)
                } else if version == mark.stable_version {
                    format!("stable {} %", 100 - mark.canary_weight.min(100))
                } else {
                    return None;
                };
                Some(view! { <text class="rollout-badge" x="12" y="-6">{text}</text> })
            });
            let subtitle = match (&node.version, node.external) {
                (_, true) => "outside the mesh".to_string(),
                (Some(version), _) => format!("{version} · {} inst.", node.instances),
                (None, _) => format!("{} inst.", node.instances),
            };
            view! {
                <g class=class data-node=node.id.clone() transform=format!("translate({:.1},{:.1})", node.x, node.y)>
                    <rect width=NODE_WIDTH height=NODE_HEIGHT rx="8" />
                    <text class="service" x="12" y="21">{node.service}</text>
                    <text class="version" x="12" y="38">{subtitle}</text>
                    {badge}
                </g>
            }
        })
        .collect_view();
    view! {
        <div class="graph">
            <svg viewBox=view_box width=format!("{:.0}", scene.width) height=format!("{:.0}", scene.height) role="img" aria-label="traffic graph">
                <defs>
                    <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M0,0 L10,5 L0,10 z" />
                    </marker>
                </defs>
                <g class="edges">{edges}</g>
                <g class="nodes">{nodes}</g>
            </svg>
        </div>
    }
}

/// A small padlock, 11 × 13, for mTLS edges and the legend.
#[component]
pub fn LockGlyph() -> impl IntoView {
    view! {
        <path class="shackle" d="M2.5,6 V4 a3,3 0 0 1 6,0 V6" />
        <rect class="body" x="0.5" y="6" width="10" height="7" rx="1.5" />
    }
}
