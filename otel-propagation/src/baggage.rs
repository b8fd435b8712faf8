//! The W3C Baggage propagator.
//!
//! ```text
//! baggage-string = list-member 0*179( OWS "," OWS list-member )
//! list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
//! property       = key OWS "=" OWS value / key OWS
//! key            = token
//! value          = *baggage-octet
//! baggage-octet  = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
//! ```

use std::borrow::Cow;
use std::sync::OnceLock;

use opentelemetry::baggage::{Baggage, BaggageExt, BaggageMetadata};
use opentelemetry::propagation::{
    Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter,
};
use opentelemetry::{Context, Key, StringValue};

use crate::tracestate::trim_ows;

/// The `baggage` header name.
pub const BAGGAGE: &str = "baggage";

/// The spec's floor for what must be propagated, and our ceiling for what is accepted: beyond it
/// whole list-members are dropped, never parts of one.
pub const MAX_MEMBERS: usize = 64;
/// The most bytes of `baggage` header, separators included, that are read or written.
pub const MAX_BYTES: usize = 8192;

/// Propagates [`Baggage`] in the W3C Baggage format.
///
/// Values are percent-decoded on extract (invalid UTF-8 becomes U+FFFD, a `%` that starts no escape is
/// kept as it is, `=` may appear in a value, `+` stays a plus) and percent-encoded on inject (every
/// octet outside `baggage-octet`, and `%` itself). Properties are kept as the entry's metadata. Every
/// `baggage` header value is read, as one list. An invalid list-member is dropped alone; a repeated key
/// keeps its last value; members beyond 64 or 8192 bytes are dropped whole.
///
/// ```
/// use std::collections::HashMap;
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::propagation::TextMapPropagator;
/// use otel_propagation::BaggagePropagator;
///
/// let carrier = HashMap::from([(
///     "baggage".to_string(),
///     "userId=Am%C3%A9lie, expr=a%3Db=c;private, bad key=1".to_string(),
/// )]);
/// let cx = BaggagePropagator::new().extract(&carrier);
/// assert_eq!(cx.baggage().get("userId").unwrap().as_str(), "Amélie");
/// assert_eq!(cx.baggage().get("expr").unwrap().as_str(), "a=b=c");
/// assert_eq!(cx.baggage().len(), 2, "the invalid member alone is dropped");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct BaggagePropagator {
    _private: (),
}

impl BaggagePropagator {
    /// Creates the propagator.
    pub const fn new() -> Self {
        BaggagePropagator { _private: () }
    }
}

impl BaggagePropagator {
    pub(crate) fn field_names(&self) -> &'static [String] {
        static FIELDS: OnceLock<[String; 1]> = OnceLock::new();
        FIELDS.get_or_init(|| [BAGGAGE.to_owned()])
    }
}

/// RFC 7230 `tchar`.
#[inline]
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `s` is an RFC 7230 `token`, the grammar of baggage keys.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// `baggage-octet`: printable ASCII but for `"`, `,`, `;` and `\`.
#[inline]
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

fn is_value(s: &str) -> bool {
    s.bytes().all(is_baggage_octet)
}

/// Validates `property *( OWS ";" OWS property )`, the text after a member's first `;`.
fn is_properties(s: &str) -> bool {
    s.split(';').all(|property| match property.split_once('=') {
        Some((key, value)) => is_token(trim_ows(key)) && is_value(trim_ows(value)),
        None => is_token(trim_ows(property)),
    })
}

/// A member split into key, raw (still encoded) value and raw properties.
fn parse_member(member: &str) -> Option<(&str, &str, &str)> {
    let (pair, properties) = match member.split_once(';') {
        // A `;` promises a property.
        Some((pair, properties)) if is_properties(properties) => (pair, trim_ows(properties)),
        Some(_) => return None,
        None => (member, ""),
    };
    // The first `=` separates key and value; the value may hold more.
    let (key, value) = pair.split_once('=')?;
    let (key, value) = (trim_ows(key), trim_ows(value));
    if !is_token(key) || !is_value(value) {
        return None;
    }
    Some((key, value, properties))
}

/// Percent-decodes `value`; invalid UTF-8 becomes U+FFFD and a `%` that starts no escape is kept.
pub fn percent_decode(value: &str) -> Cow<'_, str> {
    if !value.contains('%') {
        return Cow::Borrowed(value);
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            // RFC 3986 hex digits are case-insensitive.
            let (hi, lo) = (
                (bytes[i + 1] as char).to_digit(16),
                (bytes[i + 2] as char).to_digit(16),
            );
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// Percent-encodes `value` onto `out`: every octet outside `baggage-octet`, and `%`.
pub fn percent_encode_into(value: &str, out: &mut String) {
    const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        if is_baggage_octet(b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(UPPER_HEX[(b >> 4) as usize] as char);
            out.push(UPPER_HEX[(b & 0x0f) as usize] as char);
        }
    }
}

/// Parses the `baggage` header field values, in order, as one list.
pub(crate) fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Baggage {
    let mut baggage = Baggage::new();
    let (mut members, mut bytes) = (0usize, 0usize);
    'values: for value in values {
        for member in value.split(',') {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            let Some((key, value, properties)) = parse_member(member) else {
                continue;
            };
            // Counted as it would be sent: the member and a separating comma.
            let size = member.len() + usize::from(members > 0);
            if bytes + size > MAX_BYTES {
                continue;
            }
            members += 1;
            bytes += size;
            let value = match percent_decode(value) {
                Cow::Borrowed(v) => v.to_owned(),
                Cow::Owned(v) => v,
            };
            baggage.insert_with_metadata(
                Key::from(key.to_owned()),
                StringValue::from(value),
                BaggageMetadata::from(properties),
            );
            if members == MAX_MEMBERS {
                break 'values;
            }
        }
    }
    baggage
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let baggage = cx.baggage();
        if baggage.is_empty() {
            return;
        }
        let mut header = String::with_capacity(64 * baggage.len().min(8));
        for (key, (value, metadata)) in baggage {
            if !is_token(key.as_str()) {
                // Not expressible in this format.
                continue;
            }
            let start = header.len();
            if start > 0 {
                header.push(',');
            }
            header.push_str(key.as_str());
            header.push('=');
            percent_encode_into(value.as_str(), &mut header);
            let metadata = trim_ows(metadata.as_str());
            if !metadata.is_empty() && is_properties(metadata) {
                header.push(';');
                header.push_str(metadata);
            }
            if header.len() > MAX_BYTES {
                // Never a partial member.
                header.truncate(start);
            }
        }
        if !header.is_empty() {
            injector.set(BAGGAGE, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extractor.get_all(BAGGAGE) {
            Some(values) => {
                let baggage = parse(values);
                if baggage.is_empty() {
                    cx.clone()
                } else {
                    cx.with_baggage(baggage)
                }
            }
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(self.field_names())
    }
}

#[cfg(test)]
mod tests;
