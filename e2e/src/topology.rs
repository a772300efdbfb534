//! The Weft processes: global, zones, and service instances (an app behind a weft-dp).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::{self, Api};
use crate::process::{Process, binary};
use crate::wait_until;

const STARTUP: Duration = Duration::from_secs(60);

pub struct GlobalOptions {
    pub http_port: u16,
    pub grpc_port: u16,
    pub admin_password: String,
    pub console_dir: Option<PathBuf>,
    /// Postgres URL; the embedded SQLite store in the work directory when absent.
    pub database_url: Option<String>,
}

impl GlobalOptions {
    /// Free loopback ports, the embedded store, no console.
    pub fn local(admin_password: &str) -> GlobalOptions {
        GlobalOptions {
            http_port: crate::free_port(),
            grpc_port: crate::free_port(),
            admin_password: admin_password.to_string(),
            console_dir: None,
            database_url: None,
        }
    }
}

pub struct Global {
    pub process: Process,
    /// The process's name (its log is `<work>/<name>.log`).
    name: String,
    pub http_port: u16,
    pub grpc_port: u16,
    pub password: String,
    work: PathBuf,
    options_args: Vec<String>,
    database_url: Option<String>,
    /// The admin's client, logged in once (logins are rate-limited per user).
    admin: std::sync::Mutex<Option<Api>>,
}

impl Global {
    pub fn start(work: &Path, options: GlobalOptions) -> Global {
        Global::start_named(work, "weft-global", options)
    }

    /// A replica named `name`: replicas started in one work directory share its data
    /// directory (the secrets key and the gRPC port's CA), so zones trust every one of them.
    pub fn start_named(work: &Path, name: &str, options: GlobalOptions) -> Global {
        let mut args = vec![
            format!("--http-address=127.0.0.1:{}", options.http_port),
            format!("--grpc-address=127.0.0.1:{}", options.grpc_port),
            format!("--data-dir={}", work.join("global").display()),
        ];
        if let Some(dir) = &options.console_dir {
            args.push(format!("--console-dir={}", dir.display()));
        }
        let mut global = Global {
            process: spawn_global(
                work,
                name,
                &args,
                &options.admin_password,
                options.database_url.as_deref(),
            ),
            name: name.to_string(),
            http_port: options.http_port,
            grpc_port: options.grpc_port,
            password: options.admin_password,
            work: work.to_path_buf(),
            options_args: args,
            database_url: options.database_url,
            admin: std::sync::Mutex::new(None),
        };
        global.wait_ready();
        global
    }

    fn wait_ready(&mut self) {
        let url = format!("{}/readyz", self.url());
        let process = &mut self.process;
        wait_until("weft-global to be ready", STARTUP, || {
            assert!(
                process.running(),
                "weft-global exited:\n{}",
                process.log_tail(30)
            );
            (api::status(&url) == Some(200)).then_some(())
        });
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn grpc_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.grpc_port)
    }

    /// Where zones dial global, and the CA they trust (global made it in its data directory).
    pub fn upstream(&self) -> Upstream {
        Upstream {
            url: self.grpc_url(),
            ca_file: self.work.join("global/tls/ca.pem"),
        }
    }

    /// A client logged in as admin (one login, shared by every caller).
    pub fn api(&self) -> Api {
        let mut admin = self
            .admin
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        admin
            .get_or_insert_with(|| {
                Api::login(&self.url(), "admin", &self.password).expect("admin login")
            })
            .clone()
    }

    /// Stops global (SIGTERM) and starts it again on the same ports and store.
    pub fn restart(&mut self) {
        self.process.stop();
        self.process = spawn_global(
            &self.work,
            &self.name,
            &self.options_args,
            &self.password,
            self.database_url.as_deref(),
        );
        self.wait_ready();
    }

    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Global's Prometheus metrics as text.
    pub fn metrics(&self) -> String {
        api::text(&format!("{}/metrics", self.url()))
            .map(|(_, text)| text)
            .unwrap_or_default()
    }

    /// Whether this replica says it leads.
    pub fn leads(&self) -> bool {
        api::metric_sum(&self.metrics(), &["weft_global_leader "]) == 1.0
    }
}

fn spawn_global(
    work: &Path,
    name: &str,
    args: &[String],
    password: &str,
    database_url: Option<&str>,
) -> Process {
    let mut envs = vec![("WEFT_ADMIN_PASSWORD", password)];
    if let Some(url) = database_url {
        envs.push(("WEFT_DATABASE_URL", url));
    }
    Process::spawn(name, &binary("weft-global"), args, &envs, work)
}

/// A control plane's gRPC address and the CA file its certificate chains to.
#[derive(Clone, Debug)]
pub struct Upstream {
    pub url: String,
    pub ca_file: PathBuf,
}

pub struct Zone {
    pub process: Process,
    pub name: String,
    pub http_port: u16,
    pub grpc_port: u16,
    args: Vec<String>,
    work: PathBuf,
}

impl Zone {
    /// Starts zone `name` with `token` (from `POST /api/v1/zones/{name}/token`).
    pub fn start(
        work: &Path,
        name: &str,
        global: &Upstream,
        http_port: u16,
        grpc_port: u16,
        token: &str,
    ) -> Zone {
        Zone::start_with(work, name, global, http_port, grpc_port, token, &[])
    }

    /// [`Zone::start`] with `changes` (`--flag=value`) replacing or adding flags.
    pub fn start_with(
        work: &Path,
        name: &str,
        global: &Upstream,
        http_port: u16,
        grpc_port: u16,
        token: &str,
        changes: &[String],
    ) -> Zone {
        let token_file = work.join(format!("zone-{name}.token"));
        std::fs::write(&token_file, token).expect("write zone token");
        let args = vec![
            format!("--zone-name={name}"),
            format!("--global-address={}", global.url),
            format!("--global-ca-file={}", global.ca_file.display()),
            format!("--http-address=127.0.0.1:{http_port}"),
            format!("--grpc-address=127.0.0.1:{grpc_port}"),
            format!("--data-dir={}", work.join(format!("zone-{name}")).display()),
            format!("--zone-token-file={}", token_file.display()),
            // Everything runs on this machine.
            "--allow-loopback-dataplanes".to_string(),
        ];
        let mut args = args;
        for change in changes {
            let flag = change.split('=').next().unwrap_or_default();
            args.retain(|arg| arg.split('=').next() != Some(flag));
            args.push(change.clone());
        }
        let process = Process::spawn(
            &format!("weft-zone-{name}"),
            &binary("weft-zone"),
            &args,
            &[],
            work,
        );
        let mut zone = Zone {
            process,
            name: name.to_string(),
            http_port,
            grpc_port,
            args,
            work: work.to_path_buf(),
        };
        zone.wait_ready();
        zone
    }

    fn wait_ready(&mut self) {
        let url = format!("{}/readyz", self.http_url());
        let process = &mut self.process;
        wait_until("weft-zone to be ready", STARTUP, || {
            assert!(
                process.running(),
                "weft-zone exited:\n{}",
                process.log_tail(30)
            );
            (api::status(&url) == Some(200)).then_some(())
        });
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn grpc_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.grpc_port)
    }

    /// Where proxies dial this zone, and the CA they trust.
    pub fn upstream(&self) -> Upstream {
        Upstream {
            url: self.grpc_url(),
            ca_file: self.work.join(format!("zone-{}/tls/ca.pem", self.name)),
        }
    }

    /// The zone's own view: its status document.
    pub fn status(&self) -> serde_json::Value {
        let (_, text) =
            api::text(&format!("{}/api/v1/status", self.http_url())).unwrap_or((0, "null".into()));
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// Waits until the zone holds `mesh` (received from global or loaded from its store).
    pub fn wait_for_mesh(&self, mesh: &str) {
        wait_until(
            &format!("zone {} to know mesh {mesh}", self.name),
            STARTUP,
            || {
                let status = self.status();
                status["meshes"]
                    .as_array()?
                    .iter()
                    .any(|m| m == mesh)
                    .then_some(())
            },
        );
    }

    pub fn restart(&mut self) {
        self.process.stop();
        self.process = Process::spawn(
            &format!("weft-zone-{}", self.name),
            &binary("weft-zone"),
            &self.args,
            &[],
            &self.work,
        );
        self.wait_ready();
    }
}

/// One service instance: the demo app and its proxy.
#[derive(Clone, Debug)]
pub struct InstanceSpec {
    pub name: String,
    pub mesh: String,
    pub service: String,
    pub version: String,
    /// Port the proxy receives this service's traffic on.
    pub inbound_port: u16,
    /// Port the app listens on.
    pub app_port: u16,
    pub admin_port: u16,
    /// (service, local port) pairs the app calls through its proxy.
    pub outbound: Vec<(String, u16)>,
    pub error_percent: f64,
}

pub struct Instance {
    pub spec: InstanceSpec,
    pub app: Process,
    pub proxy: Process,
}

impl InstanceSpec {
    pub fn manifest(&self) -> String {
        let outbound: Vec<String> = self
            .outbound
            .iter()
            .map(|(service, port)| format!("{{port: {port}, service: {service}}}"))
            .collect();
        format!(
            "apiVersion: weft.dev/v1alpha1\nkind: Dataplane\nmetadata: {{name: {}, mesh: {}}}\nspec:\n  networking:\n    address: 127.0.0.1\n    inbound: [{{port: {}, servicePort: {}, tags: {{service: {}, version: {}}}}}]\n    outbound: [{}]\n",
            self.name,
            self.mesh,
            self.inbound_port,
            self.app_port,
            self.service,
            self.version,
            outbound.join(", ")
        )
    }
}

impl Instance {
    /// Starts the app and its proxy, which registers with `token` (a dataplane token of the
    /// instance's service).
    pub fn start(work: &Path, spec: InstanceSpec, zone: &Zone, token: &str) -> Instance {
        let mut args = vec![
            "app".to_string(),
            format!("--service={}", spec.service),
            format!("--version={}", spec.version),
            format!("--zone={}", zone.name),
            format!("--listen=127.0.0.1:{}", spec.app_port),
            format!("--error-percent={}", spec.error_percent),
        ];
        for (service, port) in &spec.outbound {
            args.push(format!("--call={service}=http://127.0.0.1:{port}"));
        }
        let app = Process::spawn(
            &format!("app-{}", spec.name),
            &binary("weft-demo"),
            &args,
            &[],
            work,
        );
        let manifest_path = work.join(format!("{}.dataplane.yaml", spec.name));
        std::fs::write(&manifest_path, spec.manifest()).expect("write dataplane manifest");
        let token_file = work.join(format!("{}.token", spec.name));
        std::fs::write(&token_file, token).expect("write dataplane token");
        let proxy_args = vec![
            format!("--zone-address={}", zone.grpc_url()),
            format!("--zone-ca-file={}", zone.upstream().ca_file.display()),
            format!("--dataplane-file={}", manifest_path.display()),
            format!("--dataplane-token-file={}", token_file.display()),
            format!("--admin-address=127.0.0.1:{}", spec.admin_port),
        ];
        let proxy = Process::spawn(
            &format!("dp-{}", spec.name),
            &binary("weft-dp"),
            &proxy_args,
            &[],
            work,
        );
        let mut instance = Instance { spec, app, proxy };
        instance.wait_ready();
        instance
    }

    fn wait_ready(&mut self) {
        let url = format!("{}/readyz", self.admin_url());
        let proxy = &mut self.proxy;
        wait_until(
            &format!("proxy {} to receive its config", self.spec.name),
            STARTUP,
            || {
                assert!(proxy.running(), "weft-dp exited:\n{}", proxy.log_tail(30));
                (api::status(&url) == Some(200)).then_some(())
            },
        );
    }

    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.spec.admin_port)
    }

    /// URL of the service through its proxy's inbound port.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.spec.inbound_port)
    }

    /// The config the proxy applied (`/config` on its admin port).
    pub fn config(&self) -> serde_json::Value {
        let (_, text) =
            api::text(&format!("{}/config", self.admin_url())).unwrap_or((0, "null".into()));
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// Waits until the proxy's config satisfies `condition`.
    pub fn wait_for_config(&self, what: &str, condition: impl Fn(&serde_json::Value) -> bool) {
        wait_until(
            &format!("proxy {}: {what}", self.spec.name),
            STARTUP,
            || condition(&self.config()).then_some(()),
        );
    }
}

/// A local global with mesh `mesh` (of tenant `<mesh>-team`) and zone `east` holding it.
pub fn one_zone(work: &Path, mesh: &str) -> (Global, Zone) {
    let global = Global::start(work, GlobalOptions::local("one-zone-admin-password"));
    let api = global.api();
    api.apply_all(&format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Tenant\nmetadata: {{name: {mesh}-team}}\nspec: {{displayName: {mesh}}}\n---\napiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {{name: {mesh}}}\nspec: {{tenant: {mesh}-team}}\n"
    ));
    let zone = Zone::start(
        work,
        "east",
        &global.upstream(),
        crate::free_port(),
        crate::free_port(),
        &api.zone_token("east"),
    );
    zone.wait_for_mesh(mesh);
    (global, zone)
}
