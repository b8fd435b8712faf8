//! Property tests: extract ∘ inject is the identity on valid contexts, and no input panics.

use std::collections::HashMap;

use http::{HeaderMap, HeaderValue};
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, Key, StringValue};
use otel_propagation::{
    B3Propagator, BaggagePropagator, HeaderExtractor, HeaderInjector, PropagatorKind, Propagators,
    TraceContextPropagator, TraceStateList,
};
use proptest::prelude::*;

fn span_context_strategy() -> impl Strategy<Value = SpanContext> {
    (1..=u128::MAX, 1..=u64::MAX, 0u8..=3, tracestate_strategy()).prop_map(
        |(trace_id, span_id, flags, trace_state)| {
            SpanContext::new(
                TraceId::from(trace_id),
                SpanId::from(span_id),
                TraceFlags::new(flags),
                true,
                trace_state,
            )
        },
    )
}

fn tracestate_strategy() -> impl Strategy<Value = TraceState> {
    let key = "[a-z][a-z0-9_*/-]{0,20}(@[a-z][a-z0-9_*/-]{0,12})?";
    let value = "[ !-+\\--<>-~]{0,30}[!-+\\--<>-~]";
    proptest::collection::vec((key, value), 0..8).prop_map(|pairs| {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<_> = pairs
            .into_iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect();
        TraceState::from_key_value(unique).unwrap()
    })
}

fn round_trip(propagator: &dyn TextMapPropagator, cx: &Context) -> Context {
    let mut headers = HeaderMap::new();
    propagator.inject_context(cx, &mut HeaderInjector(&mut headers));
    propagator.extract(&HeaderExtractor(&headers))
}

proptest! {
    #[test]
    fn trace_context_round_trips(sc in span_context_strategy()) {
        let cx = Context::new().with_remote_span_context(sc.clone());
        let back = round_trip(&TraceContextPropagator::new(), &cx);
        prop_assert_eq!(back.span().span_context().clone(), sc);
    }

    #[test]
    fn b3_round_trips(sc in span_context_strategy(), multi in any::<bool>()) {
        // B3 carries ids and the sampled bit only.
        let sc = SpanContext::new(
            sc.trace_id(),
            sc.span_id(),
            TraceFlags::new(sc.trace_flags().to_u8() & 1),
            true,
            TraceState::NONE,
        );
        let propagator = if multi { B3Propagator::multi() } else { B3Propagator::single() };
        let cx = Context::new().with_remote_span_context(sc.clone());
        let back = round_trip(&propagator, &cx);
        prop_assert_eq!(back.span().span_context().clone(), sc);
    }

    #[test]
    fn baggage_round_trips(
        entries in proptest::collection::hash_map(
            "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}",
            any::<String>(),
            0..10,
        ),
        metadata in proptest::option::of("[a-z]{1,5}(=[a-z0-9]{1,5})?(;[a-z]{1,5})?"),
    ) {
        let mut baggage = Baggage::new();
        for (k, v) in &entries {
            baggage.insert_with_metadata(Key::from(k.clone()), StringValue::from(v.clone()), metadata.clone().unwrap_or_default());
        }
        let cx = Context::new().with_baggage(baggage);
        let back = round_trip(&BaggagePropagator::new(), &cx);
        prop_assert_eq!(back.baggage().len(), cx.baggage().len());
        for (k, (v, m)) in cx.baggage() {
            let (bv, bm) = back.baggage().get_with_metadata(k.as_str()).expect("entry survives");
            prop_assert_eq!(bv.as_str(), v.as_str());
            prop_assert_eq!(bm.as_str(), m.as_str());
        }
    }

    #[test]
    fn every_composite_round_trips(sc in span_context_strategy(), kinds in proptest::sample::subsequence(PropagatorKind::ALL.to_vec(), 0..=4)) {
        let propagators = kinds.iter().fold(Propagators::builder(), |b, k| b.with(*k)).build();
        let cx = Context::new()
            .with_remote_span_context(sc.clone())
            .with_baggage([opentelemetry::KeyValue::new("k", "v")]);
        let back = round_trip(&propagators, &cx);
        let carries_trace = kinds.contains(&PropagatorKind::TraceContext);
        let carries_b3 = kinds.contains(&PropagatorKind::B3) || kinds.contains(&PropagatorKind::B3Multi);
        if carries_trace || carries_b3 {
            let got = back.span().span_context().clone();
            prop_assert_eq!(got.trace_id(), sc.trace_id());
            prop_assert_eq!(got.span_id(), sc.span_id());
            prop_assert_eq!(got.is_sampled(), sc.is_sampled());
        } else {
            prop_assert!(!back.span().span_context().is_valid());
        }
        prop_assert_eq!(back.baggage().len(), usize::from(kinds.contains(&PropagatorKind::Baggage)));
    }

    /// Level 2 keys (`@` anywhere after the first character) beside Level 1 ones: the whole list
    /// goes out in order, and reads back the same.
    #[test]
    fn level_2_tracestate_round_trips(
        members in proptest::collection::vec(
            ("[a-z0-9][a-z0-9_*/@-]{0,20}", "[ !-+\\--<>-~]{0,10}[!-+\\--<>-~]"),
            0..40,
        ),
        flags in 0u8..=3,
    ) {
        let header = members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_str(&format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0{flags}")).unwrap());
        headers.insert("tracestate", HeaderValue::from_str(&header).unwrap());
        let propagators = Propagators::builder().tracecontext().build();
        let cx = propagators.extract_headers(&Context::new(), &headers);
        let list = TraceStateList::from_context(&cx);
        match TraceStateList::parse(&header) {
            // More than 32 members: the whole header is discarded.
            None => prop_assert!(list.is_empty()),
            Some(parsed) => prop_assert_eq!(&list, &parsed),
        }
        let mut out = HeaderMap::new();
        propagators.inject_headers(&cx, &mut out);
        prop_assert_eq!(out.get("tracestate").map(|v| v.to_str().unwrap()).unwrap_or(""), list.header());
        let flags_sent = format!("-0{flags}");
        prop_assert!(out["traceparent"].to_str().unwrap().ends_with(&flags_sent));
        let again = propagators.extract_headers(&Context::new(), &out);
        prop_assert_eq!(TraceStateList::from_context(&again), list);
    }

    /// Member order survives extract → inject, and no `+` leaves unencoded in a value.
    #[test]
    fn baggage_order_survives_and_plus_is_encoded(
        entries in proptest::collection::vec(("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,8}", "[!#$%&'*+./0-9:<-Z^-~-]{0,8}"), 0..20),
    ) {
        let header = entries.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let mut headers = HeaderMap::new();
        headers.insert("baggage", HeaderValue::from_str(&header).unwrap());
        let propagators = Propagators::builder().baggage().build();
        let cx = propagators.extract_headers(&Context::new(), &headers);
        let mut out = HeaderMap::new();
        propagators.inject_headers(&cx, &mut out);
        let sent = out.get("baggage").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        // Keys are tokens, sent as they are (the spec decodes no key): values only.
        prop_assert!(sent.split(',').all(|m| !m.split_once('=').map_or("", |(_, v)| v).contains('+')));
        // The first occurrence of each key, in order.
        let mut keys: Vec<&str> = Vec::new();
        for (k, _) in &entries {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
        let sent_keys: Vec<&str> = sent.split(',').filter(|m| !m.is_empty()).map(|m| m.split('=').next().unwrap()).collect();
        prop_assert_eq!(sent_keys, keys);
    }

    #[test]
    fn no_header_value_panics(values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..4)) {
        let mut headers = HeaderMap::new();
        for name in ["traceparent", "tracestate", "baggage", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags", "x-b3-parentspanid"] {
            for v in &values {
                if let Ok(value) = HeaderValue::from_bytes(v) {
                    headers.append(name, value);
                }
            }
        }
        let all = Propagators::builder().tracecontext().baggage().b3().b3_multi().build();
        let cx = all.extract(&HeaderExtractor(&headers));
        let mut out = HeaderMap::new();
        all.inject_context(&cx, &mut HeaderInjector(&mut out));
    }

    #[test]
    fn near_valid_traceparents_never_panic(s in "[0-9a-fA-F -]{50,60}") {
        let carrier = HashMap::from([("traceparent".to_string(), s)]);
        let _ = TraceContextPropagator::new().extract(&carrier);
    }

    #[test]
    fn near_valid_b3_never_panics(s in "[0-9a-fd -]{0,70}") {
        let carrier = HashMap::from([("b3".to_string(), s)]);
        let _ = B3Propagator::single().extract(&carrier);
    }
}

#[test]
fn oversized_headers_give_no_context_and_no_panic() {
    let huge = "a".repeat(128 * 1024);
    let mut headers = HeaderMap::new();
    for name in [
        "traceparent",
        "tracestate",
        "baggage",
        "b3",
        "x-b3-traceid",
        "x-b3-spanid",
    ] {
        headers.insert(name, HeaderValue::from_str(&huge).unwrap());
    }
    let all = Propagators::builder().tracecontext().baggage().b3().build();
    let cx = all.extract(&HeaderExtractor(&headers));
    assert!(!cx.span().span_context().is_valid());
    assert_eq!(cx.baggage().len(), 0);

    // A valid traceparent with a hostile 128 KiB tracestate: the traceparent stands.
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    headers.insert(
        "tracestate",
        HeaderValue::from_str(&"a=b,".repeat(32 * 1024)).unwrap(),
    );
    let cx = all.extract(&HeaderExtractor(&headers));
    assert!(cx.span().span_context().is_valid());
    assert_eq!(cx.span().span_context().trace_state(), &TraceState::NONE);
}

#[test]
fn non_utf8_and_non_ascii_header_values_count_but_never_parse() {
    let mut headers = HeaderMap::new();
    headers.append(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    headers.append("traceparent", HeaderValue::from_bytes(b"\xff\xfe").unwrap());
    let cx = TraceContextPropagator::new().extract(&HeaderExtractor(&headers));
    assert!(
        !cx.span().span_context().is_valid(),
        "the second, unreadable value still makes two"
    );

    let mut headers = HeaderMap::new();
    headers.append(
        "baggage",
        HeaderValue::from_bytes("k=v,caf\u{e9}=1".as_bytes()).unwrap(),
    );
    headers.append("baggage", HeaderValue::from_bytes(b"\xff=1").unwrap());
    let cx = BaggagePropagator::new().extract(&HeaderExtractor(&headers));
    assert_eq!(cx.baggage().len(), 1);
}

#[test]
fn header_injector_replaces_and_skips_invalid() {
    use opentelemetry::propagation::Injector;
    let mut headers = HeaderMap::new();
    let mut injector = HeaderInjector(&mut headers);
    injector.set("traceparent", "first".into());
    injector.set("traceparent", "second".into());
    injector.set("Custom-Name", "ok".into());
    injector.set("bad name", "x".into());
    injector.set("bad-value", "line\nbreak".into());
    assert_eq!(headers.get_all("traceparent").iter().count(), 1);
    assert_eq!(headers["traceparent"], "second");
    assert_eq!(headers["custom-name"], "ok");
    assert_eq!(headers.len(), 2);
}

/// Found by the `b3` fuzz target: a non-UTF-8 `X-B3-Sampled` made the two carrier paths disagree.
#[test]
fn non_utf8_values_are_present_and_invalid_on_both_paths() {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-b3-traceid",
        HeaderValue::from_static("00000200000000020000000000000000"),
    );
    headers.insert("x-b3-spanid", HeaderValue::from_static("0000000000000005"));
    headers.insert(
        "x-b3-sampled",
        HeaderValue::from_bytes(b"04\x904\xcc4").unwrap(),
    );
    let via_trait = B3Propagator::single().extract(&HeaderExtractor(&headers));
    let direct = Propagators::builder()
        .b3()
        .build()
        .extract_headers(&Context::new(), &headers);
    assert!(!via_trait.span().span_context().is_valid());
    assert!(!direct.span().span_context().is_valid());
}

/// Found by the `baggage` fuzz target: a value with a non-UTF-8 byte is dropped whole on both
/// paths (the `Extractor` API carries only `str`); other values still count.
#[test]
fn a_non_utf8_baggage_value_is_dropped_whole_on_both_paths() {
    let mut headers = HeaderMap::new();
    headers.append("baggage", HeaderValue::from_bytes(b"'=+,,\xab").unwrap());
    headers.append("baggage", HeaderValue::from_static("k=v"));
    let via_trait = BaggagePropagator::new().extract(&HeaderExtractor(&headers));
    let direct = Propagators::builder()
        .baggage()
        .build()
        .extract_headers(&Context::new(), &headers);
    for cx in [via_trait, direct] {
        assert_eq!(cx.baggage().len(), 1);
        assert_eq!(
            cx.baggage()
                .get("k")
                .map(|v| v.as_str().to_owned())
                .as_deref(),
            Some("v")
        );
    }
}
