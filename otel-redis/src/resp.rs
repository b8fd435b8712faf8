//! Reading the commands back out of packed RESP bytes: the sync `ConnectionLike` hands over only
//! bytes (`*<n>\r\n` then `n` times `$<len>\r\n<bytes>\r\n`).

/// The commands in `packed`, each as its arguments (the name first). Stops at the first thing
/// that is not a well-formed command.
pub(crate) fn commands(packed: &[u8]) -> Commands<'_> {
    Commands { rest: packed }
}

/// Iterator over packed commands; see [`commands`].
pub(crate) struct Commands<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Commands<'a> {
    type Item = Args<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let (count, rest) = header(self.rest, b'*')?;
        // Each argument takes at least 5 bytes (`$0\r\n\r\n`): a count beyond that is a lie.
        if count > rest.len() / 5 + 1 {
            self.rest = &[];
            return None;
        }
        let args = Args {
            rest,
            remaining: count,
        };
        // Walked once here, so that a command handed out is whole.
        let mut walk = args.clone();
        for _ in 0..count {
            if walk.next().is_none() {
                self.rest = &[];
                return None;
            }
        }
        self.rest = walk.rest;
        Some(args)
    }
}

/// The arguments of one packed command, read in place (no vector of them is made).
#[derive(Clone, Default)]
pub(crate) struct Args<'a> {
    rest: &'a [u8],
    remaining: usize,
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let (len, after) = header(self.rest, b'$')?;
        if after.len() < len.saturating_add(2) {
            return None;
        }
        self.remaining -= 1;
        self.rest = &after[len + 2..];
        Some(&after[..len])
    }
}

/// `<marker><decimal>\r\n` at the start of `bytes`: the number and what follows.
fn header(bytes: &[u8], marker: u8) -> Option<(usize, &[u8])> {
    let rest = bytes.strip_prefix(&[marker])?;
    let end = rest.iter().position(|&b| b == b'\r')?;
    if rest.get(end + 1) != Some(&b'\n') || end == 0 || end > 19 {
        return None;
    }
    let mut n = 0usize;
    for &b in &rest[..end] {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(usize::from(b - b'0'))?;
    }
    Some((n, &rest[end + 2..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_redis_packs() {
        let mut packed = redis::cmd("SET")
            .arg("k")
            .arg(b"\r\n\xff")
            .get_packed_command();
        packed.extend(redis::cmd("GET").arg("k").get_packed_command());
        let all: Vec<Vec<_>> = commands(&packed).map(Iterator::collect).collect();
        assert_eq!(
            all,
            vec![
                vec![&b"SET"[..], b"k", b"\r\n\xff"],
                vec![&b"GET"[..], b"k"]
            ]
        );
    }

    #[test]
    fn garbage_ends_the_walk() {
        for bad in [
            &b"*2\r\n$3\r\nGET\r\n"[..],
            b"*1\r\n$99\r\nGET\r\n",
            b"*99999999999999999999\r\n",
            b"*1\r\n$-1\r\n",
            b"hello",
            b"",
            b"*\r\n",
        ] {
            assert_eq!(commands(bad).count(), 0, "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_read_without_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            for command in commands(&bytes) {
                proptest::prop_assert!(command.into_iter().all(|arg| arg.len() <= bytes.len()));
            }
        }

        #[test]
        fn packed_commands_read_back(args in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..20), 1..6)) {
            let mut cmd = redis::Cmd::new();
            for arg in &args {
                cmd.arg(arg.as_slice());
            }
            let packed = cmd.get_packed_command();
            let read: Vec<Vec<_>> = commands(&packed).map(Iterator::collect).collect();
            proptest::prop_assert_eq!(read.len(), 1);
            proptest::prop_assert_eq!(read[0].iter().map(|a| a.to_vec()).collect::<Vec<_>>(), args);
        }
    }
}
