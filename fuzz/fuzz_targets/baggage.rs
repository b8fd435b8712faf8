//! W3C Baggage extraction: no panic, within the limits, and inject → extract is the identity on
//! what was extracted.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use otel_propagation::{BaggagePropagator, HeaderExtractor, PropagatorKind, Propagators};

fuzz_target!(|data: &[u8]| {
    let headers = common::headers(&[("baggage", data)]);
    let via_trait = BaggagePropagator::new().extract(&HeaderExtractor(&headers));
    let propagators = Propagators::builder().with(PropagatorKind::Baggage).build();
    let direct = propagators.extract_headers(&Context::new(), &headers);
    let baggage = via_trait.baggage();
    assert_eq!(baggage.len(), direct.baggage().len());
    assert!(baggage.len() <= otel_propagation::baggage::MAX_MEMBERS);

    let mut out = http::HeaderMap::new();
    propagators.inject_headers(&via_trait, &mut out);
    let again = propagators.extract_headers(&Context::new(), &out);
    assert_eq!(baggage.len(), again.baggage().len());
    for (key, (value, metadata)) in baggage {
        let (v, m) = again
            .baggage()
            .get_with_metadata(key.as_str())
            .expect("entry survives");
        assert_eq!(v.as_str(), value.as_str());
        assert_eq!(m.as_str(), metadata.as_str());
    }
});
