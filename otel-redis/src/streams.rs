//! Context in Redis Streams entries: the propagators' fields (`traceparent`, `baggage`, `b3`…)
//! travel as extra field/value pairs of the entry.
//!
//! A wrapped connection adds them to every `XADD` it sends (see
//! [`OtelRedis::inject_streams`](crate::OtelRedis::inject_streams)); a consumer reads them back
//! with [`TracedConnection::process_entry`](crate::TracedConnection::process_entry), or with
//! the extractors below and any propagator.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector};
use redis::Value;

/// Reads propagation fields from a parsed stream entry's field map ([`redis::streams::StreamId`]'s
/// `map`). Values that are not UTF-8 text are absent.
#[derive(Clone, Copy, Debug)]
pub struct StreamEntryExtractor<'a>(pub &'a HashMap<String, Value>);

impl Extractor for StreamEntryExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(text)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// Reads propagation fields from an entry's raw field/value list, as an `XREAD` reply holds it
/// (`[field, value, field, value, …]`). Names and values that are not UTF-8 text are skipped; of
/// a repeated field the last one counts, as in the parsed map.
#[derive(Clone, Copy, Debug)]
pub struct StreamFieldsExtractor<'a>(pub &'a [Value]);

impl Extractor for StreamFieldsExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .chunks_exact(2)
            .rev()
            .find(|pair| text(&pair[0]) == Some(key))
            .and_then(|pair| text(&pair[1]))
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .chunks_exact(2)
            .filter_map(|pair| text(&pair[0]))
            .collect()
    }
}

/// Collects the fields a propagator writes, to append to an `XADD` (`fields.iter()` gives
/// `(&str, &str)`-like pairs for `xadd`).
#[derive(Debug)]
pub struct StreamFieldsInjector<'a>(pub &'a mut Vec<(String, String)>);

impl Injector for StreamFieldsInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }
}

/// A field value as text: bulk strings that are UTF-8, and simple strings.
fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_from_either_shape() {
        let raw = vec![
            Value::BulkString(b"traceparent".to_vec()),
            Value::BulkString(b"old".to_vec()),
            Value::BulkString(b"order".to_vec()),
            Value::BulkString(vec![0xff, 0xfe]),
            Value::BulkString(b"traceparent".to_vec()),
            Value::BulkString(b"new".to_vec()),
            Value::Int(3),
        ];
        let fields = StreamFieldsExtractor(&raw);
        assert_eq!(fields.get("traceparent"), Some("new"));
        assert_eq!(fields.get("order"), None);
        assert_eq!(fields.keys(), vec!["traceparent", "order", "traceparent"]);

        let map = HashMap::from([
            ("b3".to_owned(), Value::BulkString(b"x".to_vec())),
            ("n".to_owned(), Value::Int(1)),
        ]);
        assert_eq!(StreamEntryExtractor(&map).get("b3"), Some("x"));
        assert_eq!(StreamEntryExtractor(&map).get("n"), None);
    }

    #[test]
    fn the_injector_replaces_a_field_it_sets_twice() {
        let mut fields = Vec::new();
        let mut injector = StreamFieldsInjector(&mut fields);
        injector.set("traceparent", "a".into());
        injector.set("traceparent", "b".into());
        assert_eq!(fields, vec![("traceparent".to_owned(), "b".to_owned())]);
    }
}
