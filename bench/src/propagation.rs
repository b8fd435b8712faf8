//! Propagator workloads: extract from and inject into an `http::HeaderMap`, as a server or client
//! layer does on every request.

use std::hint::black_box;

use http::{HeaderMap, HeaderValue};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use otel_propagation::{
    B3Propagator, BaggagePropagator, HeaderExtractor, HeaderInjector, PropagatorKind, Propagators,
    TraceContextPropagator,
};

use crate::{Op, Workload};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const BAGGAGE: &str = "userId=alice,tenant=acme%20corp,isProduction=false";
const B3_SINGLE: &str = "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1";

/// A request's headers: a few ordinary ones and the propagation header under test.
fn request_headers(name: &'static str, value: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("api.example.com"));
    headers.insert("user-agent", HeaderValue::from_static("curl/8.5.0"));
    headers.insert("accept", HeaderValue::from_static("*/*"));
    headers.insert(name, HeaderValue::from_static(value));
    headers
}

fn sampled_context() -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
        SpanId::from(0x00f067aa0ba902b7),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    ))
}

fn baggage_context() -> Context {
    Context::new().with_baggage([
        KeyValue::new("userId", "alice"),
        KeyValue::new("tenant", "acme corp"),
        KeyValue::new("isProduction", "false"),
    ])
}

fn extract_ours(propagator: impl TextMapPropagator + 'static, headers: HeaderMap) -> Op {
    Box::new(move || {
        black_box(propagator.extract(&HeaderExtractor(black_box(&headers))));
    })
}

fn extract_upstream(propagator: impl TextMapPropagator + 'static, headers: HeaderMap) -> Op {
    Box::new(move || {
        black_box(propagator.extract(&opentelemetry_http::HeaderExtractor(black_box(&headers))));
    })
}

fn inject_ours(propagator: impl TextMapPropagator + 'static, cx: Context) -> Op {
    let mut headers = HeaderMap::with_capacity(8);
    Box::new(move || {
        propagator.inject_context(black_box(&cx), &mut HeaderInjector(&mut headers));
        black_box(&headers);
        headers.clear();
    })
}

fn extract_direct(propagators: Propagators, headers: HeaderMap) -> Op {
    Box::new(move || {
        black_box(propagators.extract_headers(&Context::new(), black_box(&headers)));
    })
}

fn inject_direct(propagators: Propagators, cx: Context) -> Op {
    let mut headers = HeaderMap::with_capacity(8);
    Box::new(move || {
        propagators.inject_headers(black_box(&cx), &mut headers);
        black_box(&headers);
        headers.clear();
    })
}

fn inject_upstream(propagator: impl TextMapPropagator + 'static, cx: Context) -> Op {
    let mut headers = HeaderMap::with_capacity(8);
    Box::new(move || {
        propagator.inject_context(
            black_box(&cx),
            &mut opentelemetry_http::HeaderInjector(&mut headers),
        );
        black_box(&headers);
        headers.clear();
    })
}

/// Every propagation workload, ours beside upstream's.
pub fn workloads() -> Vec<Workload> {
    use opentelemetry_propagator_b3::{B3Encoding, Propagator as UpstreamB3};
    use opentelemetry_sdk::propagation::{
        BaggagePropagator as SdkBaggage, TraceContextPropagator as SdkTraceContext,
    };
    let upstream_b3 = || UpstreamB3::with_encoding(B3Encoding::SingleHeader);
    vec![
        Workload {
            name: "tracecontext-extract",
            upstream_name: "opentelemetry_sdk TraceContextPropagator",
            ours: extract_ours(
                TraceContextPropagator::new(),
                request_headers("traceparent", TRACEPARENT),
            ),
            ours_direct: extract_direct(
                Propagators::builder()
                    .with(PropagatorKind::TraceContext)
                    .build(),
                request_headers("traceparent", TRACEPARENT),
            ),
            upstream: extract_upstream(
                SdkTraceContext::new(),
                request_headers("traceparent", TRACEPARENT),
            ),
        },
        Workload {
            name: "tracecontext-inject",
            upstream_name: "opentelemetry_sdk TraceContextPropagator",
            ours: inject_ours(TraceContextPropagator::new(), sampled_context()),
            ours_direct: inject_direct(
                Propagators::builder()
                    .with(PropagatorKind::TraceContext)
                    .build(),
                sampled_context(),
            ),
            upstream: inject_upstream(SdkTraceContext::new(), sampled_context()),
        },
        Workload {
            name: "baggage3-extract",
            upstream_name: "opentelemetry_sdk BaggagePropagator",
            ours: extract_ours(
                BaggagePropagator::new(),
                request_headers("baggage", BAGGAGE),
            ),
            ours_direct: extract_direct(
                Propagators::builder().with(PropagatorKind::Baggage).build(),
                request_headers("baggage", BAGGAGE),
            ),
            upstream: extract_upstream(SdkBaggage::new(), request_headers("baggage", BAGGAGE)),
        },
        Workload {
            name: "baggage3-inject",
            upstream_name: "opentelemetry_sdk BaggagePropagator",
            ours: inject_ours(BaggagePropagator::new(), baggage_context()),
            ours_direct: inject_direct(
                Propagators::builder().with(PropagatorKind::Baggage).build(),
                baggage_context(),
            ),
            upstream: inject_upstream(SdkBaggage::new(), baggage_context()),
        },
        Workload {
            name: "b3single-extract",
            upstream_name: "opentelemetry-propagator-b3 (SingleHeader)",
            ours: extract_ours(B3Propagator::single(), request_headers("b3", B3_SINGLE)),
            ours_direct: extract_direct(
                Propagators::builder().with(PropagatorKind::B3).build(),
                request_headers("b3", B3_SINGLE),
            ),
            upstream: extract_upstream(upstream_b3(), request_headers("b3", B3_SINGLE)),
        },
        Workload {
            name: "b3single-inject",
            upstream_name: "opentelemetry-propagator-b3 (SingleHeader)",
            ours: inject_ours(B3Propagator::single(), sampled_context()),
            ours_direct: inject_direct(
                Propagators::builder().with(PropagatorKind::B3).build(),
                sampled_context(),
            ),
            upstream: inject_upstream(upstream_b3(), sampled_context()),
        },
    ]
}
