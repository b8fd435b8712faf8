//! `db.query.text` built from a command's arguments, safe by default, and the key pattern.

use std::cell::Cell;

use opentelemetry::StringValue;

use crate::command::{Command, Rest, Shape, is_keyword};

/// How much of a command `db.query.text` shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryText {
    /// The command and its keys (and hash fields, channels), every value `?`: `SET user:42 ?`,
    /// `HSET h f ? f ?` (the default).
    #[default]
    Sanitized,
    /// The command with every argument `?`, keys too: `SET ? ?`. Sub-commands
    /// (`CONFIG GET`) and key counts of scripts still show.
    KeysMasked,
    /// No `db.query.text` at all.
    Off,
}

/// The default cap on `db.query.text`, in bytes.
pub const DEFAULT_MAX_QUERY_TEXT_LEN: usize = 1024;

thread_local! {
    /// The buffer statements are built in, reused: each statement then costs one allocation of
    /// exactly its size.
    static SCRATCH: Cell<String> = const { Cell::new(String::new()) };
}

/// Scratch buffers larger than this are not kept.
const SCRATCH_KEEP: usize = 4096;

/// A statement under construction, cut at `limit` bytes (on a character boundary), in the
/// per-thread buffer; [`Statement::finish`] copies it into one string of exactly its size.
///
/// Each argument shown is checked as UTF-8 as it is appended, so the statement is never checked
/// whole. A per-thread cache of recent statements was measured here and removed: it saved ~960
/// instructions per command on a repeated statement and nothing on a new one, under the 1,000 a
/// cache must save to be worth its code. Counting the statement first and writing it once into a
/// string of that size was measured too: ~150 instructions more per command than this copy.
pub(crate) struct Statement {
    text: String,
    limit: usize,
}

impl Statement {
    pub(crate) fn new(limit: usize) -> Self {
        // `try_with`: a thread being torn down gets a fresh buffer.
        let mut text = SCRATCH.try_with(Cell::take).unwrap_or_default();
        text.clear();
        Statement { text, limit }
    }

    /// The statement as an attribute value; the buffer goes back for the next one.
    pub(crate) fn finish(self) -> StringValue {
        self.finish_or_name(None)
    }

    /// [`Statement::finish`], except that a statement that is only the command's `name`
    /// (`PING`, `AUTH`, `MULTI`) is that static name rather than a new string.
    pub(crate) fn finish_or_name(self, name: Option<&'static str>) -> StringValue {
        let out = match name {
            Some(name) if name == self.text => StringValue::from(name),
            _ => StringValue::from(String::from(self.text.as_str())),
        };
        let mut buffer = self.text;
        if buffer.capacity() <= SCRATCH_KEEP {
            buffer.clear();
            let _ = SCRATCH.try_with(|s| s.set(buffer));
        }
        out
    }

    #[inline]
    fn full(&self) -> bool {
        self.text.len() >= self.limit
    }

    /// Appends `s`, or as much of it as fits.
    #[inline]
    fn push_str(&mut self, s: &str) {
        let room = self.limit.saturating_sub(self.text.len());
        if s.len() <= room {
            self.text.push_str(s);
        } else {
            let mut cut = room;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            self.text.push_str(&s[..cut]);
        }
    }

    /// Appends one ASCII character, if it fits.
    #[inline]
    fn push_ascii(&mut self, c: u8) {
        if self.text.len() < self.limit {
            self.text.push(char::from(c));
        }
    }

    /// Appends bytes that may not be UTF-8: invalid sequences become U+FFFD.
    fn push_bytes(&mut self, bytes: &[u8]) {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return self.push_str(text);
        }
        for chunk in bytes.utf8_chunks() {
            if self.full() {
                return;
            }
            self.push_str(chunk.valid());
            if !chunk.invalid().is_empty() {
                self.push_str("\u{FFFD}");
            }
        }
    }

    /// The statement so far.
    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// `; ` between the statements of a pipeline.
    pub(crate) fn separate(&mut self) {
        if !self.text.is_empty() {
            self.push_str("; ");
        }
    }

    /// Appends the statement of one command: `name`, then its arguments (after the name) as
    /// `command` and `mode` allow.
    pub(crate) fn push_command<'a>(
        &mut self,
        mode: QueryText,
        name: &str,
        command: Option<&Command>,
        args: impl Iterator<Item = &'a [u8]>,
    ) {
        self.push_str(name);
        let Some(command) = command else { return };
        let show_keys = mode == QueryText::Sanitized;
        let mut eval_keys = 0usize;
        for (i, arg) in args.enumerate() {
            if self.full() {
                return;
            }
            let shown = match command.shape {
                Shape::Bare => return,
                Shape::Args { shown, rest } => {
                    let shown = usize::from(shown);
                    show_keys
                        && (i < shown
                            || match rest {
                                Rest::Mask => false,
                                Rest::Show => true,
                                Rest::Pairs => (i - shown) % 2 == 0,
                            })
                }
                Shape::Sub => i == 0 && is_keyword(arg),
                Shape::Eval => match i {
                    0 => false,
                    1 => {
                        // The key count: shown when it is one, so the keys after it are known.
                        match std::str::from_utf8(arg).ok().and_then(|n| n.parse().ok()) {
                            Some(n) => {
                                eval_keys = n;
                                self.push_ascii(b' ');
                                self.push_bytes(arg);
                                continue;
                            }
                            None => false,
                        }
                    }
                    _ => show_keys && i - 2 < eval_keys,
                },
            };
            self.push_ascii(b' ');
            if shown {
                self.push_bytes(arg);
            } else {
                self.push_ascii(b'?');
            }
        }
    }
}

/// The key with its variable parts (numbers, UUIDs, hex ids) replaced by `*`: `user:42:profile`
/// → `user:*:profile`. At most `limit` bytes.
pub(crate) fn key_pattern(key: &[u8], limit: usize) -> StringValue {
    let mut out = Statement::new(limit);
    let mut segment_start = 0;
    for (i, &b) in key.iter().enumerate() {
        if is_separator(b) {
            push_segment(&mut out, &key[segment_start..i]);
            out.push_bytes(&key[i..=i]);
            segment_start = i + 1;
        }
    }
    push_segment(&mut out, &key[segment_start..]);
    out.finish()
}

fn is_separator(b: u8) -> bool {
    matches!(
        b,
        b':' | b'/' | b'.' | b'|' | b'#' | b',' | b'=' | b' ' | b'{' | b'}' | b'[' | b']'
    )
}

fn push_segment(out: &mut Statement, segment: &[u8]) {
    if is_uuid(segment) {
        out.push_str("*");
        return;
    }
    // Within a segment, `-` and `_` join words and ids: `order-123`, `v_0a1b2c3d4e`.
    let mut start = 0;
    for (i, &b) in segment.iter().enumerate() {
        if b == b'-' || b == b'_' {
            push_word(out, &segment[start..i]);
            out.push_bytes(&segment[i..=i]);
            start = i + 1;
        }
    }
    push_word(out, &segment[start..]);
}

fn push_word(out: &mut Statement, word: &[u8]) {
    let variable = !word.is_empty()
        && (word.iter().all(u8::is_ascii_digit)
            || (word.len() >= 8
                && word.iter().all(u8::is_ascii_hexdigit)
                && word.iter().any(u8::is_ascii_digit)));
    if variable {
        out.push_str("*");
    } else {
        out.push_bytes(word);
    }
}

fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::lookup;

    fn statement(mode: QueryText, args: &[&[u8]]) -> String {
        let mut s = Statement::new(DEFAULT_MAX_QUERY_TEXT_LEN);
        let command = lookup(args[0]);
        let name = command.map_or("?", |c| c.name);
        s.push_command(mode, name, command, args[1..].iter().copied());
        s.text().to_owned()
    }

    #[test]
    fn values_are_masked_keys_and_fields_shown() {
        let s = |args: &[&[u8]]| statement(QueryText::Sanitized, args);
        assert_eq!(
            s(&[b"SET", b"user:42", b"Ada", b"EX", b"10"]),
            "SET user:42 ? ? ?"
        );
        assert_eq!(s(&[b"get", b"user:42"]), "GET user:42");
        assert_eq!(
            s(&[b"HSET", b"h", b"f", b"1", b"g", b"2"]),
            "HSET h f ? g ?"
        );
        assert_eq!(s(&[b"MSET", b"a", b"1", b"b", b"2"]), "MSET a ? b ?");
        assert_eq!(s(&[b"DEL", b"a", b"b"]), "DEL a b");
        assert_eq!(s(&[b"RENAME", b"a", b"b"]), "RENAME a b");
        assert_eq!(s(&[b"LPUSH", b"l", b"x", b"y"]), "LPUSH l ? ?");
        assert_eq!(
            s(&[
                b"EVAL",
                b"return redis.call('get', KEYS[1])",
                b"1",
                b"k",
                b"arg"
            ]),
            "EVAL ? 1 k ?"
        );
        assert_eq!(s(&[b"EVALSHA", b"abc", b"x", b"k"]), "EVALSHA ? ? ?");
        assert_eq!(s(&[b"CONFIG", b"GET", b"maxmemory"]), "CONFIG GET ?");
    }

    #[test]
    fn credentials_never_show() {
        for mode in [QueryText::Sanitized, QueryText::KeysMasked] {
            let s = |args: &[&[u8]]| statement(mode, args);
            assert_eq!(s(&[b"AUTH", b"hunter2"]), "AUTH");
            assert_eq!(s(&[b"AUTH", b"user", b"hunter2"]), "AUTH");
            assert_eq!(s(&[b"HELLO", b"3", b"AUTH", b"user", b"hunter2"]), "HELLO");
            assert_eq!(
                s(&[
                    b"MIGRATE", b"h", b"6379", b"k", b"0", b"5000", b"AUTH2", b"u", b"pw"
                ]),
                "MIGRATE"
            );
            assert_eq!(
                s(&[b"CONFIG", b"SET", b"requirepass", b"hunter2"]),
                "CONFIG SET ? ?"
            );
            assert_eq!(
                s(&[b"CONFIG", b"SET", b"masterauth", b"pw"]),
                "CONFIG SET ? ?"
            );
            assert_eq!(
                s(&[b"ACL", b"SETUSER", b"bob", b"on", b">hunter2"]),
                "ACL SETUSER ? ? ?"
            );
            // A sub-command position that holds something else than a keyword stays hidden.
            assert_eq!(s(&[b"ACL", b">hunter2"]), "ACL ?");
        }
    }

    #[test]
    fn a_statement_that_is_only_the_name_is_the_name() {
        for (name, args) in [("PING", &[][..]), ("AUTH", &[&b"hunter2"[..]][..])] {
            let command = lookup(name.as_bytes());
            let mut s = Statement::new(DEFAULT_MAX_QUERY_TEXT_LEN);
            s.push_command(QueryText::Sanitized, name, command, args.iter().copied());
            assert_eq!(s.finish_or_name(command.map(|c| c.name)).as_str(), name);
        }
        let mut s = Statement::new(DEFAULT_MAX_QUERY_TEXT_LEN);
        s.push_command(
            QueryText::Sanitized,
            "GET",
            lookup(b"GET"),
            [&b"k"[..]].into_iter(),
        );
        assert_eq!(s.finish_or_name(Some("GET")).as_str(), "GET k");
    }

    #[test]
    fn keys_masked_shows_only_the_shape() {
        let s = |args: &[&[u8]]| statement(QueryText::KeysMasked, args);
        assert_eq!(s(&[b"SET", b"user:42", b"Ada"]), "SET ? ?");
        assert_eq!(s(&[b"HSET", b"h", b"f", b"1"]), "HSET ? ? ?");
        assert_eq!(s(&[b"EVAL", b"script", b"1", b"k", b"a"]), "EVAL ? 1 ? ?");
    }

    #[test]
    fn unknown_commands_show_only_their_name() {
        let mut s = Statement::new(100);
        s.push_command(
            QueryText::Sanitized,
            "JSON.SET",
            None,
            [&b"k"[..], b"$", b"{}"].into_iter(),
        );
        assert_eq!(s.text(), "JSON.SET");
    }

    #[test]
    fn binary_and_huge_arguments_are_bounded() {
        let huge = vec![b'k'; 10_000];
        let mut s = Statement::new(64);
        s.push_command(
            QueryText::Sanitized,
            "GET",
            lookup(b"GET"),
            [&huge[..]].into_iter(),
        );
        assert_eq!(s.text().len(), 64);
        let mut s = Statement::new(1024);
        s.push_command(
            QueryText::Sanitized,
            "GET",
            lookup(b"GET"),
            [&[0xff, 0xfe, b'a'][..]].into_iter(),
        );
        assert_eq!(s.text(), "GET \u{FFFD}\u{FFFD}a");
        // A cut never splits a character.
        let mut s = Statement::new(6);
        s.push_command(
            QueryText::Sanitized,
            "GET",
            lookup(b"GET"),
            ["é".as_bytes()].into_iter(),
        );
        assert_eq!(s.text(), "GET é");
        let mut s = Statement::new(5);
        s.push_command(
            QueryText::Sanitized,
            "GET",
            lookup(b"GET"),
            ["é".as_bytes()].into_iter(),
        );
        assert_eq!(s.text(), "GET ");
    }

    #[test]
    fn key_patterns_hide_ids() {
        let p = |k: &str| key_pattern(k.as_bytes(), 256).to_string();
        assert_eq!(p("user:42:profile"), "user:*:profile");
        assert_eq!(
            p("session:4bf92f35-77b3-4da6-a3ce-929d0e0e4736"),
            "session:*"
        );
        assert_eq!(p("obj/0a1b2c3d4e5f/meta"), "obj/*/meta");
        assert_eq!(p("order-123_v2"), "order-*_v2");
        assert_eq!(p("cache:deadbeef"), "cache:deadbeef");
        assert_eq!(p("plain"), "plain");
        assert_eq!(key_pattern(&[0xff, b':', b'1'], 256).as_str(), "\u{FFFD}:*");
        assert_eq!(key_pattern(&[b'a'; 1000], 16).as_str().len(), 16);
    }

    proptest::proptest! {
        #[test]
        fn any_arguments_give_a_bounded_statement(
            args in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..40), 1..12),
            limit in 0usize..200,
            masked in proptest::bool::ANY,
        ) {
            let mode = if masked { QueryText::KeysMasked } else { QueryText::Sanitized };
            let command = lookup(&args[0]);
            let mut s = Statement::new(limit);
            s.push_command(mode, command.map_or("X", |c| c.name), command, args[1..].iter().map(Vec::as_slice));
            proptest::prop_assert!(s.text().len() <= limit);
            let pattern = key_pattern(&args[0], limit);
            proptest::prop_assert!(pattern.as_str().len() <= limit);
        }

        #[test]
        fn credentials_never_show_whatever_follows(
            name in proptest::sample::select(vec!["AUTH", "auth", "HELLO", "MIGRATE"]),
            args in proptest::collection::vec("[a-z0-9]{1,12}", 0..8),
        ) {
            let command = lookup(name.as_bytes());
            let mut s = Statement::new(1024);
            s.push_command(QueryText::Sanitized, command.map_or("?", |c| c.name), command, args.iter().map(|a| a.as_bytes()));
            proptest::prop_assert_eq!(s.text(), name.to_ascii_uppercase());
        }
    }
}
