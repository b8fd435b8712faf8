//! Test fixtures: SDK providers exporting to memory, clients on a broker.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use otel_kafka::{Options, TracedConsumer, TracedProducer};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

pub mod tansu;

/// A metric point: its attributes and its count (histograms) or value (sums).
pub type Point = (HashMap<String, String>, f64);

/// SDK providers that export to memory.
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

    /// Options recording into these providers, with W3C trace context and baggage (the global
    /// propagator is left alone: tests run in parallel).
    pub fn options(&self) -> Options {
        Options::new()
            .tracer_provider(self.tracer_provider.clone())
            .meter_provider(self.meter_provider.clone())
            .propagators(
                otel_kafka::Propagators::builder()
                    .tracecontext()
                    .baggage()
                    .build(),
            )
    }

    pub fn spans(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().unwrap()
    }

    /// Points of metric `name`: its unit, and per point attributes and count (or sum).
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
                    AggregatedMetrics::U64(MetricData::Sum(s)) => s
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

/// The one span named `name`.
pub fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<&SpanData> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "spans named {name:?} in {spans:#?}");
    found[0]
}

/// Client settings for `brokers`, short timeouts so failures show quickly.
pub fn config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("client.id", "otel-kafka-test")
        .set("message.timeout.ms", "10000")
        .set("socket.timeout.ms", "5000")
        .set("api.version.request", "true");
    config
}

pub fn producer(brokers: &str, options: Options) -> TracedProducer {
    TracedProducer::from_config_with_options(&config(brokers), options).expect("producer")
}

/// A consumer of `topic` partition 0 from the beginning: `assign()`, no group join to wait for.
pub fn consumer(brokers: &str, topic: &str, options: Options) -> TracedConsumer<StreamConsumer> {
    let mut config = config(brokers);
    config
        .set("group.id", "otel-kafka-tests")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500");
    let consumer: TracedConsumer<StreamConsumer> =
        TracedConsumer::from_config_with_options(&config, options).expect("consumer");
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&partitions).unwrap();
    consumer
}

/// Bounds every await on the broker.
pub async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}
