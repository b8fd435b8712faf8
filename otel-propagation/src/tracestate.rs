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
//! still applies the Level 1 split (with an off-by-one that rejects a 14-character system id) and
//! checks values only for `,` and `=`, so we validate here. The `SpanContext` gets a `TraceState` of
//! the members it can hold; when it cannot hold them all, the whole list travels beside it in the
//! `Context` as a [`TraceStateList`], and injection sends that list with the span's own changes
//! applied.
//!
//! Receiving, a header that breaks the grammar (an invalid member, more than 32 members) is discarded
//! whole, as the W3C test suite requires, while the `traceparent` is kept. A key sent twice is the
//! sender's fault and no reason to discard: the first entry is kept, as the spec allows.

use std::fmt;

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

/// A `tracestate` list as W3C Trace Context Level 2 reads it: every member, Level 2 keys included,
/// in order, at most 32.
///
/// [`TraceStateList::from_context`] reads the whole list a context carries for its span's trace,
/// including the members `SpanContext::trace_state()` cannot hold (`foo@@bar`,
/// `t@vvvvvvvvvvvvvvv`): what [`crate::TraceContextPropagator`] sends for that context.
///
/// ```
/// use std::collections::HashMap;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use otel_propagation::{TraceContextPropagator, TraceStateList};
///
/// let carrier = HashMap::from([
///     ("traceparent".to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string()),
///     ("tracestate".to_string(), "foo@@bar=1, rojo=00f067aa0ba902b7".to_string()),
/// ]);
/// let cx = TraceContextPropagator::new().extract(&carrier);
/// // `opentelemetry::trace::TraceState` cannot hold the Level 2 key ...
/// assert_eq!(cx.span().span_context().trace_state().header(), "rojo=00f067aa0ba902b7");
/// // ... the context still carries it, in its place.
/// let list = TraceStateList::from_context(&cx);
/// assert_eq!(list.header(), "foo@@bar=1,rojo=00f067aa0ba902b7");
/// assert_eq!(list.get("foo@@bar"), Some("1"));
/// assert_eq!(list.iter().map(|(key, _)| key).collect::<Vec<_>>(), ["foo@@bar", "rojo"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TraceStateList {
    /// `key=value` members joined by `,`. Neither keys nor values hold `,` or `=`, so this is
    /// both the header value and the list.
    header: String,
}

impl TraceStateList {
    /// Parses one `tracestate` value with the Level 2 grammar; `None` when it must be discarded
    /// (an invalid member, more than 32 members). A repeated key keeps its first entry.
    pub fn parse(header: &str) -> Option<TraceStateList> {
        members([header.as_bytes()]).map(|members| TraceStateList::from_members(&members))
    }

    fn from_members(members: &[(&str, &str)]) -> TraceStateList {
        let mut list = TraceStateList::default();
        for &(key, value) in members {
            list.push(key, value);
        }
        list
    }

    /// Splits a header that `TraceState::header` wrote or that this type holds: its keys and
    /// values hold no `,` or `=`.
    fn split(header: &str) -> impl Iterator<Item = (&str, &str)> {
        header
            .split(',')
            .filter_map(|member| member.split_once('='))
    }

    /// The members of an upstream `TraceState`, in order.
    pub(crate) fn from_trace_state(trace_state: &TraceState) -> TraceStateList {
        TraceStateList {
            header: trace_state.header(),
        }
    }

    fn push(&mut self, key: &str, value: &str) {
        if !self.header.is_empty() {
            self.header.push(',');
        }
        self.header.push_str(key);
        self.header.push('=');
        self.header.push_str(value);
    }

    /// The members, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        Self::split(&self.header)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find_map(|(k, v)| (k == key).then_some(v))
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        if self.header.is_empty() {
            0
        } else {
            self.header.bytes().filter(|&b| b == b',').count() + 1
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.header.is_empty()
    }

    /// The `tracestate` header value: `key=value` members joined by `,`, no whitespace.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// This list, received when the span context got `held` (the members upstream's `TraceState`
    /// can hold), with what `current` (the span's `TraceState`, built from `held` by samplers and
    /// the SDK) changed applied as the spec orders it: members it added or updated first, in its
    /// order; then the received members it did not delete or move, in their order; at most 32,
    /// the right-most dropped.
    pub(crate) fn merged(&self, held: &TraceState, current: &TraceState) -> TraceStateList {
        if current == held {
            return self.clone();
        }
        let (held_header, current_header) = (held.header(), current.header());
        let held: Vec<(&str, &str)> = Self::split(&held_header).collect();
        let current: Vec<(&str, &str)> = Self::split(&current_header).collect();
        // `TraceState::insert` pushes to the front and `delete` removes: the longest tail of
        // `current` that appears in `held` in the same order is what was kept in place; what
        // stands before it was added, updated or moved.
        let (mut front, mut unmatched) = (current.len(), held.len());
        while front > 0 {
            match held[..unmatched]
                .iter()
                .rposition(|&member| member == current[front - 1])
            {
                Some(at) => {
                    unmatched = at;
                    front -= 1;
                }
                None => break,
            }
        }
        let front = &current[..front];
        let in_current = |key: &str| current.iter().any(|&(k, _)| k == key);
        let mut merged = TraceStateList::default();
        let in_front = front
            .iter()
            // Upstream checks values only for `,` and `=`: never send what the grammar forbids.
            .filter(|&&(key, value)| is_key(key.as_bytes()) && is_value(value.as_bytes()));
        let kept = self.iter().filter(|&(key, _)| {
            let moved = front.iter().any(|&(k, _)| k == key);
            let deleted = held.iter().any(|&(k, _)| k == key) && !in_current(key);
            !moved && !deleted
        });
        for (key, value) in in_front.copied().chain(kept).take(MAX_MEMBERS) {
            merged.push(key, value);
        }
        merged
    }
}

impl fmt::Display for TraceStateList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header)
    }
}

/// A parsed `tracestate`: what upstream's `TraceState` can hold, and the whole list when it
/// cannot hold it all.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Every member, or the ones `TraceState` accepts, in order.
    pub(crate) held: TraceState,
    /// Every member, when `held` lacks some.
    pub(crate) full: Option<TraceStateList>,
}

/// Parses the `tracestate` header field values, in order, as one combined list.
///
/// Returns `None` when the header must be discarded: an invalid list-member or more than 32
/// list-members. Empty and whitespace-only list-members are allowed and do not count. A repeated key
/// keeps its first entry.
pub(crate) fn parse<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<Parsed> {
    let members = members(values)?;
    if members.is_empty() {
        return Some(Parsed::default());
    }
    if let Ok(held) = TraceState::from_key_value(members.iter().copied()) {
        return Some(Parsed { held, full: None });
    }
    // The upstream type rejects some Level 2 keys (`foo@@bar`): it holds the members it can, and
    // the whole list travels beside it.
    let held = TraceState::from_key_value(
        members
            .iter()
            .copied()
            .filter(|&member| TraceState::from_key_value([member]).is_ok()),
    )
    .unwrap_or_default();
    Some(Parsed {
        held,
        full: Some(TraceStateList::from_members(&members)),
    })
}

/// The valid members of the combined `tracestate` values, in order, a repeated key once; `None`
/// when the header must be discarded.
fn members<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<Vec<(&'a str, &'a str)>> {
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
    Some(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<TraceState> {
        super::parse(values.into_iter().map(str::as_bytes)).map(|parsed| parsed.held)
    }

    fn full<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
        super::parse(values.into_iter().map(str::as_bytes))
            .and_then(|parsed| parsed.full)
            .map(|list| list.header().to_owned())
    }

    fn list(header: &str) -> TraceStateList {
        TraceStateList::parse(header).unwrap()
    }

    fn state(header: &str) -> TraceState {
        header.parse().unwrap()
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
    fn keeps_what_the_upstream_type_can_hold_and_the_whole_list_beside_it() {
        let ts = parse(["foo=1,foo@@bar=2,baz=3"]).unwrap();
        assert_eq!(ts.header(), "foo=1,baz=3");
        assert_eq!(
            full(["foo=1,foo@@bar=2,baz=3"]).unwrap(),
            "foo=1,foo@@bar=2,baz=3"
        );
        let longest = format!("{}@{}", "t".repeat(241), "v".repeat(14));
        let header = format!("t@{}=a, {longest}=b", "v".repeat(15));
        assert_eq!(parse([header.as_str()]).unwrap(), TraceState::NONE);
        assert_eq!(
            full([header.as_str()]).unwrap(),
            format!("t@{}=a,{longest}=b", "v".repeat(15))
        );
    }

    #[test]
    fn no_whole_list_when_the_upstream_type_holds_it_all() {
        assert_eq!(full(["foo=1,tenant@vendor=2"]), None);
        assert_eq!(full([""]), None);
    }

    #[test]
    fn list_reads_members_in_order() {
        let l = list(" a=1 ,, foo@@bar=x y,a=3");
        assert_eq!(l.header(), "a=1,foo@@bar=x y");
        assert_eq!(l.to_string(), "a=1,foo@@bar=x y");
        assert_eq!(l.len(), 2);
        assert_eq!(l.get("foo@@bar"), Some("x y"));
        assert_eq!(l.get("b"), None);
        assert_eq!(
            l.iter().collect::<Vec<_>>(),
            [("a", "1"), ("foo@@bar", "x y")]
        );
        assert!(list("").is_empty());
        assert_eq!(list("").len(), 0);
        assert_eq!(TraceStateList::parse("A=1"), None);
    }

    #[test]
    fn merged_unchanged_is_the_list() {
        let l = list("foo@@bar=1,rojo=2");
        assert_eq!(l.merged(&state("rojo=2"), &state("rojo=2")), l);
    }

    #[test]
    fn merged_puts_added_and_updated_members_first() {
        let l = list("foo@@bar=1,rojo=2,x@@y=3,congo=4");
        let held = state("rojo=2,congo=4");
        let current = held.insert("new", "n").unwrap();
        assert_eq!(
            l.merged(&held, &current).header(),
            "new=n,foo@@bar=1,rojo=2,x@@y=3,congo=4"
        );
        let current = held.insert("congo", "updated").unwrap();
        assert_eq!(
            l.merged(&held, &current).header(),
            "congo=updated,foo@@bar=1,rojo=2,x@@y=3"
        );
        // Moved to the front with the value it had: the sampler's order wins.
        let current = held.insert("congo", "4").unwrap();
        assert_eq!(
            l.merged(&held, &current).header(),
            "congo=4,foo@@bar=1,rojo=2,x@@y=3"
        );
    }

    #[test]
    fn merged_removes_deleted_members() {
        let l = list("foo@@bar=1,rojo=2,x@@y=3,congo=4");
        let held = state("rojo=2,congo=4");
        let current = held.delete("rojo").unwrap();
        assert_eq!(
            l.merged(&held, &current).header(),
            "foo@@bar=1,x@@y=3,congo=4"
        );
        let current = TraceState::NONE;
        assert_eq!(l.merged(&held, &current).header(), "foo@@bar=1,x@@y=3");
    }

    #[test]
    fn merged_never_sends_what_the_grammar_forbids() {
        let l = list("foo@@bar=1,rojo=2");
        let held = state("rojo=2");
        let current = held
            .insert("tab", "a\tb")
            .unwrap()
            .insert("ok", "1")
            .unwrap();
        assert_eq!(l.merged(&held, &current).header(), "ok=1,foo@@bar=1,rojo=2");
    }

    #[test]
    fn merged_keeps_at_most_32_members_dropping_the_right_most() {
        let mut members: Vec<String> = vec!["a@@b=0".into()];
        members.extend((1..32).map(|i| format!("k{i}=v")));
        let l = list(&members.join(","));
        assert_eq!(l.len(), 32);
        let held = state(&members[1..].join(","));
        let current = held.insert("new", "n").unwrap();
        let merged = l.merged(&held, &current);
        assert_eq!(merged.len(), 32);
        assert!(merged.header().starts_with("new=n,a@@b=0,k1=v,"));
        assert!(merged.header().ends_with(",k30=v"));
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
