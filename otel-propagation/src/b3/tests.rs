use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;

use super::*;

const TRACE_ID: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const SPAN_ID: &str = "e457b5a2e4d86bd1";
const PARENT_ID: &str = "05e3ac9a4f6e3b90";

fn carrier(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn extract(pairs: &[(&str, &str)]) -> Context {
    B3Propagator::single().extract(&carrier(pairs))
}

fn span_context(pairs: &[(&str, &str)]) -> SpanContext {
    extract(pairs).span().span_context().clone()
}

fn inject(cx: &Context, propagator: B3Propagator) -> HashMap<String, String> {
    let mut out = HashMap::new();
    propagator.inject_context(cx, &mut out);
    out
}

#[test]
fn single_header_forms() {
    let sc = span_context(&[("b3", &format!("{TRACE_ID}-{SPAN_ID}-1-{PARENT_ID}"))]);
    assert_eq!(sc.trace_id().to_string(), TRACE_ID);
    assert_eq!(sc.span_id().to_string(), SPAN_ID);
    assert!(sc.is_sampled() && sc.is_remote());

    let sc = span_context(&[("b3", &format!("{TRACE_ID}-{SPAN_ID}-0"))]);
    assert!(sc.is_valid() && !sc.is_sampled());

    let sc = span_context(&[("b3", &format!("{TRACE_ID}-{SPAN_ID}"))]);
    assert!(sc.is_valid() && !sc.is_sampled(), "deferred");
}

#[test]
fn sixty_four_bit_trace_ids_are_left_padded() {
    let sc = span_context(&[("b3", &format!("64fe8b2a57d3eff7-{SPAN_ID}-1"))]);
    assert_eq!(
        sc.trace_id().to_string(),
        "000000000000000064fe8b2a57d3eff7"
    );
    let sc = span_context(&[
        ("x-b3-traceid", "64fe8b2a57d3eff7"),
        ("x-b3-spanid", SPAN_ID),
    ]);
    assert_eq!(
        sc.trace_id().to_string(),
        "000000000000000064fe8b2a57d3eff7"
    );
}

#[test]
fn invalid_single_headers() {
    let cases = [
        TRACE_ID.to_string(),
        format!("{TRACE_ID}-"),
        format!("{TRACE_ID}-{SPAN_ID}-"),
        format!("{TRACE_ID}-{SPAN_ID}-{PARENT_ID}"),
        format!("{TRACE_ID}-{SPAN_ID}-true"),
        format!("{TRACE_ID}-{SPAN_ID}-D"),
        format!("{TRACE_ID}-{SPAN_ID}-1-{PARENT_ID}-extra"),
        format!("{TRACE_ID}-{SPAN_ID}-1-0000"),
        format!("{}-{SPAN_ID}-1", TRACE_ID.to_uppercase()),
        format!("{TRACE_ID}-{}-1", SPAN_ID.to_uppercase()),
        format!("{}-{SPAN_ID}-1", "0".repeat(32)),
        format!("{TRACE_ID}-{}-1", "0".repeat(16)),
        format!("{}-{SPAN_ID}-1", &TRACE_ID[..31]),
        format!("{}-{SPAN_ID}-1", &TRACE_ID[..20]),
        format!("{TRACE_ID}-{}-1", &SPAN_ID[..15]),
        format!("{TRACE_ID}{SPAN_ID}"),
        "-".into(),
        "x".into(),
        String::new(),
    ];
    for value in cases {
        assert!(!span_context(&[("b3", &value)]).is_valid(), "{value:?}");
    }
}

#[test]
fn single_header_takes_precedence() {
    let other_trace = "0af7651916cd43dd8448eb211c80319c";
    let sc = span_context(&[
        ("b3", &format!("{TRACE_ID}-{SPAN_ID}-1")),
        ("x-b3-traceid", other_trace),
        ("x-b3-spanid", SPAN_ID),
    ]);
    assert_eq!(sc.trace_id().to_string(), TRACE_ID);
}

#[test]
fn invalid_single_header_falls_back_to_multi() {
    let sc = span_context(&[
        ("b3", "garbage"),
        ("x-b3-traceid", TRACE_ID),
        ("x-b3-spanid", SPAN_ID),
        ("x-b3-sampled", "1"),
    ]);
    assert_eq!(sc.trace_id().to_string(), TRACE_ID);
    assert!(sc.is_sampled());
}

#[test]
fn multi_header_sampled_values() {
    for (value, sampled) in [
        ("1", true),
        ("true", true),
        ("TRUE", true),
        ("0", false),
        ("false", false),
    ] {
        let sc = span_context(&[
            ("x-b3-traceid", TRACE_ID),
            ("x-b3-spanid", SPAN_ID),
            ("x-b3-sampled", value),
        ]);
        assert!(sc.is_valid(), "{value}");
        assert_eq!(sc.is_sampled(), sampled, "{value}");
    }
    let sc = span_context(&[
        ("x-b3-traceid", TRACE_ID),
        ("x-b3-spanid", SPAN_ID),
        ("x-b3-sampled", "2"),
    ]);
    assert!(!sc.is_valid());
}

#[test]
fn multi_header_needs_both_ids() {
    assert!(!span_context(&[("x-b3-traceid", TRACE_ID)]).is_valid());
    assert!(!span_context(&[("x-b3-spanid", SPAN_ID)]).is_valid());
    assert!(
        !span_context(&[
            ("x-b3-traceid", TRACE_ID),
            ("x-b3-spanid", SPAN_ID),
            ("x-b3-parentspanid", "zz")
        ])
        .is_valid()
    );
    assert!(
        span_context(&[
            ("x-b3-traceid", TRACE_ID),
            ("x-b3-spanid", SPAN_ID),
            ("x-b3-parentspanid", PARENT_ID)
        ])
        .is_valid()
    );
}

#[test]
fn debug_implies_sampled_and_is_reinjected() {
    for pairs in [
        vec![("b3", format!("{TRACE_ID}-{SPAN_ID}-d"))],
        vec![
            ("x-b3-traceid", TRACE_ID.into()),
            ("x-b3-spanid", SPAN_ID.into()),
            ("x-b3-flags", "1".into()),
        ],
        vec![
            ("x-b3-traceid", TRACE_ID.into()),
            ("x-b3-spanid", SPAN_ID.into()),
            ("x-b3-sampled", "0".into()),
            ("x-b3-flags", "1".into()),
        ],
    ] {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let cx = extract(&pairs);
        assert!(cx.span().span_context().is_sampled(), "{pairs:?}");
        assert_eq!(
            inject(&cx, B3Propagator::single())["b3"],
            format!("{TRACE_ID}-{SPAN_ID}-d")
        );
        let multi = inject(&cx, B3Propagator::multi());
        assert_eq!(multi["x-b3-flags"], "1");
        assert!(
            !multi.contains_key("x-b3-sampled"),
            "debug implies accept; no X-B3-Sampled"
        );
    }
}

#[test]
fn other_flags_values_are_not_debug() {
    let cx = extract(&[
        ("x-b3-traceid", TRACE_ID),
        ("x-b3-spanid", SPAN_ID),
        ("x-b3-flags", "3"),
    ]);
    assert!(!cx.span().span_context().is_sampled());
}

#[test]
fn debug_follows_the_trace_to_child_spans() {
    let cx = extract(&[("b3", &format!("{TRACE_ID}-{SPAN_ID}-d"))]);
    // A local child span: same trace, new span id.
    let child = SpanContext::new(
        cx.span().span_context().trace_id(),
        SpanId::from(0x1111_2222_3333_4444),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    let child_cx = cx.with_remote_span_context(child);
    assert_eq!(
        inject(&child_cx, B3Propagator::single())["b3"],
        format!("{TRACE_ID}-1111222233334444-d")
    );
    // A new trace started in the same context is not debug.
    let other = SpanContext::new(
        TraceId::from(7),
        SpanId::from(9),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    let other_cx = cx.with_remote_span_context(other);
    assert_eq!(
        inject(&other_cx, B3Propagator::single())["b3"],
        "00000000000000000000000000000007-0000000000000009-1"
    );
}

#[test]
fn deferred_stays_deferred_until_sampled() {
    let cx = extract(&[("b3", &format!("{TRACE_ID}-{SPAN_ID}"))]);
    assert_eq!(
        inject(&cx, B3Propagator::single())["b3"],
        format!("{TRACE_ID}-{SPAN_ID}")
    );
    let multi = inject(&cx, B3Propagator::multi());
    assert!(!multi.contains_key("x-b3-sampled") && !multi.contains_key("x-b3-flags"));

    // A local sampler decided to record: say so downstream.
    let sampled = SpanContext::new(
        cx.span().span_context().trace_id(),
        SpanId::from(0x1111_2222_3333_4444),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    let sampled_cx = cx.with_remote_span_context(sampled);
    assert_eq!(
        inject(&sampled_cx, B3Propagator::single())["b3"],
        format!("{TRACE_ID}-1111222233334444-1")
    );
}

#[test]
fn sampling_only_headers_carry_no_span_context_but_pass_on() {
    for (single, multi_key, multi_value) in [
        ("0", "x-b3-sampled", "0"),
        ("1", "x-b3-sampled", "1"),
        ("d", "x-b3-flags", "1"),
    ] {
        let cx = extract(&[("b3", single)]);
        assert!(!cx.span().span_context().is_valid(), "{single}");
        assert_eq!(inject(&cx, B3Propagator::single())["b3"], single);
        let multi = inject(&cx, B3Propagator::multi());
        assert_eq!(multi.len(), 1);
        assert_eq!(multi[multi_key], multi_value);
    }
    let cx = extract(&[("x-b3-sampled", "0")]);
    assert!(!cx.span().span_context().is_valid());
    assert_eq!(inject(&cx, B3Propagator::single())["b3"], "0");
}

#[test]
fn sampling_only_single_header_yields_to_multi_ids() {
    let sc = span_context(&[
        ("b3", "1"),
        ("x-b3-traceid", TRACE_ID),
        ("x-b3-spanid", SPAN_ID),
        ("x-b3-sampled", "1"),
    ]);
    assert_eq!(sc.trace_id().to_string(), TRACE_ID);
}

#[test]
fn injection_writes_only_the_configured_encoding() {
    let cx = extract(&[("b3", &format!("{TRACE_ID}-{SPAN_ID}-1-{PARENT_ID}"))]);
    let single = inject(&cx, B3Propagator::single());
    assert_eq!(single.len(), 1);
    assert_eq!(
        single["b3"],
        format!("{TRACE_ID}-{SPAN_ID}-1"),
        "never the parent span id"
    );
    let multi = inject(&cx, B3Propagator::multi());
    assert_eq!(
        multi,
        carrier(&[
            ("x-b3-traceid", TRACE_ID),
            ("x-b3-spanid", SPAN_ID),
            ("x-b3-sampled", "1")
        ])
    );
}

#[test]
fn nothing_is_injected_for_an_empty_context() {
    assert!(inject(&Context::new(), B3Propagator::single()).is_empty());
    assert!(inject(&Context::new(), B3Propagator::multi()).is_empty());
}

#[test]
fn fields_match_the_injected_headers() {
    let (single, multi) = (B3Propagator::single(), B3Propagator::multi());
    let single: Vec<&str> = single.fields().collect();
    assert_eq!(single, ["b3"]);
    let multi: Vec<&str> = multi.fields().collect();
    assert_eq!(
        multi,
        ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags"]
    );
}

#[test]
fn invalid_input_keeps_the_context() {
    let cx = extract(&[("b3", &format!("{TRACE_ID}-{SPAN_ID}-1"))]);
    let after = B3Propagator::single().extract_with_context(&cx, &carrier(&[("b3", "nonsense")]));
    assert_eq!(after.span().span_context(), cx.span().span_context());
}
