//! The `tracestate` parser behind a valid `traceparent`: no panic, the traceparent always stands,
//! and an accepted tracestate is re-injected as something that parses to the same list.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use otel_propagation::{PropagatorKind, Propagators};

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
});
