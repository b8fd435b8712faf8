//! Context across two connections through Streams and Pub/Sub, with every propagator.

mod support;

use std::time::Duration;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute as semconv;
use otel_redis::{ConsumerParent, OtelRedis, Propagators};
use redis::AsyncCommands;
use redis::streams::{StreamReadOptions, StreamReadReply};
use support::{RedisOptions as _, RedisServer, Telemetry, attr, span};

fn every_propagator() -> Vec<(&'static str, Propagators)> {
    vec![
        (
            "tracecontext",
            Propagators::builder().tracecontext().build(),
        ),
        (
            "tracecontext+baggage",
            Propagators::builder().tracecontext().baggage().build(),
        ),
        ("b3", Propagators::builder().b3().build()),
        ("b3multi", Propagators::builder().b3_multi().build()),
    ]
}

fn options(telemetry: &Telemetry, port: u16, propagators: &Propagators) -> OtelRedis {
    telemetry.options(port).propagators(propagators.clone())
}

/// A parent span with baggage, as a request handler would have it.
fn request_context(telemetry: &Telemetry) -> Context {
    let span = telemetry.tracer_provider.tracer("app").start("request");
    Context::current_with_span(span).with_baggage(vec![KeyValue::new("tenant", "acme")])
}

#[tokio::test]
async fn stream_entries_carry_the_context_with_every_propagator() {
    let server = RedisServer::start();
    let client = server.client();
    for (name, propagators) in every_propagator() {
        let telemetry = Telemetry::new();
        let options = options(&telemetry, server.port, &propagators);
        let mut producer = options.wrap(client.get_multiplexed_async_connection().await.unwrap());
        let mut consumer = options.wrap(client.get_multiplexed_async_connection().await.unwrap());
        let stream = format!("orders-{name}");

        let cx = request_context(&telemetry);
        let id: String = async {
            producer
                .xadd(&stream, "*", &[("order", "42")])
                .await
                .unwrap()
        }
        .with_context(cx.clone())
        .await;

        let reply: StreamReadReply = consumer
            .xread_options(&[&stream], &["0"], &StreamReadOptions::default().count(10))
            .await
            .unwrap();
        let entry = &reply.keys[0].ids[0];
        assert_eq!(entry.id, id);
        assert_eq!(entry.get::<String>("order").as_deref(), Some("42"));
        let processing = consumer.process_entry(&stream, entry, None);
        let process_cx = processing.context().clone();
        if name.contains("baggage") {
            assert_eq!(
                process_cx
                    .baggage()
                    .get("tenant")
                    .map(|v| v.to_string())
                    .as_deref(),
                Some("acme"),
                "{name}"
            );
        }
        async {
            // Commands the handler sends are children of the process span.
            let _: Option<String> = consumer.get("something").await.unwrap();
        }
        .with_context(process_cx)
        .await;
        processing.end();
        cx.span().end();

        let spans = telemetry.spans();
        let request = span(&spans, "request");
        let send = span(&spans, &format!("send {stream}"));
        let xadd = span(&spans, "XADD");
        let process = span(&spans, &format!("process {stream}"));
        let get = span(&spans, "GET");
        let trace_id = request.span_context.trace_id();
        assert_eq!(send.span_kind, SpanKind::Producer, "{name}");
        assert_eq!(
            send.parent_span_id,
            request.span_context.span_id(),
            "{name}"
        );
        assert_eq!(xadd.parent_span_id, send.span_context.span_id(), "{name}");
        assert_eq!(
            attr(send, semconv::MESSAGING_SYSTEM).as_deref(),
            Some("redis")
        );
        assert_eq!(
            attr(send, semconv::MESSAGING_DESTINATION_NAME),
            Some(stream.clone())
        );
        assert_eq!(attr(send, semconv::MESSAGING_MESSAGE_ID), Some(id.clone()));
        assert_eq!(process.span_kind, SpanKind::Consumer, "{name}");
        assert_eq!(process.span_context.trace_id(), trace_id, "{name}");
        assert_eq!(
            process.parent_span_id,
            send.span_context.span_id(),
            "{name}"
        );
        assert_eq!(process.links.len(), 1, "{name}");
        assert_eq!(
            attr(process, semconv::MESSAGING_MESSAGE_ID),
            Some(id.clone())
        );
        assert_eq!(get.parent_span_id, process.span_context.span_id(), "{name}");
        // The statement shows the stream and masks the injected fields with the values.
        assert_eq!(
            attr(xadd, semconv::DB_QUERY_TEXT).map(|s| s.starts_with(&format!("XADD {stream} ?"))),
            Some(true)
        );
    }
}

#[tokio::test]
async fn link_only_consumers_start_a_new_trace() {
    let server = RedisServer::start();
    let client = server.client();
    let telemetry = Telemetry::new();
    let options = telemetry
        .options(server.port)
        .consumer_parent(ConsumerParent::LinkOnly);
    let mut producer = options.wrap(client.get_multiplexed_async_connection().await.unwrap());
    let cx = request_context(&telemetry);
    let _: String = async { producer.xadd("jobs", "*", &[("a", "1")]).await.unwrap() }
        .with_context(cx.clone())
        .await;
    let reply: StreamReadReply = producer.xread(&["jobs"], &["0"]).await.unwrap();
    options
        .process_entry("jobs", &reply.keys[0].ids[0], Some("workers"))
        .end();
    cx.span().end();

    let spans = telemetry.spans();
    let send = span(&spans, "send jobs");
    let process = span(&spans, "process jobs");
    assert_ne!(
        process.span_context.trace_id(),
        send.span_context.trace_id()
    );
    assert_eq!(process.links.len(), 1);
    assert_eq!(
        process.links[0].span_context.span_id(),
        send.span_context.span_id()
    );
    assert_eq!(
        attr(process, semconv::MESSAGING_CONSUMER_GROUP_NAME).as_deref(),
        Some("workers")
    );
}

#[tokio::test]
async fn entries_without_context_and_injection_switched_off() {
    let server = RedisServer::start();
    let client = server.client();
    let telemetry = Telemetry::new();
    let options = telemetry.options(server.port).inject_streams(false);
    let mut con = options.wrap(client.get_multiplexed_async_connection().await.unwrap());
    let _: String = con.xadd("plain", "*", &[("a", "1")]).await.unwrap();
    let reply: StreamReadReply = con.xread(&["plain"], &["0"]).await.unwrap();
    let entry = &reply.keys[0].ids[0];
    assert_eq!(entry.map.len(), 1, "nothing added to the entry");
    con.process_entry("plain", entry, None).end();
    let spans = telemetry.spans();
    assert!(spans.iter().all(|s| !s.name.starts_with("send")));
    let process = span(&spans, "process plain");
    assert!(process.links.is_empty());
}

/// Subscribes on its own thread (a sync `PubSub`), signals when subscribed, returns the messages.
fn subscriber(
    client: redis::Client,
    channel: &'static str,
    count: usize,
) -> (
    std::sync::mpsc::Receiver<()>,
    std::thread::JoinHandle<Vec<redis::Msg>>,
) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let mut con = client.get_connection().unwrap();
        let mut pubsub = con.as_pubsub();
        pubsub.subscribe(channel).unwrap();
        pubsub
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        ready_tx.send(()).unwrap();
        (0..count).map(|_| pubsub.get_message().unwrap()).collect()
    });
    (ready_rx, handle)
}

#[tokio::test]
async fn pubsub_envelopes_carry_the_context_and_plain_payloads_pass_through() {
    let server = RedisServer::start();
    let client = server.client();
    for (name, propagators) in every_propagator() {
        let telemetry = Telemetry::new();
        let options = options(&telemetry, server.port, &propagators);
        let (ready, messages) = subscriber(client.clone(), "news", 2);
        ready.recv().unwrap();

        let raw = client.get_multiplexed_async_connection().await.unwrap();
        let mut publisher = options.wrap(raw.clone());
        let cx = request_context(&telemetry);
        let receivers = async {
            publisher
                .publish_with_context("news", b"hello")
                .await
                .unwrap()
        }
        .with_context(cx.clone())
        .await;
        assert_eq!(receivers, 1);
        let mut plain = raw;
        let _: i64 = plain.publish("news", "plain text").await.unwrap();
        cx.span().end();

        let messages = messages.join().unwrap();
        let (processing, payload) = options.process_message(&messages[0]);
        assert_eq!(payload, b"hello");
        if name.contains("baggage") {
            assert_eq!(
                processing
                    .context()
                    .baggage()
                    .get("tenant")
                    .map(|v| v.to_string())
                    .as_deref(),
                Some("acme")
            );
        }
        processing.end();
        let (processing, payload) = options.process_message(&messages[1]);
        assert_eq!(payload, b"plain text");
        processing.end();

        let spans = telemetry.spans();
        let request = span(&spans, "request");
        let send = span(&spans, "send news");
        let publish = span(&spans, "PUBLISH");
        let processes: Vec<_> = spans.iter().filter(|s| s.name == "process news").collect();
        assert_eq!(processes.len(), 2);
        assert_eq!(
            send.parent_span_id,
            request.span_context.span_id(),
            "{name}"
        );
        assert_eq!(
            publish.parent_span_id,
            send.span_context.span_id(),
            "{name}"
        );
        assert_eq!(
            processes[0].parent_span_id,
            send.span_context.span_id(),
            "{name}"
        );
        assert_eq!(
            processes[0].span_context.trace_id(),
            request.span_context.trace_id()
        );
        assert_eq!(
            attr(processes[0], semconv::MESSAGING_MESSAGE_BODY_SIZE).as_deref(),
            Some("5")
        );
        // The plain message starts its own trace, with no link.
        assert_ne!(
            processes[1].span_context.trace_id(),
            request.span_context.trace_id()
        );
        assert!(processes[1].links.is_empty());
    }
}

#[test]
fn sync_xadd_is_injected_too() {
    let server = RedisServer::start();
    let telemetry = Telemetry::new();
    let client = server.client();
    let options = telemetry.options(server.port);
    let mut con = options.wrap(client.get_connection().unwrap());
    let cx = request_context(&telemetry);
    let guard = cx.clone().attach();
    use redis::Commands;
    let _: String = con.xadd("s", "*", &[("k", "v")]).unwrap();
    drop(guard);
    let reply: StreamReadReply = con.xread(&["s"], &["0"]).unwrap();
    let entry = &reply.keys[0].ids[0];
    assert!(entry.map.contains_key("traceparent"));
    options.process_entry("s", entry, None).end();
    cx.span().end();
    let spans = telemetry.spans();
    let send = span(&spans, "send s");
    assert_eq!(
        span(&spans, "process s").parent_span_id,
        send.span_context.span_id()
    );
}

#[tokio::test]
async fn unsampled_parents_record_nothing_and_stay_unsampled_downstream() {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    let server = RedisServer::start();
    let client = server.client();
    let telemetry = Telemetry::new();
    let options = telemetry.options(server.port);
    let mut con = options.wrap(client.get_multiplexed_async_connection().await.unwrap());
    let unsampled = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
        SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
        TraceFlags::default(),
        true,
        TraceState::default(),
    ));
    async {
        let _: () = con.set("k", "v").await.unwrap();
        let _: String = con.xadd("quiet", "*", &[("a", "1")]).await.unwrap();
    }
    .with_context(unsampled)
    .await;
    let reply: StreamReadReply = con.xread(&["quiet"], &["0"]).await.unwrap();
    let entry = &reply.keys[0].ids[0];
    let traceparent: String = entry.get("traceparent").unwrap();
    assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert!(traceparent.ends_with("-00"), "{traceparent}");
    let processing = options.process_entry("quiet", entry, None);
    assert!(!processing.context().span().span_context().is_sampled());
    processing.end();
    // Only the XREAD, which ran under no parent, is recorded.
    let spans = telemetry.spans();
    assert_eq!(
        spans.iter().map(|s| s.name.as_ref()).collect::<Vec<_>>(),
        vec!["XREAD"]
    );
}

#[tokio::test]
async fn a_failed_handler_marks_its_process_span() {
    let server = RedisServer::start();
    let client = server.client();
    let telemetry = Telemetry::new();
    let options = telemetry.options(server.port);
    let mut con = options.wrap(client.get_multiplexed_async_connection().await.unwrap());
    let _: String = con.xadd("jobs", "*", &[("a", "1")]).await.unwrap();
    let reply: StreamReadReply = con.xread(&["jobs"], &["0"]).await.unwrap();
    let mut processing = options.process_entry("jobs", &reply.keys[0].ids[0], None);
    processing.record_error(&std::io::Error::from(std::io::ErrorKind::TimedOut));
    drop(processing);
    let spans = telemetry.spans();
    let process = span(&spans, "process jobs");
    assert_eq!(
        attr(process, semconv::ERROR_TYPE).as_deref(),
        Some("timeout")
    );
    assert!(matches!(
        process.status,
        opentelemetry::trace::Status::Error { .. }
    ));
}

#[tokio::test]
async fn strip_baggage_keeps_baggage_out_of_stored_entries() {
    let server = RedisServer::start();
    let client = server.client();
    let telemetry = Telemetry::new();
    let propagators = Propagators::builder().tracecontext().baggage().build();
    let options = options(&telemetry, server.port, &propagators).strip_baggage(true);
    let mut producer = options.wrap(client.get_multiplexed_async_connection().await.unwrap());
    let mut reader = client.get_multiplexed_async_connection().await.unwrap();
    let cx = request_context(&telemetry);
    async {
        let _: String = producer
            .xadd("stripped", "*", &[("order", "42")])
            .await
            .unwrap();
    }
    .with_context(cx.clone())
    .await;
    let reply: StreamReadReply = reader
        .xread_options(&["stripped"], &["0"], &StreamReadOptions::default())
        .await
        .unwrap();
    let entry = &reply.keys[0].ids[0];
    let fields: Vec<&String> = entry.map.keys().collect();
    assert!(entry.map.contains_key("traceparent"), "{fields:?}");
    assert!(!entry.map.contains_key("baggage"), "{fields:?}");
    cx.span().end();
}
