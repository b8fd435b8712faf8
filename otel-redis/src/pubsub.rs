//! Context in Pub/Sub messages: a small envelope around a `PUBLISH` payload.
//!
//! Pub/Sub messages have no headers, so the propagators' fields travel in front of the payload:
//!
//! ```text
//! "\0otel\x01"  count:u8  ( key_len:u8 key  value_len:u16be value ){count}  payload
//! ```
//!
//! The leading NUL keeps it apart from text payloads. [`open`] gives back any other payload
//! whole, with no fields: plain messages from other publishers pass through as they are (and so
//! does anything that starts like an envelope but is not one).
//!
//! ```
//! use opentelemetry::propagation::Extractor;
//!
//! let sealed = otel_redis::pubsub::seal(&[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")], b"hello");
//! let opened = otel_redis::pubsub::open(&sealed);
//! assert_eq!(opened.payload, b"hello");
//! assert!(opened.fields.get("traceparent").is_some());
//!
//! let plain = otel_redis::pubsub::open(b"hello");
//! assert_eq!(plain.payload, b"hello");
//! assert!(plain.fields.is_empty());
//! ```

use opentelemetry::propagation::Extractor;

/// The bytes every envelope starts with.
pub const MAGIC: &[u8; 6] = b"\0otel\x01";

/// At most this many fields in an envelope; more are left out when sealing.
pub const MAX_FIELDS: usize = 16;

/// Wraps `payload` in an envelope carrying `fields`. Fields that do not fit the format (a key
/// over 255 bytes, a value over 65,535, past [`MAX_FIELDS`]) are left out. A propagator's fields
/// can be collected with [`StreamFieldsInjector`](crate::streams::StreamFieldsInjector).
pub fn seal<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)], payload: &[u8]) -> Vec<u8> {
    let fitting = fields
        .iter()
        .map(|(k, v)| (k.as_ref().as_bytes(), v.as_ref().as_bytes()))
        .filter(|(k, v)| !k.is_empty() && k.len() <= 255 && v.len() <= 65_535)
        .take(MAX_FIELDS);
    let size: usize = fitting.clone().map(|(k, v)| 3 + k.len() + v.len()).sum();
    let mut out = Vec::with_capacity(MAGIC.len() + 1 + size + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(0);
    let mut count = 0u8;
    for (key, value) in fitting {
        // Both fit their length fields: checked by the filter above.
        out.push(key.len() as u8);
        out.extend_from_slice(key);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value);
        count += 1;
    }
    out[MAGIC.len()] = count;
    out.extend_from_slice(payload);
    out
}

/// A message opened: the fields it carried (none for a plain payload) and the payload.
#[derive(Clone, Debug)]
pub struct Opened<'a> {
    /// The propagation fields, as an [`Extractor`].
    pub fields: EnvelopeFields<'a>,
    /// The payload the publisher sent.
    pub payload: &'a [u8],
}

/// The fields of an envelope, read in place.
#[derive(Clone, Debug, Default)]
pub struct EnvelopeFields<'a> {
    fields: Vec<(&'a str, &'a str)>,
}

impl EnvelopeFields<'_> {
    /// Whether the message carried no fields (a plain payload, or an envelope of none).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl Extractor for EnvelopeFields<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn keys(&self) -> Vec<&str> {
        self.fields.iter().map(|(k, _)| *k).collect()
    }
}

/// Opens `message`: an envelope gives its fields and payload; anything else is a plain payload.
/// Never panics, whatever the bytes.
pub fn open(message: &[u8]) -> Opened<'_> {
    parse(message).unwrap_or(Opened {
        fields: EnvelopeFields::default(),
        payload: message,
    })
}

fn parse(message: &[u8]) -> Option<Opened<'_>> {
    let rest = message.strip_prefix(MAGIC)?;
    let (&count, mut rest) = rest.split_first()?;
    if usize::from(count) > MAX_FIELDS {
        return None;
    }
    let mut fields = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let (&key_len, after) = rest.split_first()?;
        let (key, after) = split(after, usize::from(key_len))?;
        let (len, after) = split(after, 2)?;
        let (value, after) = split(after, usize::from(u16::from_be_bytes([len[0], len[1]])))?;
        // Fields that are not text (or have no name) are skipped, as `seal` never writes them;
        // the envelope itself still holds.
        if let (Ok(key), Ok(value)) = (std::str::from_utf8(key), std::str::from_utf8(value))
            && !key.is_empty()
        {
            fields.push((key, value));
        }
        rest = after;
    }
    Some(Opened {
        fields: EnvelopeFields { fields },
        payload: rest,
    })
}

fn split(bytes: &[u8], at: usize) -> Option<(&[u8], &[u8])> {
    (bytes.len() >= at).then(|| bytes.split_at(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_any_payload() {
        for payload in [&b""[..], b"x", MAGIC, &[0xff; 300]] {
            let sealed = seal(&[("a", "1"), ("b", "")], payload);
            let opened = open(&sealed);
            assert_eq!(opened.payload, payload);
            assert_eq!(opened.fields.get("a"), Some("1"));
            assert_eq!(opened.fields.get("b"), Some(""));
            assert!(!opened.fields.is_empty());
        }
    }

    #[test]
    fn plain_and_broken_payloads_pass_through_whole() {
        for message in [
            &b"hello"[..],
            b"",
            b"\0otel",
            b"\0otel\x01",
            b"\0otel\x01\x01\x05ab",
            b"\0otel\x01\xff",
            b"\0otel\x01\x01\x01a\x00\x05abc",
        ] {
            let opened = open(message);
            assert_eq!(opened.payload, message);
            assert!(opened.fields.is_empty());
            assert!(opened.fields.keys().is_empty());
        }
    }

    #[test]
    fn oversized_fields_are_left_out() {
        let long = "v".repeat(70_000);
        let many: Vec<_> = (0..40).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        let sealed = seal(&[("big", long.as_str()), ("ok", "1")], b"p");
        assert_eq!(open(&sealed).fields.keys(), vec!["ok"]);
        assert_eq!(open(&seal(&many, b"p")).fields.keys().len(), MAX_FIELDS);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_open_without_panic(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..200), magic in proptest::bool::ANY) {
            let message = if magic { [&MAGIC[..], &tail].concat() } else { tail };
            let opened = open(&message);
            proptest::prop_assert!(opened.payload.len() <= message.len());
            proptest::prop_assert!(message.ends_with(opened.payload));
            if opened.fields.is_empty() && !message.starts_with(MAGIC) {
                proptest::prop_assert_eq!(opened.payload, &message[..]);
            }
        }

        #[test]
        fn sealed_fields_and_payload_come_back(
            fields in proptest::collection::vec(("[a-z-]{1,20}", "[ -~]{0,60}"), 0..10),
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..100),
        ) {
            let sealed = seal(&fields, &payload);
            let opened = open(&sealed);
            proptest::prop_assert_eq!(opened.payload, &payload[..]);
            proptest::prop_assert_eq!(opened.fields.keys().len(), fields.len());
            for (k, _) in &fields {
                proptest::prop_assert!(opened.fields.get(k).is_some());
            }
        }
    }
}
