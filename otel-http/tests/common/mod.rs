//! Shared by the integration tests: SDK providers with in-memory exporters, a real axum server on
//! 127.0.0.1, and a real hyper client.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use otel_http::{Client as ClientKind, OtelLayer, Server};
use otel_propagation::Propagators;

/// A metric point: its attributes, and its count (histograms) or value (sums).
pub type Point = (HashMap<String, String>, f64);

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

    pub fn server(&self) -> OtelLayer<Server> {
        OtelLayer::server()
            .tracer_provider(self.tracer_provider.clone())
            .meter_provider(self.meter_provider.clone())
            .propagators(Propagators::default())
    }

    pub fn client(&self) -> OtelLayer<ClientKind> {
        OtelLayer::client()
            .tracer_provider(self.tracer_provider.clone())
            .meter_provider(self.meter_provider.clone())
            .propagators(Propagators::default())
    }

    /// Waits (at most 5 s) until `n` spans have ended, and returns them.
    pub async fn wait_for_spans(&self, n: usize) -> Vec<SpanData> {
        for _ in 0..500 {
            let spans = self.spans.get_finished_spans().unwrap();
            if spans.len() >= n {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "expected {n} spans, got {:?}",
            self.spans.get_finished_spans().unwrap()
        );
    }

    /// Histogram (or sum) points of metric `name`: attributes, count (or value), and the unit.
    pub fn points(&self, name: &str) -> (String, Vec<Point>) {
        self.meter_provider.force_flush().unwrap();
        let exported = self.metrics.get_finished_metrics().unwrap();
        let last = exported.last().expect("metrics exported");
        for scope in last.scope_metrics() {
            for metric in scope.metrics() {
                if metric.name() != name {
                    continue;
                }
                let attrs = |kvs: &mut dyn Iterator<Item = &KeyValue>| {
                    kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
                        .collect::<HashMap<_, _>>()
                };
                let points = match metric.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => h
                        .data_points()
                        .map(|p| (attrs(&mut p.attributes()), p.count() as f64))
                        .collect(),
                    AggregatedMetrics::U64(MetricData::Histogram(h)) => h
                        .data_points()
                        .map(|p| (attrs(&mut p.attributes()), p.count() as f64))
                        .collect(),
                    AggregatedMetrics::I64(MetricData::Sum(s)) => s
                        .data_points()
                        .map(|p| (attrs(&mut p.attributes()), p.value() as f64))
                        .collect(),
                    other => panic!("unexpected data for {name}: {other:?}"),
                };
                return (metric.unit().to_owned(), points);
            }
        }
        panic!("no metric {name}");
    }
}

/// An attribute of a span, as a string.
pub fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            Value::String(s) => s.as_str().to_owned(),
            other => other.to_string(),
        })
}

pub fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
}

/// Serves `app` on 127.0.0.1 with `ConnectInfo`, in the background.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

pub type HyperClient = Client<HttpConnector, Full<Bytes>>;

pub fn hyper_client() -> HyperClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends one request with the plain hyper client and reads the whole response.
pub async fn send(
    method: &str,
    url: String,
    headers: &[(&str, &str)],
) -> (http::StatusCode, http::HeaderMap, String) {
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = hyper_client()
        .request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}
