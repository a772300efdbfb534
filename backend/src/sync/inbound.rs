//! Zone → global: the zone's dataplanes and its telemetry.

use std::collections::{HashMap, HashSet};

use tonic::Streaming;
use weft_api::proto::zone_message::Message as ZoneMessageKind;
use weft_api::proto::{Resource as WireResource, ZoneMessage};
use weft_api::sync::{Assembler, Received};
use weft_api::telemetry::from_proto;
use weft_model::Kind;
use weft_model::name::name_problem;
use weft_model::resource::{Author, Resource};

use crate::metrics::{Metrics, ZoneLabels};
use crate::store::{Store, ZoneChange, now_millis};
use crate::traffic::TrafficWindow;

/// Converts received resources, dropping (with a warning) anything a zone may not send.
fn changes(zone: &str, resources: &[WireResource]) -> Vec<ZoneChange> {
    let mut out = Vec::with_capacity(resources.len());
    for wire in resources {
        if wire.kind != Kind::Dataplane.name() {
            tracing::warn!(zone, kind = %wire.kind, "zones may only register dataplanes; ignoring");
            continue;
        }
        if wire.deleted {
            out.push(ZoneChange::Delete {
                mesh: wire.mesh.clone(),
                name: wire.name.clone(),
            });
            continue;
        }
        let parsed = serde_json::from_str(&wire.manifest_json)
            .map_err(|error| error.to_string())
            .and_then(|value| {
                Resource::from_value(value, Author::Zone).map_err(|errors| errors.to_string())
            });
        match parsed {
            Ok(mut resource) if resource.kind() == Kind::Dataplane => {
                crate::store::stamp_zone(&mut resource, zone);
                out.push(ZoneChange::Upsert(Box::new(resource)));
            }
            Ok(_) => {
                tracing::warn!(zone, name = %wire.name, "manifest kind does not match; ignoring")
            }
            Err(error) => {
                tracing::warn!(zone, name = %wire.name, %error, "invalid dataplane from zone; ignoring")
            }
        }
    }
    out
}

/// The services a zone's dataplanes serve, per mesh, read again when the store changes.
/// Telemetry from a zone must name one of them at one end of each edge.
struct ZoneServices {
    revision: tokio::sync::watch::Receiver<u64>,
    meshes: HashMap<String, HashSet<String>>,
    loaded: bool,
}

impl ZoneServices {
    fn new(store: &Store) -> ZoneServices {
        ZoneServices {
            revision: store.subscribe(),
            meshes: HashMap::new(),
            loaded: false,
        }
    }

    async fn current(&mut self, store: &Store, zone: &str) -> &HashMap<String, HashSet<String>> {
        if !self.loaded || self.revision.has_changed().unwrap_or(false) {
            self.revision.borrow_and_update();
            match store.zone_services(zone).await {
                Ok(meshes) => {
                    self.meshes = meshes;
                    self.loaded = true;
                }
                Err(error) => tracing::warn!(zone, %error, "cannot read the zone's services"),
            }
        }
        &self.meshes
    }
}

/// Whether a zone may report `edge` in a mesh where its dataplanes serve `services`.
fn plausible(edge: &weft_api::proto::EdgeStats, services: &HashSet<String>) -> bool {
    weft_api::telemetry::plausible(edge, |service| services.contains(service))
}

/// Largest CSR a zone may send.
const MAX_CSR_BYTES: usize = 16 * 1024;

#[allow(clippy::too_many_arguments)]
pub async fn receive(
    store: &Store,
    traffic: &TrafficWindow,
    metrics: &Metrics,
    cas: &crate::ca::MeshCas,
    replies: &tokio::sync::mpsc::Sender<Result<weft_api::proto::GlobalMessage, tonic::Status>>,
    zone: &str,
    mut stream: Streaming<ZoneMessage>,
) {
    let mut snapshot = Assembler::default();
    let mut last_seen_written = 0i64;
    let mut services = ZoneServices::new(store);
    loop {
        let message = match stream.message().await {
            Ok(Some(message)) => message,
            Ok(None) => return,
            Err(status) => {
                tracing::info!(zone, %status, "zone stream ended");
                return;
            }
        };
        match message.message {
            Some(ZoneMessageKind::Resources(batch)) => {
                let result = match snapshot.push(batch) {
                    Ok(Received::Partial) => Ok(()),
                    Ok(Received::Snapshot {
                        resources,
                        revision,
                    }) => {
                        let all = changes(zone, &resources);
                        tracing::info!(zone, dataplanes = all.len(), "zone snapshot received");
                        store.apply_zone_changes(zone, &all, true, revision).await
                    }
                    Ok(Received::Changes {
                        resources,
                        revision,
                    }) => {
                        store
                            .apply_zone_changes(zone, &changes(zone, &resources), false, revision)
                            .await
                    }
                    Err(error) => {
                        tracing::warn!(zone, %error, "closing the stream");
                        return;
                    }
                };
                if let Err(error) = result {
                    // The zone resends from global's last recorded revision when it reconnects.
                    tracing::warn!(zone, %error, "storing zone changes failed; closing the stream");
                    return;
                }
            }
            Some(ZoneMessageKind::Telemetry(batch)) => {
                metrics
                    .telemetry_reports
                    .get_or_create(&ZoneLabels {
                        zone: zone.to_string(),
                    })
                    .inc();
                let now = u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0);
                let known = services.current(store, zone).await;
                let mut dropped = 0usize;
                for report in &batch.reports {
                    // Only meshes where this zone has dataplanes, only edges they are part of.
                    let Some(served) = known.get(&report.mesh) else {
                        dropped += report.edges.len();
                        continue;
                    };
                    let edges: Vec<_> = report
                        .edges
                        .iter()
                        .filter(|edge| plausible(edge, served))
                        .map(from_proto)
                        .collect();
                    dropped += report.edges.len() - edges.len();
                    traffic.record(&report.mesh, now, edges);
                }
                if dropped > 0 {
                    tracing::warn!(
                        zone,
                        dropped,
                        "telemetry for meshes or services the zone does not serve; ignored"
                    );
                }
                let millis = now_millis();
                if millis - last_seen_written > 5_000 {
                    last_seen_written = millis;
                    if let Err(error) = store.zone_seen(zone).await {
                        tracing::warn!(zone, %error, "could not record zone heartbeat");
                    }
                }
            }
            Some(ZoneMessageKind::CaRequest(request)) => {
                let answer = issue_intermediate(store, cas, zone, &request).await;
                let message = weft_api::proto::GlobalMessage {
                    message: Some(weft_api::proto::global_message::Message::CaIssued(answer)),
                };
                if replies.send(Ok(message)).await.is_err() {
                    return;
                }
            }
            Some(ZoneMessageKind::CaProgress(report)) => {
                // Only meshes with a CA: a zone cannot fill the table with made-up names.
                let known = name_problem(&report.mesh).is_none()
                    && matches!(store.mesh_ca_state(&report.mesh).await, Ok(Some(_)));
                if known {
                    cas.record_progress(
                        &report.mesh,
                        zone,
                        crate::ca::Progress {
                            generation: report.generation,
                            proxies: report.proxies,
                            current: report.current.min(report.proxies),
                            intermediate_current: report.intermediate_current,
                        },
                    );
                }
            }
            Some(ZoneMessageKind::Health(batch)) => {
                traffic.health.replace(zone, &batch.endpoints);
            }
            Some(ZoneMessageKind::Insights(insights)) => {
                let ignored = traffic.insights.apply(zone, insights);
                if ignored > 0 {
                    tracing::warn!(
                        zone,
                        ignored,
                        "dataplane insights with bad names or over the limit; ignored"
                    );
                }
            }
            Some(ZoneMessageKind::Hello(_)) => {
                tracing::warn!(zone, "unexpected second hello; ignoring")
            }
            None => {}
        }
    }
}

/// Signs a zone's intermediate CA for a mesh that exists; the answer says why when it cannot.
async fn issue_intermediate(
    store: &Store,
    cas: &crate::ca::MeshCas,
    zone: &str,
    request: &weft_api::proto::CaRequest,
) -> weft_api::proto::CaIssued {
    let refuse = |error: String| weft_api::proto::CaIssued {
        mesh: request.mesh.clone(),
        error,
        ..Default::default()
    };
    if name_problem(&request.mesh).is_some() || request.csr_pem.len() > MAX_CSR_BYTES {
        return refuse("invalid mesh name or CSR".into());
    }
    match store.get(Kind::Mesh, "", &request.mesh).await {
        Ok(Some(_)) => {}
        Ok(None) => return refuse(format!("mesh {:?} does not exist", request.mesh)),
        Err(error) => return refuse(format!("the store is unavailable: {error}")),
    }
    match cas
        .sign_intermediate(&request.mesh, zone, &request.csr_pem)
        .await
    {
        Ok((certificate_pem, trust_bundle_pem, signing_fingerprint)) => {
            tracing::info!(zone, mesh = %request.mesh, "zone intermediate CA issued");
            weft_api::proto::CaIssued {
                mesh: request.mesh.clone(),
                certificate_pem,
                trust_bundle_pem,
                error: String::new(),
                signing_fingerprint,
            }
        }
        Err(error) => {
            tracing::warn!(zone, mesh = %request.mesh, %error, "zone CA request refused");
            refuse("the CA request could not be signed".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(source: &str, destination: &str) -> weft_api::proto::EdgeStats {
        weft_api::proto::EdgeStats {
            source_service: source.into(),
            destination_service: destination.into(),
            ..Default::default()
        }
    }

    #[test]
    fn zones_report_only_edges_of_services_they_serve() {
        let served: HashSet<String> = ["web".to_string()].into();
        assert!(
            plausible(&edge("web", "catalog"), &served),
            "outbound of web"
        );
        assert!(
            plausible(&edge("gateway", "web"), &served),
            "inbound of web"
        );
        assert!(
            !plausible(&edge("catalog", "inventory"), &served),
            "someone else's"
        );
        let long = "x".repeat(weft_api::telemetry::MAX_EDGE_NAME + 1);
        assert!(
            !plausible(&edge("web", &long), &served),
            "names are bounded"
        );
    }
}
