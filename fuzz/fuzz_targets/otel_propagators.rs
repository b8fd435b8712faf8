//! `OTEL_PROPAGATORS` parsing: no panic, no duplicates, and the names parse back to the same set.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otel_propagation::Propagators;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let (propagators, _warnings) = Propagators::parse(value);
    let kinds = propagators.kinds();
    for (i, kind) in kinds.iter().enumerate() {
        assert!(!kinds[..i].contains(kind));
    }
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    if !names.is_empty() {
        assert_eq!(Propagators::parse(&names.join(",")).0, propagators);
    }
});
