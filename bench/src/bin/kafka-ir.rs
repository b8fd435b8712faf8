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
//! handler); `handwritten` (the pattern users copy today: a `HeaderInjector` that rebuilds the
//! headers on every `set`, a `HeaderExtractor` that scans the headers per key, the SDK's
//! propagators, a `format!`ted span name and a few attributes); `ours` (otel-kafka, traces only);
//! `ours-metrics` (traces and metrics). Spans go through a simple processor to an exporter that
//! discards, so all of a message's work is on the driver's thread: `scripts/callgrind-kafka.sh`
//! counts that thread only (librdkafka's own threads poll on timers, so their counts follow wall
//! time, not work).
//!
//! `kafka-ir throughput [rounds] [messages]`: wall-clock messages per second, produced (pipelined:
//! every record queued, then every delivery report awaited) and consumed-and-processed, for
//! `bare`, `floor` and `ours`, in interleaved rounds, as ratios to bare. Against `KAFKA_BROKERS`
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

mod throughput {
    use std::process::ExitCode;
    use std::time::{Duration, Instant};

    use opentelemetry::Context;
    use opentelemetry::global;
    use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use otel_bench::http::Discard;
    use otel_kafka::{Options, TracedConsumer, TracedProducer};
    use otel_propagation::Propagators;
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use rdkafka::{Offset, TopicPartitionList};

    use super::{PAYLOAD, config};

    const HOW: [&str; 3] = ["bare", "floor", "ours"];

    pub fn main() -> ExitCode {
        let args: Vec<u64> = std::env::args()
            .skip(2)
            .filter_map(|a| a.parse().ok())
            .collect();
        let rounds = args.first().copied().unwrap_or(5);
        let messages = args.get(1).copied().unwrap_or(20_000);
        let tracer_provider = SdkTracerProvider::builder()
            .with_batch_exporter(Discard)
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
        let mut rates: Vec<[Vec<f64>; 2]> = HOW.iter().map(|_| [Vec::new(), Vec::new()]).collect();
        runtime.block_on(async {
            let admin: AdminClient<DefaultClientContext> =
                config(&brokers).create().expect("admin");
            for round in 0..rounds {
                for (i, how) in HOW.iter().enumerate() {
                    let topic = format!("throughput-{round}-{how}");
                    let new = NewTopic::new(&topic, 1, TopicReplication::Fixed(1));
                    for result in admin
                        .create_topics([&new], &AdminOptions::new())
                        .await
                        .expect("create topic")
                    {
                        result.expect("topic created");
                    }
                    rates[i][0].push(produce(&brokers, &topic, how, messages).await);
                    rates[i][1].push(consume(&brokers, &topic, how, messages).await);
                }
            }
        });
        let _ = tracer_provider.shutdown();
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "| variant | produced / s | ratio to bare | consumed + processed / s | ratio to bare |"
        );
        println!("|---|---:|---:|---:|---:|");
        let bare = [median(&rates[0][0]), median(&rates[0][1])];
        for (i, how) in HOW.iter().enumerate() {
            let (p, c) = (median(&rates[i][0]), median(&rates[i][1]));
            println!(
                "| {how} | {p:.0} | {:.2} | {c:.0} | {:.2} |",
                p / bare[0],
                c / bare[1]
            );
        }
        ExitCode::SUCCESS
    }

    async fn produce(brokers: &str, topic: &str, how: &str, n: u64) -> f64 {
        let mut config = config(brokers);
        config.set("linger.ms", "5");
        let producer: FutureProducer = config.create().expect("producer");
        let traced =
            TracedProducer::from_config_with_options(&config, Options::new().metrics(false))
                .expect("traced producer");
        let tracer = global::tracer("bench");
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
            "floor" => {
                let mut pending = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let mut record = FutureRecord::to(topic)
                        .key("submission-42")
                        .payload(PAYLOAD);
                    let mut builder = tracer.span_builder("send");
                    builder.span_kind = Some(SpanKind::Producer);
                    let cx = Context::current_with_span(builder.start(&tracer));
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
                    delivery
                        .await
                        .expect("report")
                        .map_err(|(e, _)| e)
                        .expect("delivered");
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
        n as f64 / started.elapsed().as_secs_f64()
    }

    async fn consume(brokers: &str, topic: &str, how: &str, n: u64) -> f64 {
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
        let handler = |cx: &Context| {
            std::hint::black_box(cx);
            Ok::<_, std::io::Error>(())
        };
        // The first message starts the clock: connection set-up is not throughput.
        let mut started = None;
        for _ in 0..n {
            let message = tokio::time::timeout(Duration::from_secs(30), consumer.inner().recv())
                .await
                .expect("message in time")
                .expect("message");
            started.get_or_insert_with(Instant::now);
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
                _ => consumer.process(&message, handler).expect("handled"),
            }
        }
        let elapsed = started.map_or(Duration::ZERO, |s| s.elapsed());
        (n - 1) as f64 / elapsed.as_secs_f64().max(1e-9)
    }
}
