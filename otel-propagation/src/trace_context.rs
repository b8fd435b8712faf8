//! The W3C Trace Context (Level 2) propagator: `traceparent` and `tracestate`.

use std::sync::OnceLock;

use opentelemetry::Context;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use crate::carrier::{ExtractorSource, Field, Sink, Source};
use crate::hex;
use crate::tracestate::{self, TraceStateList};

/// The `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE: &str = "tracestate";

/// `00-` + 32 + `-` + 16 + `-` + 2.
const TRACEPARENT_LEN: usize = 55;

/// The flags version 00 defines: `sampled` (0x01) and Level 2's `random` (0x02). Other bits are
/// ignored when received and sent as zero, as the spec requires.
pub const KNOWN_FLAGS: u8 = 0x03;

/// Level 2's `random` trace flag: at least the right-most 7 bytes of the trace id are random.
pub const RANDOM: TraceFlags = TraceFlags::new(0x02);

/// Propagates span contexts in the W3C Trace Context format, Level 2.
///
/// Stricter than `opentelemetry_sdk::propagation::TraceContextPropagator`: lowercase hex only, exact
/// field lengths, a repeated `traceparent` header is invalid, every `tracestate` header value is read,
/// tracestate keys follow the Level 2 grammar, and the Level 2 `random` flag is carried through to
/// injection beside `sampled` (reserved flag bits are ignored and sent as zero).
///
/// What the received headers said that a `SpanContext` built by the SDK may not keep travels in the
/// extracted `Context`, and is applied again on injection for a span context of the same trace:
///
/// - **The random flag.** The SDK builds an unsampled child with flags `00` and a sampled one with
///   its parent's flags plus `sampled`; every `traceparent` injected for a trace that arrived with
///   the random flag carries it. A trace started here is sent with the flags its span context has:
///   the API does not say whether the SDK's id generator is random (the OpenTelemetry spec leaves
///   that to the SDK's `IdGenerator`), and the stock SDK sets only `sampled` on a root, so a root
///   goes out as `-01` or `-00`. That never claims randomness that is not there.
/// - **Level 2 tracestate members** that `opentelemetry::trace::TraceState` cannot hold
///   (`foo@@bar`): the whole received list is sent on, in order, with what the span's own
///   `TraceState` added, updated or deleted applied (added and updated first), at most 32 members.
///   [`TraceStateList::from_context`] reads it.
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
        extract(&ExtractorSource(extractor)).map(|(span_context, _)| span_context)
    }

    pub(crate) fn extract_from(&self, cx: &Context, source: &impl Source) -> Context {
        let Some((span_context, tracestate)) = extract(source) else {
            return cx.clone();
        };
        let random = span_context.trace_flags().to_u8() & RANDOM.to_u8() != 0;
        // Only what the span context cannot keep goes beside it: a plain `traceparent` costs no
        // context entry. A stale entry from an earlier extraction is replaced.
        if random || tracestate.is_some() || cx.get::<Received>().is_some() {
            cx.with_value(Received {
                trace_id: span_context.trace_id(),
                random,
                tracestate,
            })
            .with_remote_span_context(span_context)
        } else {
            cx.with_remote_span_context(span_context)
        }
    }

    pub(crate) fn inject_into(&self, cx: &Context, sink: &mut impl Sink) {
        let span = cx.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return;
        }
        let received = Received::for_trace(cx, span_context.trace_id());
        sink.set_ascii(
            Field::TraceParent,
            &traceparent_bytes(span_context, flags_to_send(span_context, received)),
        );
        let trace_state = span_context.trace_state();
        match received.and_then(|r| r.tracestate.as_deref()) {
            // Kept only when it has a member the span context could not hold: never empty.
            Some(full) if *trace_state == full.held => {
                sink.set_ascii(Field::TraceState, full.list.header().as_bytes());
            }
            Some(full) => {
                let merged = full.list.merged(&full.held, trace_state);
                if !merged.is_empty() {
                    sink.set_ascii(Field::TraceState, merged.header().as_bytes());
                }
            }
            None if *trace_state != TraceState::NONE => {
                sink.set(Field::TraceState, trace_state.header())
            }
            None => {}
        }
    }

    pub(crate) fn field_names(&self) -> &'static [String] {
        static FIELDS: OnceLock<[String; 2]> = OnceLock::new();
        FIELDS.get_or_init(|| [TRACEPARENT.to_owned(), TRACESTATE.to_owned()])
    }
}

/// What the `traceparent`/`tracestate` headers said that the `SpanContext` built from them may not
/// keep, kept in the `Context` beside it.
#[derive(Debug)]
struct Received {
    /// The trace it belongs to.
    trace_id: TraceId,
    /// The `traceparent` had the random flag.
    random: bool,
    /// The whole `tracestate`, when the span context's `TraceState` could not hold it all.
    tracestate: Option<Box<FullTraceState>>,
}

#[derive(Debug)]
struct FullTraceState {
    /// Every member received, in order.
    list: TraceStateList,
    /// The members the extracted span context's `TraceState` holds.
    held: TraceState,
}

impl Received {
    /// What `cx` received for `trace_id`, if anything.
    fn for_trace(cx: &Context, trace_id: TraceId) -> Option<&Received> {
        cx.get::<Received>().filter(|r| r.trace_id == trace_id)
    }
}

fn flags_to_send(span_context: &SpanContext, received: Option<&Received>) -> u8 {
    let flags = span_context.trace_flags().to_u8() & KNOWN_FLAGS;
    match received {
        Some(Received { random: true, .. }) => flags | RANDOM.to_u8(),
        _ => flags,
    }
}

/// The trace flags [`TraceContextPropagator`] sends for `cx`'s span: its span context's, with the
/// random flag when the trace arrived with it (the SDK drops it from unsampled children).
///
/// ```
/// use std::collections::HashMap;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceState};
/// use otel_propagation::TraceContextPropagator;
/// use otel_propagation::trace_context::{trace_flags, RANDOM};
///
/// let carrier = HashMap::from([(
///     "traceparent".to_string(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02".to_string(),
/// )]);
/// let parent = TraceContextPropagator::new().extract(&carrier);
/// // An unsampled child, as the SDK builds it: default flags.
/// let child = parent.with_remote_span_context(SpanContext::new(
///     parent.span().span_context().trace_id(),
///     SpanId::from(7),
///     TraceFlags::default(),
///     false,
///     TraceState::NONE,
/// ));
/// assert_eq!(trace_flags(&child), RANDOM);
/// ```
pub fn trace_flags(cx: &Context) -> TraceFlags {
    let span = cx.span();
    let span_context = span.span_context();
    TraceFlags::new(flags_to_send(
        span_context,
        Received::for_trace(cx, span_context.trace_id()),
    ))
}

impl TraceStateList {
    /// The whole `tracestate` `cx` carries for its span's trace: every member received, Level 2 keys
    /// that `SpanContext::trace_state()` cannot hold included, in order, with what the span's own
    /// `TraceState` added, updated or deleted applied. What [`TraceContextPropagator`] sends for
    /// `cx`; empty when its span context is invalid.
    pub fn from_context(cx: &Context) -> TraceStateList {
        let span = cx.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return TraceStateList::default();
        }
        match Received::for_trace(cx, span_context.trace_id()).and_then(|r| r.tracestate.as_deref())
        {
            Some(full) => full.list.merged(&full.held, span_context.trace_state()),
            None => TraceStateList::from_trace_state(span_context.trace_state()),
        }
    }
}

/// The span context the headers carry, and the whole tracestate when its `TraceState` cannot
/// hold it all.
fn extract(source: &impl Source) -> Option<(SpanContext, Option<Box<FullTraceState>>)> {
    // Two traceparent headers cannot both be right: restart the trace.
    let traceparent = source.only(Field::TraceParent).ok()??;
    let (trace_id, span_id, flags) = parse_traceparent_bytes(traceparent)?;
    // A tracestate that breaks the grammar is dropped; the traceparent stands.
    let parsed = tracestate::parse(source.all(Field::TraceState)).unwrap_or_default();
    let full = parsed.full.map(|list| {
        Box::new(FullTraceState {
            list,
            held: parsed.held.clone(),
        })
    });
    Some((
        SpanContext::new(trace_id, span_id, flags, true, parsed.held),
        full,
    ))
}

/// Parses one `traceparent` value into its ids and flags.
///
/// Version 00 must be exactly 55 characters; a later version is read by its first four fields when
/// what follows them starts with a dash; version `ff`, uppercase hex and all-zero ids are invalid.
/// Optional whitespace around the value is ignored, as HTTP field values may carry it.
pub fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    parse_traceparent_bytes(value.as_bytes())
}

fn parse_traceparent_bytes(value: &[u8]) -> Option<(TraceId, SpanId, TraceFlags)> {
    let v = tracestate::trim_ows_bytes(value);
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

/// The `traceparent` value [`TraceContextPropagator`] sends for `cx` (version 00): its span
/// context, with the random flag when the trace arrived with it; `None` without a valid span
/// context. For a `traceparent` or `traceresponse` written anywhere else, a response header say.
///
/// ```
/// use std::collections::HashMap;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceState};
/// use otel_propagation::TraceContextPropagator;
/// use otel_propagation::trace_context::traceparent;
///
/// let carrier = HashMap::from([(
///     "traceparent".to_string(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02".to_string(),
/// )]);
/// let parent = TraceContextPropagator::new().extract(&carrier);
/// let child = parent.with_remote_span_context(SpanContext::new(
///     parent.span().span_context().trace_id(),
///     SpanId::from(7),
///     TraceFlags::default(),
///     false,
///     TraceState::NONE,
/// ));
/// assert_eq!(
///     traceparent(&child).as_deref(),
///     Some("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000007-02")
/// );
/// assert_eq!(traceparent(&opentelemetry::Context::new()), None);
/// ```
pub fn traceparent(cx: &Context) -> Option<String> {
    let span = cx.span();
    let span_context = span.span_context();
    if !span_context.is_valid() {
        return None;
    }
    let flags = flags_to_send(
        span_context,
        Received::for_trace(cx, span_context.trace_id()),
    );
    // Only ASCII hex digits and dashes are written.
    String::from_utf8(traceparent_bytes(span_context, flags).to_vec()).ok()
}

/// Formats a `traceparent` value (version 00) with the span context's own flags (reserved bits
/// dropped). [`traceparent`] adds what the extracted context says, the random flag.
pub fn format_traceparent(span_context: &SpanContext) -> String {
    let flags = span_context.trace_flags().to_u8() & KNOWN_FLAGS;
    // Only ASCII hex digits and dashes are written, so this never falls back to the default.
    String::from_utf8(traceparent_bytes(span_context, flags).to_vec()).unwrap_or_default()
}

fn traceparent_bytes(span_context: &SpanContext, flags: u8) -> [u8; TRACEPARENT_LEN] {
    let mut buf = [0u8; TRACEPARENT_LEN];
    buf[..3].copy_from_slice(b"00-");
    hex::encode(&span_context.trace_id().to_bytes(), &mut buf[3..35]);
    buf[35] = b'-';
    hex::encode(&span_context.span_id().to_bytes(), &mut buf[36..52]);
    buf[52] = b'-';
    hex::encode(&[flags], &mut buf[53..55]);
    buf
}

crate::carrier::impl_text_map_propagator!(TraceContextPropagator);

#[cfg(all(test, feature = "http"))]
mod tests {
    use opentelemetry::propagation::TextMapPropagator;

    use super::*;
    use http::HeaderMap;

    use crate::HeaderExtractor;

    const TRACE_ID: &str = "12345678901234567890123456789012";
    const PARENT_ID: &str = "1234567890123456";

    fn extract(headers: &[(&str, &str)]) -> Option<SpanContext> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        TraceContextPropagator::new().extract_span_context(&HeaderExtractor(&map))
    }

    fn parent(value: &str) -> Option<SpanContext> {
        extract(&[("traceparent", value)])
    }

    fn valid(version: &str, flags: &str) -> String {
        format!("{version}-{TRACE_ID}-{PARENT_ID}-{flags}")
    }

    #[test]
    fn accepts_a_valid_header() {
        let sc = parent(&valid("00", "01")).unwrap();
        assert_eq!(sc.trace_id().to_string(), TRACE_ID);
        assert_eq!(sc.span_id().to_string(), PARENT_ID);
        assert!(sc.is_sampled() && sc.is_remote());
        assert_eq!(sc.trace_state(), &TraceState::NONE);
    }

    #[test]
    fn header_name_is_case_insensitive_and_exact() {
        for name in ["TraceParent", "TRACEPARENT", "TrAcEpArEnT"] {
            assert!(extract(&[(name, &valid("00", "01"))]).is_some(), "{name}");
        }
        for name in ["trace-parent", "trace.parent"] {
            assert!(extract(&[(name, &valid("00", "01"))]).is_none(), "{name}");
        }
    }

    #[test]
    fn version_00_has_no_trailing_data() {
        assert!(parent(&format!("{}.", valid("00", "01"))).is_none());
        assert!(
            parent(&format!(
                "{}-what-the-future-will-be-like",
                valid("00", "01")
            ))
            .is_none()
        );
    }

    #[test]
    fn later_versions_are_read_by_their_first_fields() {
        assert!(parent(&valid("cc", "01")).is_some());
        let sc = parent(&format!(
            "{}-what-the-future-will-be-like",
            valid("cc", "01")
        ))
        .unwrap();
        assert_eq!(sc.trace_id().to_string(), TRACE_ID);
        assert!(
            parent(&format!(
                "{}.what-the-future-will-be-like",
                valid("cc", "01")
            ))
            .is_none()
        );
        assert!(
            parent(&valid("ff", "01")).is_none(),
            "version ff is invalid"
        );
    }

    #[test]
    fn version_field_must_be_two_lowercase_hex_digits() {
        for version in [".0", "0.", "000", "0000", "0", "0A", "GG", "+0"] {
            assert!(parent(&valid(version, "01")).is_none(), "{version}");
        }
    }

    #[test]
    fn trace_id_rules() {
        let cases = [
            "00000000000000000000000000000000".to_string(),
            format!(".{}", &TRACE_ID[1..]),
            format!("{}.", &TRACE_ID[..31]),
            format!("{TRACE_ID}3"),
            TRACE_ID[..31].to_string(),
            TRACE_ID.replace('1', "A"),
        ];
        for trace_id in cases {
            assert!(
                parent(&format!("00-{trace_id}-{PARENT_ID}-01")).is_none(),
                "{trace_id}"
            );
        }
    }

    #[test]
    fn parent_id_rules() {
        let cases = [
            "0000000000000000".to_string(),
            format!(".{}", &PARENT_ID[1..]),
            format!("{}.", &PARENT_ID[..15]),
            format!("{PARENT_ID}7"),
            PARENT_ID[..15].to_string(),
            "ABCDEF0123456789".to_string(),
        ];
        for parent_id in cases {
            assert!(
                parent(&format!("00-{TRACE_ID}-{parent_id}-01")).is_none(),
                "{parent_id}"
            );
        }
    }

    #[test]
    fn flags_rules() {
        for flags in [".0", "0.", "001", "1", "0A", "x1"] {
            assert!(parent(&valid("00", flags)).is_none(), "{flags}");
        }
    }

    #[test]
    fn random_flag_is_kept_and_reserved_bits_are_dropped() {
        assert_eq!(
            parent(&valid("00", "02")).unwrap().trace_flags().to_u8(),
            0x02
        );
        assert_eq!(
            parent(&valid("00", "03")).unwrap().trace_flags().to_u8(),
            0x03
        );
        let sc = parent(&valid("00", "ff")).unwrap();
        assert_eq!(
            sc.trace_flags().to_u8(),
            0x03,
            "reserved bits are ignored, not an error"
        );
        assert_eq!(format_traceparent(&sc), valid("00", "03"));
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        for padded in [
            format!(" {}", valid("00", "01")),
            format!("{} ", valid("00", "01")),
            format!("\t{}\t", valid("00", "01")),
        ] {
            assert!(parent(&padded).is_some(), "{padded:?}");
        }
        assert!(parent(&format!("00- {TRACE_ID}-{PARENT_ID}-01")).is_none());
    }

    #[test]
    fn repeated_traceparent_is_invalid() {
        let first = format!("00-{TRACE_ID}-1234567890123456-01");
        let second = format!("00-{TRACE_ID}-1234567890123457-01");
        assert!(extract(&[("traceparent", &first), ("traceparent", &second)]).is_none());
        assert!(extract(&[("traceparent", &first), ("traceparent", &first)]).is_none());
    }

    #[test]
    fn tracestate_needs_a_traceparent() {
        assert!(extract(&[("tracestate", "foo=1")]).is_none());
    }

    #[test]
    fn tracestate_is_combined_in_order() {
        let sc = extract(&[
            ("traceparent", &valid("00", "01")),
            ("tracestate", "foo=1,bar=2"),
            ("tracestate", "rojo=1,congo=2"),
            ("tracestate", "baz=3"),
        ])
        .unwrap();
        assert_eq!(
            sc.trace_state().header(),
            "foo=1,bar=2,rojo=1,congo=2,baz=3"
        );
    }

    #[test]
    fn invalid_tracestate_keeps_the_traceparent() {
        for ts in ["foo=1,FOO=2", "@foo=1,bar=2", "foo=,bar=3", "foo=bar=baz"] {
            let sc = extract(&[("traceparent", &valid("00", "01")), ("tracestate", ts)]).unwrap();
            assert_eq!(sc.trace_state(), &TraceState::NONE, "{ts}");
        }
    }

    #[test]
    fn every_allowed_value_character_survives() {
        let value: String = (0x20u8..=0x7e)
            .filter(|&b| b != b',' && b != b'=')
            .map(char::from)
            .collect();
        let key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
        let ts = format!("{key}={value}");
        let sc = extract(&[("traceparent", &valid("00", "01")), ("tracestate", &ts)]).unwrap();
        assert_eq!(sc.trace_state().get(key), Some(value.as_str()));
        assert!(
            value.starts_with(' '),
            "the leading space is part of the value"
        );
    }

    #[test]
    fn injects_version_00_and_tracestate() {
        let sc = extract(&[
            ("traceparent", &format!("{}-future", valid("cc", "03"))),
            ("tracestate", "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"),
        ])
        .unwrap();
        let cx = Context::new().with_remote_span_context(sc);
        let mut out = std::collections::HashMap::new();
        TraceContextPropagator::new().inject_context(&cx, &mut out);
        assert_eq!(
            out["traceparent"],
            valid("00", "03"),
            "downgraded to the version we know"
        );
        assert_eq!(out["tracestate"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    }

    fn inject(cx: &Context) -> std::collections::HashMap<String, String> {
        let mut out = std::collections::HashMap::new();
        TraceContextPropagator::new().inject_context(cx, &mut out);
        out
    }

    fn extract_cx(headers: &[(&str, &str)]) -> Context {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        TraceContextPropagator::new().extract_from(&Context::new(), &map)
    }

    /// A child of `cx`'s span as the SDK builds one: same trace, own span id, the given flags, the
    /// parent's trace state.
    fn child(cx: &Context, flags: u8) -> Context {
        let parent = cx.span().span_context().clone();
        cx.with_remote_span_context(SpanContext::new(
            parent.trace_id(),
            SpanId::from(0xabc),
            TraceFlags::new(flags),
            false,
            parent.trace_state().clone(),
        ))
    }

    #[test]
    fn a_plain_traceparent_adds_no_context_entry() {
        let cx = extract_cx(&[("traceparent", &valid("00", "01")), ("tracestate", "a=1")]);
        assert!(cx.get::<Received>().is_none());
        let cx = extract_cx(&[("traceparent", &valid("00", "02"))]);
        assert!(cx.get::<Received>().is_some_and(|r| r.random));
    }

    #[test]
    fn the_random_flag_is_sent_for_every_span_of_the_trace() {
        let cx = extract_cx(&[("traceparent", &valid("00", "02"))]);
        assert_eq!(
            inject(&child(&cx, 0x00))["traceparent"],
            format!("00-{TRACE_ID}-0000000000000abc-02")
        );
        assert_eq!(
            inject(&child(&cx, 0x01))["traceparent"],
            format!("00-{TRACE_ID}-0000000000000abc-03")
        );
        assert_eq!(trace_flags(&child(&cx, 0x00)), RANDOM);
    }

    #[test]
    fn the_random_flag_is_not_lent_to_another_trace() {
        let cx = extract_cx(&[("traceparent", &valid("00", "03"))]);
        let other = cx.with_remote_span_context(SpanContext::new(
            TraceId::from(0x77),
            SpanId::from(0x88),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ));
        assert_eq!(
            inject(&other)["traceparent"],
            "00-00000000000000000000000000000077-0000000000000088-01"
        );
    }

    #[test]
    fn a_later_extraction_replaces_what_an_earlier_one_received() {
        let mut random = HeaderMap::new();
        random.insert("traceparent", valid("00", "02").parse().unwrap());
        random.insert("tracestate", "foo@@bar=1".parse().unwrap());
        let mut plain = HeaderMap::new();
        plain.insert("traceparent", valid("00", "00").parse().unwrap());
        let propagator = TraceContextPropagator::new();
        let cx = propagator.extract_from(&Context::new(), &random);
        let cx = propagator.extract_from(&cx, &plain);
        let out = inject(&child(&cx, 0x00));
        assert_eq!(
            out["traceparent"],
            format!("00-{TRACE_ID}-0000000000000abc-00")
        );
        assert!(!out.contains_key("tracestate"));
    }

    #[test]
    fn level_2_members_reach_the_next_hop_in_order() {
        let cx = extract_cx(&[
            ("traceparent", &valid("00", "00")),
            ("tracestate", "foo@@bar=1,rojo=2"),
            ("tracestate", "congo=3,x@@y=4"),
        ]);
        assert_eq!(
            cx.span().span_context().trace_state().header(),
            "rojo=2,congo=3"
        );
        let out = inject(&child(&cx, 0x00));
        assert_eq!(out["tracestate"], "foo@@bar=1,rojo=2,congo=3,x@@y=4");
        assert_eq!(
            TraceStateList::from_context(&child(&cx, 0x00)).header(),
            "foo@@bar=1,rojo=2,congo=3,x@@y=4"
        );
    }

    #[test]
    fn the_span_s_own_changes_apply_to_the_whole_list() {
        let cx = extract_cx(&[
            ("traceparent", &valid("00", "01")),
            ("tracestate", "foo@@bar=1,rojo=2,congo=3"),
        ]);
        let parent = cx.span().span_context().clone();
        let changed = parent
            .trace_state()
            .delete("congo")
            .unwrap()
            .insert("ours", "x")
            .unwrap();
        let child = cx.with_remote_span_context(SpanContext::new(
            parent.trace_id(),
            SpanId::from(5),
            TraceFlags::SAMPLED,
            false,
            changed,
        ));
        assert_eq!(inject(&child)["tracestate"], "ours=x,foo@@bar=1,rojo=2");
        assert_eq!(
            TraceStateList::from_context(&child).header(),
            "ours=x,foo@@bar=1,rojo=2"
        );
    }

    #[test]
    fn from_context_without_level_2_members_is_the_span_s_trace_state() {
        let cx = extract_cx(&[
            ("traceparent", &valid("00", "01")),
            ("tracestate", "a=1,b=2"),
        ]);
        assert_eq!(TraceStateList::from_context(&cx).header(), "a=1,b=2");
        assert!(TraceStateList::from_context(&Context::new()).is_empty());
    }

    #[test]
    fn injects_nothing_without_a_valid_span() {
        let mut out = std::collections::HashMap::new();
        TraceContextPropagator::new().inject_context(&Context::new(), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn extract_keeps_the_context_when_invalid() {
        let valid_sc = parent(&valid("00", "01")).unwrap();
        let cx = Context::new().with_remote_span_context(valid_sc.clone());
        let mut map = HeaderMap::new();
        map.insert("traceparent", "garbage".parse().unwrap());
        let out = TraceContextPropagator::new().extract_with_context(&cx, &HeaderExtractor(&map));
        assert_eq!(out.span().span_context(), &valid_sc);
    }
}
