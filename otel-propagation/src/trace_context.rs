//! The W3C Trace Context (Level 2) propagator: `traceparent` and `tracestate`.

use std::sync::OnceLock;

use opentelemetry::Context;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use crate::carrier::{ExtractorSource, Field, Sink, Source};
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
        span_context_from(&ExtractorSource(extractor))
    }

    pub(crate) fn extract_from(&self, cx: &Context, source: &impl Source) -> Context {
        match span_context_from(source) {
            Some(span_context) => cx.with_remote_span_context(span_context),
            None => cx.clone(),
        }
    }

    pub(crate) fn inject_into(&self, cx: &Context, sink: &mut impl Sink) {
        let span = cx.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return;
        }
        sink.set_ascii(Field::TraceParent, &traceparent_bytes(span_context));
        let trace_state = span_context.trace_state();
        if *trace_state != TraceState::NONE {
            sink.set(Field::TraceState, trace_state.header());
        }
    }

    pub(crate) fn field_names(&self) -> &'static [String] {
        static FIELDS: OnceLock<[String; 2]> = OnceLock::new();
        FIELDS.get_or_init(|| [TRACEPARENT.to_owned(), TRACESTATE.to_owned()])
    }
}

fn span_context_from(source: &impl Source) -> Option<SpanContext> {
    // Two traceparent headers cannot both be right: restart the trace.
    let traceparent = source.only(Field::TraceParent).ok()??;
    let (trace_id, span_id, flags) = parse_traceparent_bytes(traceparent)?;
    // A tracestate that breaks the grammar is dropped; the traceparent stands.
    let trace_state = tracestate::parse(source.all(Field::TraceState)).unwrap_or_default();
    Some(SpanContext::new(
        trace_id,
        span_id,
        flags,
        true,
        trace_state,
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

/// Formats a `traceparent` value (version 00).
pub fn format_traceparent(span_context: &SpanContext) -> String {
    // Only ASCII hex digits and dashes are written, so this never falls back to the default.
    String::from_utf8(traceparent_bytes(span_context).to_vec()).unwrap_or_default()
}

fn traceparent_bytes(span_context: &SpanContext) -> [u8; TRACEPARENT_LEN] {
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
