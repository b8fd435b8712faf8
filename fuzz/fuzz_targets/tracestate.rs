//! The `tracestate` parser behind a valid `traceparent`: no panic, the traceparent always stands,
//! and an accepted tracestate, Level 2 members included, is re-injected as something that parses
//! to the same list.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use otel_propagation::{PropagatorKind, Propagators, TraceStateList};

fuzz_target!(|data: &[u8]| {
    let traceparent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let headers = common::headers(&[("traceparent", traceparent), ("tracestate", data)]);
    let propagators = Propagators::builder()
        .with(PropagatorKind::TraceContext)
        .build();
    let cx = propagators.extract_headers(&Context::new(), &headers);
    let sc = cx.span().span_context().clone();
    assert!(
        sc.is_valid(),
        "a bad tracestate never costs the traceparent"
    );

    let mut out = http::HeaderMap::new();
    propagators.inject_headers(&cx, &mut out);
    let again = propagators.extract_headers(&Context::new(), &out);
    assert_eq!(sc.trace_state(), again.span().span_context().trace_state());
    let list = TraceStateList::from_context(&cx);
    assert!(list.len() <= 32);
    assert_eq!(list, TraceStateList::from_context(&again));
    // Every member the upstream `TraceState` holds is in the whole list, with its value.
    let held = sc.trace_state().header();
    for member in held.split(',').filter(|m| !m.is_empty()) {
        let (key, value) = member.split_once('=').expect("key=value");
        assert_eq!(list.get(key), Some(value));
    }
});
