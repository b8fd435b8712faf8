//! What messaging instrumentation shares, whatever carries the messages (Kafka records, Redis
//! stream entries, Pub/Sub envelopes): the consumer span's parent and links, the PRODUCER `send`
//! and CONSUMER `process` spans with their metrics ([`MessagingSpan`]), and the messaging metric
//! instruments of the semantic conventions.

use std::borrow::Cow;
use std::time::Instant;

use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::trace::{Link, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::{attribute as semconv, metric};

/// How a consumer's span relates to the context a message carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsumerParent {
    /// A child of the producer's context, with a link to it too: the trace continues across the
    /// hop (the default; what single-message processing calls for).
    #[default]
    Producer,
    /// A new trace (under the consumer's current context, if any) with only a link to the
    /// producer's context: for consumers that must not join producers' traces.
    LinkOnly,
}

/// The parent and links of a consumer span for a message whose carrier gave `extracted` (the
/// context extracted on top of `current`).
pub fn consumer_parent(
    current: &Context,
    extracted: Context,
    mode: ConsumerParent,
) -> (Context, Vec<Link>) {
    let producer = extracted.span().span_context().clone();
    if !producer.is_valid() {
        return (extracted, Vec::new());
    }
    let links = vec![Link::with_context(producer)];
    match mode {
        ConsumerParent::Producer => (extracted, links),
        ConsumerParent::LinkOnly => (current.clone(), links),
    }
}

/// [`consumer_parent`] with the consumer's current context, looked up only when the mode needs
/// it (link-only): `extracted` was extracted on top of it already.
pub fn consumer_parent_in_current(
    extracted: Context,
    mode: ConsumerParent,
) -> (Context, Vec<Link>) {
    match mode {
        ConsumerParent::Producer => consumer_parent(&Context::new(), extracted, mode),
        ConsumerParent::LinkOnly => {
            Context::map_current(|current| consumer_parent(current, extracted, mode))
        }
    }
}

/// The bucket boundaries the messaging conventions advise for their duration histograms, seconds.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The messaging metric instruments, created once per instrumentation.
#[derive(Clone, Debug)]
pub struct MessagingInstruments {
    /// `messaging.client.operation.duration`, seconds.
    pub operation_duration: Histogram<f64>,
    /// `messaging.process.duration`, seconds.
    pub process_duration: Histogram<f64>,
    /// `messaging.client.sent.messages`.
    pub sent_messages: Counter<u64>,
    /// `messaging.client.consumed.messages`.
    pub consumed_messages: Counter<u64>,
}

impl MessagingInstruments {
    /// Creates the instruments on `meter`.
    pub fn new(meter: &Meter) -> Self {
        MessagingInstruments {
            operation_duration: meter
                .f64_histogram(metric::MESSAGING_CLIENT_OPERATION_DURATION)
                .with_unit("s")
                .with_description(
                    "Duration of messaging operation initiated by a producer or consumer client.",
                )
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            process_duration: meter
                .f64_histogram(metric::MESSAGING_PROCESS_DURATION)
                .with_unit("s")
                .with_description("Duration of processing operation.")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            sent_messages: meter
                .u64_counter(metric::MESSAGING_CLIENT_SENT_MESSAGES)
                .with_unit("{message}")
                .with_description("Number of messages producer attempted to send to the broker.")
                .build(),
            consumed_messages: meter
                .u64_counter(metric::MESSAGING_CLIENT_CONSUMED_MESSAGES)
                .with_unit("{message}")
                .with_description("Number of messages that were delivered to the application.")
                .build(),
        }
    }
}

/// A PRODUCER `send {destination}` or CONSUMER `process {destination}` operation: its span (when
/// traces are on), the context it gives the message, and the timer of its metric.
///
/// The carrier crates start one per message (with their own name and attributes, built only
/// when the span records), hand [`MessagingSpan::context`] to the carrier or the handler, and
/// [`end`](MessagingSpan::end) it with the outcome. Dropped before that, it ends its span
/// without an outcome and records no metric (an abandoned send, a handler future dropped).
#[derive(Debug)]
pub struct MessagingSpan {
    cx: Context,
    kind: SpanKind,
    /// A span of ours is in `cx` and not ended yet.
    live: bool,
    recording: bool,
    /// Set when metrics are on, until they are recorded.
    started: Option<Instant>,
}

impl MessagingSpan {
    /// Starts a PRODUCER span under `parent` with `tracer` (no span when `None`: the context is
    /// `parent`'s), timed when `timed`.
    pub fn producer(
        tracer: Option<&BoxedTracer>,
        parent: &Context,
        timed: bool,
        name: impl FnOnce() -> Cow<'static, str>,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Self {
        Self::start(
            tracer,
            SpanKind::Producer,
            Cow::Borrowed(parent),
            Vec::new(),
            timed,
            name,
            attributes,
        )
    }

    /// Starts a CONSUMER span for a message whose carrier gave `extracted` (on top of
    /// `current`), parent and links from [`consumer_parent`]. Without a tracer there is no span,
    /// but the context still flows on: the producer's (or, link-only, the consumer's own).
    pub fn consumer(
        tracer: Option<&BoxedTracer>,
        current: &Context,
        extracted: Context,
        mode: ConsumerParent,
        timed: bool,
        name: impl FnOnce() -> Cow<'static, str>,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Self {
        let (parent, links) = consumer_parent(current, extracted, mode);
        Self::start(
            tracer,
            SpanKind::Consumer,
            Cow::Owned(parent),
            links,
            timed,
            name,
            attributes,
        )
    }

    /// [`MessagingSpan::consumer`] for a message extracted on top of the current context: the
    /// current context is looked up only when the mode needs it (see
    /// [`consumer_parent_in_current`]).
    pub fn consumer_in_current(
        tracer: Option<&BoxedTracer>,
        extracted: Context,
        mode: ConsumerParent,
        timed: bool,
        name: impl FnOnce() -> Cow<'static, str>,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Self {
        let (parent, links) = consumer_parent_in_current(extracted, mode);
        Self::start(
            tracer,
            SpanKind::Consumer,
            Cow::Owned(parent),
            links,
            timed,
            name,
            attributes,
        )
    }

    /// A `kind` span under `parent` with `links`; without a tracer, no span and `parent`'s
    /// context (borrowed by a producer, owned by a consumer: cloned only when it must be).
    fn start(
        tracer: Option<&BoxedTracer>,
        kind: SpanKind,
        parent: Cow<'_, Context>,
        links: Vec<Link>,
        timed: bool,
        name: impl FnOnce() -> Cow<'static, str>,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Self {
        let started = timed.then(Instant::now);
        match tracer {
            Some(tracer) => {
                let (span, recording) =
                    crate::start_span(tracer, kind.clone(), &parent, links, name, attributes);
                MessagingSpan {
                    cx: parent.with_span(span),
                    kind,
                    live: true,
                    recording,
                    started,
                }
            }
            None => MessagingSpan {
                cx: parent.into_owned(),
                kind,
                live: false,
                recording: false,
                started,
            },
        }
    }

    /// The context of the message: the span's, or the parent's when there is no span.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Whether the span records (attributes set on it are kept).
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Ends the span, with `error_type` as `error.type` and error status when given, and
    /// records the metrics when timed and `instruments` are given: a producer's
    /// `messaging.client.operation.duration` and `messaging.client.sent.messages`, a consumer's
    /// `messaging.process.duration`, with `metric_attributes` (see [`metric_attributes`]: bounded
    /// values only). Only the first call does anything.
    pub fn end(
        &mut self,
        error_type: Option<Cow<'static, str>>,
        instruments: Option<&MessagingInstruments>,
        metric_attributes: impl FnOnce() -> Vec<KeyValue>,
    ) {
        if self.live {
            self.live = false;
            let span = self.cx.span();
            if let (true, Some(error_type)) = (self.recording, error_type) {
                span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, error_type.clone()));
                span.set_status(Status::error(error_type));
            }
            span.end();
        }
        if let (Some(started), Some(instruments)) = (self.started.take(), instruments) {
            let elapsed = started.elapsed().as_secs_f64();
            let attributes = metric_attributes();
            if self.kind == SpanKind::Producer {
                instruments.operation_duration.record(elapsed, &attributes);
                instruments.sent_messages.add(1, &attributes);
            } else {
                instruments.process_duration.record(elapsed, &attributes);
            }
        }
    }
}

impl Drop for MessagingSpan {
    /// An operation abandoned before its outcome still ends its span.
    fn drop(&mut self) {
        if self.live {
            self.cx.span().end();
        }
    }
}

/// A messaging metric point's attributes: `common` (`messaging.system`, `server.*`…), the
/// operation as both `messaging.operation.name` and `messaging.operation.type`, `extra`
/// (destination, partition, group…), and `error.type`. Each must be bounded by the conventions
/// (never a key, offset, message id or client id). An operation whose name is not its type
/// (Kafka's `poll` is a `receive`) takes [`operation_metric_attributes`].
pub fn metric_attributes(
    common: &[KeyValue],
    operation: &'static str,
    extra: impl IntoIterator<Item = KeyValue>,
    error_type: Option<&'static str>,
) -> Vec<KeyValue> {
    operation_metric_attributes(common, operation, operation, extra, error_type)
}

/// [`metric_attributes`] with the operation's name (`messaging.operation.name`) and type
/// (`messaging.operation.type`) apart.
pub fn operation_metric_attributes(
    common: &[KeyValue],
    operation_name: &'static str,
    operation_type: &'static str,
    extra: impl IntoIterator<Item = KeyValue>,
    error_type: Option<&'static str>,
) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(common.len() + 6);
    attributes.extend_from_slice(common);
    attributes.push(KeyValue::new(
        semconv::MESSAGING_OPERATION_NAME,
        operation_name,
    ));
    attributes.push(KeyValue::new(
        semconv::MESSAGING_OPERATION_TYPE,
        operation_type,
    ));
    attributes.extend(extra);
    if let Some(error_type) = error_type {
        attributes.push(KeyValue::new(semconv::ERROR_TYPE, error_type));
    }
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    fn producer() -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7),
            SpanId::from(8),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ))
    }

    #[test]
    fn the_default_continues_the_trace_and_links() {
        let (parent, links) =
            consumer_parent(&Context::new(), producer(), ConsumerParent::Producer);
        assert_eq!(parent.span().span_context().trace_id(), TraceId::from(7));
        assert_eq!(links.len(), 1);
    }

    #[test]
    fn link_only_keeps_the_current_context() {
        let (parent, links) =
            consumer_parent(&Context::new(), producer(), ConsumerParent::LinkOnly);
        assert!(!parent.span().span_context().is_valid());
        assert_eq!(links[0].span_context.trace_id(), TraceId::from(7));
    }

    #[test]
    fn a_messaging_span_ends_once_with_its_error_and_metrics() {
        use opentelemetry::metrics::MeterProvider as _;
        use opentelemetry::trace::{Status, TracerProvider as _};
        use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
        use opentelemetry_sdk::metrics::{
            InMemoryMetricExporter, PeriodicReader, SdkMeterProvider,
        };
        use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = BoxedTracer::new(Box::new(provider.tracer("t")));
        let metrics = InMemoryMetricExporter::default();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        let instruments = MessagingInstruments::new(&meter_provider.meter("t"));
        let kafka = [KeyValue::new(semconv::MESSAGING_SYSTEM, "kafka")];

        let mut consumer = MessagingSpan::consumer(
            Some(&tracer),
            &Context::new(),
            producer(),
            ConsumerParent::Producer,
            true,
            || "process orders".into(),
            || vec![KeyValue::new(semconv::MESSAGING_SYSTEM, "kafka")],
        );
        assert!(consumer.is_recording());
        assert_eq!(
            consumer.context().span().span_context().trace_id(),
            TraceId::from(7)
        );
        consumer.end(Some("timeout".into()), Some(&instruments), || {
            metric_attributes(&kafka, "process", [], Some("timeout"))
        });
        consumer.end(None, Some(&instruments), || panic!("ended twice"));
        drop(consumer);

        // Dropped without an outcome: ended all the same, without an error or a metric.
        drop(MessagingSpan::producer(
            Some(&tracer),
            &Context::new(),
            true,
            || "send orders".into(),
            Vec::new,
        ));

        let mut sent = MessagingSpan::producer(
            Some(&tracer),
            &Context::new(),
            true,
            || "send events".into(),
            Vec::new,
        );
        sent.end(None, Some(&instruments), || {
            metric_attributes(&kafka, "send", [], None)
        });

        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 3);
        assert_eq!(spans[0].name, "process orders");
        assert_eq!(spans[0].span_kind, SpanKind::Consumer);
        assert_eq!(spans[0].links.len(), 1);
        assert!(
            spans[0]
                .attributes
                .contains(&KeyValue::new(semconv::ERROR_TYPE, "timeout"))
        );
        assert_eq!(spans[0].status, Status::error("timeout"));
        assert_eq!(spans[1].name, "send orders");
        assert_eq!(spans[1].span_kind, SpanKind::Producer);
        assert_eq!(spans[1].status, Status::Unset);
        assert_eq!(spans[2].name, "send events");
        assert_eq!(spans[2].status, Status::Unset);

        meter_provider.force_flush().unwrap();
        let exported = metrics.get_finished_metrics().unwrap();
        let last = exported.last().expect("metrics exported");
        // Each metric's points: (attributes, count for histograms or value for sums).
        let points = |name: &str| -> Vec<(Vec<KeyValue>, u64)> {
            let metric = last
                .scope_metrics()
                .flat_map(|scope| scope.metrics())
                .find(|metric| metric.name() == name)
                .unwrap_or_else(|| panic!("{name} not recorded"));
            match metric.data() {
                AggregatedMetrics::F64(MetricData::Histogram(h)) => h
                    .data_points()
                    .map(|p| (p.attributes().cloned().collect(), p.count()))
                    .collect(),
                AggregatedMetrics::U64(MetricData::Sum(s)) => s
                    .data_points()
                    .map(|p| (p.attributes().cloned().collect(), p.value()))
                    .collect(),
                _ => panic!("{name}: unexpected data"),
            }
        };
        let sorted = |mut attributes: Vec<KeyValue>| {
            attributes.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
            attributes
        };
        let expect = |name: &str, attributes: Vec<KeyValue>| {
            let points = points(name);
            assert_eq!(points.len(), 1, "{name}: {points:?}");
            assert_eq!(points[0].1, 1, "{name}");
            assert_eq!(sorted(points[0].0.clone()), sorted(attributes), "{name}");
        };
        expect(
            metric::MESSAGING_PROCESS_DURATION,
            metric_attributes(&kafka, "process", [], Some("timeout")),
        );
        let send = metric_attributes(&kafka, "send", [], None);
        expect(metric::MESSAGING_CLIENT_OPERATION_DURATION, send.clone());
        expect(metric::MESSAGING_CLIENT_SENT_MESSAGES, send);
        let names: Vec<_> = last
            .scope_metrics()
            .flat_map(|scope| scope.metrics())
            .map(|metric| metric.name().to_owned())
            .collect();
        assert!(
            !names.contains(&metric::MESSAGING_CLIENT_CONSUMED_MESSAGES.to_owned()),
            "{names:?}"
        );
    }

    #[test]
    fn without_a_tracer_the_context_still_flows() {
        let op = MessagingSpan::consumer(
            None,
            &Context::new(),
            producer(),
            ConsumerParent::Producer,
            false,
            || panic!("no span, no name"),
            || panic!("no span, no attributes"),
        );
        assert!(!op.is_recording());
        assert_eq!(
            op.context().span().span_context().span_id(),
            SpanId::from(8)
        );
    }

    #[test]
    fn metric_attributes_are_common_operation_extra_and_error() {
        assert_eq!(
            metric_attributes(
                &[KeyValue::new(semconv::MESSAGING_SYSTEM, "kafka")],
                "send",
                [KeyValue::new(semconv::MESSAGING_DESTINATION_NAME, "orders")],
                Some("timeout"),
            ),
            [
                KeyValue::new(semconv::MESSAGING_SYSTEM, "kafka"),
                KeyValue::new(semconv::MESSAGING_OPERATION_NAME, "send"),
                KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, "send"),
                KeyValue::new(semconv::MESSAGING_DESTINATION_NAME, "orders"),
                KeyValue::new(semconv::ERROR_TYPE, "timeout"),
            ]
        );
    }

    #[test]
    fn an_operation_named_apart_from_its_type() {
        assert_eq!(
            operation_metric_attributes(&[], "poll", "receive", [], None),
            [
                KeyValue::new(semconv::MESSAGING_OPERATION_NAME, "poll"),
                KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, "receive"),
            ]
        );
    }

    #[test]
    fn in_current_the_link_only_parent_is_the_current_context() {
        let current = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(3),
            SpanId::from(4),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ));
        let _attached = current.attach();
        let (parent, links) = consumer_parent_in_current(producer(), ConsumerParent::LinkOnly);
        assert_eq!(parent.span().span_context().trace_id(), TraceId::from(3));
        assert_eq!(links[0].span_context.trace_id(), TraceId::from(7));
        let (parent, links) = consumer_parent_in_current(producer(), ConsumerParent::Producer);
        assert_eq!(parent.span().span_context().trace_id(), TraceId::from(7));
        assert_eq!(links.len(), 1);
    }

    #[test]
    fn no_producer_context_no_link() {
        let (parent, links) =
            consumer_parent(&Context::new(), Context::new(), ConsumerParent::Producer);
        assert!(!parent.span().span_context().is_valid());
        assert!(links.is_empty());
    }
}
