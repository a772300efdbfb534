//! The traffic graph as SVG: services and versions as boxes, calls as arrows labelled with
//! requests per second and error share, coloured by health.

use leptos::prelude::*;

use crate::layout::{NODE_HEIGHT, NODE_WIDTH, Scene, format_errors, format_rate, health_class};

#[component]
pub fn GraphView(scene: Signal<Option<Scene>>) -> impl IntoView {
    move || {
        match scene.get() {
        None => view! { <div class="graph empty"><p class="muted">"Waiting for the first graph…"</p></div> }.into_any(),
        Some(scene) if scene.nodes.is_empty() => view! {
            <div class="graph empty"><p class="muted">"No services and no traffic in this mesh yet."</p></div>
        }
        .into_any(),
        Some(scene) => render(scene).into_any(),
    }
    }
}

fn render(scene: Scene) -> impl IntoView {
    let view_box = format!("0 0 {:.0} {:.0}", scene.width, scene.height);
    let edges = scene
        .edges
        .into_iter()
        .map(|edge| {
            let class = format!("edge {}", health_class(edge.health));
            let rate = format_rate(edge.requests_per_second);
            let errors = format_errors(edge.error_rate);
            let tooltip = format!(
                "{} → {}: {rate}, {}{}",
                edge.source,
                edge.target,
                if errors.is_empty() { "no errors".to_string() } else { errors.clone() },
                edge.p99_millis.map(|p| format!(", p99 {p:.1} ms")).unwrap_or_default()
            );
            view! {
                <g class=class data-edge=format!("{}->{}", edge.source, edge.target) data-rps=format!("{:.3}", edge.requests_per_second)>
                    <title>{tooltip}</title>
                    <path d=edge.path marker-end="url(#arrow)" />
                    <text class="edge-label" x=format!("{:.1}", edge.label_x) y=format!("{:.1}", edge.label_y) text-anchor="middle">
                        {rate}
                    </text>
                    <text class="edge-label errors" x=format!("{:.1}", edge.label_x) y=format!("{:.1}", edge.label_y + 22.0) text-anchor="middle">
                        {errors}
                    </text>
                </g>
            }
        })
        .collect_view();
    let nodes = scene
        .nodes
        .into_iter()
        .map(|node| {
            let class = if node.external { "node external" } else { "node" };
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
