//! Test fixtures: a real `redis-server` on 127.0.0.1 (found, or installed from Debian's package),
//! and Redis options recording into the shared telemetry fixture (`integration_tests::telemetry`).
#![allow(dead_code, unused_imports)] // each test binary uses a part of it

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use integration_tests::process::ChildServer;
pub use integration_tests::process::free_port;
pub use integration_tests::telemetry::{Telemetry, attr, named, unique_span as span};
use otel_redis::OtelRedis;

/// Serialises installing, so that parallel tests do not race `apt-get`.
static INSTALL: Mutex<()> = Mutex::new(());

/// The `redis-server` binary: on `PATH`, else installed with `apt-get` (we are root in CI).
fn redis_server_binary() -> String {
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let found = |name: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|p| !p.is_empty())
    };
    if let Some(path) = found("redis-server") {
        return path;
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "redis-server"])
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
        assert!(install(), "could not install redis-server with apt-get");
    }
    found("redis-server").expect("redis-server installed but not on PATH")
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
        let binary = redis_server_binary();
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(extra)
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
