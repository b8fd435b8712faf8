//! Where the upstream propagators fall short of the specs, and ours do not.
//!
//! Each test asserts our behaviour and the upstream one side by side, on the versions in
//! `Cargo.lock`, so a change on either side shows up here.

use std::collections::HashMap;

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt, Tracer, TracerProvider};
use otel_propagation::{
    B3Propagator, BaggagePropagator, HeaderExtractor, TraceContextPropagator, TraceStateList,
};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID: &str = "00f067aa0ba902b7";

fn sdk_trace_context() -> opentelemetry_sdk::propagation::TraceContextPropagator {
    opentelemetry_sdk::propagation::TraceContextPropagator::new()
}

fn sdk_baggage() -> opentelemetry_sdk::propagation::BaggagePropagator {
    opentelemetry_sdk::propagation::BaggagePropagator::new()
}

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

fn span_context(
    propagator: &dyn TextMapPropagator,
    carrier: &HashMap<String, String>,
) -> SpanContext {
    propagator.extract(carrier).span().span_context().clone()
}

fn reinjected(propagator: &dyn TextMapPropagator, cx: &Context) -> HashMap<String, String> {
    let mut out = HashMap::new();
    propagator.inject_context(cx, &mut out);
    out
}

#[test]
fn a_short_trace_id_is_invalid() {
    let carrier = map(&[(
        "traceparent",
        &format!("00-{}-{SPAN_ID}-01", &TRACE_ID[..31]),
    )]);
    assert!(!span_context(&TraceContextPropagator::new(), &carrier).is_valid());
    // The SDK left-pads it into a different trace id.
    assert!(span_context(&sdk_trace_context(), &carrier).is_valid());
}

#[test]
fn the_random_flag_is_carried_through() {
    let traceparent = format!("00-{TRACE_ID}-{SPAN_ID}-03");
    let carrier = map(&[("traceparent", &traceparent)]);
    let ours = TraceContextPropagator::new();
    assert_eq!(
        reinjected(&ours, &ours.extract(&carrier))["traceparent"],
        traceparent
    );
    let sdk = sdk_trace_context();
    assert_eq!(
        reinjected(&sdk, &sdk.extract(&carrier))["traceparent"],
        format!("00-{TRACE_ID}-{SPAN_ID}-01"),
        "the SDK masks every flag but sampled"
    );
}

/// A child span of `cx`, built by the stock SDK (sampler: parent-based, always on).
fn sdk_child(cx: &Context) -> Context {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let span = provider.tracer("test").start_with_context("child", cx);
    cx.with_span(span)
}

#[test]
fn the_random_flag_outlives_an_unsampled_sdk_child() {
    let carrier = map(&[("traceparent", &format!("00-{TRACE_ID}-{SPAN_ID}-02"))]);
    let ours = TraceContextPropagator::new();
    let child = sdk_child(&ours.extract(&carrier));
    assert_eq!(
        child.span().span_context().trace_flags().to_u8(),
        0x00,
        "the SDK builds an unsampled child with default flags"
    );
    let sent = &reinjected(&ours, &child)["traceparent"];
    assert!(sent.ends_with("-02"), "{sent}");
    assert!(sent.starts_with(&format!("00-{TRACE_ID}-")));

    let sdk = sdk_trace_context();
    let sent = &reinjected(&sdk, &sdk_child(&sdk.extract(&carrier)))["traceparent"];
    assert!(sent.ends_with("-00"), "{sent}");
}

#[test]
fn level_2_tracestate_members_reach_the_next_hop() {
    let tracestate = format!(
        "foo@@bar=1,rojo=2,t@{}=3,{}@{}=4",
        "v".repeat(15),
        "t".repeat(241),
        "v".repeat(14)
    );
    let carrier = map(&[
        ("traceparent", &format!("00-{TRACE_ID}-{SPAN_ID}-01")),
        ("tracestate", &tracestate),
    ]);
    let ours = TraceContextPropagator::new();
    let child = sdk_child(&ours.extract(&carrier));
    assert_eq!(
        child.span().span_context().trace_state().header(),
        "rojo=2",
        "the upstream TraceState holds only the member it accepts"
    );
    assert_eq!(TraceStateList::from_context(&child).header(), tracestate);
    assert_eq!(reinjected(&ours, &child)["tracestate"], tracestate);

    let sdk = sdk_trace_context();
    let child = sdk_child(&sdk.extract(&carrier));
    assert_eq!(
        reinjected(&sdk, &child)["tracestate"],
        "",
        "the SDK drops the whole tracestate"
    );
}

#[test]
fn a_repeated_traceparent_is_invalid() {
    let h = headers(&[
        ("traceparent", &format!("00-{TRACE_ID}-{SPAN_ID}-01")),
        ("traceparent", &format!("00-{TRACE_ID}-00f067aa0ba902b8-01")),
    ]);
    assert!(
        !TraceContextPropagator::new()
            .extract(&HeaderExtractor(&h))
            .has_active_span()
    );
    let sdk_cx = sdk_trace_context().extract(&opentelemetry_http::HeaderExtractor(&h));
    assert!(
        sdk_cx.span().span_context().is_valid(),
        "the SDK takes the first"
    );
}

#[test]
fn every_tracestate_header_is_read() {
    let h = headers(&[
        ("traceparent", &format!("00-{TRACE_ID}-{SPAN_ID}-01")),
        ("tracestate", "a=1"),
        ("tracestate", "b=2"),
    ]);
    let ours = TraceContextPropagator::new().extract(&HeaderExtractor(&h));
    assert_eq!(ours.span().span_context().trace_state().header(), "a=1,b=2");
    let sdk = sdk_trace_context().extract(&opentelemetry_http::HeaderExtractor(&h));
    assert_eq!(sdk.span().span_context().trace_state().header(), "a=1");
}

#[test]
fn level_2_tracestate_keys_are_accepted() {
    let carrier = map(&[
        ("traceparent", &format!("00-{TRACE_ID}-{SPAN_ID}-01")),
        ("tracestate", "0abc=1,congo=2"),
    ]);
    assert_eq!(
        span_context(&TraceContextPropagator::new(), &carrier)
            .trace_state()
            .header(),
        "0abc=1,congo=2"
    );
}

#[test]
fn tracestate_values_follow_the_value_grammar() {
    let carrier = map(&[
        ("traceparent", &format!("00-{TRACE_ID}-{SPAN_ID}-01")),
        ("tracestate", "a=1,b=tab\there"),
    ]);
    assert_eq!(
        span_context(&TraceContextPropagator::new(), &carrier)
            .trace_state()
            .header(),
        ""
    );
    assert_eq!(
        span_context(&sdk_trace_context(), &carrier)
            .trace_state()
            .header(),
        "a=1,b=tab\there",
        "the SDK forwards a control character"
    );
}

fn baggage_value(propagator: &dyn TextMapPropagator, header: &str, key: &str) -> Option<String> {
    let cx = propagator.extract(&map(&[("baggage", header)]));
    cx.baggage().get(key).map(|v| v.as_str().to_owned())
}

#[test]
fn baggage_values_may_contain_equals() {
    assert_eq!(
        baggage_value(&BaggagePropagator::new(), "k=a=b", "k").as_deref(),
        Some("a=b")
    );
    assert_eq!(
        baggage_value(&sdk_baggage(), "k=a=b", "k").as_deref(),
        Some("a")
    );
}

#[test]
fn decoded_whitespace_is_kept() {
    assert_eq!(
        baggage_value(&BaggagePropagator::new(), "k=%20a%20", "k").as_deref(),
        Some(" a ")
    );
    assert_eq!(
        baggage_value(&sdk_baggage(), "k=%20a%20", "k").as_deref(),
        Some("a")
    );
}

#[test]
fn invalid_utf8_is_replaced_not_dropped() {
    assert_eq!(
        baggage_value(&BaggagePropagator::new(), "k=a%ffb", "k").as_deref(),
        Some("a\u{FFFD}b")
    );
    assert_eq!(baggage_value(&sdk_baggage(), "k=a%ffb", "k"), None);
}

#[test]
fn baggage_plus_is_sent_encoded() {
    // A Node client's "1+1": a Python receiver decodes an unencoded `+` as a space.
    let carrier = map(&[("baggage", "sum=1%2B1")]);
    let ours = BaggagePropagator::new();
    assert_eq!(
        reinjected(&ours, &ours.extract(&carrier))["baggage"],
        "sum=1%2B1"
    );
    let sdk = sdk_baggage();
    assert_eq!(
        reinjected(&sdk, &sdk.extract(&carrier))["baggage"],
        "sum=1+1"
    );
}

#[test]
fn baggage_keeps_the_order_received() {
    let header = (0..20)
        .rev()
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let carrier = map(&[("baggage", &header)]);
    let ours = BaggagePropagator::new();
    assert_eq!(
        reinjected(&ours, &ours.extract(&carrier))["baggage"],
        header
    );
    let sdk = sdk_baggage();
    let sent = &reinjected(&sdk, &sdk.extract(&carrier))["baggage"];
    let mut members: Vec<&str> = sent.split(',').collect();
    assert_ne!(*sent, header, "the SDK sends the hash map's order");
    members.sort_unstable();
    assert_eq!(members.len(), 20);
}

#[test]
fn every_baggage_header_is_read() {
    let h = headers(&[("baggage", "a=1"), ("baggage", "b=2")]);
    assert_eq!(
        BaggagePropagator::new()
            .extract(&HeaderExtractor(&h))
            .baggage()
            .len(),
        2
    );
    assert_eq!(
        sdk_baggage()
            .extract(&opentelemetry_http::HeaderExtractor(&h))
            .baggage()
            .len(),
        1
    );
}

#[test]
fn b3_single_never_writes_multi_headers() {
    use opentelemetry_propagator_b3::{B3Encoding, Propagator};
    let carrier = map(&[("b3", &format!("{TRACE_ID}-{SPAN_ID}-1"))]);
    let ours = B3Propagator::single();
    let out = reinjected(&ours, &ours.extract(&carrier));
    assert_eq!(out.keys().collect::<Vec<_>>(), ["b3"]);

    let upstream = Propagator::with_encoding(B3Encoding::SingleHeader);
    let out = reinjected(&upstream, &upstream.extract(&carrier));
    assert!(
        out.contains_key("x-b3-traceid"),
        "the B3 crate's single mode writes X-B3-* too"
    );
}

#[test]
fn b3_multi_reads_a_debug_single_header() {
    use opentelemetry_propagator_b3::{B3Encoding, Propagator};
    let carrier = map(&[("b3", &format!("{TRACE_ID}-{SPAN_ID}-d"))]);
    assert!(span_context(&B3Propagator::multi(), &carrier).is_sampled());
    let upstream = Propagator::with_encoding(B3Encoding::MultipleHeader);
    assert!(
        !span_context(&upstream, &carrier).is_valid(),
        "the B3 crate's multi mode (its default) rejects `d`"
    );
}

#[test]
fn b3_debug_implies_sampled() {
    let carrier = map(&[("b3", &format!("{TRACE_ID}-{SPAN_ID}-d"))]);
    // Ours keeps debug beside the span context; the flags say exactly "sampled".
    assert_eq!(
        span_context(&B3Propagator::single(), &carrier)
            .trace_flags()
            .to_u8(),
        0x01
    );
    use opentelemetry_propagator_b3::{B3Encoding, Propagator};
    let upstream = Propagator::with_encoding(B3Encoding::SingleHeader);
    let flags = span_context(&upstream, &carrier).trace_flags().to_u8();
    assert_eq!(
        flags, 0x04,
        "the B3 crate sets a reserved W3C bit and not sampled"
    );
}
