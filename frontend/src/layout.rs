//! Where the graph's nodes go: columns by depth from the traffic's sources, rows by name.
//!
//! Positions are sticky: a node keeps its slot for as long as the page is open, so the picture
//! does not jump when services come and go. Pure code, tested natively.

use std::collections::BTreeMap;

use weft_api::graph::{EXTERNAL_NODE, Graph, Health};

pub const NODE_WIDTH: f64 = 156.0;
pub const NODE_HEIGHT: f64 = 50.0;
const COLUMN: f64 = 240.0;
const ROW: f64 = 92.0;
const MARGIN: f64 = 24.0;

#[derive(Clone, Debug, PartialEq)]
pub struct PlacedNode {
    pub id: String,
    pub service: String,
    pub version: Option<String>,
    pub instances: usize,
    pub external: bool,
    pub x: f64,
    pub y: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PlacedEdge {
    pub source: String,
    pub target: String,
    pub path: String,
    pub label_x: f64,
    pub label_y: f64,
    pub requests_per_second: f64,
    pub error_rate: f64,
    pub p50_millis: Option<f64>,
    pub p99_millis: Option<f64>,
    pub mtls: bool,
    pub mtls_share: f64,
    pub denied_per_second: f64,
    pub health: Health,
}

/// A box around the nodes of one zone (or of several zones together, or of none).
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneBox {
    pub label: String,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scene {
    pub nodes: Vec<PlacedNode>,
    pub edges: Vec<PlacedEdge>,
    /// Empty unless the layout groups by zone.
    pub boxes: Vec<ZoneBox>,
    pub width: f64,
    pub height: f64,
}

/// Sticky slots: node → (band, column, row); a band is a zone group (one band when the layout
/// does not group). Bands only grow, so nothing moves when others come and go.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// Whether nodes are banded by their zones.
    pub by_zone: bool,
    slots: BTreeMap<String, (String, usize, usize)>,
    rows_used: BTreeMap<(String, usize), usize>,
}

/// Room above a zone band for its label.
const BAND_HEADER: f64 = 30.0;
/// Space between two zone bands.
const BAND_GAP: f64 = 24.0;

/// The band a node goes in when grouping by zone: its zones, or a name for having none.
fn band_of(node: &weft_api::graph::GraphNode) -> String {
    if node.id == EXTERNAL_NODE {
        "outside the mesh".to_string()
    } else if node.zones.is_empty() {
        "no registered instance".to_string()
    } else {
        format!("zone {}", node.zones.join(" + "))
    }
}

/// Longest distance from a source for every node (cycles are cut after |V| rounds).
fn depths(graph: &Graph) -> BTreeMap<String, usize> {
    let mut depth: BTreeMap<String, usize> = graph
        .nodes
        .iter()
        .map(|node| (node.id.clone(), 0))
        .collect();
    for _ in 0..graph.nodes.len() {
        let mut changed = false;
        for edge in graph.edges.iter().filter(|edge| edge.source != edge.target) {
            let candidate = depth.get(&edge.source).copied().unwrap_or(0) + 1;
            let entry = depth.entry(edge.target.clone()).or_insert(0);
            if candidate > *entry && candidate <= graph.nodes.len() {
                *entry = candidate;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    depth
}

impl Layout {
    pub fn grouped_by_zone() -> Layout {
        Layout {
            by_zone: true,
            ..Layout::default()
        }
    }

    /// Places `graph`; `pinned` positions (dragged by the user) win over slots.
    pub fn place(&mut self, graph: &Graph, pinned: &BTreeMap<String, (f64, f64)>) -> Scene {
        let depth = depths(graph);
        let mut fresh: Vec<(String, &str)> = graph
            .nodes
            .iter()
            .filter(|node| !self.slots.contains_key(&node.id))
            .map(|node| {
                let band = if self.by_zone {
                    band_of(node)
                } else {
                    String::new()
                };
                (band, node.id.as_str())
            })
            .collect();
        fresh.sort_unstable();
        for (band, id) in fresh {
            let column = if id == EXTERNAL_NODE {
                0
            } else {
                depth.get(id).copied().unwrap_or(0)
            };
            let row = self.rows_used.entry((band.clone(), column)).or_insert(0);
            self.slots.insert(id.to_string(), (band, column, *row));
            *row += 1;
        }
        // Each band as tall as its fullest column, stacked in name order.
        let mut band_rows: BTreeMap<&str, usize> = BTreeMap::new();
        for ((band, _), rows) in &self.rows_used {
            let entry = band_rows.entry(band.as_str()).or_insert(0);
            *entry = (*entry).max(*rows);
        }
        let header = if self.by_zone { BAND_HEADER } else { 0.0 };
        let mut band_top: BTreeMap<&str, f64> = BTreeMap::new();
        let mut top = MARGIN;
        for (band, rows) in &band_rows {
            band_top.insert(band, top + header);
            top += header + *rows as f64 * ROW + BAND_GAP;
        }
        let position = |id: &str| -> Option<(f64, f64)> {
            if let Some(pin) = pinned.get(id) {
                return Some(*pin);
            }
            let (band, column, row) = self.slots.get(id)?;
            let top = band_top.get(band.as_str()).copied().unwrap_or(MARGIN);
            Some((MARGIN + *column as f64 * COLUMN, top + *row as f64 * ROW))
        };
        let nodes: Vec<PlacedNode> = graph
            .nodes
            .iter()
            .filter_map(|node| {
                let (x, y) = position(&node.id)?;
                Some(PlacedNode {
                    id: node.id.clone(),
                    service: node.service.clone(),
                    version: node.version.clone(),
                    instances: node.instances,
                    external: node.id == EXTERNAL_NODE,
                    x,
                    y,
                })
            })
            .collect();
        let mut outgoing: BTreeMap<&str, usize> = BTreeMap::new();
        let mut incoming: BTreeMap<&str, usize> = BTreeMap::new();
        for edge in &graph.edges {
            *outgoing.entry(edge.source.as_str()).or_default() += 1;
            *incoming.entry(edge.target.as_str()).or_default() += 1;
        }
        let edges = graph
            .edges
            .iter()
            .filter_map(|edge| {
                let (sx, sy) = position(&edge.source)?;
                let (tx, ty) = position(&edge.target)?;
                let (x1, y1) = (sx + NODE_WIDTH, sy + NODE_HEIGHT / 2.0);
                let (x2, y2) = (tx, ty + NODE_HEIGHT / 2.0);
                // A gentle S-curve; backward edges bow out so they do not cross the nodes.
                let bend = ((x2 - x1).abs() / 2.0).max(60.0);
                let path = format!(
                    "M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}",
                    x1 + bend,
                    x2 - bend
                );
                // Labels sit toward the less crowded end, so fanned-out edges do not share a spot.
                let fan_out = outgoing.get(edge.source.as_str()).copied().unwrap_or(0);
                let fan_in = incoming.get(edge.target.as_str()).copied().unwrap_or(0);
                let t = if fan_out > fan_in {
                    0.72
                } else if fan_in > fan_out {
                    0.28
                } else {
                    0.5
                };
                let (label_x, label_y) =
                    bezier((x1, y1), (x1 + bend, y1), (x2 - bend, y2), (x2, y2), t);
                Some(PlacedEdge {
                    source: edge.source.clone(),
                    target: edge.target.clone(),
                    path,
                    label_x,
                    label_y: label_y - 6.0,
                    requests_per_second: edge.requests_per_second,
                    error_rate: edge.error_rate,
                    p50_millis: edge.p50_millis,
                    p99_millis: edge.p99_millis,
                    mtls: edge.mtls,
                    mtls_share: edge.mtls_share,
                    denied_per_second: edge.denied_per_second,
                    health: edge.health,
                })
            })
            .collect();
        let width = nodes
            .iter()
            .map(|node| node.x + NODE_WIDTH)
            .fold(0.0, f64::max)
            + MARGIN;
        let height = nodes
            .iter()
            .map(|node| node.y + NODE_HEIGHT)
            .fold(0.0, f64::max)
            + MARGIN;
        // A box per band that holds a node of this graph.
        let present: std::collections::BTreeSet<&str> = graph
            .nodes
            .iter()
            .filter_map(|node| self.slots.get(&node.id))
            .map(|(band, _, _)| band.as_str())
            .collect();
        let boxes = if self.by_zone {
            band_rows
                .iter()
                .filter(|(band, _)| present.contains(**band))
                .map(|(band, rows)| ZoneBox {
                    label: (*band).to_string(),
                    x: MARGIN / 2.0,
                    y: band_top[band] - BAND_HEADER,
                    width: width - MARGIN,
                    height: BAND_HEADER + *rows as f64 * ROW - (ROW - NODE_HEIGHT) + MARGIN / 2.0,
                })
                .collect()
        } else {
            Vec::new()
        };
        Scene {
            nodes,
            edges,
            boxes,
            width: width.max(320.0),
            height: height.max(160.0),
        }
    }
}

/// The point at `t` (0 to 1) on a cubic Bézier curve.
fn bezier(p0: (f64, f64), p1: (f64, f64), p2: (f64, f64), p3: (f64, f64), t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    let weights = [u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t];
    let points = [p0, p1, p2, p3];
    points
        .iter()
        .zip(weights)
        .fold((0.0, 0.0), |(x, y), (point, weight)| {
            (x + point.0 * weight, y + point.1 * weight)
        })
}

fn rank(health: Health) -> u8 {
    match health {
        Health::Idle => 0,
        Health::Healthy => 1,
        Health::Degraded => 2,
        Health::Failing => 3,
    }
}

/// The graph with the versions of each service merged: instances and rates add up, error and
/// mTLS shares are weighted by rate, latencies are the slowest version's, health the worst.
pub fn by_service(graph: &Graph) -> Graph {
    use weft_api::graph::{GraphEdge, GraphNode, node_id};
    let service_of: std::collections::HashMap<&str, &str> = graph
        .nodes
        .iter()
        .map(|node| (node.id.as_str(), node.service.as_str()))
        .collect();
    let merged_id = |id: &str| node_id(service_of.get(id).copied().unwrap_or(id), None);
    let mut nodes: BTreeMap<String, GraphNode> = BTreeMap::new();
    for node in &graph.nodes {
        let id = node_id(&node.service, None);
        let entry = nodes.entry(id.clone()).or_insert_with(|| GraphNode {
            id,
            service: node.service.clone(),
            version: None,
            instances: 0,
            zones: Vec::new(),
        });
        entry.instances += node.instances;
        for zone in &node.zones {
            if !entry.zones.contains(zone) {
                entry.zones.push(zone.clone());
            }
        }
        entry.zones.sort_unstable();
    }
    let mut edges: BTreeMap<(String, String), GraphEdge> = BTreeMap::new();
    for edge in &graph.edges {
        let key = (merged_id(&edge.source), merged_id(&edge.target));
        let rate = edge.requests_per_second;
        let slower = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        edges
            .entry(key.clone())
            .and_modify(|merged| {
                let total = merged.requests_per_second + rate;
                let weigh = |a: f64, b: f64| {
                    if total > 0.0 {
                        (a * merged.requests_per_second + b * rate) / total
                    } else {
                        0.0
                    }
                };
                merged.error_rate = weigh(merged.error_rate, edge.error_rate);
                merged.mtls_share = weigh(merged.mtls_share, edge.mtls_share);
                merged.requests_per_second = total;
                merged.retries_per_second += edge.retries_per_second;
                merged.denied_per_second += edge.denied_per_second;
                merged.mtls = merged.mtls && edge.mtls;
                merged.p50_millis = slower(merged.p50_millis, edge.p50_millis);
                merged.p99_millis = slower(merged.p99_millis, edge.p99_millis);
                if rank(edge.health) > rank(merged.health) {
                    merged.health = edge.health;
                }
            })
            .or_insert_with(|| GraphEdge {
                source: key.0.clone(),
                target: key.1.clone(),
                ..edge.clone()
            });
    }
    Graph {
        mesh: graph.mesh.clone(),
        window_seconds: graph.window_seconds,
        generated_at: graph.generated_at.clone(),
        nodes: nodes.into_values().collect(),
        edges: edges.into_values().collect(),
    }
}

/// `12.3 rps`, `0.05 rps`.
pub fn format_rate(rate: f64) -> String {
    if rate >= 10.0 {
        format!("{rate:.0} rps")
    } else if rate >= 0.1 {
        format!("{rate:.1} rps")
    } else {
        format!("{rate:.2} rps")
    }
}

/// `2.5% err` or empty when there were no errors.
pub fn format_errors(rate: f64) -> String {
    if rate > 0.0 {
        format!("{:.1}% err", rate * 100.0)
    } else {
        String::new()
    }
}

/// `3.0 denied/s` or empty when a TrafficPermission refused nothing.
pub fn format_denied(rate: f64) -> String {
    if rate > 0.0 {
        format!("{} denied", format_rate(rate).replace(" rps", "/s"))
    } else {
        String::new()
    }
}

/// How much of an edge's traffic was mTLS, for its tooltip.
pub fn format_mtls(mtls: bool, share: f64) -> String {
    if mtls {
        "mTLS".to_string()
    } else if share > 0.0 {
        format!("{:.0}% mTLS", share * 100.0)
    } else {
        "plaintext".to_string()
    }
}

pub fn health_class(health: Health) -> &'static str {
    match health {
        Health::Idle => "idle",
        Health::Healthy => "healthy",
        Health::Degraded => "degraded",
        Health::Failing => "failing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::graph::{GraphEdge, GraphNode};

    fn node(id: &str) -> GraphNode {
        let (service, version) = match id.split_once('/') {
            Some((s, v)) => (s.to_string(), Some(v.to_string())),
            None => (id.to_string(), None),
        };
        GraphNode {
            id: id.into(),
            service,
            version,
            instances: 1,
            zones: vec!["east".into()],
        }
    }

    impl Layout {
        fn place_plain(&mut self, graph: &Graph) -> Scene {
            self.place(graph, &BTreeMap::new())
        }
    }

    fn edge(source: &str, target: &str) -> GraphEdge {
        GraphEdge {
            source: source.into(),
            target: target.into(),
            requests_per_second: 1.0,
            error_rate: 0.0,
            p50_millis: None,
            p99_millis: None,
            retries_per_second: 0.0,
            mtls: false,
            mtls_share: 0.0,
            denied_per_second: 0.0,
            health: Health::Healthy,
        }
    }

    fn graph(nodes: &[&str], edges: &[(&str, &str)]) -> Graph {
        Graph {
            mesh: "shop".into(),
            window_seconds: 10,
            generated_at: String::new(),
            nodes: nodes.iter().map(|id| node(id)).collect(),
            edges: edges.iter().map(|(s, t)| edge(s, t)).collect(),
        }
    }

    #[test]
    fn versions_merge_into_their_service() {
        let mut graph = graph(
            &["web/v1", "catalog/v1", "catalog/v2"],
            &[("web/v1", "catalog/v1"), ("web/v1", "catalog/v2")],
        );
        graph.edges[0].requests_per_second = 8.0;
        graph.edges[0].p99_millis = Some(20.0);
        graph.edges[1].requests_per_second = 2.0;
        graph.edges[1].error_rate = 0.5;
        graph.edges[1].p99_millis = Some(90.0);
        graph.edges[1].health = Health::Failing;
        let grouped = by_service(&graph);
        let ids: Vec<&str> = grouped.nodes.iter().map(|node| node.id.as_str()).collect();
        assert_eq!(ids, ["catalog", "web"]);
        assert_eq!(grouped.nodes[0].instances, 2);
        assert_eq!(grouped.edges.len(), 1);
        let edge = &grouped.edges[0];
        assert_eq!(
            (edge.source.as_str(), edge.target.as_str()),
            ("web", "catalog")
        );
        assert_eq!(edge.requests_per_second, 10.0);
        // 1 failed request a second of 10; the slower version's p99; the worse health.
        assert!((edge.error_rate - 0.1).abs() < 1e-9);
        assert_eq!(edge.p99_millis, Some(90.0));
        assert_eq!(edge.health, Health::Failing);
    }

    fn position(scene: &Scene, id: &str) -> (f64, f64) {
        let node = scene.nodes.iter().find(|node| node.id == id).unwrap();
        (node.x, node.y)
    }

    #[test]
    fn columns_follow_call_depth() {
        let mut layout = Layout::default();
        let scene = layout.place_plain(&graph(
            &[
                "external",
                "web/v1",
                "catalog/v1",
                "catalog/v2",
                "inventory/v1",
            ],
            &[
                ("external", "web/v1"),
                ("web/v1", "catalog/v1"),
                ("web/v1", "catalog/v2"),
                ("catalog/v1", "inventory/v1"),
            ],
        ));
        let x = |id| position(&scene, id).0;
        assert!(x("external") < x("web/v1"));
        assert!(x("web/v1") < x("catalog/v1"));
        assert_eq!(x("catalog/v1"), x("catalog/v2"));
        assert!(x("catalog/v1") < x("inventory/v1"));
        assert_eq!(scene.edges.len(), 4);
        assert!(scene.edges[0].path.starts_with('M'));
    }

    #[test]
    fn positions_are_stable_when_nodes_come_and_go() {
        let mut layout = Layout::default();
        let first = layout.place_plain(&graph(
            &["web/v1", "catalog/v1"],
            &[("web/v1", "catalog/v1")],
        ));
        let second = layout.place_plain(&graph(
            &["web/v1", "catalog/v1", "catalog/v2"],
            &[("web/v1", "catalog/v1"), ("web/v1", "catalog/v2")],
        ));
        assert_eq!(
            position(&first, "catalog/v1"),
            position(&second, "catalog/v1")
        );
        let third = layout.place_plain(&graph(
            &["web/v1", "catalog/v2"],
            &[("web/v1", "catalog/v2")],
        ));
        assert_eq!(
            position(&second, "catalog/v2"),
            position(&third, "catalog/v2")
        );
    }

    #[test]
    fn fanned_out_labels_do_not_overlap() {
        let mut layout = Layout::default();
        let scene = layout.place_plain(&graph(
            &["web/v1", "catalog/v1", "catalog/v2", "orders/v1"],
            &[
                ("web/v1", "catalog/v1"),
                ("web/v1", "catalog/v2"),
                ("web/v1", "orders/v1"),
            ],
        ));
        let mut labels: Vec<(i64, i64)> = scene
            .edges
            .iter()
            .map(|e| (e.label_x as i64, e.label_y as i64))
            .collect();
        labels.sort();
        labels.dedup_by(|a, b| (a.0 - b.0).abs() < 40 && (a.1 - b.1).abs() < 14);
        assert_eq!(labels.len(), 3, "{:?}", scene.edges);
    }

    #[test]
    fn cycles_do_not_loop_forever() {
        let mut layout = Layout::default();
        let scene = layout.place_plain(&graph(&["a", "b"], &[("a", "b"), ("b", "a"), ("a", "a")]));
        assert_eq!(scene.nodes.len(), 2);
    }

    #[test]
    fn labels() {
        assert_eq!(format_rate(12.34), "12 rps");
        assert_eq!(format_rate(1.25), "1.2 rps");
        assert_eq!(format_rate(0.05), "0.05 rps");
        assert_eq!(format_errors(0.0), "");
        assert_eq!(format_errors(0.025), "2.5% err");
        assert_eq!(format_denied(0.0), "");
        assert_eq!(format_denied(3.0), "3.0/s denied");
        assert_eq!(format_mtls(true, 1.0), "mTLS");
        assert_eq!(format_mtls(false, 0.25), "25% mTLS");
        assert_eq!(format_mtls(false, 0.0), "plaintext");
    }

    #[test]
    fn zones_get_a_band_each_and_pins_win() {
        let mut g = graph(&["a", "b", "c"], &[("a", "b"), ("a", "c")]);
        g.nodes[2].zones = vec!["west".into()];
        g.nodes.push(GraphNode {
            zones: Vec::new(),
            instances: 0,
            ..node("d")
        });
        let mut layout = Layout::grouped_by_zone();
        let scene = layout.place(&g, &BTreeMap::new());
        let labels: Vec<&str> = scene.boxes.iter().map(|b| b.label.as_str()).collect();
        // Bands in name order: each node inside its own band's box.
        assert_eq!(
            labels,
            vec!["no registered instance", "zone east", "zone west"]
        );
        for (id, band) in [("a", 1), ("b", 1), ("c", 2), ("d", 0)] {
            let (x, y) = position(&scene, id);
            let b = &scene.boxes[band];
            assert!(
                x >= b.x
                    && x + NODE_WIDTH <= b.x + b.width
                    && y >= b.y
                    && y + NODE_HEIGHT <= b.y + b.height,
                "{id} at ({x}, {y}) outside {b:?}"
            );
        }
        // Boxes do not overlap.
        for pair in scene.boxes.windows(2) {
            assert!(pair[0].y + pair[0].height <= pair[1].y);
        }
        // A node the user dragged stays where it was dropped; its edges follow it.
        let pins = BTreeMap::from([("b".to_string(), (700.0, 40.0))]);
        let pinned = layout.place(&g, &pins);
        assert_eq!(position(&pinned, "b"), (700.0, 40.0));
        let to_b = pinned.edges.iter().find(|e| e.target == "b").unwrap();
        assert!(to_b.path.ends_with("700.0,65.0"), "{}", to_b.path);
        // Without grouping there are no boxes.
        assert!(
            Layout::default()
                .place(&g, &BTreeMap::new())
                .boxes
                .is_empty()
        );
    }
}
