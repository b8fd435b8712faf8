//! Produce → consume → process against librdkafka's in-process mock cluster (a real Kafka protocol
//! broker inside the test process).

mod common;

use std::time::Duration;

use common::{KafkaOptions as _, Telemetry, attr, consumer, producer, span, within};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use otel_kafka::{ConsumerParent, Propagators, TracedConsumer};
use otel_propagation::PropagatorKind;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};

fn cluster(
    topics: &[&str],
) -> (
    MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    String,
) {
    let cluster = MockCluster::new(1).expect("mock cluster");
    for topic in topics {
        cluster.create_topic(topic, 1, 1).expect("topic");
    }
    let brokers = cluster.bootstrap_servers();
    (cluster, brokers)
}

const NO_WAIT: Duration = Duration::ZERO;

#[tokio::test]
async fn one_trace_from_produce_to_process_with_every_propagator() {
    let (_cluster, brokers) = cluster(&["orders-0", "orders-1", "orders-2"]);
    let kinds: [&[PropagatorKind]; 3] = [
        &[PropagatorKind::TraceContext, PropagatorKind::Baggage],
        &[PropagatorKind::B3, PropagatorKind::Baggage],
        &[PropagatorKind::B3Multi],
    ];
    for (i, kinds) in kinds.into_iter().enumerate() {
        let topic = format!("orders-{i}");
        let telemetry = Telemetry::new();
        let propagators = kinds
            .iter()
            .fold(Propagators::builder(), |b, k| b.with(*k))
            .build();
        let options = telemetry.options().propagators(propagators);
        let producer = producer(&brokers, options.clone());
        let consumer = consumer(&brokers, &topic, options);
        let tracer = telemetry.tracer_provider.tracer("test");

        let root = tracer.start("request");
        let root_cx = Context::new()
            .with_span(root)
            .with_baggage(vec![KeyValue::new("tenant", "acme")]);
        let sent = {
            let _root = root_cx.clone().attach();
            producer.send(
                FutureRecord::to(&topic)
                    .key("order-42")
                    .payload("{\"id\":42}"),
                NO_WAIT,
            )
        };
        let delivery = within("delivery", sent).await.expect("delivered");
        root_cx.span().end();

        let message = within("recv", consumer.recv()).await.expect("message");
        assert_eq!(message.offset(), delivery.offset);
        let baggage_seen = consumer
            .process_async(&message, |cx| {
                let tracer = tracer.clone();
                async move {
                    // Current while the handler runs, and handed to it.
                    let current = Context::current();
                    assert_eq!(
                        current.span().span_context().span_id(),
                        cx.span().span_context().span_id()
                    );
                    tracer.start("handle").end();
                    Ok::<_, std::io::Error>(current.baggage().get("tenant").map(|v| v.to_string()))
                }
            })
            .await
            .unwrap();
        if kinds.contains(&PropagatorKind::Baggage) {
            assert_eq!(baggage_seen.as_deref(), Some("acme"), "{kinds:?}");
        }

        let spans = telemetry.spans();
        let request = span(&spans, "request");
        let send = span(&spans, &format!("send {topic}"));
        let process = span(&spans, &format!("process {topic}"));
        let handle = span(&spans, "handle");
        let trace_id = request.span_context.trace_id();
        for s in [send, process, handle] {
            assert_eq!(s.span_context.trace_id(), trace_id, "{kinds:?} {}", s.name);
        }
        assert_eq!(send.span_kind, SpanKind::Producer);
        assert_eq!(send.parent_span_id, request.span_context.span_id());
        assert_eq!(process.span_kind, SpanKind::Consumer);
        assert_eq!(process.parent_span_id, send.span_context.span_id());
        assert_eq!(process.links.len(), 1);
        assert_eq!(
            process.links[0].span_context.span_id(),
            send.span_context.span_id()
        );
        assert_eq!(handle.parent_span_id, process.span_context.span_id());

        use opentelemetry_semantic_conventions::attribute as sc;
        let expect =
            |s, key, value: &str| assert_eq!(attr(s, key).as_deref(), Some(value), "{key}");
        expect(send, sc::MESSAGING_SYSTEM, "kafka");
        expect(send, sc::MESSAGING_DESTINATION_NAME, &topic);
        expect(send, sc::MESSAGING_OPERATION_TYPE, "send");
        expect(send, sc::MESSAGING_OPERATION_NAME, "send");
        expect(send, sc::MESSAGING_CLIENT_ID, "otel-kafka-test");
        expect(send, sc::MESSAGING_KAFKA_MESSAGE_KEY, "order-42");
        expect(send, sc::MESSAGING_MESSAGE_BODY_SIZE, "9");
        expect(send, sc::MESSAGING_DESTINATION_PARTITION_ID, "0");
        expect(
            send,
            sc::MESSAGING_KAFKA_OFFSET,
            &delivery.offset.to_string(),
        );
        expect(send, sc::SERVER_ADDRESS, "127.0.0.1");
        assert!(attr(send, sc::MESSAGING_KAFKA_MESSAGE_TOMBSTONE).is_none());
        expect(process, sc::MESSAGING_OPERATION_TYPE, "process");
        expect(
            process,
            sc::MESSAGING_CONSUMER_GROUP_NAME,
            "otel-kafka-tests",
        );
        expect(process, sc::MESSAGING_DESTINATION_PARTITION_ID, "0");
        expect(
            process,
            sc::MESSAGING_KAFKA_OFFSET,
            &delivery.offset.to_string(),
        );
        expect(process, sc::MESSAGING_KAFKA_MESSAGE_KEY, "order-42");
        expect(process, sc::MESSAGING_MESSAGE_BODY_SIZE, "9");
        assert_eq!(send.status, Status::Unset);
        assert_eq!(process.status, Status::Unset);
    }
}

#[tokio::test]
async fn a_handler_that_produces_onward_continues_the_trace() {
    let (_cluster, brokers) = cluster(&["code-execution", "code-result"]);
    let telemetry = Telemetry::new();
    let options = telemetry
        .options()
        .propagators(Propagators::builder().tracecontext().build());
    let producer = producer(&brokers, options.clone());
    let jobs = consumer(&brokers, "code-execution", options.clone());
    let results = consumer(&brokers, "code-result", options);

    let sent = producer.send(
        FutureRecord::<(), _>::to("code-execution").payload("job"),
        NO_WAIT,
    );
    within("job", sent).await.expect("job delivered");

    let job = within("recv job", jobs.recv()).await.unwrap();
    jobs.process_async(&job, |cx| {
        // The closure's own code, before its future, runs under the message's context too.
        assert_eq!(
            Context::current().span().span_context(),
            cx.span().span_context()
        );
        let producer = producer.clone();
        async move {
            producer
                .send(
                    FutureRecord::<(), _>::to("code-result").payload("verdict"),
                    NO_WAIT,
                )
                .await
                .map(|_| ())
                .map_err(|(error, _)| error)
        }
    })
    .await
    .unwrap();

    let result = within("recv result", results.recv()).await.unwrap();
    results
        .process(&result, |_| Ok::<_, std::io::Error>(()))
        .unwrap();

    let spans = telemetry.spans();
    let trace_id = span(&spans, "send code-execution").span_context.trace_id();
    let process_job = span(&spans, "process code-execution");
    let send_result = span(&spans, "send code-result");
    let process_result = span(&spans, "process code-result");
    assert_eq!(
        send_result.parent_span_id,
        process_job.span_context.span_id()
    );
    assert_eq!(
        process_result.parent_span_id,
        send_result.span_context.span_id()
    );
    for s in [process_job, send_result, process_result] {
        assert_eq!(s.span_context.trace_id(), trace_id, "{}", s.name);
    }
}

#[tokio::test]
async fn a_batch_links_each_message_and_link_only_starts_new_traces() {
    let (_cluster, brokers) = cluster(&["batch"]);
    let telemetry = Telemetry::new();
    let options = telemetry.options();
    let producer = producer(&brokers, options.clone());
    let consumer = consumer(
        &brokers,
        "batch",
        options.consumer_parent(ConsumerParent::LinkOnly),
    );
    let tracer = telemetry.tracer_provider.tracer("test");
    let mut producer_spans = Vec::new();
    for i in 0..3 {
        let root = Context::new().with_span(tracer.start(format!("request {i}")));
        let sent = {
            let _root = root.clone().attach();
            producer.send(FutureRecord::<(), _>::to("batch").payload("x"), NO_WAIT)
        };
        within("send", sent).await.unwrap();
        root.span().end();
        producer_spans.push(root.span().span_context().trace_id());
    }
    let mut messages = Vec::new();
    for _ in 0..3 {
        messages.push(within("recv", consumer.recv()).await.unwrap().detach());
    }
    {
        let receive = consumer.receive(&messages);
        let _batch = receive.context().clone().attach();
        for message in &messages {
            consumer
                .process(message, |_| Ok::<_, std::io::Error>(()))
                .unwrap();
        }
    }

    let spans = telemetry.spans();
    let receive = span(&spans, "receive batch");
    assert_eq!(receive.span_kind, SpanKind::Client);
    assert_eq!(receive.links.len(), 3);
    assert_eq!(
        attr(receive, "messaging.batch.message_count").as_deref(),
        Some("3")
    );
    let linked: Vec<_> = receive
        .links
        .iter()
        .map(|l| l.span_context.trace_id())
        .collect();
    assert_eq!(linked, producer_spans);
    let processes: Vec<_> = spans.iter().filter(|s| s.name == "process batch").collect();
    assert_eq!(processes.len(), 3);
    for (process, producer_trace) in processes.iter().zip(&producer_spans) {
        // Link only: under the receive span, in its trace, linked to the producer.
        assert_eq!(process.parent_span_id, receive.span_context.span_id());
        assert_eq!(
            process.span_context.trace_id(),
            receive.span_context.trace_id()
        );
        assert_eq!(process.links[0].span_context.trace_id(), *producer_trace);
    }
}

#[tokio::test]
async fn user_headers_stay_and_foreign_headers_are_read() {
    let (_cluster, brokers) = cluster(&["mixed"]);
    let telemetry = Telemetry::new();
    let options = telemetry
        .options()
        .propagators(Propagators::builder().tracecontext().b3_multi().build());
    let producer = producer(&brokers, options.clone());
    let consumer = consumer(&brokers, "mixed", options);

    // 1. Ours, with the user's headers and a stale traceparent the user copied over.
    let user = OwnedHeaders::new()
        .insert(Header {
            key: "tenant",
            value: Some("acme"),
        })
        .insert(Header {
            key: "Traceparent",
            value: Some("00-11111111111111111111111111111111-2222222222222222-01"),
        });
    within(
        "ours",
        producer.send(
            FutureRecord::<(), _>::to("mixed")
                .payload("1")
                .headers(user),
            NO_WAIT,
        ),
    )
    .await
    .unwrap();
    // 2. Written the way kafkajs / Java B3 instrumentation writes them: byte values, mixed case.
    let untraced = producer.inner();
    let foreign = OwnedHeaders::new()
        .insert(Header {
            key: "X-B3-TraceId",
            value: Some(b"4bf92f3577b34da6a3ce929d0e0e4736".as_slice()),
        })
        .insert(Header {
            key: "X-B3-SpanId",
            value: Some(b"00f067aa0ba902b7".as_slice()),
        })
        .insert(Header {
            key: "X-B3-Sampled",
            value: Some(b"1".as_slice()),
        });
    within(
        "foreign",
        untraced.send(
            FutureRecord::<(), _>::to("mixed")
                .payload("2")
                .headers(foreign),
            NO_WAIT,
        ),
    )
    .await
    .unwrap();
    // 3. Junk: null, non-UTF-8 and repeated propagation headers.
    let junk = OwnedHeaders::new()
        .insert(Header::<&[u8]> {
            key: "traceparent",
            value: None,
        })
        .insert(Header {
            key: "traceparent",
            value: Some(b"\xff\xfe\x00".as_slice()),
        })
        .insert(Header {
            key: "TRACEPARENT",
            value: Some(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".as_slice()),
        })
        .insert(Header {
            key: "traceparent",
            value: Some(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".as_slice()),
        })
        .insert(Header {
            key: "x-b3-traceid",
            value: Some(b"\xc3\x28".as_slice()),
        });
    within(
        "junk",
        untraced.send(
            FutureRecord::<(), _>::to("mixed")
                .payload("3")
                .headers(junk),
            NO_WAIT,
        ),
    )
    .await
    .unwrap();

    let ours = within("recv 1", consumer.recv()).await.unwrap();
    let headers = ours.headers().expect("headers");
    let keys: Vec<&str> = headers.iter().map(|h| h.key).collect();
    assert_eq!(keys[0], "tenant");
    assert_eq!(headers.get(0).value, Some(b"acme".as_slice()));
    assert_eq!(
        keys.iter()
            .filter(|k| k.eq_ignore_ascii_case("traceparent"))
            .count(),
        1
    );
    consumer
        .process(&ours, |_| Ok::<_, std::io::Error>(()))
        .unwrap();

    let foreign = within("recv 2", consumer.recv()).await.unwrap();
    consumer
        .process(&foreign, |_| Ok::<_, std::io::Error>(()))
        .unwrap();
    let junk = within("recv 3", consumer.recv()).await.unwrap();
    consumer
        .process(&junk, |_| Ok::<_, std::io::Error>(()))
        .unwrap();

    let spans = telemetry.spans();
    let send = span(&spans, "send mixed");
    let processes: Vec<_> = spans.iter().filter(|s| s.name == "process mixed").collect();
    assert_eq!(processes.len(), 3);
    assert_eq!(processes[0].parent_span_id, send.span_context.span_id());
    assert_ne!(
        send.span_context.trace_id().to_string(),
        "11111111111111111111111111111111"
    );
    assert_eq!(
        processes[1].span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(processes[1].parent_span_id.to_string(), "00f067aa0ba902b7");
    // Two readable traceparents: invalid, so a new trace with no link.
    assert_eq!(
        processes[2].parent_span_id,
        opentelemetry::trace::SpanId::INVALID
    );
    assert!(processes[2].links.is_empty());
}

#[tokio::test]
async fn strip_baggage_keeps_it_out_of_the_topic() {
    let (_cluster, brokers) = cluster(&["private"]);
    let telemetry = Telemetry::new();
    let options = telemetry
        .options()
        .propagators(Propagators::builder().tracecontext().baggage().build())
        .strip_baggage(true);
    let producer = producer(&brokers, options.clone());
    let consumer = consumer(&brokers, "private", options);
    let cx = Context::new().with_baggage(vec![KeyValue::new("ssn", "123")]);
    let user = OwnedHeaders::new().insert(Header {
        key: "baggage",
        value: Some("card=4111"),
    });
    let sent = {
        let _cx = cx.attach();
        producer.send(
            FutureRecord::<(), _>::to("private")
                .payload("x")
                .headers(user),
            NO_WAIT,
        )
    };
    within("send", sent).await.unwrap();
    let message = within("recv", consumer.recv()).await.unwrap();
    let keys: Vec<&str> = message.headers().unwrap().iter().map(|h| h.key).collect();
    assert_eq!(keys, ["traceparent"]);
}

#[tokio::test]
async fn a_failed_handler_sets_error_type_and_status() {
    let (_cluster, brokers) = cluster(&["fails"]);
    let telemetry = Telemetry::new();
    let producer = producer(&brokers, telemetry.options());
    let consumer = consumer(&brokers, "fails", telemetry.options());
    within(
        "send",
        producer.send(FutureRecord::<(), _>::to("fails").payload("x"), NO_WAIT),
    )
    .await
    .unwrap();
    let message = within("recv", consumer.recv()).await.unwrap();
    let error = consumer
        .process(&message, |_| {
            Err::<(), _>(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
        })
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    let boxed: Result<(), Box<dyn std::error::Error + Send + Sync>> = consumer
        .process_async(&message, |_| async { Err("anything".into()) })
        .await;
    assert!(boxed.is_err());

    let spans = telemetry.spans();
    let processes: Vec<_> = spans.iter().filter(|s| s.name == "process fails").collect();
    assert_eq!(
        attr(processes[0], "error.type").as_deref(),
        Some("connection_refused")
    );
    assert!(matches!(processes[0].status, Status::Error { .. }));
    assert_eq!(attr(processes[1], "error.type").as_deref(), Some("_OTHER"));

    let (unit, points) = telemetry.points("messaging.process.duration");
    assert_eq!(unit, "s");
    assert!(
        points
            .iter()
            .any(
                |(a, n)| a.get("error.type").map(String::as_str) == Some("connection_refused")
                    && *n == 1.0
            )
    );
}

#[tokio::test]
async fn broker_down_ends_the_send_span_with_an_error_and_loses_nothing() {
    let (_cluster, brokers) = cluster(&["down"]);
    let telemetry = Telemetry::new();
    let producer = producer(&brokers, telemetry.options());
    // A broker that is down: nothing listens on this port any more.
    let dead = common::dead_broker();
    let mut config = common::config(&dead);
    config.set("message.timeout.ms", "1000");
    let unreachable: otel_kafka::TracedProducer =
        otel_kafka::TracedProducer::from_config_with_options(&config, telemetry.options()).unwrap();

    within(
        "first",
        producer.send(FutureRecord::<(), _>::to("down").payload("0"), NO_WAIT),
    )
    .await
    .unwrap();
    let (error, message) = within(
        "timed out",
        unreachable.send(FutureRecord::to("down").key("k").payload("lost?"), NO_WAIT),
    )
    .await
    .expect_err("broker down");
    assert_eq!(
        error.rdkafka_error_code(),
        Some(rdkafka::types::RDKafkaErrorCode::MessageTimedOut)
    );
    // The error and the message come back as the producer reported them.
    assert_eq!(message.payload(), Some(b"lost?".as_slice()));
    within(
        "after",
        producer.send(FutureRecord::<(), _>::to("down").payload("2"), NO_WAIT),
    )
    .await
    .unwrap();

    let spans = telemetry.spans();
    let sends: Vec<_> = spans.iter().filter(|s| s.name == "send down").collect();
    assert_eq!(sends.len(), 3);
    assert_eq!(
        attr(sends[1], "error.type").as_deref(),
        Some("MessageTimedOut")
    );
    assert!(matches!(sends[1].status, Status::Error { .. }));
    assert!(attr(sends[1], "messaging.kafka.offset").is_none());

    // Exactly the two delivered messages are in the topic, once each.
    let consumer = consumer(&brokers, "down", telemetry.options());
    let first = within("recv", consumer.recv()).await.unwrap().detach();
    let second = within("recv", consumer.recv()).await.unwrap().detach();
    assert_eq!(
        [first.payload(), second.payload()],
        [Some(b"0".as_slice()), Some(b"2".as_slice())]
    );
    let (low, high) = consumer
        .fetch_watermarks("down", 0, Duration::from_secs(5))
        .unwrap();
    assert_eq!(high - low, 2);

    let (unit, points) = telemetry.points("messaging.client.sent.messages");
    assert_eq!(unit, "{message}");
    let failed: f64 = points
        .iter()
        .filter(|(a, _)| a.get("error.type").map(String::as_str) == Some("MessageTimedOut"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(failed, 1.0);
}

#[tokio::test]
async fn metrics_carry_their_attributes_and_units() {
    let (_cluster, brokers) = cluster(&["metered"]);
    let telemetry = Telemetry::new();
    let producer = producer(&brokers, telemetry.options());
    let consumer = consumer(&brokers, "metered", telemetry.options());
    for _ in 0..2 {
        within(
            "send",
            producer.send(FutureRecord::<(), _>::to("metered").payload("x"), NO_WAIT),
        )
        .await
        .unwrap();
    }
    for _ in 0..2 {
        let message = within("recv", consumer.recv()).await.unwrap();
        consumer
            .process(&message, |_| Ok::<_, std::io::Error>(()))
            .unwrap();
    }

    let get = |a: &std::collections::HashMap<String, String>, k: &str| a.get(k).cloned();
    let (unit, points) = telemetry.points("messaging.client.operation.duration");
    assert_eq!(unit, "s");
    let send = points
        .iter()
        .find(|(a, _)| get(a, "messaging.operation.name").as_deref() == Some("send"))
        .expect("send point");
    assert_eq!(send.1, 2.0);
    for (key, value) in [
        ("messaging.system", "kafka"),
        ("messaging.operation.type", "send"),
        ("messaging.destination.name", "metered"),
        ("messaging.destination.partition.id", "0"),
        ("server.address", "127.0.0.1"),
    ] {
        assert_eq!(get(&send.0, key).as_deref(), Some(value), "{key}");
    }
    assert!(
        get(&send.0, "messaging.client.id").is_none(),
        "not a metric attribute"
    );
    let receive = points
        .iter()
        .find(|(a, _)| get(a, "messaging.operation.name").as_deref() == Some("receive"))
        .expect("receive point");
    assert_eq!(receive.1, 2.0);
    assert_eq!(
        get(&receive.0, "messaging.consumer.group.name").as_deref(),
        Some("otel-kafka-tests")
    );

    let (unit, points) = telemetry.points("messaging.client.sent.messages");
    assert_eq!(unit, "{message}");
    assert_eq!(points.iter().map(|(_, n)| n).sum::<f64>(), 2.0);
    let (unit, points) = telemetry.points("messaging.client.consumed.messages");
    assert_eq!(unit, "{message}");
    assert_eq!(points.iter().map(|(_, n)| n).sum::<f64>(), 2.0);
    let (unit, points) = telemetry.points("messaging.process.duration");
    assert_eq!(unit, "s");
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].1, 2.0);
    assert_eq!(
        get(&points[0].0, "messaging.operation.name").as_deref(),
        Some("process")
    );
    assert_eq!(
        get(&points[0].0, "messaging.destination.name").as_deref(),
        Some("metered")
    );
}

#[tokio::test]
async fn base_consumer_send_result_and_traces_off() {
    let (_cluster, brokers) = cluster(&["base"]);
    let telemetry = Telemetry::new();
    let producer = producer(&brokers, telemetry.options());
    let delivery = producer
        .send_result(FutureRecord::<str, str>::to("base").key("k"))
        .map_err(|(e, _)| e)
        .unwrap();
    within("delivery", delivery).await.unwrap().unwrap();
    // Traces off: no span, but the context still travels.
    let quiet = common::producer(&brokers, telemetry.options().traces(false));
    let tracer = telemetry.tracer_provider.tracer("test");
    let root = Context::new().with_span(tracer.start("quiet request"));
    let sent = {
        let _root = root.clone().attach();
        quiet.send(FutureRecord::<(), _>::to("base").payload("q"), NO_WAIT)
    };
    within("quiet", sent).await.unwrap();
    root.span().end();

    let mut config = common::config(&brokers);
    config.set("group.id", "base-group");
    let consumer: TracedConsumer<BaseConsumer> =
        TracedConsumer::from_config_with_options(&config, telemetry.options()).unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset("base", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&partitions).unwrap();
    let mut seen = Vec::new();
    for _ in 0..200 {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.unwrap();
            consumer
                .process(&message, |cx| {
                    seen.push(cx.span().span_context().trace_id());
                    Ok::<_, std::io::Error>(())
                })
                .unwrap();
            if seen.len() == 2 {
                break;
            }
        }
    }
    assert_eq!(seen.len(), 2);

    let spans = telemetry.spans();
    let send = span(&spans, "send base");
    assert_eq!(
        attr(send, "messaging.kafka.message.tombstone").as_deref(),
        Some("true")
    );
    assert_eq!(seen[0], send.span_context.trace_id());
    let quiet_root = span(&spans, "quiet request");
    assert_eq!(seen[1], quiet_root.span_context.trace_id());
    let processes: Vec<_> = spans.iter().filter(|s| s.name == "process base").collect();
    assert_eq!(
        processes[1].parent_span_id,
        quiet_root.span_context.span_id()
    );
    let (_, points) = telemetry.points("messaging.client.consumed.messages");
    assert!(
        points
            .iter()
            .any(|(a, _)| a.get("messaging.operation.name").map(String::as_str) == Some("poll"))
    );
}

#[tokio::test]
async fn threaded_and_base_producers_end_spans_with_their_delivery_reports() {
    use otel_kafka::TracedProducerContext;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ThreadedProducer};

    let (_cluster, brokers) = cluster(&["threaded"]);
    let telemetry = Telemetry::new();
    let config = common::config(&brokers);
    let threaded: ThreadedProducer<TracedProducerContext> = config
        .create_with_context(TracedProducerContext::new(&config, telemetry.options()))
        .unwrap();
    let tracer = telemetry.tracer_provider.tracer("test");
    let root = Context::new().with_span(tracer.start("request"));
    let record = {
        let _root = root.clone().attach();
        threaded
            .context()
            .trace(BaseRecord::to("threaded").key("k").payload("x"))
    };
    threaded.send(record).map_err(|(e, _)| e).unwrap();
    threaded.flush(Duration::from_secs(10)).unwrap();
    root.span().end();

    // A BaseProducer polled by hand, towards a broker that is down.
    let dead = common::dead_broker();
    let mut config = common::config(&dead);
    config.set("message.timeout.ms", "1000");
    let base: BaseProducer<TracedProducerContext> = config
        .create_with_context(TracedProducerContext::new(&config, telemetry.options()))
        .unwrap();
    let record = base
        .context()
        .trace(BaseRecord::<(), _>::to("threaded").payload("lost?"));
    base.send(record).map_err(|(e, _)| e).unwrap();
    for _ in 0..50 {
        base.poll(Duration::from_millis(100));
        if telemetry
            .spans()
            .iter()
            .filter(|s| s.name == "send threaded")
            .count()
            == 2
        {
            break;
        }
    }

    let spans = telemetry.spans();
    let sends: Vec<_> = spans.iter().filter(|s| s.name == "send threaded").collect();
    assert_eq!(sends.len(), 2);
    let request = span(&spans, "request");
    assert_eq!(sends[0].parent_span_id, request.span_context.span_id());
    assert_eq!(
        attr(sends[0], "messaging.kafka.offset").as_deref(),
        Some("0")
    );
    assert_eq!(
        attr(sends[0], "messaging.kafka.message.key").as_deref(),
        Some("k")
    );
    assert_eq!(
        attr(sends[1], "error.type").as_deref(),
        Some("MessageTimedOut")
    );
    assert!(matches!(sends[1].status, Status::Error { .. }));

    // The record carried the send span's context.
    let consumer = consumer(&brokers, "threaded", telemetry.options());
    let message = within("recv", consumer.recv()).await.unwrap();
    consumer
        .process(&message, |cx| {
            assert_eq!(
                cx.span().span_context().trace_id(),
                request.span_context.trace_id()
            );
            Ok::<_, std::io::Error>(())
        })
        .unwrap();
}

#[test]
fn a_record_send_hands_back_ends_its_span_with_the_error() {
    use otel_kafka::TracedProducerContext;
    use rdkafka::error::RDKafkaErrorCode;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    // A queue of one record, towards a broker that is down: the second send fails at once.
    let telemetry = Telemetry::new();
    let dead = common::dead_broker();
    let mut config = common::config(&dead);
    config.set("queue.buffering.max.messages", "1");
    let producer: BaseProducer<TracedProducerContext> = config
        .create_with_context(TracedProducerContext::new(&config, telemetry.options()))
        .unwrap();
    let first = producer
        .context()
        .trace(BaseRecord::<(), str, ()>::to("full").payload("1"));
    producer.send(first).map_err(|(e, _)| e).unwrap();
    let second = producer
        .context()
        .trace(BaseRecord::<(), str, ()>::to("full").payload("2"));
    let Err((error, record)) = producer.send(second) else {
        panic!("a queue of one took two records");
    };
    assert_eq!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::QueueFull)
    );
    let record: BaseRecord<'_, (), str, ()> = producer.context().send_failed(&error, record);
    assert_eq!(record.payload, Some("2"));

    let spans = telemetry.spans();
    let failed = span(&spans, "send full");
    assert_eq!(attr(failed, "error.type").as_deref(), Some("QueueFull"));
    assert!(matches!(failed.status, Status::Error { .. }));
    let (_, points) = telemetry.points("messaging.client.sent.messages");
    assert!(
        points.iter().any(
            |(a, n)| a.get("error.type").map(String::as_str) == Some("QueueFull") && *n == 1.0
        ),
        "{points:?}"
    );
    // The record queued first is still in flight: its span is not ended by the failure.
    drop(producer);
}

#[tokio::test]
async fn unsampled_parents_hooks_and_the_key_switch() {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    let (_cluster, brokers) = cluster(&["switches"]);
    let telemetry = Telemetry::new();
    let options = telemetry
        .options()
        .record_message_key(false)
        .on_send(|span, head| {
            span.set_attribute(KeyValue::new("app.topic.seen", head.topic.to_owned()))
        })
        .on_process(|span, head| {
            span.set_attribute(KeyValue::new("app.offset.seen", head.offset.unwrap_or(-1)))
        });
    let producer = producer(&brokers, options.clone());
    let consumer = consumer(&brokers, "switches", options);

    // Under a parent that was not sampled: no span, but its context travels (flags 00).
    let unsampled = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x1234),
        SpanId::from(0x5678),
        TraceFlags::default(),
        true,
        TraceState::default(),
    ));
    let sent = {
        let _parent = unsampled.attach();
        producer.send(
            FutureRecord::to("switches").key("user-7").payload("a"),
            NO_WAIT,
        )
    };
    within("unsampled", sent).await.unwrap();
    within(
        "sampled",
        producer.send(
            FutureRecord::to("switches").key("user-7").payload("b"),
            NO_WAIT,
        ),
    )
    .await
    .unwrap();

    let first = within("recv", consumer.recv()).await.unwrap();
    let traceparent = first
        .headers()
        .and_then(|h| h.iter().find(|h| h.key == "traceparent"))
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .expect("traceparent");
    assert!(traceparent.starts_with("00-00000000000000000000000000001234-"));
    assert!(traceparent.ends_with("-00"));
    consumer
        .process(&first, |cx| {
            assert!(!cx.span().span_context().is_sampled());
            assert_eq!(cx.span().span_context().trace_id(), TraceId::from(0x1234));
            Ok::<_, std::io::Error>(())
        })
        .unwrap();
    let second = within("recv", consumer.recv()).await.unwrap();
    consumer
        .process(&second, |_| Ok::<_, std::io::Error>(()))
        .unwrap();

    let spans = telemetry.spans();
    assert_eq!(
        spans.len(),
        2,
        "only the sampled record's spans: {spans:#?}"
    );
    let send = span(&spans, "send switches");
    let process = span(&spans, "process switches");
    assert_eq!(attr(send, "messaging.kafka.message.key"), None);
    assert_eq!(attr(process, "messaging.kafka.message.key"), None);
    assert_eq!(attr(send, "app.topic.seen").as_deref(), Some("switches"));
    assert_eq!(attr(process, "app.offset.seen").as_deref(), Some("1"));
}

#[tokio::test]
async fn the_stream_counts_what_it_delivers() {
    use futures_util::StreamExt;

    let (_cluster, brokers) = cluster(&["streamed"]);
    let telemetry = Telemetry::new();
    let producer = producer(&brokers, telemetry.options());
    let consumer = consumer(&brokers, "streamed", telemetry.options());
    for _ in 0..3 {
        within(
            "send",
            producer.send(FutureRecord::<(), _>::to("streamed").payload("x"), NO_WAIT),
        )
        .await
        .unwrap();
    }
    let mut stream = consumer.stream();
    for _ in 0..3 {
        let message = within("next", stream.next()).await.unwrap().unwrap();
        consumer
            .process(&message, |_| Ok::<_, std::io::Error>(()))
            .unwrap();
    }
    let (_, points) = telemetry.points("messaging.client.consumed.messages");
    assert_eq!(points.iter().map(|(_, n)| n).sum::<f64>(), 3.0);
    let spans = telemetry.spans();
    let sends: Vec<_> = spans.iter().filter(|s| s.name == "send streamed").collect();
    let processes: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "process streamed")
        .collect();
    assert_eq!(sends.len(), 3, "send spans");
    assert_eq!(processes.len(), 3, "process spans");
    for (send, process) in sends.iter().zip(&processes) {
        assert_eq!(process.parent_span_id, send.span_context.span_id());
    }
}

#[test]
fn with_traces_off_a_batch_leaves_the_callers_span_alone() {
    use rdkafka::Timestamp;
    use rdkafka::message::OwnedMessage;

    let telemetry = Telemetry::new();
    // Any consumer type will do: the messages are built here.
    let consumer = TracedConsumer::with_options((), telemetry.options().traces(false));
    let messages = vec![OwnedMessage::new(
        Some(b"x".to_vec()),
        None,
        "batch".into(),
        Timestamp::NotAvailable,
        0,
        7,
        None,
    )];
    let tracer = telemetry.tracer_provider.tracer("test");
    let caller = Context::new().with_span(tracer.start("caller"));
    {
        let _caller = caller.clone().attach();
        let receive = consumer.receive(&messages);
        assert_eq!(
            receive.context().span().span_context().span_id(),
            caller.span().span_context().span_id()
        );
        consumer
            .process(&messages[0], |_| Ok::<_, std::io::Error>(()))
            .unwrap();
    }
    assert!(caller.span().is_recording(), "the caller's span was ended");
    caller.span().end();
    let spans = telemetry.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "caller");
}
