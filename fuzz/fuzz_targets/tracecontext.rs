//! W3C Trace Context extraction: no panic on any `traceparent`/`tracestate`, both carrier paths
//! agree, and what is extracted survives inject → extract unchanged.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use otel_propagation::{HeaderExtractor, PropagatorKind, Propagators, TraceContextPropagator};

fuzz_target!(|data: &[u8]| {
    let (traceparent, tracestate) =
        data.split_at(data.iter().position(|&b| b == 0).unwrap_or(data.len()));
    let headers = common::headers(&[("traceparent", traceparent), ("tracestate", tracestate)]);
    let via_trait = TraceContextPropagator::new().extract(&HeaderExtractor(&headers));
    let propagators = Propagators::builder()
        .with(PropagatorKind::TraceContext)
        .build();
    let direct = propagators.extract_headers(&Context::new(), &headers);
    let sc = via_trait.span().span_context().clone();
    assert_eq!(&sc, direct.span().span_context());

    let mut out = http::HeaderMap::new();
    propagators.inject_headers(&via_trait, &mut out);
    let again = propagators.extract_headers(&Context::new(), &out);
    assert_eq!(&sc, again.span().span_context());
});
