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
use opentelemetry::{Context, Key, StringValue};

use crate::carrier::{Field, Sink, Source};
use crate::tracestate::{trim_ows, trim_ows_bytes};

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
/// octet outside `baggage-octet`, `%` itself, and `+`, which is legal unencoded but which some SDKs,
/// Python's among them, decode as a space). Properties are kept as the entry's metadata. Every
/// `baggage` header value is read, as one list. An invalid list-member is dropped alone; a repeated key
/// keeps its last value; members beyond 64 or 8192 bytes are dropped whole.
///
/// Members are sent in the order they were received. `opentelemetry::baggage::Baggage` is a hash map
/// and keeps no order, so the received order travels beside it in the extracted `Context`; entries
/// the application adds go after the received ones, in the hash map's (arbitrary) order, and so
/// does all of a `Baggage` that did not come from a header.
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

/// Byte classes, one bit each, looked up once per byte.
const TCHAR: u8 = 1;
const OCTET: u8 = 2;
/// A `baggage-octet` sent as it is: all but `%` and `+`.
const PLAIN: u8 = 4;
const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0x21;
    while b < 0x7f {
        // baggage-octet: printable ASCII but for `"`, `,`, `;` and `\`.
        if !matches!(b, b'"' | b',' | b';' | b'\\') {
            table[b as usize] |= OCTET;
            if !matches!(b, b'%' | b'+') {
                table[b as usize] |= PLAIN;
            }
        }
        // RFC 7230 tchar.
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            )
        {
            table[b as usize] |= TCHAR;
        }
        b += 1;
    }
    table
};

#[inline(always)]
fn is(b: u8, class: u8) -> bool {
    CLASS[b as usize] & class != 0
}

/// Whether `s` is an RFC 7230 `token`, the grammar of baggage keys.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| is(b, TCHAR))
}

fn skip_ows(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

/// Validates `property *( OWS ";" OWS property )`, the text after a member's first `;`.
fn is_properties(b: &[u8]) -> bool {
    b.split(|&c| c == b';').all(|property| {
        let property = trim_ows_bytes(property);
        let key_end = property
            .iter()
            .position(|&c| !is(c, TCHAR))
            .unwrap_or(property.len());
        if key_end == 0 {
            return false;
        }
        let rest = trim_ows_bytes(&property[key_end..]);
        match rest.split_first() {
            None => true,
            Some((b'=', value)) => trim_ows_bytes(value).iter().all(|&c| is(c, OCTET)),
            Some(_) => false,
        }
    })
}

/// One list-member, split and checked.
struct Member<'a> {
    key: &'a str,
    value: &'a str,
    properties: &'a str,
    encoded: bool,
}

/// Parses one list-member, already cut at its commas and trimmed. Every cut is made before a byte
/// the grammar classes, so at a char boundary.
fn parse_member(m: &str) -> Option<Member<'_>> {
    let b = m.as_bytes();
    let mut i = 0;
    while i < b.len() && is(b[i], TCHAR) {
        i += 1;
    }
    let key = m.get(..i)?;
    i = skip_ows(b, i);
    // The first `=` separates key and value; the value may hold more.
    if key.is_empty() || b.get(i) != Some(&b'=') {
        return None;
    }
    let value_start = skip_ows(b, i + 1);
    let mut i = value_start;
    let mut encoded = false;
    while i < b.len() && is(b[i], OCTET) {
        encoded |= b[i] == b'%';
        i += 1;
    }
    let value = m.get(value_start..i)?;
    let i = skip_ows(b, i);
    let properties = match b.get(i) {
        None => "",
        // A `;` promises a property.
        Some(b';') if is_properties(&b[i + 1..]) => trim_ows(m.get(i + 1..)?),
        Some(_) => return None,
    };
    Some(Member {
        key,
        value,
        properties,
        encoded,
    })
}

/// Percent-decodes `value`; invalid UTF-8 becomes U+FFFD and a `%` that starts no escape is kept.
pub fn percent_decode(value: &str) -> Cow<'_, str> {
    match decode(value.as_bytes(), value.contains('%')) {
        Some(decoded) => Cow::Owned(decoded),
        None => Cow::Borrowed(value),
    }
}

/// The decoded value, or `None` when `encoded` is false and it reads as it is.
fn decode(bytes: &[u8], encoded: bool) -> Option<String> {
    if !encoded {
        return None;
    }
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
    Some(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Percent-encodes `value` onto `out`: every octet outside `baggage-octet`, `%`, and `+` (legal
/// unencoded, but decoded as a space by some receivers).
pub fn percent_encode_into(value: &str, out: &mut String) {
    const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = value.as_bytes();
    let mut clean_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !is(b, PLAIN) {
            out.push_str(value.get(clean_from..i).unwrap_or_default());
            out.push('%');
            out.push(UPPER_HEX[(b >> 4) as usize] as char);
            out.push(UPPER_HEX[(b & 0x0f) as usize] as char);
            clean_from = i + 1;
        }
    }
    // Clean runs are ASCII and copied whole. A cut inside a multi-byte character only ever
    // delimits an empty run (every byte of such a character is encoded), where `get` gives "".
    out.push_str(value.get(clean_from..).unwrap_or_default());
}

/// The order the baggage members arrived in, kept in the `Context` beside the `Baggage`, which
/// keeps none: their keys, each followed by `,` (a token holds no `,`).
#[derive(Debug)]
struct ReceivedOrder(String);

impl ReceivedOrder {
    fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.split_terminator(',')
    }

    fn contains(&self, key: &str) -> bool {
        self.keys().any(|k| k == key)
    }
}

/// Parses the `baggage` header field values, in order, as one list; with two members or more,
/// also the order they came in.
fn parse<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> (Baggage, Option<ReceivedOrder>) {
    let mut baggage = Baggage::new();
    let mut order = String::new();
    let (mut members, mut bytes) = (0usize, 0usize);
    'values: for value in values {
        // One UTF-8 check per header value. A value that is not UTF-8 is dropped whole, as the
        // `Extractor` API (which carries only `str`) must drop it.
        let Ok(text) = std::str::from_utf8(value) else {
            continue;
        };
        // The keys are shorter than the value they come in: one allocation, no regrowth.
        order.reserve(text.len());
        // A byte loop: `str::split` sets up a memchr per call, costly on short members.
        let (raw, mut start) = (text.as_bytes(), 0);
        while start <= raw.len() {
            let end = raw[start..]
                .iter()
                .position(|&b| b == b',')
                .map_or(raw.len(), |p| start + p);
            // Cut at commas (ASCII), so at char boundaries.
            let member = trim_ows(text.get(start..end).unwrap_or_default());
            start = end + 1;
            if member.is_empty() {
                continue;
            }
            let Some(Member {
                key,
                value,
                properties,
                encoded,
            }) = parse_member(member)
            else {
                continue;
            };
            // Counted as it would be sent: the member and a separating comma.
            let size = member.len() + usize::from(members > 0);
            if bytes + size > MAX_BYTES {
                continue;
            }
            members += 1;
            bytes += size;
            let value = decode(value.as_bytes(), encoded).unwrap_or_else(|| value.to_owned());
            let replaced = baggage.insert_with_metadata(
                Key::from(key.to_owned()),
                StringValue::from(value),
                BaggageMetadata::from(properties),
            );
            if replaced.is_none() {
                // A repeated key keeps the place where it first came.
                order.push_str(key);
                order.push(',');
            }
            if members == MAX_MEMBERS {
                break 'values;
            }
        }
    }
    let order = (baggage.len() > 1).then_some(ReceivedOrder(order));
    (baggage, order)
}

impl BaggagePropagator {
    pub(crate) fn extract_from(&self, cx: &Context, source: &impl Source) -> Context {
        let (baggage, order) = parse(source.all(Field::Baggage));
        if baggage.is_empty() {
            return cx.clone();
        }
        let cx = cx.with_baggage(baggage);
        match order {
            Some(order) => cx.with_value(order),
            None => cx,
        }
    }

    pub(crate) fn inject_into(&self, cx: &Context, sink: &mut impl Sink) {
        let baggage = cx.baggage();
        if baggage.is_empty() {
            return;
        }
        let mut header = String::with_capacity(32 * baggage.len().min(8));
        match cx.get::<ReceivedOrder>() {
            None => {
                for (key, (value, metadata)) in baggage {
                    push_member(&mut header, key.as_str(), value, metadata);
                }
            }
            Some(order) => {
                let mut written = 0;
                for key in order.keys() {
                    if let Some((value, metadata)) = baggage.get_with_metadata(key) {
                        push_member(&mut header, key, value, metadata);
                        written += 1;
                    }
                }
                if written < baggage.len() {
                    // What the application added: the hash map's order is all there is.
                    for (key, (value, metadata)) in baggage {
                        if !order.contains(key.as_str()) {
                            push_member(&mut header, key.as_str(), value, metadata);
                        }
                    }
                }
            }
        }
        if !header.is_empty() {
            sink.set(Field::Baggage, header);
        }
    }
}

/// Appends one list-member to `header`, or nothing when it cannot be expressed or would take the
/// header beyond [`MAX_BYTES`] (never a partial member).
fn push_member(header: &mut String, key: &str, value: &StringValue, metadata: &BaggageMetadata) {
    if !is_token(key) {
        return;
    }
    let start = header.len();
    if start > 0 {
        header.push(',');
    }
    header.push_str(key);
    header.push('=');
    percent_encode_into(value.as_str(), header);
    let metadata = trim_ows(metadata.as_str());
    if !metadata.is_empty() && is_properties(metadata.as_bytes()) {
        header.push(';');
        header.push_str(metadata);
    }
    if header.len() > MAX_BYTES {
        header.truncate(start);
    }
}

crate::carrier::impl_text_map_propagator!(BaggagePropagator);

#[cfg(test)]
mod tests;
