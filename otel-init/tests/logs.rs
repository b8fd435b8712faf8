//! Log lines carry the ids of the span that was current: OpenTelemetry API spans and `tracing`
//! spans, JSON and text, default and custom field names.

use std::io;
use std::sync::{Arc, Mutex};

use opentelemetry::Context;
use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
use otel_init::logs::{CorrelatedFormat, CorrelationFields};
use otel_init::{Signal, Telemetry};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Telemetry that exports nothing and installs nothing globally: spans still get ids.
fn telemetry() -> Telemetry {
    let mut builder = otel_init::builder()
        .install_globals(false)
        .env_vars([("OTEL_SERVICE_NAME", "logs-test")]);
    for signal in Signal::ALL {
        builder = builder.exporters(signal, []);
    }
    builder.build()
}

fn ids(cx: &Context) -> (String, String) {
    let span = cx.span();
    let sc = span.span_context();
    (sc.trace_id().to_string(), sc.span_id().to_string())
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn opentelemetry_api_span_json_and_text() {
    let telemetry = telemetry();
    let tracer = telemetry.tracer_provider().unwrap().tracer("test");
    let json_out = Captured::default();
    let text_out = Captured::default();
    let subscriber = tracing_subscriber::registry()
        .with(otel_init::logs::json_layer().with_writer(json_out.clone()))
        .with(
            otel_init::logs::text_layer()
                .with_ansi(false)
                .with_writer(text_out.clone()),
        );
    let cx = Context::current_with_span(tracer.start("request"));
    let (trace_id, span_id) = ids(&cx);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("before");
        {
            let _attached = cx.clone().attach();
            tracing::info!(order = 7, "inside");
        }
        tracing::info!("after");
    });

    let lines = json_out.lines();
    assert_eq!(lines.len(), 3);
    assert!(json(&lines[0]).get("trace_id").is_none(), "{}", lines[0]);
    let inside = json(&lines[1]);
    assert_eq!(inside["trace_id"], trace_id.as_str());
    assert_eq!(inside["span_id"], span_id.as_str());
    assert_eq!(inside["trace_flags"], "01");
    assert_eq!(inside["fields"]["message"], "inside");
    assert_eq!(inside["fields"]["order"], 7);
    assert!(json(&lines[2]).get("trace_id").is_none());

    let lines = text_out.lines();
    assert_eq!(lines.len(), 3);
    assert!(!lines[0].contains("trace_id"), "{}", lines[0]);
    assert!(
        lines[1].ends_with(&format!(
            "inside order=7 trace_id={trace_id} span_id={span_id} trace_flags=01"
        )),
        "{}",
        lines[1]
    );
    assert!(!lines[2].contains("trace_id"));
}

#[test]
fn tracing_spans_through_tracing_opentelemetry() {
    let telemetry = telemetry();
    let out = Captured::default();
    let subscriber = tracing_subscriber::registry()
        .with(telemetry.tracing_layer())
        .with(otel_init::logs::json_layer().with_writer(out.clone()));
    let (outer_ids, inner_ids) = tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!("outer");
        let _outer = outer.enter();
        tracing::info!("in outer");
        let outer_ids = ids(&outer.context());
        let inner = tracing::info_span!("inner");
        let inner_ids = inner.in_scope(|| {
            tracing::warn!("in inner");
            ids(&inner.context())
        });
        (outer_ids, inner_ids)
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 2);
    let first = json(&lines[0]);
    assert_eq!(first["trace_id"], outer_ids.0.as_str());
    assert_eq!(first["span_id"], outer_ids.1.as_str());
    let second = json(&lines[1]);
    assert_eq!(second["trace_id"], outer_ids.0.as_str(), "one trace");
    assert_eq!(second["span_id"], inner_ids.1.as_str());
    assert_ne!(inner_ids.1, outer_ids.1);
}

#[test]
fn field_names_are_configurable_and_unsampled_flags_show() {
    let telemetry = otel_init::builder()
        .install_globals(false)
        .sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
        .exporters(Signal::Traces, [])
        .exporters(Signal::Metrics, [])
        .exporters(Signal::Logs, [])
        .build();
    let tracer = telemetry.tracer_provider().unwrap().tracer("test");
    let out = Captured::default();
    let names = CorrelationFields {
        trace_id: "trace.id".into(),
        span_id: "span.id".into(),
        trace_flags: "trace.flags".into(),
    };
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(
                CorrelatedFormat::json(
                    tracing_subscriber::fmt::format().json().flatten_event(true),
                )
                .with_fields(names),
            )
            .with_writer(out.clone()),
    );
    let cx = Context::current_with_span(tracer.start("not sampled"));
    let (trace_id, span_id) = ids(&cx);
    tracing::subscriber::with_default(subscriber, || {
        let _attached = cx.attach();
        tracing::info!(user = "ada", "hello");
    });
    let line = json(&out.lines()[0]);
    assert_eq!(line["trace.id"], trace_id.as_str());
    assert_eq!(line["span.id"], span_id.as_str());
    assert_eq!(line["trace.flags"], "00");
    assert_eq!(
        line["user"], "ada",
        "the inner format's options still apply"
    );
}
