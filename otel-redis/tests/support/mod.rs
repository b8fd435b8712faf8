//! Test fixtures: a real `redis-server` on 127.0.0.1 (found, or installed from Debian's package),
//! and Redis options recording into the shared telemetry fixture (`integration_tests::telemetry`).
#![allow(dead_code, unused_imports)] // each test binary uses a part of it

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use integration_tests::process::ChildServer;
pub use integration_tests::process::free_port;
pub use integration_tests::telemetry::{Telemetry, attr, named, unique_span as span};
use otel_redis::OtelRedis;

/// Serialises installing, so that parallel tests do not race `apt-get`.
static INSTALL: Mutex<()> = Mutex::new(());

/// The `name` binary (`redis-server`, `redis-cli`): on `PATH`, else installed with `apt-get`
/// from Debian's `package` (we are root in CI).
fn redis_binary(name: &str, package: &str) -> String {
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let found = || {
        Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|p| !p.is_empty())
    };
    if let Some(path) = found() {
        return path;
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let _ = Command::new("apt-get")
            .arg("update")
            .stdout(Stdio::null())
            .status();
        assert!(install(), "could not install {package} with apt-get");
    }
    found().unwrap_or_else(|| panic!("{package} installed but {name} not on PATH"))
}

/// A `redis-server` child process on a free loopback port, stopped when dropped.
pub struct RedisServer {
    server: ChildServer,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl RedisServer {
    /// A server with no password.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server started with these extra arguments (`["--requirepass", "pw"]`).
    pub fn start_with(extra: &[&str]) -> Self {
        Self::start_with_args(|_| extra.iter().map(|arg| (*arg).to_owned()).collect())
    }

    /// A server started with the extra arguments `extra` gives for the port it is tried on.
    fn start_with_args(extra: impl Fn(u16) -> Vec<String>) -> Self {
        let binary = redis_binary("redis-server", "redis-server");
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(extra(port))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            let mut server = ChildServer::new(child);
            // Not listening in time: the port was taken in between, try another.
            if server.wait_listening(port, Duration::from_secs(10)) {
                return RedisServer { server, port };
            }
        }
        panic!("redis-server did not start");
    }

    /// `redis://127.0.0.1:{port}/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A client for it.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).unwrap()
    }

    /// Stops the server now.
    pub fn stop(&mut self) {
        self.server.stop();
    }
}

/// A Redis Cluster of three primaries (no replicas) on free 127.0.0.1 ports, its slots spread by
/// `redis-cli --cluster create`; stopped, and its node files removed, when dropped.
pub struct RedisCluster {
    /// The nodes (their ports: `nodes[i].port`).
    pub nodes: Vec<RedisServer>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts three nodes, joins them, and waits until every node reports `cluster_state:ok`.
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "otel-redis-cluster-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("a directory for the cluster's node files");
        let nodes = (0..3)
            .map(|_| {
                RedisServer::start_with_args(|port| {
                    let config = dir.join(format!("nodes-{port}.conf"));
                    vec![
                        "--cluster-enabled".into(),
                        "yes".into(),
                        "--cluster-config-file".into(),
                        config.to_string_lossy().into_owned(),
                        // The bus port: by default port + 10000, which may be taken or too high.
                        "--cluster-port".into(),
                        free_port().to_string(),
                        "--dir".into(),
                        dir.to_string_lossy().into_owned(),
                    ]
                })
            })
            .collect();
        let cluster = RedisCluster { nodes, dir };
        cluster.create();
        cluster.wait_ok(Duration::from_secs(30));
        cluster
    }

    /// `redis-cli --cluster create`, bounded in time.
    fn create(&self) {
        let cli = redis_binary("redis-cli", "redis-tools");
        let mut create = Command::new(cli)
            .args(["--cluster", "create"])
            .args(self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run redis-cli --cluster create");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = create.try_wait().expect("wait for redis-cli") {
                assert!(
                    status.success(),
                    "redis-cli --cluster create failed: {status}"
                );
                return;
            }
            if Instant::now() > deadline {
                let _ = create.kill();
                let _ = create.wait();
                panic!("redis-cli --cluster create did not finish in 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until every node says `cluster_state:ok`.
    fn wait_ok(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        for node in &self.nodes {
            loop {
                let info: Option<String> = node
                    .client()
                    .get_connection_with_timeout(Duration::from_secs(1))
                    .and_then(|mut con| redis::cmd("CLUSTER").arg("INFO").query(&mut con))
                    .ok();
                if info.is_some_and(|info| info.lines().any(|l| l.trim() == "cluster_state:ok")) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the cluster is not ok after {timeout:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// `redis://127.0.0.1:{port}/` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The port of the node that holds `key`'s slot: the one that answers for it rather than
    /// redirecting (`MOVED`).
    pub fn owner(&self, key: &str) -> u16 {
        self.nodes
            .iter()
            .find(|node| {
                let mut con = node.client().get_connection().expect("connect to a node");
                redis::cmd("EXISTS").arg(key).query::<i64>(&mut con).is_ok()
            })
            .map(|node| node.port)
            .expect("a node owns every slot")
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Options recording into a [`Telemetry`]'s providers.
pub trait RedisOptions {
    /// Options recording to these providers, for a server on `port`, with tracecontext and
    /// baggage.
    fn options(&self, port: u16) -> OtelRedis;
}

impl RedisOptions for Telemetry {
    fn options(&self, port: u16) -> OtelRedis {
        OtelRedis::new()
            .tracer_provider(self.tracer_provider.clone())
            .meter_provider(self.meter_provider.clone())
            .server_address("127.0.0.1", Some(port))
            .propagators(otel_redis::Propagators::default())
    }
}

/// Asserts that `span` failed with the Redis error `code` (`WRONGTYPE`, say): its
/// `db.response.status_code` and `error.type` are both `code`, and its status is an error.
pub fn assert_failed_with(span: &opentelemetry_sdk::trace::SpanData, code: &str) {
    use opentelemetry_semantic_conventions::attribute as semconv;
    assert_eq!(
        attr(span, semconv::DB_RESPONSE_STATUS_CODE).as_deref(),
        Some(code)
    );
    assert_eq!(attr(span, semconv::ERROR_TYPE).as_deref(), Some(code));
    assert!(
        matches!(span.status, opentelemetry::trace::Status::Error { .. }),
        "{:?}",
        span.status
    );
}

/// Asserts that none of `needles` shows anywhere in `spans`: names, attribute keys and values,
/// event names and attributes, error descriptions.
pub fn assert_nothing_shows(spans: &[opentelemetry_sdk::trace::SpanData], needles: &[&str]) {
    let check = |text: &str, span: &str, place: &dyn std::fmt::Debug| {
        for needle in needles {
            assert!(
                !text.contains(needle),
                "{needle:?} shows in span {span:?}: {place:?}"
            );
        }
    };
    for s in spans {
        check(&s.name, &s.name, &"its name");
        for kv in &s.attributes {
            check(kv.key.as_str(), &s.name, kv);
            check(&kv.value.to_string(), &s.name, kv);
        }
        for event in s.events.iter() {
            check(&event.name, &s.name, event);
            for kv in &event.attributes {
                check(kv.key.as_str(), &s.name, kv);
                check(&kv.value.to_string(), &s.name, kv);
            }
        }
        if let opentelemetry::trace::Status::Error { description } = &s.status {
            check(description, &s.name, &s.status);
        }
    }
}
