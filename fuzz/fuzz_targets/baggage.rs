//! W3C Baggage extraction: no panic, within the limits, inject → extract is the identity on what
//! was extracted (all of it when its encoding fits the byte limit), and the member order survives.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use otel_propagation::baggage::{MAX_BYTES, MAX_MEMBERS, percent_encode_into};
use otel_propagation::{BaggagePropagator, HeaderExtractor, PropagatorKind, Propagators};

fuzz_target!(|data: &[u8]| {
    let headers = common::headers(&[("baggage", data)]);
    let via_trait = BaggagePropagator::new().extract(&HeaderExtractor(&headers));
    let propagators = Propagators::builder().with(PropagatorKind::Baggage).build();
    let direct = propagators.extract_headers(&Context::new(), &headers);
    let baggage = via_trait.baggage();
    assert_eq!(baggage.len(), direct.baggage().len());
    assert!(baggage.len() <= MAX_MEMBERS);

    let mut out = http::HeaderMap::new();
    propagators.inject_headers(&via_trait, &mut out);
    let again = propagators.extract_headers(&Context::new(), &out);
    // Encoding may grow a value (`%` and `+` take three bytes): members that no longer fit the
    // byte limit are dropped whole, the others go out.
    let encoded_len: usize = baggage
        .iter()
        .map(|(key, (value, metadata))| {
            let mut encoded = String::new();
            percent_encode_into(value.as_str(), &mut encoded);
            let metadata = metadata.as_str().trim_matches([' ', '\t']);
            key.as_str().len()
                + 1
                + encoded.len()
                + metadata.len()
                + usize::from(!metadata.is_empty())
        })
        .sum::<usize>()
        + baggage.len().saturating_sub(1);
    if encoded_len <= MAX_BYTES {
        assert_eq!(baggage.len(), again.baggage().len());
    }
    for (key, (value, metadata)) in again.baggage() {
        let (v, m) = baggage
            .get_with_metadata(key.as_str())
            .expect("only what was extracted");
        assert_eq!(v.as_str(), value.as_str());
        assert_eq!(m.as_str(), metadata.as_str());
    }
    // The order received is kept, so injecting again writes the same header.
    let mut out_again = http::HeaderMap::new();
    propagators.inject_headers(&again, &mut out_again);
    assert_eq!(out.get("baggage"), out_again.get("baggage"));
    // Keys (tokens) and properties go out as they are; a value never holds a bare `+`.
    if let Some(header) = out.get("baggage").and_then(|h| h.to_str().ok()) {
        for member in header.split(',') {
            let (_, rest) = member.split_once('=').expect("key=value");
            let value = rest.split(';').next().unwrap_or_default();
            assert!(!value.contains('+'), "{member}");
        }
    }
});
