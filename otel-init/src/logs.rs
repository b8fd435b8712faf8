//! Log correlation: every log line written while a span is current carries that span's
//! `trace_id`, `span_id` and `trace_flags`.
//!
//! The span is the one of the current OpenTelemetry [`Context`]: spans started through the
//! OpenTelemetry API (as our layers do, which attach their context while the request is handled)
//! and `tracing` spans, which `tracing-opentelemetry` makes current when entered (its context
//! activation, on by default). With a global subscriber, an event's explicit `parent:` and the
//! current `tracing` span without context activation are also followed (see
//! [`event_span_context`]).
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let subscriber = tracing_subscriber::registry().with(otel_init::logs::json_layer());
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!("no span is current: no ids on this line");
//! });
//! ```
//!
//! OTLP export of the same events goes through `opentelemetry-appender-tracing`
//! ([`Telemetry::logs_layer`](crate::Telemetry::logs_layer)); the SDK reads the same current
//! context, so exported records carry the same ids.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{DefaultFields, Format, Full, Json, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The names the ids are written under; pino's by default: `trace_id`, `span_id`, `trace_flags`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrelationFields {
    /// The 32-hex-digit trace id.
    pub trace_id: Cow<'static, str>,
    /// The 16-hex-digit span id.
    pub span_id: Cow<'static, str>,
    /// The two-hex-digit W3C trace flags (`01` = sampled).
    pub trace_flags: Cow<'static, str>,
}

impl Default for CorrelationFields {
    fn default() -> Self {
        CorrelationFields {
            trace_id: Cow::Borrowed("trace_id"),
            span_id: Cow::Borrowed("span_id"),
            trace_flags: Cow::Borrowed("trace_flags"),
        }
    }
}

/// A `tracing-subscriber` event formatter that adds the ids of the current span to what `inner`
/// writes.
///
/// - JSON ([`CorrelatedFormat::json`]): three more members in the event's object.
/// - Text ([`CorrelatedFormat::text`]): ` trace_id=… span_id=… trace_flags=01` at the end of the
///   line; when the writer prints ANSI colours (a terminal), at the start, so colours survive.
///
/// Lines written while no valid span is current are `inner`'s, unchanged.
#[derive(Clone, Debug)]
pub struct CorrelatedFormat<F> {
    inner: F,
    fields: CorrelationFields,
    json: bool,
}

impl<F> CorrelatedFormat<F> {
    /// Wraps a text formatter such as `tracing_subscriber::fmt::format()`.
    pub fn text(inner: F) -> Self {
        CorrelatedFormat {
            inner,
            fields: CorrelationFields::default(),
            json: false,
        }
    }

    /// Wraps a JSON formatter such as `tracing_subscriber::fmt::format().json()`.
    pub fn json(inner: F) -> Self {
        CorrelatedFormat {
            inner,
            fields: CorrelationFields::default(),
            json: true,
        }
    }

    /// Other field names.
    pub fn with_fields(mut self, fields: CorrelationFields) -> Self {
        self.fields = fields;
        self
    }
}

/// A `fmt` layer writing text lines with the ids of the current span.
pub fn text_layer<S>()
-> tracing_subscriber::fmt::Layer<S, DefaultFields, CorrelatedFormat<Format<Full>>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .event_format(CorrelatedFormat::text(tracing_subscriber::fmt::format()))
}

/// A `fmt` layer writing one JSON object per line with the ids of the current span.
pub fn json_layer<S>()
-> tracing_subscriber::fmt::Layer<S, JsonFields, CorrelatedFormat<Format<Json>>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(JsonFields::new())
        .event_format(CorrelatedFormat::json(
            tracing_subscriber::fmt::format().json(),
        ))
}

/// The span context a log event belongs to, if any is valid: the event's explicit `parent:`, else
/// the current OpenTelemetry context, else the `tracing` span current in the subscriber
/// (`current`), looked up through `tracing-opentelemetry`.
///
/// The two lookups through `tracing-opentelemetry` need the dispatcher, which `tracing` gives out
/// during an event's dispatch only when the subscriber is the global default and no scoped one
/// exists (`tracing::dispatcher::get_default`'s fast path): the usual set-up of a service. With
/// a scoped subscriber they find nothing and the current OpenTelemetry context alone decides.
pub fn event_span_context(
    event: &Event<'_>,
    current: Option<&tracing::span::Id>,
) -> Option<SpanContext> {
    event_span_context_with(event, || current.cloned())
}

/// [`event_span_context`] with the current `tracing` span looked up only when it is needed.
fn event_span_context_with(
    event: &Event<'_>,
    current: impl FnOnce() -> Option<tracing::span::Id>,
) -> Option<SpanContext> {
    if let Some(parent) = event.parent()
        && let Some(span_context) = otel_span_context(parent)
    {
        return Some(span_context);
    }
    current_span_context().or_else(|| otel_span_context(&current()?))
}

/// The span context of the current OpenTelemetry context, if valid: spans started through the
/// OpenTelemetry API and entered `tracing` spans (`tracing-opentelemetry`'s context activation).
pub fn current_span_context() -> Option<SpanContext> {
    let cx = Context::current();
    let span_context = cx.span().span_context().clone();
    span_context.is_valid().then_some(span_context)
}

/// The OpenTelemetry span context `tracing-opentelemetry` keeps for a `tracing` span.
fn otel_span_context(id: &tracing::span::Id) -> Option<SpanContext> {
    let cx = tracing::dispatcher::get_default(|dispatch| {
        tracing_opentelemetry::get_otel_context(id, dispatch)
    })?;
    let span_context = cx.span().span_context().clone();
    span_context.is_valid().then_some(span_context)
}

impl<S, N, F> FormatEvent<S, N> for CorrelatedFormat<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let current = || {
            (event.parent().is_none() && !event.is_root())
                .then(|| ctx.lookup_current().map(|span| span.id()))
                .flatten()
        };
        let Some(span_context) = event_span_context_with(event, current) else {
            return self.inner.format_event(ctx, writer, event);
        };
        let trace_id = span_context.trace_id();
        let span_id = span_context.span_id();
        let flags = span_context.trace_flags().to_u8();
        let names = &self.fields;
        if !self.json && writer.has_ansi_escapes() {
            write!(
                writer,
                "{}={trace_id} {}={span_id} {}={flags:02x} ",
                names.trace_id, names.span_id, names.trace_flags
            )?;
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::with_capacity(256);
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let newline = line.ends_with('\n');
        if newline {
            line.pop();
        }
        if self.json {
            if line.ends_with('}') {
                line.pop();
                if !line.ends_with('{') {
                    line.push(',');
                }
                // The ids are hex: written straight in, no escaping and no string per id.
                write_json_string(&mut line, &names.trace_id)?;
                write!(line, ":\"{trace_id}\",")?;
                write_json_string(&mut line, &names.span_id)?;
                write!(line, ":\"{span_id}\",")?;
                write_json_string(&mut line, &names.trace_flags)?;
                write!(line, ":\"{flags:02x}\"}}")?;
            }
        } else {
            write!(
                line,
                " {}={trace_id} {}={span_id} {}={flags:02x}",
                names.trace_id, names.span_id, names.trace_flags
            )?;
        }
        if newline {
            line.push('\n');
        }
        writer.write_str(&line)
    }
}

fn write_json_string(out: &mut String, value: &str) -> fmt::Result {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32)?,
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(())
}
