//! Kafka record headers of arbitrary bytes (keys, values, nulls, repeats, any case): extraction
//! never panics, and inject∘extract is the identity on what was extracted, the incoming headers
//! (stale propagation fields among them) passed to inject as the record's own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::TraceContextExt;
use otel_kafka::{Propagation, Propagators, extract, inject};
use rdkafka::message::{Header, OwnedHeaders};

/// Headers from `data`: records separated by 0xff, key and value by the first 0xfe (no 0xfe: a
/// null value). Keys are lossily UTF-8 (rdkafka keys are `&str`); values stay raw bytes.
fn headers(data: &[u8]) -> OwnedHeaders {
    data.split(|&b| b == 0xff)
        .fold(OwnedHeaders::new(), |headers, record| {
            match record.iter().position(|&b| b == 0xfe) {
                Some(at) => headers.insert(Header {
                    key: &String::from_utf8_lossy(&record[..at]),
                    value: Some(&record[at + 1..]),
                }),
                None => headers.insert(Header::<&[u8]> {
                    key: &String::from_utf8_lossy(record),
                    value: None,
                }),
            }
        })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut builder = Propagators::builder().baggage();
    builder = match selector % 3 {
        0 => builder.tracecontext(),
        1 => builder.b3(),
        _ => builder.b3_multi(),
    };
    let propagation = Propagation::Propagators(builder.build());
    let incoming = headers(rest);
    let first = extract(&propagation, &Context::new(), Some(&incoming));
    let written = inject(&propagation, &first, Some(incoming));
    let second = extract(&propagation, &Context::new(), Some(&written));
    let (a, b) = (first.span(), second.span());
    let (a, b) = (a.span_context(), b.span_context());
    assert_eq!(a.is_valid(), b.is_valid());
    if a.is_valid() {
        assert_eq!(a.trace_id(), b.trace_id());
        assert_eq!(a.span_id(), b.span_id());
        assert_eq!(a.is_sampled(), b.is_sampled());
    }
    let baggage = |cx: &Context| {
        let mut entries: Vec<(String, String)> = cx
            .baggage()
            .iter()
            .map(|(k, (v, _))| (k.to_string(), v.to_string()))
            .collect();
        entries.sort();
        entries
    };
    assert_eq!(baggage(&first), baggage(&second));
});
