//! Lowercase hexadecimal, the only case the W3C and B3 formats allow.
//!
//! Table-driven and branch-light: ids are parsed in place, without splitting the header into a `Vec`
//! or going through `u128::from_str_radix` (which also accepts uppercase and a leading `+`).

/// `DIGIT_VALUE[b]` is the value of lowercase hex digit `b`, or `INVALID`.
const INVALID: u8 = 0xff;
const DIGIT_VALUE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Parses up to 32 lowercase hex digits. `None` on any other byte or on an empty slice.
#[inline]
pub(crate) fn parse_u128(digits: &[u8]) -> Option<u128> {
    if digits.is_empty() || digits.len() > 32 {
        return None;
    }
    let mut value: u128 = 0;
    let mut invalid = 0u8;
    for &b in digits {
        let d = DIGIT_VALUE[b as usize];
        // Accumulate the error bit instead of branching per digit.
        invalid |= d & 0x80;
        value = (value << 4) | (d & 0x0f) as u128;
    }
    (invalid == 0).then_some(value)
}

/// Parses up to 16 lowercase hex digits.
#[inline]
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut value: u64 = 0;
    let mut invalid = 0u8;
    for &b in digits {
        let d = DIGIT_VALUE[b as usize];
        invalid |= d & 0x80;
        value = (value << 4) | (d & 0x0f) as u64;
    }
    (invalid == 0).then_some(value)
}

/// Parses exactly two lowercase hex digits.
#[inline]
pub(crate) fn parse_u8(hi: u8, lo: u8) -> Option<u8> {
    let (h, l) = (DIGIT_VALUE[hi as usize], DIGIT_VALUE[lo as usize]);
    ((h | l) & 0x80 == 0).then_some((h << 4) | l)
}

/// Writes `bytes` as lowercase hex into `out`, which must be twice as long.
#[inline]
pub(crate) fn encode(bytes: &[u8], out: &mut [u8]) {
    debug_assert_eq!(out.len(), bytes.len() * 2);
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[(b >> 4) as usize];
        pair[1] = DIGITS[(b & 0x0f) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lowercase_only() {
        assert_eq!(parse_u64(b"00f067aa0ba902b7"), Some(0x00f0_67aa_0ba9_02b7));
        assert_eq!(parse_u64(b"00F067AA0BA902B7"), None);
        assert_eq!(parse_u64(b"+0f067aa0ba902b7"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(
            parse_u128(b"4bf92f3577b34da6a3ce929d0e0e4736"),
            Some(0x4bf92f3577b34da6a3ce929d0e0e4736)
        );
        assert_eq!(parse_u128(b"4bf92f3577b34da6a3ce929d0e0e473g"), None);
        assert_eq!(parse_u8(b'f', b'f'), Some(0xff));
        assert_eq!(parse_u8(b'0', b'G'), None);
    }

    #[test]
    fn every_byte_is_classified() {
        for b in 0..=255u8 {
            let expected = matches!(b, b'0'..=b'9' | b'a'..=b'f');
            assert_eq!(parse_u8(b'0', b).is_some(), expected, "byte {b:#x}");
        }
    }

    #[test]
    fn encodes_round_trip() {
        let mut out = [0u8; 16];
        encode(&0x00f0_67aa_0ba9_02b7u64.to_be_bytes(), &mut out);
        assert_eq!(&out, b"00f067aa0ba902b7");
    }
}
