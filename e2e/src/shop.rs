//! The shop: global, zones `east` and `west`, and `web → catalog (v1, v2) → inventory`,
//! `web → orders`, every instance behind a weft-dp, spread over both zones.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::api::Api;
use crate::process::{Process, binary};
use crate::topology::{Global, GlobalOptions, Instance, InstanceSpec, Zone};
use crate::{free_port, wait_until};

pub const MESH: &str = "shop";

/// The team that owns the shop's mesh.
pub const TENANT: &str = "shop-team";

/// The shop team's tenant (members are added by whoever starts the shop).
pub const TENANT_MANIFEST: &str = "apiVersion: weft.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: shop-team\nspec:\n  displayName: Shop team\n";

/// The shop's mesh: mTLS between proxies, plaintext still accepted (permissive).
pub const MESH_MANIFEST: &str = "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata:\n  name: shop\n  labels: {team: shop}\nspec:\n  tenant: shop-team\n  mtls: {mode: permissive}\n";

/// The demo's users beside `admin`: (name, tenant, role). Each team sees its own mesh only.
pub const DEMO_USERS: &[(&str, &str, &str)] = &[
    ("shop-owner", "shop-team", "owner"),
    ("shop-viewer", "shop-team", "viewer"),
    ("payments-owner", "payments-team", "owner"),
    ("payments-viewer", "payments-team", "viewer"),
];

/// The second team of the demo and its (empty, strict) mesh.
pub const PAYMENTS_MANIFESTS: &str = "apiVersion: weft.dev/v1alpha1
kind: Tenant
metadata: {name: payments-team}
spec: {displayName: Payments team}
---
apiVersion: weft.dev/v1alpha1
kind: Mesh
metadata: {name: payments}
spec:
  tenant: payments-team
  mtls: {mode: strict}
";

/// Sends 80 % of catalog traffic to v1 and 20 % to v2.
pub const CANARY_ROUTE: &str = "apiVersion: weft.dev/v1alpha1
kind: TrafficRoute
metadata: {name: catalog-canary, mesh: shop}
spec:
  targetRef: {kind: Mesh}
  to:
    - targetRef: {kind: Service, name: catalog}
      rules:
        - matches: [{path: {prefix: /}}]
          backends:
            - {service: catalog, tags: {version: v1}, weight: 80}
            - {service: catalog, tags: {version: v2}, weight: 20}
";

/// The demo's rollout: catalog v1 → v2 in small steps, one every 20 s, judged on v2's own
/// traffic.
pub const DEMO_ROLLOUT: &str = "apiVersion: weft.dev/v1alpha1
kind: Rollout
metadata: {name: catalog, mesh: shop}
spec:
  service: catalog
  stable: {tags: {version: v1}}
  canary: {tags: {version: v2}}
  steps: [5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
  interval: 20s
  gates: {successRate: 90, p99: 500ms, minRequests: 10}
  maxFailedChecks: 2
  onNoTraffic: Hold
";

/// Makes catalog v2 answer 30 % of its requests with a 500, so the demo's rollout fails its
/// gates and rolls back by itself.
pub const CANARY_FAULT: &str = "apiVersion: weft.dev/v1alpha1
kind: FaultInjection
metadata: {name: catalog-v2-fails, mesh: shop}
spec:
  targetRef: {kind: Dataplane, tags: {service: catalog, version: v2}}
  from:
    - targetRef: {kind: Mesh}
      default: {abort: {percent: 30, status: 500}}
";

/// Where each process listens.
#[derive(Default)]
pub enum Ports {
    /// Fixed, memorable ports for the demo (web on 8080).
    Demo,
    /// Free loopback ports, for tests running side by side.
    #[default]
    Free,
}

impl Ports {
    fn allocate(&self, name: &str, assigned: &mut HashMap<String, u16>) -> u16 {
        if let Some(port) = assigned.get(name) {
            return *port;
        }
        let port = match self {
            Ports::Free => free_port(),
            Ports::Demo => match name {
                "global-http" => 5681,
                "global-grpc" => 5685,
                "east-http" => 5682,
                "east-grpc" => 5678,
                "west-http" => 5692,
                "west-grpc" => 5688,
                "web-east-inbound" => 8080,
                // Everything else in a fixed, deterministic block (allocation order is fixed).
                _ => 20000 + assigned.len() as u16,
            },
        };
        assigned.insert(name.to_string(), port);
        port
    }
}

#[derive(Default)]
pub struct ShopOptions {
    pub work_dir: PathBuf,
    pub ports: Ports,
    pub admin_password: String,
    pub console_dir: Option<PathBuf>,
    /// Requests per second of the load generator; none when 0.
    pub load_rps: f64,
    /// Apply [`CANARY_ROUTE`] at start.
    pub canary_route: bool,
    /// The Mesh manifest, [`MESH_MANIFEST`] when `None`.
    pub mesh_manifest: Option<String>,
    /// No injected failures (catalog v2 otherwise fails 3 % of its requests).
    pub no_faults: bool,
}

pub struct Shop {
    pub global: Global,
    pub zones: Vec<Zone>,
    pub instances: Vec<Instance>,
    pub load: Option<Process>,
}

struct Plan {
    name: &'static str,
    zone: &'static str,
    service: &'static str,
    version: &'static str,
    calls: &'static [&'static str],
    error_percent: f64,
}

const PLAN: [Plan; 6] = [
    Plan {
        name: "inventory-east",
        zone: "east",
        service: "inventory",
        version: "v1",
        calls: &[],
        error_percent: 0.0,
    },
    Plan {
        name: "inventory-west",
        zone: "west",
        service: "inventory",
        version: "v1",
        calls: &[],
        error_percent: 0.0,
    },
    Plan {
        name: "orders-west",
        zone: "west",
        service: "orders",
        version: "v1",
        calls: &[],
        error_percent: 0.0,
    },
    Plan {
        name: "catalog-v1-east",
        zone: "east",
        service: "catalog",
        version: "v1",
        calls: &["inventory"],
        error_percent: 0.0,
    },
    // The canary is a little worse, so the graph has something to show.
    Plan {
        name: "catalog-v2-west",
        zone: "west",
        service: "catalog",
        version: "v2",
        calls: &["inventory"],
        error_percent: 3.0,
    },
    Plan {
        name: "web-east",
        zone: "east",
        service: "web",
        version: "v1",
        calls: &["catalog", "orders"],
        error_percent: 0.0,
    },
];

impl Shop {
    /// Adds the payments team with its mesh, and [`DEMO_USERS`] with `password`, as members of
    /// their teams.
    pub fn add_demo_tenants(&self, password: &str) {
        let api = self.global.api();
        api.apply_all(PAYMENTS_MANIFESTS);
        for (user, tenant, role) in DEMO_USERS {
            let (status, body) = api
                .post_json(
                    "/api/v1/users",
                    serde_json::json!({"username": user, "password": password}),
                )
                .expect("create a demo user");
            assert!(
                status == 201 || status == 409,
                "user {user}: {status} {body}"
            );
            let (status, body) = api
                .put(
                    &format!("/api/v1/tenants/{tenant}/members/{user}"),
                    &serde_json::json!({"role": role}).to_string(),
                )
                .expect("add a demo member");
            assert_eq!(status, 200, "member {user}: {body}");
        }
    }

    pub fn start(options: ShopOptions) -> Shop {
        let work = options.work_dir.as_path();
        std::fs::create_dir_all(work).expect("work directory");
        let mut ports = HashMap::new();
        let global = Global::start(
            work,
            GlobalOptions {
                http_port: options.ports.allocate("global-http", &mut ports),
                grpc_port: options.ports.allocate("global-grpc", &mut ports),
                admin_password: options.admin_password.clone(),
                console_dir: options.console_dir.clone(),
                database_url: None,
            },
        );
        let api = global.api();
        api.apply("/api/v1/tenants/shop-team", TENANT_MANIFEST);
        api.apply(
            "/api/v1/meshes/shop",
            options.mesh_manifest.as_deref().unwrap_or(MESH_MANIFEST),
        );
        if options.canary_route {
            api.apply(
                "/api/v1/meshes/shop/trafficroutes/catalog-canary",
                CANARY_ROUTE,
            );
        }
        let zones: Vec<Zone> = ["east", "west"]
            .iter()
            .map(|name| {
                let http = options.ports.allocate(&format!("{name}-http"), &mut ports);
                let grpc = options.ports.allocate(&format!("{name}-grpc"), &mut ports);
                Zone::start(
                    work,
                    name,
                    &global.upstream(),
                    http,
                    grpc,
                    &api.zone_token(name),
                )
            })
            .collect();
        for zone in &zones {
            zone.wait_for_mesh(MESH);
        }
        let mut instances = Vec::new();
        for plan in &PLAN {
            let outbound = plan
                .calls
                .iter()
                .map(|service| {
                    (
                        service.to_string(),
                        options
                            .ports
                            .allocate(&format!("{}-to-{service}", plan.name), &mut ports),
                    )
                })
                .collect();
            let spec = InstanceSpec {
                name: plan.name.to_string(),
                mesh: MESH.to_string(),
                service: plan.service.to_string(),
                version: plan.version.to_string(),
                inbound_port: options
                    .ports
                    .allocate(&format!("{}-inbound", plan.name), &mut ports),
                app_port: options
                    .ports
                    .allocate(&format!("{}-app", plan.name), &mut ports),
                admin_port: options
                    .ports
                    .allocate(&format!("{}-admin", plan.name), &mut ports),
                outbound,
                error_percent: if options.no_faults {
                    0.0
                } else {
                    plan.error_percent
                },
            };
            let zone = zones
                .iter()
                .find(|zone| zone.name == plan.zone)
                .expect("planned zone");
            let token = api.dataplane_token(MESH, plan.service);
            instances.push(Instance::start(work, spec, zone, &token));
        }
        let mut shop = Shop {
            global,
            zones,
            instances,
            load: None,
        };
        shop.wait_for_endpoints(&api);
        if options.load_rps > 0.0 {
            let args = vec![
                "load".to_string(),
                format!("--target={}", shop.web().url()),
                format!("--rps={}", options.load_rps),
                "--report-seconds=30".to_string(),
            ];
            shop.load = Some(Process::spawn(
                "load",
                &binary("weft-demo"),
                &args,
                &[],
                work,
            ));
        }
        shop
    }

    /// Waits until global lists every instance and web's proxy knows endpoints in both zones.
    fn wait_for_endpoints(&self, api: &Api) {
        wait_until(
            "every dataplane to reach global",
            Duration::from_secs(60),
            || {
                let (_, body) = api.get("/api/v1/meshes/shop/dataplanes").ok()?;
                (body["total"].as_u64()? as usize == PLAN.len()).then_some(())
            },
        );
        self.web()
            .wait_for_config("endpoints of catalog in both zones", |config| {
                config["config"]["endpoints"]["catalog"]
                    .as_array()
                    .is_some_and(|list| list.len() == 2)
            });
    }

    pub fn web(&self) -> &Instance {
        self.instance("web-east")
    }

    pub fn instance(&self, name: &str) -> &Instance {
        self.instances
            .iter()
            .find(|instance| instance.spec.name == name)
            .expect("instance")
    }

    pub fn zone(&mut self, name: &str) -> &mut Zone {
        self.zones
            .iter_mut()
            .find(|zone| zone.name == name)
            .expect("zone")
    }

    /// The name of a process that is no longer running, if any.
    pub fn exited(&mut self) -> Option<String> {
        let mut processes: Vec<&mut Process> = vec![&mut self.global.process];
        processes.extend(self.zones.iter_mut().map(|zone| &mut zone.process));
        for instance in &mut self.instances {
            processes.push(&mut instance.app);
            processes.push(&mut instance.proxy);
        }
        processes.extend(self.load.iter_mut());
        processes
            .into_iter()
            .find_map(|process| (!process.running()).then(|| process.name.clone()))
    }

    /// Stops everything: load first, then proxies and apps, then zones, then global.
    pub fn stop(&mut self) {
        if let Some(load) = &mut self.load {
            load.stop();
        }
        for instance in &mut self.instances {
            instance.proxy.stop();
            instance.app.stop();
        }
        for zone in &mut self.zones {
            zone.process.stop();
        }
        self.global.stop();
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.stop();
        }
    }
}
