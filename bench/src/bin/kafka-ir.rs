//! Drives Kafka messages in-process through librdkafka's mock cluster, for callgrind:
//! `kafka-ir <variant> <n>`.
//!
//! `produce-*`: `n` records sent one at a time, each awaited until its delivery report.
//! `consume-*`: `n` records (with a sampled `traceparent`) produced untraced first, then received
//! one at a time and handed to a handler that does nothing; compare consume variants with each
//! other (the untraced production is in every one of them).
//!
//! Variants: `bare` (rdkafka alone); `floor` (the least an OpenTelemetry-API wrapper does: inject
//! or extract with our propagators through the global text map path, one span with a fixed name and
//! no attributes, context current while the handler runs, end at the delivery report / after the
//! handler); `handwritten` (the pattern users copy today: a `HeaderInjector` that rebuilds the
//! headers on every `set`, a `HeaderExtractor` that scans the headers per key, the SDK's
//! propagators, a `format!`ted span name and a few attributes); `ours` (otel-kafka, traces only);
//! `ours-metrics` (traces and metrics). Spans go through a simple processor to an exporter that
//! discards, so all of a message's work is on the driver's thread: `scripts/callgrind-kafka.sh`
//! counts that thread only (librdkafka's own threads poll on timers, so their counts follow wall
//! time, not work).

use std::process::ExitCode;
use std::time::Duration;

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::trace::{Span, SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;
use otel_bench::http::Discard;
use otel_kafka::{Options, TracedConsumer, TracedProducer};
use otel_propagation::Propagators;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedHeaders, Header, Headers, Message, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const VARIANTS: [&str; 10] = [
    "produce-bare",
    "produce-floor",
    "produce-handwritten",
    "produce-ours",
    "produce-ours-metrics",
    "consume-bare",
    "consume-floor",
    "consume-handwritten",
    "consume-ours",
    "consume-ours-metrics",
];

const TOPIC: &str = "orders";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn main() -> ExitCode {
    otel_bench::driver_main(&VARIANTS, |variant, n| {
        if !VARIANTS.contains(&variant) {
            return false;
        }
        let tracer_provider = SdkTracerProvider::builder()
            .with_simple_exporter(Discard)
            .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(Discard).build())
            .build();
        global::set_tracer_provider(tracer_provider.clone());
        global::set_meter_provider(meter_provider.clone());
        Propagators::default().install_global();

        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic(TOPIC, 1, 1).expect("topic");
        let brokers = cluster.bootstrap_servers();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            match variant.split_once('-') {
                Some(("produce", how)) => produce(&brokers, how, n).await,
                Some(("consume", how)) => consume(&brokers, how, n).await,
                _ => unreachable!(),
            }
        });
        let _ = tracer_provider.shutdown();
        let _ = meter_provider.shutdown();
        true
    })
}

fn config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "0")
        .set("group.id", "bench")
        .set("enable.auto.commit", "false");
    config
}

fn options(how: &str) -> Options {
    Options::new().metrics(how == "ours-metrics")
}

const PAYLOAD: &str = "{\"submission\":42,\"language\":\"rust\"}";

async fn produce(brokers: &str, how: &str, n: u64) {
    let producer: FutureProducer = config(brokers).create().expect("producer");
    let traced = TracedProducer::from_config_with_options(&config(brokers), options(how))
        .expect("traced producer");
    let tracer = global::tracer("bench");
    let handwritten = handwritten_propagator();
    // The application's own span around each send, as in a request handler.
    let parent = Context::new().with_remote_span_context(opentelemetry::trace::SpanContext::new(
        opentelemetry::trace::TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        opentelemetry::trace::SpanId::from(0x00f0_67aa_0ba9_02b7),
        opentelemetry::trace::TraceFlags::SAMPLED,
        true,
        Default::default(),
    ));
    let _parent = parent.attach();
    for i in 0..n {
        let key = "submission-42";
        let record = FutureRecord::to(TOPIC).key(key).payload(PAYLOAD);
        match how {
            "bare" => {
                std::hint::black_box(producer.send(record, Duration::ZERO).await.expect("sent"));
            }
            "floor" => floor_send(&producer, &tracer, record).await,
            "handwritten" => handwritten_send(&producer, &tracer, &handwritten, record).await,
            _ => {
                std::hint::black_box(traced.send(record, Duration::ZERO).await.expect("sent"));
            }
        }
        if i % 128 == 127 {
            tokio::task::yield_now().await;
        }
    }
}

async fn floor_send(
    producer: &FutureProducer,
    tracer: &BoxedTracer,
    mut record: FutureRecord<'_, str, str>,
) {
    let mut builder = tracer.span_builder("send");
    builder.span_kind = Some(SpanKind::Producer);
    let cx = Context::current_with_span(builder.start(tracer));
    let mut injector = otel_kafka::HeaderInjector::new(record.headers.take());
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut injector));
    record.headers = Some(injector.into_headers());
    std::hint::black_box(producer.send(record, Duration::ZERO).await.expect("sent"));
    cx.span().end();
}

/// The SDK's propagators, as a hand-written integration installs them.
fn handwritten_propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// The injector users copy: every `set` rebuilds the headers.
struct CopiedHeaderInjector<'a>(&'a mut OwnedHeaders);

impl Injector for CopiedHeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let mut new = OwnedHeaders::new().insert(Header {
            key,
            value: Some(&value),
        });
        for header in self.0.iter() {
            new = new.insert(Header {
                key: header.key,
                value: header.value,
            });
        }
        *self.0 = new;
    }
}

/// The extractor users copy: a scan over the headers per key.
struct CopiedHeaderExtractor<'a>(&'a BorrowedHeaders);

impl Extractor for CopiedHeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        for i in 0..self.0.count() {
            if let Ok(header) = self.0.get_as::<str>(i)
                && header.key == key
            {
                return header.value;
            }
        }
        None
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|h| h.key).collect()
    }
}

async fn handwritten_send(
    producer: &FutureProducer,
    tracer: &BoxedTracer,
    propagator: &TextMapCompositePropagator,
    mut record: FutureRecord<'_, str, str>,
) {
    let span = tracer
        .span_builder(format!("send {}", record.topic))
        .with_kind(SpanKind::Producer)
        .with_attributes([
            KeyValue::new("messaging.system", "kafka"),
            KeyValue::new("messaging.destination.name", record.topic.to_owned()),
            KeyValue::new("messaging.operation.type", "send"),
        ])
        .start(tracer);
    let cx = Context::current_with_span(span);
    let mut headers = record.headers.take().unwrap_or_default();
    propagator.inject_context(&cx, &mut CopiedHeaderInjector(&mut headers));
    record.headers = Some(headers);
    match producer.send(record, Duration::ZERO).await {
        Ok(delivery) => {
            cx.span()
                .set_attribute(KeyValue::new("messaging.kafka.offset", delivery.offset));
        }
        Err((error, _)) => cx
            .span()
            .set_status(opentelemetry::trace::Status::error(error.to_string())),
    }
    cx.span().end();
}

async fn consume(brokers: &str, how: &str, n: u64) {
    let producer: FutureProducer = config(brokers).create().expect("producer");
    for _ in 0..n {
        let headers = OwnedHeaders::new().insert(Header {
            key: "traceparent",
            value: Some(TRACEPARENT),
        });
        producer
            .send(
                FutureRecord::to(TOPIC)
                    .key("submission-42")
                    .payload(PAYLOAD)
                    .headers(headers),
                Duration::ZERO,
            )
            .await
            .expect("sent");
    }
    let consumer: TracedConsumer<StreamConsumer> =
        TracedConsumer::from_config_with_options(&config(brokers), options(how)).expect("consumer");
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(TOPIC, 0, Offset::Beginning)
        .expect("partition");
    consumer.assign(&partitions).expect("assign");
    let tracer = global::tracer("bench");
    let handwritten = handwritten_propagator();
    let handler = |cx: &Context| {
        std::hint::black_box(cx);
        Ok::<_, std::io::Error>(())
    };
    for _ in 0..n {
        match how {
            "bare" => {
                let message = consumer.inner().recv().await.expect("message");
                handler(&Context::current()).expect("handled");
                std::hint::black_box(message.offset());
            }
            "floor" => {
                let message = consumer.inner().recv().await.expect("message");
                let parent = match message.headers() {
                    Some(headers) => global::get_text_map_propagator(|p| {
                        p.extract(&otel_kafka::HeaderExtractor::new(headers))
                    }),
                    None => Context::new(),
                };
                let mut builder = tracer.span_builder("process");
                builder.span_kind = Some(SpanKind::Consumer);
                let cx = parent.with_span(builder.start_with_context(&tracer, &parent));
                {
                    let _cx = cx.clone().attach();
                    handler(&cx).expect("handled");
                }
                cx.span().end();
            }
            "handwritten" => {
                let message = consumer.inner().recv().await.expect("message");
                let parent = match message.headers() {
                    Some(headers) => handwritten.extract(&CopiedHeaderExtractor(headers)),
                    None => Context::new(),
                };
                let mut span = tracer
                    .span_builder(format!("process {}", message.topic()))
                    .with_kind(SpanKind::Consumer)
                    .with_attributes([
                        KeyValue::new("messaging.system", "kafka"),
                        KeyValue::new("messaging.destination.name", message.topic().to_owned()),
                        KeyValue::new("messaging.operation.type", "process"),
                        KeyValue::new("messaging.kafka.offset", message.offset()),
                    ])
                    .start_with_context(&tracer, &parent);
                let result = {
                    let cx = parent.with_remote_span_context(span.span_context().clone());
                    let _cx = cx.attach();
                    handler(&Context::current())
                };
                if let Err(error) = result {
                    span.set_status(opentelemetry::trace::Status::error(error.to_string()));
                }
                span.end();
            }
            _ => {
                let message = consumer.recv().await.expect("message");
                consumer.process(&message, handler).expect("handled");
            }
        }
    }
}
