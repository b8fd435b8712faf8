//! End to end against a real OTLP receiver on 127.0.0.1, over gRPC and HTTP/protobuf.
//!
//! Configuration comes from `env_vars` maps (the variables the spec names, read through the same
//! parser as the process environment) and code, and nothing is installed globally, so these
//! tests run side by side in one process. The process-environment path is in `process.rs`.

use std::time::{Duration, Instant};

use integration_tests::otlp::{Receiver, attribute, closed_port, hex};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use otel_init::{Protocol, Signal};
use tracing_subscriber::layer::SubscriberExt;

fn env(protocol: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_SERVICE_NAME", "checkout".to_owned()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=test,service.version=1.2.3".to_owned(),
        ),
        // Roots are dropped, children of sampled remote parents kept: the receiver sees which
        // sampler was in force.
        ("OTEL_TRACES_SAMPLER", "parentbased_always_off".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "50".to_owned()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "60000".to_owned()),
    ]
}

fn remote_sampled_parent() -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ))
}

/// The receiver's endpoint for `protocol`.
fn endpoint(receiver: &Receiver, protocol: Protocol) -> String {
    match protocol {
        Protocol::Grpc => receiver.grpc_endpoint(),
        _ => receiver.http_endpoint(),
    }
}

/// Traces only, over `protocol` to `endpoint`, no globals installed.
fn traces_only(protocol: Protocol, endpoint: impl Into<String>) -> otel_init::TelemetryBuilder {
    otel_init::builder()
        .otlp_protocol(protocol)
        .otlp_endpoint(endpoint)
        .exporters(Signal::Metrics, [])
        .exporters(Signal::Logs, [])
        .install_globals(false)
}

fn all_signals_arrive(protocol: Protocol, name: &str) {
    let receiver = Receiver::start();
    let telemetry = otel_init::builder()
        .env_vars(env(protocol.as_str()))
        .otlp_endpoint(endpoint(&receiver, protocol))
        .install_globals(false)
        .build();
    assert!(
        telemetry.warnings().is_empty(),
        "{:?}",
        telemetry.warnings()
    );
    assert_eq!(telemetry.settings().otlp(Signal::Traces).protocol, protocol);

    let tracer = telemetry.tracer_provider().unwrap().tracer("test");
    tracer.start("dropped root").end();
    let parent = remote_sampled_parent();
    let span = tracer.start_with_context("kept child", &parent);
    let cx = parent.with_span(span);

    let meter = telemetry.meter_provider().unwrap().meter("test");
    let counter = meter.u64_counter("orders").build();
    counter.add(3, &[KeyValue::new("kind", "test")]);

    // A log event written while the span is current, through the appender bridge.
    let subscriber = tracing_subscriber::registry().with(telemetry.logs_layer());
    {
        let _attached = cx.clone().attach();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(order = 7, "order placed");
        });
    }
    let span_id = cx.span().span_context().span_id();
    drop(cx);

    telemetry.shutdown().expect("shutdown");

    let spans = receiver.spans();
    let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
    assert_eq!(names, ["kept child"], "{name}: sampler from the env");
    let (resource, span) = &spans[0];
    assert_eq!(
        attribute(resource, "service.name").as_deref(),
        Some("checkout")
    );
    assert_eq!(
        attribute(resource, "service.version").as_deref(),
        Some("1.2.3")
    );
    assert_eq!(
        attribute(resource, "deployment.environment.name").as_deref(),
        Some("test")
    );
    assert_eq!(
        attribute(resource, "telemetry.sdk.language").as_deref(),
        Some("rust")
    );
    assert!(attribute(resource, "process.pid").is_some());
    assert_eq!(hex(&span.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&span.parent_span_id), "00f067aa0ba902b7");

    let metrics = receiver.metrics();
    assert!(
        metrics
            .iter()
            .any(|(resource, metric)| metric.name == "orders"
                && attribute(resource, "service.name").as_deref() == Some("checkout")),
        "{name}: metrics {metrics:?}"
    );

    let logs = receiver.logs();
    assert_eq!(logs.len(), 1, "{name}: logs {logs:?}");
    let (resource, record) = &logs[0];
    assert_eq!(
        attribute(resource, "service.name").as_deref(),
        Some("checkout")
    );
    assert_eq!(hex(&record.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&record.span_id), span_id.to_string());
}

#[test]
fn grpc_spans_metrics_logs_arrive_with_resource_and_sampler() {
    all_signals_arrive(Protocol::Grpc, "grpc");
}

#[test]
fn http_spans_metrics_logs_arrive_with_resource_and_sampler() {
    all_signals_arrive(Protocol::HttpProtobuf, "http");
}

#[tokio::test(flavor = "current_thread")]
async fn grpc_from_a_current_thread_runtime_shuts_down_without_deadlock() {
    // tonic's channel needs a runtime that keeps running while the guard blocks this thread in
    // shutdown; init gives gRPC export a runtime of its own here.
    let receiver = Receiver::start();
    let telemetry = otel_init::builder()
        .env_vars([("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])
        .otlp_endpoint(receiver.grpc_endpoint())
        .exporters(Signal::Metrics, [])
        .exporters(Signal::Logs, [])
        .install_globals(false)
        .build();
    telemetry
        .tracer_provider()
        .unwrap()
        .tracer("test")
        .start("on current thread")
        .end();
    telemetry.shutdown().expect("shutdown");
    assert_eq!(receiver.spans().len(), 1);
}

#[test]
fn grpc_outside_any_runtime() {
    let receiver = Receiver::start();
    let telemetry = traces_only(Protocol::Grpc, receiver.grpc_endpoint()).build();
    telemetry
        .tracer_provider()
        .unwrap()
        .tracer("test")
        .start("no runtime")
        .end();
    drop(telemetry); // the guard flushes on drop too
    assert_eq!(receiver.spans().len(), 1);
}

/// Accepts connections and never answers: the worst collector, an export hangs until its timeout.
fn black_hole() -> (std::net::TcpListener, std::net::SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    (listener, address)
}

#[test]
fn collector_down_app_keeps_going_and_shutdown_is_bounded() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        for label in ["refused", "hanging"] {
            let (_listener, address) = if label == "hanging" {
                let (listener, address) = black_hole();
                (Some(listener), address)
            } else {
                (None, closed_port())
            };
            let started = Instant::now();
            let telemetry = otel_init::builder()
                .otlp_protocol(protocol)
                .otlp_endpoint(format!("http://{address}"))
                // An export could hang for 60 s; shutdown must not.
                .otlp_timeout(Duration::from_secs(60))
                .batch_export_timeout(Duration::from_secs(60))
                .batch_max_queue_size(64)
                .batch_max_export_batch_size(16)
                .batch_schedule_delay(Duration::from_millis(10))
                .shutdown_timeout(Duration::from_secs(1))
                .install_globals(false)
                .build();
            let tracer = telemetry.tracer_provider().unwrap().tracer("test");
            let meter = telemetry.meter_provider().unwrap().meter("test");
            let counter = meter.u64_counter("requests").build();
            // The application keeps serving: 5000 spans against a queue of 64, dropped, not
            // queued and not blocking.
            for i in 0..5000 {
                let mut span = tracer.start("request");
                span.set_attribute(KeyValue::new("i", i));
                counter.add(1, &[]);
            }
            let result = telemetry.shutdown();
            let elapsed = started.elapsed();
            // Not a speed figure: the bound itself. Without it this takes 60 s or more.
            assert!(
                elapsed < Duration::from_secs(20),
                "{protocol:?} {label}: shutdown took {elapsed:?}"
            );
            assert!(
                result.is_err(),
                "{protocol:?} {label}: the failure is reported"
            );
        }
    }
}

#[test]
fn collector_back_up_export_resumes() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = Receiver::start();
        let (grpc, http, collected) = (receiver.grpc, receiver.http, receiver.collected.clone());
        let telemetry = traces_only(protocol, endpoint(&receiver, protocol))
            .otlp_timeout(Duration::from_secs(2))
            .build();
        let tracer = telemetry.tracer_provider().unwrap().tracer("test");
        tracer.start("before").end();
        telemetry.flush().expect("flush while up");
        receiver.stop();

        tracer.start("while down").end();
        assert!(
            telemetry.flush().is_err(),
            "{protocol:?}: the failed export is reported"
        );

        let receiver = Receiver::start_at(grpc, http, collected);
        // The exporter reconnects by itself; retry the flush until it does.
        let resumed = receiver.wait_until(|r| {
            tracer.start("after").end();
            let _ = telemetry.flush();
            r.spans().iter().any(|(_, s)| s.name == "after")
        });
        assert!(resumed, "{protocol:?}: export resumed");
        let names: Vec<String> = receiver.spans().into_iter().map(|(_, s)| s.name).collect();
        assert_eq!(names[0], "before");
        telemetry.shutdown().expect("shutdown");
    }
}

#[test]
fn disabled_sdk_builds_no_provider_and_exports_nothing() {
    let receiver = Receiver::start();
    let telemetry = otel_init::builder()
        .env_vars([("OTEL_SDK_DISABLED", "TRUE")])
        .otlp_endpoint(receiver.http_endpoint())
        .install_globals(false)
        .build();
    assert!(telemetry.settings().disabled);
    assert!(telemetry.tracer_provider().is_none());
    assert!(telemetry.meter_provider().is_none());
    assert!(telemetry.logger_provider().is_none());
    assert!(
        telemetry
            .tracing_layer::<tracing_subscriber::Registry>()
            .is_none()
    );
    telemetry.shutdown().expect("nothing to shut down");
    assert!(receiver.spans().is_empty());
}

#[test]
fn a_bad_otlp_header_is_a_warning_and_spans_still_start() {
    let telemetry = traces_only(Protocol::Grpc, format!("http://{}", closed_port()))
        .otlp_header("bad header", "x")
        .build();
    let warning = &telemetry.warnings()[0];
    assert_eq!(warning.variable, "OTEL_TRACES_EXPORTER");
    assert!(warning.problem.contains("bad header"), "{warning}");
    // Without an exporter the tracer still makes spans (ids for propagation and logs).
    let span = telemetry.tracer_provider().unwrap().tracer("t").start("s");
    assert!(span.span_context().is_valid());
}

#[test]
fn otlp_headers_from_code_reach_the_collector() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = Receiver::start();
        let telemetry = traces_only(protocol, endpoint(&receiver, protocol))
            .otlp_header("x-tenant", "acme")
            .build();
        assert!(
            telemetry.warnings().is_empty(),
            "{:?}",
            telemetry.warnings()
        );
        telemetry
            .tracer_provider()
            .unwrap()
            .tracer("test")
            .start("with headers")
            .end();
        telemetry.shutdown().expect("shutdown");
        let headers = receiver.headers();
        assert!(!headers.is_empty(), "{protocol:?}: nothing arrived");
        for request in &headers {
            assert_eq!(
                request.get("x-tenant").map(|v| v.as_bytes()),
                Some(&b"acme"[..]),
                "{protocol:?}: {request:?}"
            );
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn invalid_endpoint_inside_async_code_is_warnings_not_a_panic() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let telemetry = otel_init::builder()
            .otlp_protocol(protocol)
            .otlp_endpoint("http://[not a host")
            .install_globals(false)
            .build();
        let variables: Vec<&str> = telemetry
            .warnings()
            .iter()
            .map(|w| w.variable.as_str())
            .collect();
        assert_eq!(
            variables,
            [
                "OTEL_TRACES_EXPORTER",
                "OTEL_METRICS_EXPORTER",
                "OTEL_LOGS_EXPORTER"
            ],
            "{protocol:?}: {:?}",
            telemetry.warnings()
        );
        assert!(telemetry.warnings()[0].problem.contains("endpoint"));
        // The application still gets working providers (ids, no export).
        let span = telemetry.tracer_provider().unwrap().tracer("t").start("s");
        assert!(span.span_context().is_valid());
        drop(span);
        drop(telemetry); // inside async code: must not panic
    }
}
