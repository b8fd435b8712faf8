//! Propagation across a hop, as `OTEL_PROPAGATORS` configures it.
//!
//! A "client" span injects its context into request headers; a "server" extracts it from those
//! headers and starts its span as the child; both spans land in one trace. Run it with different
//! settings to see the headers each propagator writes:
//!
//! ```text
//! cargo run -p examples --bin propagation
//! OTEL_PROPAGATORS=tracecontext,baggage,b3 cargo run -p examples --bin propagation
//! OTEL_PROPAGATORS=b3multi cargo run -p examples --bin propagation
//! ```

use std::process::ExitCode;

use http::HeaderMap;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

fn main() -> ExitCode {
    let propagators = otel_propagation::install_global_from_env();
    let names: Vec<&str> = propagators.kinds().iter().map(|k| k.name()).collect();
    println!("OTEL_PROPAGATORS -> [{}]", names.join(", "));

    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("propagation-demo");

    // Client side: a span, some baggage, and the headers they become.
    let mut headers = HeaderMap::new();
    let client = tracer
        .span_builder("GET /users/{id}")
        .with_kind(SpanKind::Client)
        .start(&tracer);
    let client_cx = Context::new()
        .with_span(client)
        .with_baggage([KeyValue::new("tenant", "acme corp")]);
    propagators.inject_headers(&client_cx, &mut headers);
    println!("\nrequest headers:");
    for (name, value) in &headers {
        println!("  {name}: {}", value.to_str().unwrap_or("<not ASCII>"));
    }

    // Server side: extract, and start the server span as the child of what came in.
    let incoming = propagators.extract_headers(&Context::new(), &headers);
    let server = tracer
        .span_builder("GET /users/{id}")
        .with_kind(SpanKind::Server)
        .start_with_context(&tracer, &incoming);
    let tenant = incoming.baggage().get("tenant").map(|v| v.to_string());
    drop(server);
    client_cx.span().end();
    let _ = provider.force_flush();

    let spans = exporter.get_finished_spans().unwrap_or_default();
    println!("\nspans:");
    for span in &spans {
        println!(
            "  {:?} {:<16} trace {} span {} parent {}",
            span.span_kind,
            span.name,
            span.span_context.trace_id(),
            span.span_context.span_id(),
            span.parent_span_id
        );
    }
    println!("\nbaggage seen by the server: tenant = {tenant:?}");

    let (Some(client), Some(server)) = (
        spans.iter().find(|s| s.span_kind == SpanKind::Client),
        spans.iter().find(|s| s.span_kind == SpanKind::Server),
    ) else {
        eprintln!("expected a client and a server span");
        return ExitCode::FAILURE;
    };
    let one_trace = client.span_context.trace_id() == server.span_context.trace_id()
        && server.parent_span_id == client.span_context.span_id();
    if propagators.is_none() || propagators.kinds() == [otel_propagation::PropagatorKind::Baggage] {
        println!("no trace propagator configured: the server starts a new trace");
    } else if one_trace {
        println!("one trace: the server span is the client span's child");
    } else {
        eprintln!("the server span did not join the client's trace");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
