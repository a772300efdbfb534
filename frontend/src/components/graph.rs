//! The traffic graph as SVG: services and versions as boxes, calls as arrows labelled with
//! requests per second, error share and denials, coloured by health; a lock marks edges whose
//! traffic all travelled over mTLS.

use leptos::prelude::*;
use weft_api::graph::Health;

use crate::layout::{
    NODE_HEIGHT, NODE_WIDTH, PlacedEdge, Scene, format_denied, format_errors, format_mtls,
    format_rate, health_class,
};

/// What the main label of an edge shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LabelMode {
    #[default]
    Rate,
    Errors,
    P50,
    P99,
    None,
}

impl LabelMode {
    pub const ALL: [(LabelMode, &'static str, &'static str); 5] = [
        (LabelMode::Rate, "rate", "requests/s"),
        (LabelMode::Errors, "errors", "error %"),
        (LabelMode::P50, "p50", "p50 latency"),
        (LabelMode::P99, "p99", "p99 latency"),
        (LabelMode::None, "none", "no labels"),
    ];

    pub fn parse(text: &str) -> LabelMode {
        LabelMode::ALL
            .iter()
            .find(|(_, value, _)| *value == text)
            .map_or(LabelMode::Rate, |(mode, _, _)| *mode)
    }
}

/// The main label of an edge in `mode`.
pub fn edge_label(edge: &PlacedEdge, mode: LabelMode) -> String {
    let latency = |value: Option<f64>, name: &str| {
        value.map_or_else(|| format!("{name} –"), |ms| format!("{name} {ms:.1} ms"))
    };
    match mode {
        LabelMode::Rate => format_rate(edge.requests_per_second),
        LabelMode::Errors => format!("{:.1}% err", edge.error_rate * 100.0),
        LabelMode::P50 => latency(edge.p50_millis, "p50"),
        LabelMode::P99 => latency(edge.p99_millis, "p99"),
        LabelMode::None => String::new(),
    }
}

/// Health in a symbol too, so it does not rest on colour alone.
pub fn health_glyph(health: Health) -> &'static str {
    match health {
        Health::Failing => "✖ ",
        Health::Degraded => "⚠ ",
        Health::Healthy | Health::Idle => "",
    }
}

/// What is picked in the graph.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    Node(String),
    Edge(String, String),
}

/// How the graph is shown: label mode, highlighted and hidden names, problems only, and
/// what is picked.
#[derive(Clone, Copy)]
pub struct GraphControls {
    pub label: RwSignal<LabelMode>,
    pub find: RwSignal<String>,
    pub hide: RwSignal<String>,
    pub problems_only: RwSignal<bool>,
    pub selected: RwSignal<Option<Selection>>,
    /// One node per service instead of per version.
    pub by_service: RwSignal<bool>,
    /// Drawing scale: 1 is one layout unit per pixel.
    pub zoom: RwSignal<f64>,
    /// Nodes banded by their zones.
    pub zones: RwSignal<bool>,
    /// Where the user dropped nodes they dragged (layout units); these stay put.
    pub pins: RwSignal<std::collections::BTreeMap<String, (f64, f64)>>,
    /// A drag just ended: the click it produces selects nothing.
    pub dragged: RwSignal<bool>,
}

/// A node being dragged: where the pointer and the node started.
#[derive(Clone, Debug)]
struct Drag {
    id: String,
    pointer: (f64, f64),
    node: (f64, f64),
    moved: bool,
}

/// Pointer travel (pixels) below which a press is a click, not a drag.
const DRAG_THRESHOLD: f64 = 4.0;

/// Zoom steps offered by the − and + buttons.
pub const ZOOM_STEPS: [f64; 7] = [0.25, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0];

/// Above this many edges, labels are drawn only where they answer a question: edges with
/// problems and edges of the selected or found services (every edge keeps its tooltip).
pub const LABELLED_EDGES: usize = 150;

impl GraphControls {
    pub fn new() -> GraphControls {
        GraphControls {
            label: RwSignal::new(LabelMode::Rate),
            find: RwSignal::new(String::new()),
            hide: RwSignal::new(String::new()),
            problems_only: RwSignal::new(false),
            selected: RwSignal::new(None),
            by_service: RwSignal::new(false),
            zoom: RwSignal::new(1.0),
            zones: RwSignal::new(false),
            pins: RwSignal::new(Default::default()),
            dragged: RwSignal::new(false),
        }
    }
}

/// Whether a comma-separated list of name fragments matches a node id.
fn matches_any(list: &str, id: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|part| !part.is_empty() && id.contains(part))
}

/// The scene with hidden nodes (and their edges) left out and, for "problems only", healthy
/// and idle edges too.
pub fn filtered(mut scene: Scene, hide: &str, problems_only: bool) -> Scene {
    scene.nodes.retain(|node| !matches_any(hide, &node.id));
    let kept: std::collections::HashSet<String> =
        scene.nodes.iter().map(|node| node.id.clone()).collect();
    scene.edges.retain(|edge| {
        kept.contains(&edge.source)
            && kept.contains(&edge.target)
            && (!problems_only || matches!(edge.health, Health::Degraded | Health::Failing))
    });
    scene
}

/// A service under an active rollout: its canary version and the canary's weight.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutMark {
    pub service: String,
    pub stable_version: String,
    pub canary_version: String,
    pub canary_weight: u32,
}

#[component]
pub fn GraphView(
    scene: Signal<Option<Scene>>,
    marks: Signal<Vec<RolloutMark>>,
    controls: GraphControls,
) -> impl IntoView {
    let drag = StoredValue::new(None::<Drag>);
    // The graph is drawn anew on every update, so the drag follows the pointer on the window,
    // not on the node's element (which may be replaced mid-drag).
    let moving = window_event_listener(leptos::ev::pointermove, move |event| {
        drag_to(drag, controls, &event);
    });
    let released = window_event_listener(leptos::ev::pointerup, move |event| {
        drag_to(drag, controls, &event);
        if drag.with_value(|drag| drag.as_ref().is_some_and(|drag| drag.moved)) {
            // The click that follows the release is not a click on the node.
            controls.dragged.set(true);
            set_timeout(
                move || controls.dragged.set(false),
                std::time::Duration::ZERO,
            );
        }
        drag.set_value(None);
    });
    on_cleanup(move || {
        moving.remove();
        released.remove();
    });
    move || {
        let marks = marks.get();
        let scene = scene
            .get()
            .map(|scene| filtered(scene, &controls.hide.get(), controls.problems_only.get()));
        match scene {
        None => view! { <div class="graph empty"><p class="muted">"Waiting for the first graph…"</p></div> }.into_any(),
        Some(scene) if scene.nodes.is_empty() => view! {
            <div class="graph empty"><p class="muted">"No services and no traffic in this mesh yet."</p></div>
        }
        .into_any(),
        Some(scene) => render(scene, &marks, controls, drag).into_any(),
    }
    }
}

fn render(
    scene: Scene,
    marks: &[RolloutMark],
    controls: GraphControls,
    drag: StoredValue<Option<Drag>>,
) -> impl IntoView {
    let mode = controls.label.get();
    let find = controls.find.get();
    let selected = controls.selected.get();
    let zoom = controls.zoom.get();
    let view_box = format!("0 0 {:.0} {:.0}", scene.width, scene.height);
    let finding = !find.trim().is_empty();
    let crowded = scene.edges.len() > LABELLED_EDGES;
    let note = crowded.then(|| {
        format!(
            "{} calls: labels on problems and on the found or selected services; hover any call for its figures.",
            scene.edges.len()
        )
    });
    let edges = scene
        .edges
        .into_iter()
        .map(|edge| {
            let picked = selected == Some(Selection::Edge(edge.source.clone(), edge.target.clone()));
            let touches = |id: &str| edge.source == id || edge.target == id;
            let near_selection = matches!(&selected, Some(Selection::Node(id)) if touches(id));
            let near_match = finding
                && (matches_any(&find, &edge.source) || matches_any(&find, &edge.target));
            let labelled = !crowded
                || picked
                || near_selection
                || near_match
                || matches!(edge.health, Health::Degraded | Health::Failing);
            let class = format!(
                "edge {}{}{}",
                health_class(edge.health),
                if picked { " selected" } else { "" },
                if finding && !near_match { " dimmed" } else { "" }
            );
            let rate = format!("{}{}", health_glyph(edge.health), edge_label(&edge, mode));
            let pick = (edge.source.clone(), edge.target.clone());
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
                    tabindex="0" role="button" aria-label=format!("calls {} → {}", edge.source, edge.target)
                    on:click={ let pick = pick.clone(); move |_| controls.selected.set(Some(Selection::Edge(pick.0.clone(), pick.1.clone()))) }
                    on:keydown=move |event: leptos::ev::KeyboardEvent| if event.key() == "Enter" || event.key() == " " {
                        event.prevent_default();
                        controls.selected.set(Some(Selection::Edge(pick.0.clone(), pick.1.clone())));
                    }
                    data-mtls=if edge.mtls { "true" } else { "false" } data-denied=format!("{:.3}", edge.denied_per_second)>
                    <title>{tooltip}</title>
                    <path d=edge.path marker-end="url(#arrow)" />
                    {labelled.then(|| view! {
                        <text class="edge-label" x=format!("{:.1}", edge.label_x) y=format!("{:.1}", edge.label_y) text-anchor="middle">
                            {rate}
                        </text>
                        <text class="edge-label errors" x=format!("{:.1}", edge.label_x) y=format!("{:.1}", edge.label_y + 22.0) text-anchor="middle">
                            {errors}
                        </text>
                        {denied_label}
                        {lock}
                    })}
                </g>
            }
        })
        .collect_view();
    let nodes = scene
        .nodes
        .into_iter()
        .map(|node| {
            let mark = marks.iter().find(|mark| mark.service == node.service);
            let base = match (node.external, mark) {
                (true, _) => "node external",
                (false, Some(_)) => "node rollout",
                (false, None) => "node",
            };
            let found = !find.trim().is_empty() && matches_any(&find, &node.id);
            let dimmed = !find.trim().is_empty() && !found;
            let picked = selected == Some(Selection::Node(node.id.clone()));
            let class = format!(
                "{base}{}{}{}",
                if found { " match" } else { "" },
                if dimmed { " dimmed" } else { "" },
                if picked { " selected" } else { "" }
            );
            let pick = node.id.clone();
            let pinned = controls.pins.with_untracked(|pins| pins.contains_key(&node.id));
            let class = if pinned { format!("{class} pinned") } else { class };
            let start = (node.id.clone(), node.x, node.y);
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
                <g class=class data-node=node.id.clone() transform=format!("translate({:.1},{:.1})", node.x, node.y)
                    tabindex="0" role="button" aria-label=format!("service {}", node.id)
                    on:click={ let pick = pick.clone(); move |_| {
                        // The end of a drag is not a click.
                        if !controls.dragged.get_untracked() {
                            controls.selected.set(Some(Selection::Node(pick.clone())));
                        }
                    } }
                    on:keydown=move |event: leptos::ev::KeyboardEvent| if event.key() == "Enter" || event.key() == " " {
                        event.prevent_default();
                        controls.selected.set(Some(Selection::Node(pick.clone())));
                    }
                    on:pointerdown=move |event: leptos::ev::PointerEvent| {
                        if event.button() != 0 {
                            return;
                        }
                        // No text selection while dragging.
                        event.prevent_default();
                        drag.set_value(Some(Drag {
                            id: start.0.clone(),
                            pointer: (f64::from(event.client_x()), f64::from(event.client_y())),
                            node: (start.1, start.2),
                            moved: false,
                        }));
                    }
>
                    <rect width=NODE_WIDTH height=NODE_HEIGHT rx="8" />
                    <text class="service" x="12" y="21">{node.service}</text>
                    <text class="version" x="12" y="38">{subtitle}</text>
                    {badge}
                </g>
            }
        })
        .collect_view();
    let boxes = scene
        .boxes
        .into_iter()
        .map(|zone| {
            let label = zone.label.clone();
            view! {
                <g class="zone-box" data-zone=label>
                    <rect x=format!("{:.1}", zone.x) y=format!("{:.1}", zone.y) width=format!("{:.1}", zone.width) height=format!("{:.1}", zone.height) rx="12" />
                    <text x=format!("{:.1}", zone.x + 12.0) y=format!("{:.1}", zone.y + 20.0)>{zone.label}</text>
                </g>
            }
        })
        .collect_view();
    view! {
        <div class="graph">
            {note.map(|note| view! { <p class="muted graph-note">{note}</p> })}
            <svg viewBox=view_box width=format!("{:.0}", scene.width * zoom) height=format!("{:.0}", scene.height * zoom) role="group" aria-label="traffic graph: services and the calls between them">
                <defs>
                    <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M0,0 L10,5 L0,10 z" />
                    </marker>
                </defs>
                <g class="zones">{boxes}</g>
                <g class="edges">{edges}</g>
                <g class="nodes">{nodes}</g>
            </svg>
        </div>
    }
}

/// Moves the dragged node with the pointer (scaled by the zoom) and pins it there.
fn drag_to(
    drag: StoredValue<Option<Drag>>,
    controls: GraphControls,
    event: &leptos::ev::PointerEvent,
) {
    let Some(mut current) = drag.get_value() else {
        return;
    };
    let zoom = controls.zoom.get_untracked().max(0.1);
    let dx = f64::from(event.client_x()) - current.pointer.0;
    let dy = f64::from(event.client_y()) - current.pointer.1;
    if !current.moved && dx.hypot(dy) < DRAG_THRESHOLD {
        return;
    }
    current.moved = true;
    let at = (
        (current.node.0 + dx / zoom).max(0.0),
        (current.node.1 + dy / zoom).max(0.0),
    );
    let id = current.id.clone();
    drag.set_value(Some(current));
    controls.pins.update(|pins| {
        pins.insert(id, at);
    });
}

/// A small padlock, 11 × 13, for mTLS edges and the legend.
#[component]
pub fn LockGlyph() -> impl IntoView {
    view! {
        <path class="shackle" d="M2.5,6 V4 a3,3 0 0 1 6,0 V6" />
        <rect class="body" x="0.5" y="6" width="10" height="7" rx="1.5" />
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(health: Health) -> PlacedEdge {
        PlacedEdge {
            source: "web/v1".into(),
            target: "catalog/v2".into(),
            path: String::new(),
            label_x: 0.0,
            label_y: 0.0,
            requests_per_second: 12.0,
            error_rate: 0.125,
            p50_millis: Some(3.25),
            p99_millis: None,
            mtls: true,
            mtls_share: 1.0,
            denied_per_second: 0.0,
            health,
        }
    }

    #[test]
    fn labels_follow_the_mode() {
        let edge = edge(Health::Failing);
        assert_eq!(edge_label(&edge, LabelMode::Rate), "12 rps");
        assert_eq!(edge_label(&edge, LabelMode::Errors), "12.5% err");
        assert_eq!(edge_label(&edge, LabelMode::P50), "p50 3.2 ms");
        assert_eq!(edge_label(&edge, LabelMode::P99), "p99 –");
        assert_eq!(edge_label(&edge, LabelMode::None), "");
        assert_eq!(LabelMode::parse("p99"), LabelMode::P99);
        assert_eq!(LabelMode::parse("nonsense"), LabelMode::Rate);
        assert_eq!(health_glyph(Health::Failing), "✖ ");
    }

    #[test]
    fn hiding_a_node_takes_its_edges_and_problems_only_keeps_red_and_amber() {
        let node = |id: &str| crate::layout::PlacedNode {
            id: id.into(),
            service: id.split('/').next().unwrap_or_default().into(),
            version: None,
            instances: 1,
            external: false,
            x: 0.0,
            y: 0.0,
        };
        let scene = Scene {
            nodes: vec![node("web/v1"), node("catalog/v2"), node("orders/v1")],
            edges: vec![
                edge(Health::Failing),
                PlacedEdge {
                    target: "orders/v1".into(),
                    ..edge(Health::Healthy)
                },
            ],
            boxes: Vec::new(),
            width: 0.0,
            height: 0.0,
        };
        let hidden = filtered(scene.clone(), "catalog", false);
        assert_eq!(hidden.nodes.len(), 2);
        assert_eq!(hidden.edges.len(), 1);
        let problems = filtered(scene, "", true);
        assert_eq!(problems.edges.len(), 1);
        assert_eq!(problems.edges[0].target, "catalog/v2");
    }
}
