//! The W3C Trace Context (Level 2) propagator: `traceparent` and `tracestate`.

use std::sync::OnceLock;

use opentelemetry::Context;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use crate::{hex, tracestate};

/// The `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE: &str = "tracestate";

/// `00-` + 32 + `-` + 16 + `-` + 2.
const TRACEPARENT_LEN: usize = 55;

/// The flags version 00 defines: `sampled` (0x01) and Level 2's `random` (0x02). Other bits are
/// ignored when received and sent as zero, as the spec requires.
pub const KNOWN_FLAGS: u8 = 0x03;

/// Propagates span contexts in the W3C Trace Context format, Level 2.
///
/// Stricter than `opentelemetry_sdk::propagation::TraceContextPropagator`: lowercase hex only, exact
/// field lengths, a repeated `traceparent` header is invalid, every `tracestate` header value is read,
/// tracestate keys follow the Level 2 grammar, and the Level 2 `random` flag is carried through to
/// injection beside `sampled` (reserved flag bits are ignored and sent as zero).
///
/// ```
/// use std::collections::HashMap;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use otel_propagation::TraceContextPropagator;
///
/// let propagator = TraceContextPropagator::new();
/// let carrier = HashMap::from([(
///     "traceparent".to_string(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".to_string(),
/// )]);
/// let cx = propagator.extract(&carrier);
/// let span_context = cx.span().span_context().clone();
/// assert!(span_context.is_remote() && span_context.is_sampled());
///
/// let mut out = HashMap::new();
/// propagator.inject_context(&cx, &mut out);
/// assert_eq!(out["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextPropagator {
    _private: (),
}

impl TraceContextPropagator {
    /// Creates the propagator.
    pub const fn new() -> Self {
        TraceContextPropagator { _private: () }
    }

    /// Reads a remote span context from the carrier, or `None` when there is no valid one.
    pub fn extract_span_context(&self, extractor: &dyn Extractor) -> Option<SpanContext> {
        let parents = extractor.get_all(TRACEPARENT)?;
        // Two traceparent headers cannot both be right: restart the trace.
        let [traceparent] = parents.as_slice() else {
            return None;
        };
        let (trace_id, span_id, flags) = parse_traceparent(traceparent)?;
        let trace_state = match extractor.get_all(TRACESTATE) {
            Some(values) => tracestate::parse(values).unwrap_or_default(),
            None => TraceState::NONE,
        };
        Some(SpanContext::new(
            trace_id,
            span_id,
            flags,
            true,
            trace_state,
        ))
    }
}

impl TraceContextPropagator {
    pub(crate) fn field_names(&self) -> &'static [String] {
        static FIELDS: OnceLock<[String; 2]> = OnceLock::new();
        FIELDS.get_or_init(|| [TRACEPARENT.to_owned(), TRACESTATE.to_owned()])
    }
}

/// Parses one `traceparent` value into its ids and flags.
///
/// Version 00 must be exactly 55 characters; a later version is read by its first four fields when
/// what follows them starts with a dash; version `ff`, uppercase hex and all-zero ids are invalid.
/// Optional whitespace around the value is ignored, as HTTP field values may carry it.
pub fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let v = tracestate::trim_ows(value).as_bytes();
    if v.len() < TRACEPARENT_LEN || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let version = hex::parse_u8(v[0], v[1])?;
    match version {
        0xff => return None,
        // Version 00 is exactly 55 characters long.
        0x00 if v.len() != TRACEPARENT_LEN => return None,
        // A later version may append fields, each after a dash.
        _ if v.len() > TRACEPARENT_LEN && v[TRACEPARENT_LEN] != b'-' => return None,
        _ => {}
    }
    let trace_id = hex::parse_u128(&v[3..35]).filter(|&id| id != 0)?;
    let span_id = hex::parse_u64(&v[36..52]).filter(|&id| id != 0)?;
    let flags = hex::parse_u8(v[53], v[54])? & KNOWN_FLAGS;
    Some((
        TraceId::from(trace_id),
        SpanId::from(span_id),
        TraceFlags::new(flags),
    ))
}

/// Formats a `traceparent` value (version 00).
pub fn format_traceparent(span_context: &SpanContext) -> String {
    let mut buf = [0u8; TRACEPARENT_LEN];
    buf[..3].copy_from_slice(b"00-");
    hex::encode(&span_context.trace_id().to_bytes(), &mut buf[3..35]);
    buf[35] = b'-';
    hex::encode(&span_context.span_id().to_bytes(), &mut buf[36..52]);
    buf[52] = b'-';
    hex::encode(
        &[span_context.trace_flags().to_u8() & KNOWN_FLAGS],
        &mut buf[53..55],
    );
    // Only ASCII hex digits and dashes were written, so this never falls back to the default.
    String::from_utf8(buf.to_vec()).unwrap_or_default()
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return;
        }
        injector.set(TRACEPARENT, format_traceparent(span_context));
        let trace_state = span_context.trace_state();
        if *trace_state != TraceState::NONE {
            injector.set(TRACESTATE, trace_state.header());
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match self.extract_span_context(extractor) {
            Some(span_context) => cx.with_remote_span_context(span_context),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(self.field_names())
    }
}
