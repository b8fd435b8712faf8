//! B3 extraction from the single and multi headers: no panic, both carrier paths agree, and an
//! extracted span context survives inject → extract in either encoding.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use otel_propagation::{B3Propagator, HeaderExtractor, PropagatorKind, Propagators};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let mut next = || parts.next().unwrap_or_default();
    let headers = common::headers(&[
        ("b3", next()),
        ("x-b3-traceid", next()),
        ("x-b3-spanid", next()),
        ("x-b3-sampled", next()),
        ("x-b3-flags", next()),
        ("x-b3-parentspanid", next()),
    ]);
    let via_trait = B3Propagator::single().extract(&HeaderExtractor(&headers));
    let sc = via_trait.span().span_context().clone();
    for kind in [PropagatorKind::B3, PropagatorKind::B3Multi] {
        let propagators = Propagators::builder().with(kind).build();
        let direct = propagators.extract_headers(&Context::new(), &headers);
        assert_eq!(&sc, direct.span().span_context());
        let mut out = http::HeaderMap::new();
        propagators.inject_headers(&via_trait, &mut out);
        let again = propagators.extract_headers(&Context::new(), &out);
        assert_eq!(sc.trace_id(), again.span().span_context().trace_id());
        assert_eq!(sc.span_id(), again.span().span_context().span_id());
        assert_eq!(sc.is_sampled(), again.span().span_context().is_sampled());
    }
});
