//! Test fixtures: a real `redis-server` on 127.0.0.1 (found, or installed from Debian's package),
//! and SDK providers exporting to memory.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
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
    child: Child,
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
            let mut child = Command::new(&binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return RedisServer { child, port };
                }
                if child.try_wait().ok().flatten().is_some() {
                    break; // the port was taken in between: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A metric point: its attributes, and its count.
pub type Point = (HashMap<String, String>, u64);

/// SDK providers exporting to memory.
pub struct Telemetry {
    pub spans: InMemorySpanExporter,
    pub tracer_provider: SdkTracerProvider,
    pub metrics: InMemoryMetricExporter,
    pub meter_provider: SdkMeterProvider,
}

impl Telemetry {
    pub fn new() -> Self {
        let spans = InMemorySpanExporter::default();
        let tracer_provider = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        let metrics = InMemoryMetricExporter::default();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        Telemetry {
            spans,
            tracer_provider,
            metrics,
            meter_provider,
        }
    }

    /// Options recording to these providers, for a server on `port`, with tracecontext and
    /// baggage.
    pub fn options(&self, port: u16) -> OtelRedis {
        OtelRedis::new()
            .tracer_provider(self.tracer_provider.clone())
            .meter_provider(self.meter_provider.clone())
            .server_address("127.0.0.1", Some(port))
            .propagators(otel_redis::Propagators::default())
    }

    pub fn spans(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().unwrap()
    }

    /// Histogram points of `name`, with the unit and the bucket bounds of the first point.
    pub fn histogram(&self, name: &str) -> (String, Vec<f64>, Vec<Point>) {
        self.meter_provider.force_flush().unwrap();
        let exported = self.metrics.get_finished_metrics().unwrap();
        let last = exported.last().expect("metrics exported");
        for scope in last.scope_metrics() {
            for metric in scope.metrics() {
                if metric.name() != name {
                    continue;
                }
                let AggregatedMetrics::F64(MetricData::Histogram(h)) = metric.data() else {
                    panic!("{name} is not an f64 histogram");
                };
                let bounds = h
                    .data_points()
                    .next()
                    .map(|p| p.bounds().collect())
                    .unwrap_or_default();
                let points = h
                    .data_points()
                    .map(|p| (attrs(&mut p.attributes()), p.count()))
                    .collect();
                return (metric.unit().to_owned(), bounds, points);
            }
        }
        panic!("no metric {name}");
    }

    /// Every metric attribute value exported so far, as text.
    pub fn all_metric_attribute_values(&self) -> Vec<String> {
        self.meter_provider.force_flush().unwrap();
        let mut out = Vec::new();
        for exported in self.metrics.get_finished_metrics().unwrap() {
            for scope in exported.scope_metrics() {
                for metric in scope.metrics() {
                    let mut push = |kvs: &mut dyn Iterator<Item = &KeyValue>| {
                        out.extend(kvs.map(|kv| kv.value.to_string()))
                    };
                    match metric.data() {
                        AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                            h.data_points().for_each(|p| push(&mut p.attributes()))
                        }
                        AggregatedMetrics::U64(MetricData::Sum(s)) => {
                            s.data_points().for_each(|p| push(&mut p.attributes()))
                        }
                        _ => {}
                    }
                }
            }
        }
        out
    }
}

fn attrs(kvs: &mut dyn Iterator<Item = &KeyValue>) -> HashMap<String, String> {
    kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

/// An attribute of a span, as text.
pub fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            Value::String(s) => s.as_str().to_owned(),
            other => other.to_string(),
        })
}

/// The spans named `name`.
pub fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

/// The one span named `name`; panics with every span otherwise.
pub fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found = named(spans, name);
    assert_eq!(found.len(), 1, "spans named {name:?} in {spans:#?}");
    found[0]
}
