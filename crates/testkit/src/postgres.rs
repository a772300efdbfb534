//! A throwaway Postgres cluster in a temporary directory, listening on a Unix socket only.
//!
//! One cluster per test binary; one fresh database per test. When running as root the server
//! runs as the `postgres` user, because initdb refuses root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub struct PgCluster {
    directory: tempfile::TempDir,
    binaries: PathBuf,
    port: u16,
    run_as: Option<String>,
    counter: AtomicU32,
}

fn find_binaries() -> PathBuf {
    if let Ok(dir) = std::env::var("WEFT_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|path| path.join("initdb").exists());
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!(
            "Postgres server binaries not found: install them (Debian: apt-get install postgresql) \
             or set WEFT_PG_BIN to the directory holding initdb and pg_ctl; `cargo xtask test` installs them"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgCluster {
    /// Creates and starts a cluster; panics with a clear message when Postgres is missing.
    pub fn start() -> PgCluster {
        let binaries = find_binaries();
        let directory = tempfile::Builder::new()
            .prefix("weft-pg-")
            .tempdir()
            .expect("temp dir");
        let run_as = is_root().then(|| "postgres".to_string());
        if run_as.is_some() {
            let status = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(directory.path())
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "could not hand the cluster directory to the postgres user"
            );
        }
        let port = crate::free_port();
        let cluster = PgCluster {
            directory,
            binaries,
            port,
            run_as,
            counter: AtomicU32::new(0),
        };
        let data = cluster.data_dir();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.start_server();
        cluster
    }

    fn start_server(&self) {
        let data = self.data_dir();
        let log = self.directory.path().join("log").display().to_string();
        let options = format!(
            "-k {} -c listen_addresses='' -p {} -c fsync=off -c max_connections=200",
            self.socket_dir().display(),
            self.port
        );
        self.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-w", "-o", &options, "start"],
        );
    }

    /// Stops the server (fast shutdown: connections are cut) until [`PgCluster::resume`].
    pub fn pause(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data_dir(), "-m", "fast", "-w", "stop"],
        );
    }

    /// Starts the server again after [`PgCluster::pause`], with the same data.
    pub fn resume(&self) {
        self.start_server();
    }

    fn data_dir(&self) -> String {
        self.directory.path().join("data").display().to_string()
    }

    pub fn socket_dir(&self) -> &Path {
        self.directory.path()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A server binary, run as the cluster's owner.
    fn command(&self, program: &str) -> Command {
        let binary = self.binaries.join(program);
        match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(binary);
                command
            }
            None => Command::new(binary),
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
        assert!(
            output.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// URL of database `name` over the cluster's Unix socket.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://postgres@localhost:{}/{name}?host={}",
            self.port,
            self.socket_dir().display()
        )
    }

    /// Creates a new empty database and returns its URL.
    pub fn fresh_database(&self) -> String {
        self.create_database("")
    }

    /// Creates a copy of database `template` (nobody may be connected to it) and returns
    /// the copy's URL.
    pub fn copy_database(&self, template: &str) -> String {
        self.create_database(&format!(" TEMPLATE {template}"))
    }

    /// The name of the database at `url`.
    pub fn database_name(url: &str) -> String {
        let without_query = url.split('?').next().unwrap_or_default();
        without_query
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    fn create_database(&self, suffix: &str) -> String {
        let name = format!(
            "weft_{}_{}",
            std::process::id(),
            self.counter.fetch_add(1, Ordering::SeqCst)
        );
        let psql = self.binaries.join("psql");
        let output = Command::new(&psql)
            .args([
                "-h",
                &self.socket_dir().display().to_string(),
                "-p",
                &self.port.to_string(),
            ])
            .args([
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
            ])
            .arg(format!("CREATE DATABASE {name}{suffix}"))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", psql.display()));
        assert!(
            output.status.success(),
            "create database failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.url(&name)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
