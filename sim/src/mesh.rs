//! A synthetic mesh: services in layers calling services further down, with steady traffic.
//! Deterministic for a seed, so a benchmark run can be repeated.

use weft_api::proto::EdgeStats;
use weft_api::telemetry::{BUCKET_COUNT, LATENCY_BUCKETS_MICROS};

/// One service of the synthetic mesh (one version, one instance).
#[derive(Clone, Debug)]
pub struct Service {
    pub name: String,
    pub version: String,
    /// 0 for the entry services; callers are always in a lower layer than their callees.
    pub layer: usize,
}

/// One edge: `source` calls `target` (indexes into [`SyntheticMesh::services`]).
#[derive(Clone, Debug)]
pub struct Call {
    pub source: usize,
    pub target: usize,
    pub requests_per_second: u64,
    /// Share of responses that are 5xx, in percent.
    pub error_percent: u64,
    pub latency_micros: u64,
}

#[derive(Clone, Debug)]
pub struct SyntheticMesh {
    pub mesh: String,
    pub services: Vec<Service>,
    pub calls: Vec<Call>,
}

/// A small deterministic generator (SplitMix64): no dependency, same mesh for the same seed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % (bound.max(1) as u64)).unwrap_or(0)
    }
}

/// Layers the services are spread over: a call graph as deep as real ones get.
const LAYERS: usize = 8;

impl SyntheticMesh {
    /// `services` services named `svc-000…`, and `calls` distinct edges from a layer to a later
    /// one (at most what the layers allow). About one edge in twenty fails a little, one in a
    /// hundred a lot, so a graph of it has every health colour.
    pub fn generate(mesh: &str, services: usize, calls: usize, seed: u64) -> SyntheticMesh {
        let mut random = Random(seed);
        let width = services.div_ceil(LAYERS).max(1);
        let services: Vec<Service> = (0..services)
            .map(|index| Service {
                name: format!("svc-{index:03}"),
                version: format!("v{}", 1 + index % 2),
                layer: index / width,
            })
            .collect();
        let mut chosen = std::collections::BTreeSet::new();
        let mut attempts = 0;
        while chosen.len() < calls && attempts < calls * 50 {
            attempts += 1;
            let source = random.below(services.len());
            let target = random.below(services.len());
            if services[source].layer < services[target].layer {
                chosen.insert((source, target));
            }
        }
        let calls = chosen
            .into_iter()
            .map(|(source, target)| {
                let roll = random.below(100);
                Call {
                    source,
                    target,
                    requests_per_second: 1 + random.next() % 50,
                    error_percent: match roll {
                        0 => 30,
                        1..=5 => 2,
                        _ => 0,
                    },
                    latency_micros: 500 + random.next() % 40_000,
                }
            })
            .collect();
        SyntheticMesh {
            mesh: mesh.to_string(),
            services,
            calls,
        }
    }

    /// One Dataplane manifest (JSON) per service, on made-up loopback ports.
    pub fn dataplanes(&self) -> Vec<(String, String)> {
        (0..self.services.len())
            .map(|index| self.instance(index))
            .collect()
    }

    /// Dataplane number `index` (name and manifest JSON): an instance of service
    /// `index % services`, named after it and numbered from 1 (`svc-007-1`, `svc-007-2`…).
    pub fn instance(&self, index: usize) -> (String, String) {
        let count = self.services.len().max(1);
        let service = &self.services[index % count];
        let name = format!("{}-{}", service.name, 1 + index / count);
        let port = 20_000 + index % 40_000;
        let manifest = serde_json::json!({
            "apiVersion": "weft.dev/v1alpha1",
            "kind": "Dataplane",
            "metadata": {"name": name, "mesh": self.mesh},
            "spec": {"networking": {
                "address": "127.0.0.1",
                "inbound": [{
                    "port": port,
                    "servicePort": port,
                    "tags": {"service": service.name, "version": service.version},
                }],
            }},
        });
        (name, manifest.to_string())
    }

    /// One second of traffic on every edge, as a proxy would count it.
    pub fn one_second(&self) -> Vec<EdgeStats> {
        self.calls
            .iter()
            .map(|call| {
                let source = &self.services[call.source];
                let target = &self.services[call.target];
                edge(
                    (&source.name, &source.version),
                    (&target.name, &target.version),
                    call.requests_per_second,
                    call.requests_per_second * call.error_percent / 100,
                    call.latency_micros,
                )
            })
            .collect()
    }
}

/// `requests` calls from `source` to `target` (service, version), `failed` of them 5xx, each
/// taking `latency_micros`, as a proxy counts them.
pub fn edge(
    source: (&str, &str),
    target: (&str, &str),
    requests: u64,
    failed: u64,
    latency_micros: u64,
) -> EdgeStats {
    let mut latency_buckets = vec![0u64; BUCKET_COUNT];
    let bucket = LATENCY_BUCKETS_MICROS
        .iter()
        .position(|bound| latency_micros <= *bound)
        .unwrap_or(LATENCY_BUCKETS_MICROS.len());
    latency_buckets[bucket] = requests;
    EdgeStats {
        source_service: source.0.to_string(),
        source_version: source.1.to_string(),
        destination_service: target.0.to_string(),
        destination_version: target.1.to_string(),
        requests,
        responses_2xx: requests - failed.min(requests),
        responses_5xx: failed.min(requests),
        latency_buckets,
        latency_sum_micros: requests * latency_micros,
        mtls_requests: requests,
        ..EdgeStats::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_mesh_of_the_asked_size() {
        let a = SyntheticMesh::generate("big", 500, 2_000, 7);
        let b = SyntheticMesh::generate("big", 500, 2_000, 7);
        assert_eq!(a.services.len(), 500);
        assert_eq!(a.calls.len(), 2_000);
        let pairs = |mesh: &SyntheticMesh| -> Vec<(usize, usize)> {
            mesh.calls.iter().map(|c| (c.source, c.target)).collect()
        };
        assert_eq!(pairs(&a), pairs(&b));
        // Calls only go down the layers: the graph has no cycles.
        assert!(
            a.calls
                .iter()
                .all(|c| a.services[c.source].layer < a.services[c.target].layer)
        );
        assert_eq!(a.dataplanes().len(), 500);
        assert_eq!(a.one_second().len(), 2_000);
    }
}
