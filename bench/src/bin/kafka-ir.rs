//! Drives Kafka messages in-process through librdkafka's mock cluster, for callgrind:
//! `kafka-ir <variant> <n>`.
//!
//! `produce-*`: `n` records sent one at a time, each awaited until its delivery report.
//! `consume-*`: `n` records (with a sampled `traceparent`) produced untraced first (on another
//! thread, so not counted), fetched into librdkafka's local queue, then received one at a time and
//! handed to a handler that does nothing.
//!
//! Variants: `bare` (rdkafka alone); `floor` (the least an OpenTelemetry-API wrapper does: inject
//! or extract with our propagators through the global text map path, one span with a fixed name and
//! no attributes, context current while the handler runs, end at the delivery report / after the
//! handler); `floor-attributes` (the floor whose span has the attribute set issue 10 requires,
//! built the plainest way: literals, `to_owned` for the topic and key, `format!` for the name,
//! the producer link on the consumer side: what the SDK costs to take them, whatever the
//! wrapper); `handwritten` (the pattern users copy today: a `HeaderInjector` that rebuilds the
//! headers on every `set`, a `HeaderExtractor` that scans the headers per key, the SDK's
//! propagators, a `format!`ted span name and a few attributes); `ours` (otel-kafka, traces only);
//! `ours-metrics` (traces and metrics). Spans go through a simple processor to an exporter that
//! discards, so all of a message's work is on the driver's thread: `scripts/callgrind-kafka.sh`
//! counts that thread only (librdkafka's own threads poll on timers, so their counts follow wall
//! time, not work).
//!
//! `kafka-ir throughput [rounds] [messages]`: wall-clock messages per second, produced (pipelined:
//! every record queued, then every delivery report awaited) and consumed-and-processed, for
//! `bare`, `floor`, `floor-attributes` and `ours`, in interleaved rounds, as ratios to bare; and
//! the CPU time each spent per message, by thread, and the spans the batch processor dropped. Against `KAFKA_BROKERS`
//! (a tansu on loopback: `scripts/callgrind-kafka.sh throughput` starts one), else the in-process
//! mock cluster.

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

const VARIANTS: [&str; 12] = [
    "produce-bare",
    "produce-floor",
    "produce-floor-attributes",
    "produce-handwritten",
    "produce-ours",
    "produce-ours-metrics",
    "consume-bare",
    "consume-floor",
    "consume-floor-attributes",
    "consume-handwritten",
    "consume-ours",
    "consume-ours-metrics",
];

const TOPIC: &str = "orders";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("throughput") {
        return throughput::main();
    }
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
    let server = PlainServer::new(brokers);
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
            "floor-attributes" => {
                let mut record = record;
                let cx = Context::current_with_span(plain_send_span(&tracer, &record, &server));
                let mut injector = otel_kafka::HeaderInjector::new(record.headers.take());
                global::get_text_map_propagator(|p| p.inject_context(&cx, &mut injector));
                record.headers = Some(injector.into_headers());
                let delivered = producer.send(record, Duration::ZERO).await.expect("sent");
                plain_delivered(&cx, delivered.partition, delivered.offset);
                cx.span().end();
            }
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

/// The records a consume variant reads, produced untraced on a thread of their own: only the
/// driver's thread is counted, so production (whose delivery waits park the thread a varying
/// number of times) stays out of every consume row.
fn produce_untraced(brokers: &str, n: u64) {
    let brokers = brokers.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let producer: FutureProducer = config(&brokers).create().expect("producer");
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
        });
    })
    .join()
    .expect("producer thread");
}

async fn consume(brokers: &str, how: &str, n: u64) {
    produce_untraced(brokers, n);
    let consumer: TracedConsumer<StreamConsumer> =
        TracedConsumer::from_config_with_options(&config(brokers), options(how)).expect("consumer");
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(TOPIC, 0, Offset::Beginning)
        .expect("partition");
    consumer.assign(&partitions).expect("assign");
    // librdkafka's fetcher fills the local queue meanwhile (every record is in the broker
    // already), so the loop below mostly finds a message waiting instead of parking a varying
    // number of times.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let tracer = global::tracer("bench");
    let server = PlainServer::new(brokers);
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
            "floor-attributes" => {
                let message = consumer.inner().recv().await.expect("message");
                let cx = plain_process_span(&tracer, &message, &server);
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

/// `server.address` / `server.port` from the first of `bootstrap.servers`, and the other
/// per-client values, read once, as a plain wrapper would keep them (shared, not copied per
/// message).
struct PlainServer {
    host: std::sync::Arc<str>,
    port: i64,
}

impl PlainServer {
    fn new(brokers: &str) -> Self {
        let first = brokers.split(',').next().unwrap_or_default();
        let (host, port) = first.rsplit_once(':').unwrap_or((first, "9092"));
        PlainServer {
            host: host.into(),
            port: port.parse().unwrap_or(9092),
        }
    }
}

/// The PRODUCER span `send {topic}` with issue 10's attributes, built the plainest way.
fn plain_send_span<K, P>(
    tracer: &BoxedTracer,
    record: &FutureRecord<'_, K, P>,
    server: &PlainServer,
) -> opentelemetry::global::BoxedSpan
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    let mut attributes = Vec::with_capacity(12);
    attributes.extend([
        KeyValue::new("messaging.system", "kafka"),
        KeyValue::new("messaging.destination.name", record.topic.to_owned()),
        KeyValue::new("messaging.operation.type", "send"),
        KeyValue::new("messaging.operation.name", "send"),
        KeyValue::new("messaging.client.id", "rdkafka"),
        KeyValue::new("server.address", server.host.clone()),
        KeyValue::new("server.port", server.port),
    ]);
    if let Some(key) = record.key.map(|k| k.to_bytes())
        && let Ok(key) = std::str::from_utf8(key)
    {
        attributes.push(KeyValue::new("messaging.kafka.message.key", key.to_owned()));
    }
    match record.payload.map(|p| p.to_bytes()) {
        Some(payload) => attributes.push(KeyValue::new(
            "messaging.message.body.size",
            payload.len() as i64,
        )),
        None => attributes.push(KeyValue::new("messaging.kafka.message.tombstone", true)),
    }
    tracer
        .span_builder(format!("send {}", record.topic))
        .with_kind(SpanKind::Producer)
        .with_attributes(attributes)
        .start(tracer)
}

/// The delivery report's attributes on a plain send span.
fn plain_delivered(cx: &Context, partition: i32, offset: i64) {
    cx.span().set_attributes([
        KeyValue::new("messaging.destination.partition.id", partition.to_string()),
        KeyValue::new("messaging.kafka.offset", offset),
    ]);
}

/// The CONSUMER span `process {topic}` with issue 10's attributes, built the plainest way: a
/// child of the producer's context from the headers, with a link to it.
fn plain_process_span<M: Message>(
    tracer: &BoxedTracer,
    message: &M,
    server: &PlainServer,
) -> Context {
    let parent = match message.headers() {
        Some(headers) => global::get_text_map_propagator(|p| {
            p.extract(&otel_kafka::HeaderExtractor::new(headers))
        }),
        None => Context::new(),
    };
    let producer = parent.span().span_context().clone();
    let links = if producer.is_valid() {
        vec![opentelemetry::trace::Link::with_context(producer)]
    } else {
        Vec::new()
    };
    let mut attributes = Vec::with_capacity(12);
    attributes.extend([
        KeyValue::new("messaging.system", "kafka"),
        KeyValue::new("messaging.destination.name", message.topic().to_owned()),
        KeyValue::new("messaging.operation.type", "process"),
        KeyValue::new("messaging.operation.name", "process"),
        KeyValue::new("messaging.client.id", "rdkafka"),
        KeyValue::new("messaging.consumer.group.name", "bench"),
        KeyValue::new(
            "messaging.destination.partition.id",
            message.partition().to_string(),
        ),
        KeyValue::new("messaging.kafka.offset", message.offset()),
        KeyValue::new("server.address", server.host.clone()),
        KeyValue::new("server.port", server.port),
    ]);
    if let Some(key) = message.key()
        && let Ok(key) = std::str::from_utf8(key)
    {
        attributes.push(KeyValue::new("messaging.kafka.message.key", key.to_owned()));
    }
    match message.payload() {
        Some(payload) => attributes.push(KeyValue::new(
            "messaging.message.body.size",
            payload.len() as i64,
        )),
        None => attributes.push(KeyValue::new("messaging.kafka.message.tombstone", true)),
    }
    let span = tracer
        .span_builder(format!("process {}", message.topic()))
        .with_kind(SpanKind::Consumer)
        .with_attributes(attributes)
        .with_links(links)
        .start_with_context(tracer, &parent);
    parent.with_span(span)
}

mod throughput {
    use std::collections::HashMap;
    use std::process::ExitCode;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use opentelemetry::Context;
    use opentelemetry::global;
    use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{
        BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
    };
    use otel_kafka::{Options, TracedConsumer, TracedProducer};
    use otel_propagation::Propagators;
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use rdkafka::{Offset, TopicPartitionList};

    use super::{
        PAYLOAD, PlainServer, config, plain_delivered, plain_process_span, plain_send_span,
    };

    const HOW: [&str; 4] = ["bare", "floor", "floor-attributes", "ours"];

    /// Discards spans, counting them: spans ended minus spans exported is what the batch
    /// processor dropped (its queue full).
    #[derive(Debug, Clone, Default)]
    struct Counted(Arc<AtomicU64>);

    impl SpanExporter for Counted {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
            Ok(())
        }
    }

    /// CPU time (nanoseconds, `/proc/<pid>/task/*/schedstat`) per thread class of a process.
    fn cpu(pid: &str) -> HashMap<&'static str, u64> {
        let mut by_class = HashMap::new();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return by_class;
        };
        for task in tasks.flatten() {
            let path = task.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            let ns: u64 = std::fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            let class = if pid != "self" {
                "broker"
            } else if comm.starts_with("OpenTelemetry") {
                "bsp"
            } else if comm.starts_with("rdk:") {
                "rdkafka"
            } else if comm.starts_with("kafka-ir") {
                "driver"
            } else {
                "other"
            };
            *by_class.entry(class).or_insert(0) += ns;
        }
        by_class
    }

    const CLASSES: [&str; 5] = ["driver", "bsp", "rdkafka", "other", "broker"];

    /// CPU snapshots of this process and the broker's (`BROKER_PID`), by thread class.
    fn snapshot() -> [u64; 5] {
        // `CPU_TIMES=0` under callgrind: reading /proc costs a varying number of instructions.
        if std::env::var("CPU_TIMES").is_ok_and(|v| v == "0") {
            return [0; 5];
        }
        let mut here = cpu("self");
        if let Ok(pid) = std::env::var("BROKER_PID") {
            here.extend(cpu(&pid));
        }
        CLASSES.map(|c| here.get(c).copied().unwrap_or(0))
    }

    /// One phase of one round: messages per second, CPU nanoseconds per message by class,
    /// spans dropped by the batch processor.
    #[derive(Clone, Copy, Debug, Default)]
    struct Phase {
        rate: f64,
        cpu: [f64; 5],
        dropped: u64,
    }

    pub fn main() -> ExitCode {
        let args: Vec<u64> = std::env::args()
            .skip(2)
            .filter_map(|a| a.parse().ok())
            .collect();
        let rounds = args.first().copied().unwrap_or(5);
        let messages = args.get(1).copied().unwrap_or(20_000);
        // `HOW=floor,ours SIDES=produce` narrow a run (e.g. under callgrind).
        let hows: Vec<&str> = match std::env::var("HOW") {
            Ok(list) => HOW
                .into_iter()
                .filter(|h| list.split(',').any(|l| l == *h))
                .collect(),
            Err(_) => HOW.to_vec(),
        };
        let sides = std::env::var("SIDES").unwrap_or_else(|_| "produce,consume".into());
        let (do_produce, do_consume) = (sides.contains("produce"), sides.contains("consume"));
        let exported = Counted::default();
        // A queue that holds a whole round: no variant's spans are dropped unexported (a dropped
        // span costs less than an exported one), so each variant pays for all of its spans.
        let processor = BatchSpanProcessor::builder(exported.clone())
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(messages.max(2048) as usize)
                    .build(),
            )
            .build();
        let tracer_provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .build();
        global::set_tracer_provider(tracer_provider.clone());
        Propagators::default().install_global();
        let mock;
        let brokers = match std::env::var("KAFKA_BROKERS") {
            Ok(brokers) => brokers,
            Err(_) => {
                mock = MockCluster::new(1).expect("mock cluster");
                mock.bootstrap_servers()
            }
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut phases: Vec<[Vec<Phase>; 2]> =
            hows.iter().map(|_| [Vec::new(), Vec::new()]).collect();
        // The spans a phase ended are flushed before the next phase starts (outside its clock),
        // so one variant's export work never lands in another's measurement.
        // The flush's CPU time (the batch processor's) is added to the phase's.
        let flushed = |phase: &mut Phase, before: u64, ended: u64| {
            let cpu = snapshot();
            let _ = tracer_provider.force_flush();
            let flush = per_message(cpu, messages);
            for (total, flush) in phase.cpu.iter_mut().zip(flush) {
                *total += flush;
            }
            phase.dropped = ended.saturating_sub(exported.0.load(Ordering::Relaxed) - before);
        };
        runtime.block_on(async {
            let admin: AdminClient<DefaultClientContext> =
                config(&brokers).create().expect("admin");
            for round in 0..rounds {
                for (i, how) in hows.iter().enumerate() {
                    // Unique per process: one broker can serve several runs.
                    let topic = format!("throughput-{}-{round}-{how}", std::process::id());
                    let new = NewTopic::new(&topic, 1, TopicReplication::Fixed(1));
                    for result in admin
                        .create_topics([&new], &AdminOptions::new())
                        .await
                        .expect("create topic")
                    {
                        result.expect("topic created");
                    }
                    let ended = if *how == "bare" { 0 } else { messages };
                    // Consume needs the topic filled: produce always, record it when asked.
                    let before = exported.0.load(Ordering::Relaxed);
                    let mut phase = produce(&brokers, &topic, how, messages).await;
                    flushed(&mut phase, before, ended);
                    if do_produce {
                        phases[i][0].push(phase);
                    }
                    if do_consume {
                        let before = exported.0.load(Ordering::Relaxed);
                        let mut phase = consume(&brokers, &topic, how, messages).await;
                        flushed(&mut phase, before, ended);
                        phases[i][1].push(phase);
                    }
                }
            }
        });
        let _ = tracer_provider.shutdown();
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        println!(
            "| variant | produced / s | ratio to bare | consumed + processed / s | ratio to bare |"
        );
        println!("|---|---:|---:|---:|---:|");
        let rate = |p: &[Phase]| median(&p.iter().map(|p| p.rate).collect::<Vec<_>>());
        let bare = [rate(&phases[0][0]), rate(&phases[0][1])];
        for (i, how) in hows.iter().enumerate() {
            let (p, c) = (rate(&phases[i][0]), rate(&phases[i][1]));
            println!(
                "| {how} | {p:.0} | {:.2} | {c:.0} | {:.2} |",
                p / bare[0],
                c / bare[1]
            );
        }
        println!();
        println!(
            "| variant | side | CPU µs / message: driver | batch processor | librdkafka | other | all of ours | broker | spans dropped (median) |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for (i, how) in hows.iter().enumerate() {
            for (side, name) in ["produce", "consume"].iter().enumerate() {
                let runs = &phases[i][side];
                if runs.is_empty() {
                    continue;
                }
                let class = |c: usize| median(&runs.iter().map(|p| p.cpu[c]).collect::<Vec<_>>());
                let ours = median(
                    &runs
                        .iter()
                        .map(|p| p.cpu[..4].iter().sum::<f64>())
                        .collect::<Vec<_>>(),
                );
                let dropped = median(&runs.iter().map(|p| p.dropped as f64).collect::<Vec<_>>());
                println!(
                    "| {how} | {name} | {:.2} | {:.2} | {:.2} | {:.2} | {ours:.2} | {:.2} | {dropped:.0} |",
                    class(0),
                    class(1),
                    class(2),
                    class(3),
                    class(4),
                );
            }
        }
        ExitCode::SUCCESS
    }

    /// CPU nanoseconds per message since `start`, by class (microseconds).
    fn per_message(start: [u64; 5], n: u64) -> [f64; 5] {
        let end = snapshot();
        std::array::from_fn(|c| end[c].saturating_sub(start[c]) as f64 / n as f64 / 1000.0)
    }

    async fn produce(brokers: &str, topic: &str, how: &str, n: u64) -> Phase {
        let mut config = config(brokers);
        config.set("linger.ms", "5");
        let producer: FutureProducer = config.create().expect("producer");
        let traced =
            TracedProducer::from_config_with_options(&config, Options::new().metrics(false))
                .expect("traced producer");
        let tracer = global::tracer("bench");
        let cpu = snapshot();
        let started = Instant::now();
        match how {
            "bare" => {
                let mut pending = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let record = FutureRecord::to(topic)
                        .key("submission-42")
                        .payload(PAYLOAD);
                    pending.push(
                        producer
                            .send_result(record)
                            .map_err(|(e, _)| e)
                            .expect("queued"),
                    );
                }
                for delivery in pending {
                    delivery
                        .await
                        .expect("report")
                        .map_err(|(e, _)| e)
                        .expect("delivered");
                }
            }
            "floor" | "floor-attributes" => {
                // The attribute-carrying floor: the attributes, built plainly.
                let server = (how == "floor-attributes").then(|| PlainServer::new(brokers));
                let mut pending = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let mut record = FutureRecord::to(topic)
                        .key("submission-42")
                        .payload(PAYLOAD);
                    let span = match &server {
                        Some(server) => plain_send_span(&tracer, &record, server),
                        None => {
                            let mut builder = tracer.span_builder("send");
                            builder.span_kind = Some(SpanKind::Producer);
                            builder.start(&tracer)
                        }
                    };
                    let cx = Context::current_with_span(span);
                    let mut injector = otel_kafka::HeaderInjector::new(None);
                    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut injector));
                    record.headers = Some(injector.into_headers());
                    let delivery = producer
                        .send_result(record)
                        .map_err(|(e, _)| e)
                        .expect("queued");
                    pending.push((cx, delivery));
                }
                for (cx, delivery) in pending {
                    let delivered = delivery
                        .await
                        .expect("report")
                        .map_err(|(e, _)| e)
                        .expect("delivered");
                    if server.is_some() {
                        plain_delivered(&cx, delivered.partition, delivered.offset);
                    }
                    cx.span().end();
                }
            }
            _ => {
                let mut pending = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let record = FutureRecord::to(topic)
                        .key("submission-42")
                        .payload(PAYLOAD);
                    pending.push(
                        traced
                            .send_result(record)
                            .map_err(|(e, _)| e)
                            .expect("queued"),
                    );
                }
                for delivery in pending {
                    delivery
                        .await
                        .expect("report")
                        .map_err(|(e, _)| e)
                        .expect("delivered");
                }
            }
        }
        let rate = n as f64 / started.elapsed().as_secs_f64();
        Phase {
            rate,
            cpu: per_message(cpu, n),
            dropped: 0,
        }
    }

    async fn consume(brokers: &str, topic: &str, how: &str, n: u64) -> Phase {
        let consumer: TracedConsumer<StreamConsumer> = TracedConsumer::from_config_with_options(
            &config(brokers),
            Options::new().metrics(false),
        )
        .expect("consumer");
        let mut partitions = TopicPartitionList::new();
        partitions
            .add_partition_offset(topic, 0, Offset::Beginning)
            .expect("partition");
        consumer.assign(&partitions).expect("assign");
        let tracer = global::tracer("bench");
        let server = PlainServer::new(brokers);
        let handler = |cx: &Context| {
            std::hint::black_box(cx);
            Ok::<_, std::io::Error>(())
        };
        // The first message starts the clock: connection set-up is not throughput.
        let mut started = None;
        let mut cpu = None;
        for _ in 0..n {
            let message = tokio::time::timeout(Duration::from_secs(30), consumer.inner().recv())
                .await
                .expect("message in time")
                .expect("message");
            if started.is_none() {
                cpu = Some(snapshot());
                started = Some(Instant::now());
            }
            match how {
                "bare" => handler(&Context::current()).expect("handled"),
                "floor" => {
                    use rdkafka::message::Message;
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
                "floor-attributes" => {
                    let cx = plain_process_span(&tracer, &message, &server);
                    {
                        let _cx = cx.clone().attach();
                        handler(&cx).expect("handled");
                    }
                    cx.span().end();
                }
                _ => consumer.process(&message, handler).expect("handled"),
            }
        }
        let elapsed = started.map_or(Duration::ZERO, |s| s.elapsed());
        Phase {
            rate: (n - 1) as f64 / elapsed.as_secs_f64().max(1e-9),
            cpu: per_message(cpu.unwrap_or_else(snapshot), n - 1),
            dropped: 0,
        }
    }
}
