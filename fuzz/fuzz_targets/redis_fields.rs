//! Redis stream fields and Pub/Sub envelopes of arbitrary bytes: extraction and opening never
//! panic, an envelope re-sealed from what was opened opens to the same fields and payload, and
//! inject∘extract through stream fields is the identity on the span context extracted.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use otel_redis::Propagators;
use otel_redis::pubsub;
use otel_redis::streams::{StreamEntryExtractor, StreamFieldsExtractor, StreamFieldsInjector};
use redis::Value;

/// A raw entry's field/value list from `data`: items separated by 0xff; an item starting with
/// 0xfe is an integer (what a broken reply might hold), the rest bulk strings of any bytes.
fn raw_fields(data: &[u8]) -> Vec<Value> {
    data.split(|&b| b == 0xff)
        .map(|item| match item.split_first() {
            Some((0xfe, rest)) => Value::Int(rest.len() as i64),
            _ => Value::BulkString(item.to_vec()),
        })
        .collect()
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
    let propagators = builder.build();

    // Stream fields, raw and as the parsed map (field names lossily UTF-8, as redis-rs makes them).
    let raw = raw_fields(rest);
    let extractor = StreamFieldsExtractor(&raw);
    let _ = extractor.keys();
    let first = propagators.extract_with_context(&Context::new(), &extractor);
    let map: HashMap<String, Value> = raw
        .chunks_exact(2)
        .filter_map(|pair| match &pair[0] {
            Value::BulkString(name) => {
                Some((String::from_utf8_lossy(name).into_owned(), pair[1].clone()))
            }
            _ => None,
        })
        .collect();
    let _ = propagators.extract_with_context(&Context::new(), &StreamEntryExtractor(&map));

    let mut fields = Vec::new();
    propagators.inject_context(&first, &mut StreamFieldsInjector(&mut fields));
    let written: Vec<Value> = fields
        .iter()
        .flat_map(|(k, v)| {
            [
                Value::BulkString(k.clone().into_bytes()),
                Value::BulkString(v.clone().into_bytes()),
            ]
        })
        .collect();
    let second =
        propagators.extract_with_context(&Context::new(), &StreamFieldsExtractor(&written));
    let (a, b) = (first.span(), second.span());
    let (a, b) = (a.span_context(), b.span_context());
    assert_eq!(a.is_valid(), b.is_valid());
    if a.is_valid() {
        assert_eq!(a.trace_id(), b.trace_id());
        assert_eq!(a.span_id(), b.span_id());
        assert_eq!(a.is_sampled(), b.is_sampled());
    }

    // Pub/Sub: the bytes as a message, and the same bytes behind the envelope's magic.
    for message in [rest.to_vec(), [&pubsub::MAGIC[..], rest].concat()] {
        let opened = pubsub::open(&message);
        let _ = propagators.extract_with_context(&Context::new(), &opened.fields);
        let pairs: Vec<(&str, &str)> = opened
            .fields
            .keys()
            .into_iter()
            .filter_map(|k| opened.fields.get(k).map(|v| (k, v)))
            .collect();
        if !pairs.is_empty() || message.starts_with(pubsub::MAGIC) {
            let resealed = pubsub::seal(&pairs, opened.payload);
            let again = pubsub::open(&resealed);
            assert_eq!(again.payload, opened.payload);
            // Every field comes back, in order, with its value (an envelope never holds more
            // than `MAX_FIELDS`, so sealing leaves none out).
            assert!(pairs.len() <= pubsub::MAX_FIELDS);
            let keys: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
            assert_eq!(again.fields.keys(), keys);
            for (key, value) in &pairs {
                assert_eq!(again.fields.get(key), Some(*value), "{key:?}");
                assert_eq!(again.fields.get(key), opened.fields.get(key), "{key:?}");
            }
            assert_eq!(again.fields.is_empty(), opened.fields.is_empty());
        } else {
            assert_eq!(opened.payload, &message[..]);
        }
    }
});
