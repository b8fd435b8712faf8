//! The B3 propagator (openzipkin/b3-propagation), single and multi header.

use std::sync::OnceLock;

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use crate::carrier::{Field, Sink, Source};
use crate::hex;
use crate::tracestate::trim_ows_bytes;

/// The single header.
pub const B3: &str = "b3";
/// The multi-header trace id.
pub const X_B3_TRACE_ID: &str = "x-b3-traceid";
/// The multi-header span id.
pub const X_B3_SPAN_ID: &str = "x-b3-spanid";
/// The multi-header parent span id: validated on extract, never injected (OpenTelemetry spec).
pub const X_B3_PARENT_SPAN_ID: &str = "x-b3-parentspanid";
/// The multi-header sampling decision.
pub const X_B3_SAMPLED: &str = "x-b3-sampled";
/// The multi-header debug flag.
pub const X_B3_FLAGS: &str = "x-b3-flags";

/// Which headers [`B3Propagator`] writes. Both encodings are read on extract.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum B3Encoding {
    /// The single `b3` header (`OTEL_PROPAGATORS=b3`); the OpenTelemetry default.
    #[default]
    Single,
    /// The `X-B3-*` headers (`OTEL_PROPAGATORS=b3multi`).
    Multi,
}

/// A B3 sampling state. `None` where it is used means the decision was deferred.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sampling {
    Deny,
    Accept,
    Debug,
}

/// What the B3 headers said that a [`SpanContext`] cannot hold, kept in the [`Context`] beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct B3State {
    /// The trace the state belongs to; `TraceId::INVALID` for a sampling-only header.
    trace_id: TraceId,
    /// The sampling state as received; `None` when deferred.
    sampling: Option<Sampling>,
}

/// Propagates span contexts in the B3 format.
///
/// Extraction reads the single `b3` header first and falls back to the `X-B3-*` headers when it is
/// absent or invalid. Injection writes only the configured encoding, never `X-B3-ParentSpanId`.
/// 64-bit trace ids are left-padded to 128 bits. The debug flag (`d`, `X-B3-Flags: 1`) implies sampled
/// and is re-injected for the rest of the trace; a deferred decision (no sampling state) is re-injected
/// as deferred unless a local sampler has since sampled the trace; a sampling-only header (`b3: 0`) is
/// passed on when no span context replaced it.
///
/// ```
/// use std::collections::HashMap;
/// use opentelemetry::propagation::TextMapPropagator;
/// use otel_propagation::B3Propagator;
///
/// let carrier = HashMap::from([("b3".to_string(), "80f198ee56343ba8-e457b5a2e4d86bd1-d".to_string())]);
/// let cx = B3Propagator::single().extract(&carrier);
///
/// let mut out = HashMap::new();
/// B3Propagator::multi().inject_context(&cx, &mut out);
/// assert_eq!(out["x-b3-traceid"], "000000000000000080f198ee56343ba8");
/// assert_eq!(out["x-b3-flags"], "1");
/// assert!(!out.contains_key("x-b3-sampled"), "debug implies sampled");
/// assert!(!out.contains_key("b3"), "a multi-header propagator never writes the single header");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct B3Propagator {
    encoding: B3Encoding,
}

impl B3Propagator {
    /// A propagator that injects the given encoding.
    pub const fn new(encoding: B3Encoding) -> Self {
        B3Propagator { encoding }
    }

    /// Injects the single `b3` header: what `OTEL_PROPAGATORS=b3` means.
    pub const fn single() -> Self {
        Self::new(B3Encoding::Single)
    }

    /// Injects the `X-B3-*` headers: what `OTEL_PROPAGATORS=b3multi` means.
    pub const fn multi() -> Self {
        Self::new(B3Encoding::Multi)
    }

    /// The encoding this propagator injects.
    pub const fn encoding(&self) -> B3Encoding {
        self.encoding
    }

    /// The headers the configured encoding injects.
    pub(crate) fn field_names(&self) -> &'static [String] {
        static SINGLE: OnceLock<[String; 1]> = OnceLock::new();
        static MULTI: OnceLock<[String; 4]> = OnceLock::new();
        match self.encoding {
            B3Encoding::Single => SINGLE.get_or_init(|| [B3.to_owned()]),
            B3Encoding::Multi => MULTI.get_or_init(|| {
                [X_B3_TRACE_ID, X_B3_SPAN_ID, X_B3_SAMPLED, X_B3_FLAGS].map(str::to_owned)
            }),
        }
    }
}

/// An extraction result: ids when present, and the sampling state.
#[derive(Debug, PartialEq, Eq)]
struct Extracted {
    ids: Option<(TraceId, SpanId)>,
    sampling: Option<Sampling>,
}

fn parse_trace_id(s: &[u8]) -> Option<TraceId> {
    // A 16-digit id parses to the same u128 as its zero-padded 32-digit form.
    hex::parse_u128_or_u64(s)
        .filter(|&id| id != 0)
        .map(TraceId::from)
}

fn parse_span_id(s: &[u8]) -> Option<SpanId> {
    hex::parse_u64(s).filter(|&id| id != 0).map(SpanId::from)
}

fn parse_single_sampling(s: &[u8]) -> Option<Sampling> {
    match s {
        b"0" => Some(Sampling::Deny),
        b"1" => Some(Sampling::Accept),
        b"d" => Some(Sampling::Debug),
        _ => None,
    }
}

/// Parses `{TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]` or a lone sampling state.
fn parse_single(value: &[u8]) -> Option<Extracted> {
    let v = trim_ows_bytes(value);
    if v.len() == 1 {
        return Some(Extracted {
            ids: None,
            sampling: Some(parse_single_sampling(v)?),
        });
    }
    // The trace id is 32 or 16 digits; each later field starts with a dash.
    let trace_len = if v.get(32) == Some(&b'-') { 32 } else { 16 };
    let trace_id = parse_trace_id(v.get(..trace_len)?)?;
    let rest = v.get(trace_len..)?.strip_prefix(b"-")?;
    let span_id = parse_span_id(rest.get(..16)?)?;
    let rest = &rest[16..];
    let (sampling, rest) = match rest {
        [] => (None, rest),
        [b'-', state, rest @ ..] => (Some(parse_single_sampling(&[*state])?), rest),
        _ => return None,
    };
    match rest {
        [] => {}
        // Validated, then dropped: OpenTelemetry never reuses it.
        [b'-', parent @ ..] => {
            parse_span_id(parent)?;
        }
        _ => return None,
    }
    Some(Extracted {
        ids: Some((trace_id, span_id)),
        sampling,
    })
}

/// Reads the `X-B3-*` headers; the first value of each wins.
fn parse_multi(source: &impl Source) -> Option<Extracted> {
    let get = |field| source.first(field).map(trim_ows_bytes);
    let mut sampling = match get(Field::B3Sampled) {
        None | Some(b"") => None,
        Some(s) if s == b"1" || s.eq_ignore_ascii_case(b"true") => Some(Sampling::Accept),
        Some(s) if s == b"0" || s.eq_ignore_ascii_case(b"false") => Some(Sampling::Deny),
        Some(_) => return None,
    };
    // Only exactly "1" means debug; no implementation treats the flags as a bit field.
    if get(Field::B3Flags) == Some(b"1") {
        sampling = Some(Sampling::Debug);
    }
    let ids = match (get(Field::B3TraceId), get(Field::B3SpanId)) {
        (Some(trace_id), Some(span_id)) => {
            Some((parse_trace_id(trace_id)?, parse_span_id(span_id)?))
        }
        (None, None) => None,
        _ => return None,
    };
    match get(Field::B3ParentSpanId) {
        Some(_) if ids.is_none() => return None,
        Some(parent) => {
            parse_span_id(parent)?;
        }
        None => {}
    }
    if ids.is_none() && sampling.is_none() {
        return None;
    }
    Some(Extracted { ids, sampling })
}

fn extract_b3(source: &impl Source) -> Option<Extracted> {
    let single = source.first(Field::B3).and_then(parse_single);
    if let Some(found @ Extracted { ids: Some(_), .. }) = single {
        return Some(found);
    }
    // The single header was absent, invalid or sampling-only: the multi headers may say more.
    match parse_multi(source) {
        Some(multi) if multi.ids.is_some() || single.is_none() => Some(multi),
        _ => single,
    }
}

impl B3Propagator {
    pub(crate) fn extract_from(&self, cx: &Context, source: &impl Source) -> Context {
        let Some(extracted) = extract_b3(source) else {
            return cx.clone();
        };
        let Some((trace_id, span_id)) = extracted.ids else {
            return cx.with_value(B3State {
                trace_id: TraceId::INVALID,
                sampling: extracted.sampling,
            });
        };
        let flags = match extracted.sampling {
            Some(Sampling::Accept | Sampling::Debug) => TraceFlags::SAMPLED,
            Some(Sampling::Deny) | None => TraceFlags::NOT_SAMPLED,
        };
        let span_context = SpanContext::new(trace_id, span_id, flags, true, TraceState::NONE);
        let cx = cx.with_remote_span_context(span_context);
        match extracted.sampling {
            // Debug and deferred outlive this hop; accept and deny are in the flags.
            Some(Sampling::Debug) | None => cx.with_value(B3State {
                trace_id,
                sampling: extracted.sampling,
            }),
            Some(_) => cx,
        }
    }

    pub(crate) fn inject_into(&self, cx: &Context, sink: &mut impl Sink) {
        let span = cx.span();
        let span_context = span.span_context();
        let state = cx.get::<B3State>();
        if !span_context.is_valid() {
            // Pass on a sampling-only header that nothing has replaced.
            if let Some(B3State {
                trace_id: TraceId::INVALID,
                sampling: Some(sampling),
            }) = state
            {
                match (self.encoding, sampling) {
                    (B3Encoding::Single, _) => {
                        sink.set(Field::B3, single_sampling(*sampling).to_owned())
                    }
                    (B3Encoding::Multi, Sampling::Debug) => {
                        sink.set(Field::B3Flags, "1".to_owned())
                    }
                    (B3Encoding::Multi, _) => {
                        sink.set(Field::B3Sampled, single_sampling(*sampling).to_owned())
                    }
                }
            }
            return;
        }
        let received = state
            .filter(|s| s.trace_id == span_context.trace_id())
            .map(|s| s.sampling);
        let sampling = match received {
            Some(Some(Sampling::Debug)) => Some(Sampling::Debug),
            // Still deferred unless a local sampler has decided to record the trace.
            Some(None) if !span_context.is_sampled() => None,
            _ if span_context.is_sampled() => Some(Sampling::Accept),
            _ => Some(Sampling::Deny),
        };
        let mut trace_id = [0u8; 32];
        hex::encode(&span_context.trace_id().to_bytes(), &mut trace_id);
        let mut span_id = [0u8; 16];
        hex::encode(&span_context.span_id().to_bytes(), &mut span_id);
        match self.encoding {
            B3Encoding::Single => {
                // 32 + 1 + 16 + 2
                let mut value = Vec::with_capacity(if sampling.is_some() { 51 } else { 49 });
                value.extend_from_slice(&trace_id);
                value.push(b'-');
                value.extend_from_slice(&span_id);
                if let Some(sampling) = sampling {
                    value.push(b'-');
                    value.extend_from_slice(single_sampling(sampling).as_bytes());
                }
                sink.set(Field::B3, ascii_string(value));
            }
            B3Encoding::Multi => {
                sink.set(Field::B3TraceId, ascii_string(trace_id.to_vec()));
                sink.set(Field::B3SpanId, ascii_string(span_id.to_vec()));
                match sampling {
                    // Debug implies accept: X-B3-Sampled is not sent with it.
                    Some(Sampling::Debug) => sink.set(Field::B3Flags, "1".to_owned()),
                    Some(s) => sink.set(Field::B3Sampled, single_sampling(s).to_owned()),
                    None => {}
                }
            }
        }
    }
}

crate::carrier::impl_text_map_propagator!(B3Propagator);

fn single_sampling(sampling: Sampling) -> &'static str {
    match sampling {
        Sampling::Deny => "0",
        Sampling::Accept => "1",
        Sampling::Debug => "d",
    }
}

/// Our encoders write only ASCII, so this never falls back to the empty default.
fn ascii_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests;
