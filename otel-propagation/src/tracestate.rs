//! The W3C Trace Context Level 2 `tracestate` grammar.
//!
//! ```text
//! list        = list-member 0*31( OWS "," OWS list-member )
//! list-member = (key "=" value) / OWS
//! key         = ( lcalpha / DIGIT ) 0*255( keychar )
//! keychar     = lcalpha / DIGIT / "_" / "-"/ "*" / "/" / "@"
//! value       = 0*255(chr) nblk-chr
//! nblk-chr    = %x21-2B / %x2D-3C / %x3E-7E
//! chr         = %x20 / nblk-chr
//! ```
//!
//! Level 2 dropped Level 1's `tenant@system` split: `@` is an ordinary key character, so `foo@@bar`
//! and `t@` followed by 15 letters are valid keys, `@foo` is not. `opentelemetry::trace::TraceState`
//! still applies the Level 1 split (and checks values only for `,` and `=`), so we validate here and
//! build it only from members it also accepts.
//!
//! Receiving, a header that breaks the grammar (an invalid member, more than 32 members) is discarded
//! whole, as the W3C test suite requires, while the `traceparent` is kept. A key sent twice is the
//! sender's fault and no reason to discard: the first entry is kept, as the spec allows.

use opentelemetry::trace::TraceState;

/// At most this many list-members; a header with more is discarded whole.
pub(crate) const MAX_MEMBERS: usize = 32;

/// Whether `key` is a Level 2 tracestate key: 1 to 256 of `a-z 0-9 _ - * / @`, starting with a
/// letter or a digit.
pub fn is_valid_key(key: &str) -> bool {
    is_key(key.as_bytes())
}

fn is_key(key: &[u8]) -> bool {
    (1..=256).contains(&key.len())
        && matches!(key[0], b'a'..=b'z' | b'0'..=b'9')
        && key[1..]
            .iter()
            .all(|&b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@'))
}

/// Whether `value` is a Level 2 tracestate `value`: 1 to 256 printable ASCII characters other than
/// `,` and `=`, spaces allowed inside but not at the end.
pub fn is_valid_value(value: &str) -> bool {
    is_value(value.as_bytes())
}

fn is_value(value: &[u8]) -> bool {
    (1..=256).contains(&value.len())
        && value[value.len() - 1] != b' '
        && value
            .iter()
            .all(|&b| matches!(b, 0x20..=0x7e) && b != b',' && b != b'=')
}

/// Trims the optional whitespace (SP / HTAB) around a header value or list member.
#[inline]
pub(crate) fn trim_ows_bytes(b: &[u8]) -> &[u8] {
    let (mut start, mut end) = (0, b.len());
    while start < end && matches!(b[start], b' ' | b'\t') {
        start += 1;
    }
    while end > start && matches!(b[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    &b[start..end]
}

/// [`trim_ows_bytes`] for a `str`.
#[inline]
pub(crate) fn trim_ows(s: &str) -> &str {
    let trimmed = trim_ows_bytes(s.as_bytes());
    let start = trimmed.as_ptr() as usize - s.as_ptr() as usize;
    // Both ends sit next to ASCII bytes, so they are char boundaries.
    s.get(start..start + trimmed.len()).unwrap_or_default()
}

/// Parses the `tracestate` header field values, in order, as one combined list.
///
/// Returns `None` when the header must be discarded: an invalid list-member or more than 32
/// list-members. Empty and whitespace-only list-members are allowed and do not count. A repeated key
/// keeps its first entry.
pub(crate) fn parse<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<TraceState> {
    let mut members: Vec<(&'a str, &'a str)> = Vec::new();
    let mut count = 0;
    for value in values {
        for member in value.split(|&b| b == b',') {
            let member = trim_ows_bytes(member);
            if member.is_empty() {
                continue;
            }
            let equals = member.iter().position(|&b| b == b'=')?;
            let (key, value) = (&member[..equals], &member[equals + 1..]);
            if !is_key(key) || !is_value(value) {
                return None;
            }
            count += 1;
            if count > MAX_MEMBERS {
                return None;
            }
            // Both are ASCII, checked above.
            let (Ok(key), Ok(value)) = (std::str::from_utf8(key), std::str::from_utf8(value))
            else {
                return None;
            };
            if !members.iter().any(|&(k, _)| k == key) {
                members.push((key, value));
            }
        }
    }
    if members.is_empty() {
        return Some(TraceState::NONE);
    }
    TraceState::from_key_value(members.iter().copied())
        .or_else(|_| {
            // The upstream type rejects some Level 2 keys (`foo@@bar`): keep every member it can hold
            // rather than lose the whole header.
            TraceState::from_key_value(
                members
                    .into_iter()
                    .filter(|&member| TraceState::from_key_value([member]).is_ok()),
            )
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<TraceState> {
        super::parse(values.into_iter().map(str::as_bytes))
    }

    #[test]
    fn level_2_keys() {
        assert!(is_valid_key("a"));
        assert!(is_valid_key("rojo"));
        assert!(is_valid_key("0abc"), "a key may start with a digit");
        assert!(is_valid_key("a0_-*/@"));
        assert!(is_valid_key(&"a".repeat(256)));
        assert!(is_valid_key("tenant@vendor"));
        assert!(
            is_valid_key("foo@@bar"),
            "@ is an ordinary key character in Level 2"
        );
        assert!(is_valid_key("foo@bar@baz"));
        assert!(is_valid_key(&format!("t@{}", "v".repeat(15))));
        assert!(is_valid_key(&format!("{}@v", "t".repeat(242))));
        assert!(!is_valid_key(&"a".repeat(257)));
        assert!(!is_valid_key(""));
        assert!(!is_valid_key("@foo"));
        assert!(!is_valid_key("_foo"));
        assert!(!is_valid_key("Rojo"));
        assert!(!is_valid_key("foo bar"));
        assert!(!is_valid_key("foo.bar"));
    }

    #[test]
    fn values() {
        assert!(is_valid_value("x"));
        assert!(is_valid_value("00f067aa0ba902b7"));
        assert!(is_valid_value("a b"));
        assert!(is_valid_value(" a"), "a leading space is a chr");
        assert!(is_valid_value(&"v".repeat(256)));
        assert!(!is_valid_value(&"v".repeat(257)));
        assert!(!is_valid_value(""));
        assert!(!is_valid_value("a "), "the last character is not blank");
        assert!(!is_valid_value("a,b"));
        assert!(!is_valid_value("a=b"));
        assert!(!is_valid_value("a\tb"));
        assert!(!is_valid_value("caf\u{e9}"));
        assert!(!is_valid_value("a\x7f"));
    }

    #[test]
    fn combines_values_in_order() {
        let ts = parse(["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"]).unwrap();
        assert_eq!(ts.header(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    }

    #[test]
    fn empty_members_are_allowed() {
        assert_eq!(parse([" , \t,rojo=1 ,, "]).unwrap().header(), "rojo=1");
        assert_eq!(parse([""]).unwrap(), TraceState::NONE);
    }

    #[test]
    fn keeps_what_the_upstream_type_can_hold() {
        let ts = parse(["foo=1,foo@@bar=2,baz=3"]).unwrap();
        assert_eq!(ts.header(), "foo=1,baz=3");
    }

    #[test]
    fn keeps_the_first_of_a_repeated_key() {
        assert_eq!(
            parse(["foo=1,bar=2", "foo=3"]).unwrap().header(),
            "foo=1,bar=2"
        );
    }

    #[test]
    fn discards_the_whole_header() {
        assert!(parse(["rojo=1,Congo=2"]).is_none());
        assert!(parse(["rojo=1,congo"]).is_none());
        assert!(parse(["foo=,bar=3"]).is_none(), "an empty value is invalid");
        assert!(parse(["foo=bar=baz"]).is_none());
        let full: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        assert!(parse([full.join(",").as_str()]).is_some());
        let over: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert!(parse([over.join(",").as_str()]).is_none());
    }
}
