//! The telemetry fixture of the integration tests: SDK providers that export to memory.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

/// A metric point: its attributes, and its count (histograms) or value (sums).
pub type Point = (HashMap<String, String>, f64);

/// A histogram point: its attributes, and its count.
pub type HistogramPoint = (HashMap<String, String>, u64);

/// SDK tracer and meter providers that export to memory, for assertions.
pub struct Telemetry {
    /// Finished spans.
    pub spans: InMemorySpanExporter,
    /// The tracer provider to hand to the layers.
    pub tracer_provider: SdkTracerProvider,
    /// Exported metrics.
    pub metrics: InMemoryMetricExporter,
    /// The meter provider to hand to the layers.
    pub meter_provider: SdkMeterProvider,
}

impl Telemetry {
    /// Fresh providers and exporters.
    #[allow(clippy::new_without_default)]
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

    /// The spans that have ended so far.
    pub fn spans(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().unwrap()
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
        self.with_metric(name, |metric| {
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
                AggregatedMetrics::U64(MetricData::Sum(s)) => s
                    .data_points()
                    .map(|p| (attrs(&mut p.attributes()), p.value() as f64))
                    .collect(),
                other => panic!("unexpected data for {name}: {other:?}"),
            };
            (metric.unit().to_owned(), points)
        })
    }

    /// The f64 histogram `name`: its unit, the bucket bounds of its first point, and its points
    /// (attributes and count).
    pub fn histogram(&self, name: &str) -> (String, Vec<f64>, Vec<HistogramPoint>) {
        self.with_metric(name, |metric| {
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
            (metric.unit().to_owned(), bounds, points)
        })
    }

    /// Reads the metric `name` of the last export (after a flush); panics when there is none.
    fn with_metric<T>(&self, name: &str, read: impl FnOnce(&Metric) -> T) -> T {
        self.meter_provider.force_flush().unwrap();
        let exported = self.metrics.get_finished_metrics().unwrap();
        let last = exported.last().expect("metrics exported");
        last.scope_metrics()
            .flat_map(|scope| scope.metrics())
            .find(|metric| metric.name() == name)
            .map(read)
            .unwrap_or_else(|| panic!("no metric {name}"))
    }

    /// Every metric attribute value exported so far (f64 histograms and u64 sums), as text.
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

/// The span named `name`; panics with every span when there is none.
pub fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
}

/// The spans named `name`.
pub fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

/// The one span named `name`; panics with every span when there is none or more than one.
pub fn unique_span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found = named(spans, name);
    assert_eq!(found.len(), 1, "spans named {name:?} in {spans:#?}");
    found[0]
}
