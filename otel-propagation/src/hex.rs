//! Lowercase hexadecimal, the only case the W3C and B3 formats allow.
//!
//! Ids are parsed in place, eight digits per 64-bit word (SWAR), without splitting the header into a
//! `Vec` or going through `u128::from_str_radix` (which also accepts uppercase and a leading `+`).

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` (all below 0x80) is set where the byte is in `lo..=hi`.
#[inline(always)]
fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let at_least_lo = x.wrapping_add((0x80 - lo as u64) * ONES);
    let above_hi = x.wrapping_add((0x7f - hi as u64) * ONES);
    at_least_lo & !above_hi & HIGH
}

/// Eight ASCII digits, most significant first, to their 32-bit value; `None` unless every byte is
/// `0-9` or `a-f`.
#[inline(always)]
fn parse8(digits: &[u8; 8]) -> Option<u64> {
    let x = u64::from_be_bytes(*digits);
    if x & HIGH != 0 {
        return None;
    }
    let letters = in_range(x, b'a', b'f');
    if (in_range(x, b'0', b'9') | letters) != HIGH {
        return None;
    }
    // A digit's low nibble is its value; a letter's is its value minus 9.
    let nibbles = (x & (0x0f * ONES)) + (letters >> 7) * 9;
    // Pack the eight nibbles: pairs into bytes, bytes into 16 bits, then into 32.
    let v = ((nibbles & 0x0f00_0f00_0f00_0f00) >> 4) | (nibbles & 0x000f_000f_000f_000f);
    let v = ((v & 0x00ff_0000_00ff_0000) >> 8) | (v & 0x0000_00ff_0000_00ff);
    Some(((v & 0x0000_ffff_0000_0000) >> 16) | (v & 0x0000_0000_0000_ffff))
}

/// Exactly 16 lowercase hex digits.
#[inline]
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    let (hi, rest) = digits.split_first_chunk::<8>()?;
    let lo: &[u8; 8] = rest.try_into().ok()?;
    Some((parse8(hi)? << 32) | parse8(lo)?)
}

/// Exactly 32 lowercase hex digits.
#[inline]
pub(crate) fn parse_u128(digits: &[u8]) -> Option<u128> {
    let (hi, lo) = digits.split_first_chunk::<16>()?;
    Some(((parse_u64(hi)? as u128) << 64) | parse_u64(lo)? as u128)
}

/// 16 or 32 lowercase hex digits; 16 are the low half (B3's 64-bit trace ids).
#[inline]
pub(crate) fn parse_u128_or_u64(digits: &[u8]) -> Option<u128> {
    match digits.len() {
        32 => parse_u128(digits),
        16 => parse_u64(digits).map(u128::from),
        _ => None,
    }
}

/// `DIGIT_VALUE[b]` is the value of lowercase hex digit `b`, or `INVALID`.
const INVALID: u8 = 0xff;
const DIGIT_VALUE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 16 {
        table[b"0123456789abcdef"[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Exactly two lowercase hex digits.
#[inline]
pub(crate) fn parse_u8(hi: u8, lo: u8) -> Option<u8> {
    let (h, l) = (DIGIT_VALUE[hi as usize], DIGIT_VALUE[lo as usize]);
    ((h | l) & 0x80 == 0).then_some((h << 4) | l)
}

/// `PAIRS[b]` is `b` as two lowercase hex digits.
const PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = [DIGITS[b >> 4], DIGITS[b & 0x0f]];
        b += 1;
    }
    table
};

/// Writes `bytes` as lowercase hex into `out`, which must be twice as long.
#[inline]
pub(crate) fn encode(bytes: &[u8], out: &mut [u8]) {
    debug_assert_eq!(out.len(), bytes.len() * 2);
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&PAIRS[b as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious implementation, to check the word-at-a-time one against.
    fn reference(digits: &[u8]) -> Option<u128> {
        digits.iter().try_fold(0u128, |acc, &b| {
            let d = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => return None,
            };
            Some(acc << 4 | d as u128)
        })
    }

    #[test]
    fn parses_lowercase_only() {
        assert_eq!(parse_u64(b"00f067aa0ba902b7"), Some(0x00f0_67aa_0ba9_02b7));
        assert_eq!(parse_u64(b"00F067AA0BA902B7"), None);
        assert_eq!(parse_u64(b"+0f067aa0ba902b7"), None);
        assert_eq!(parse_u64(b"00f067aa0ba902b"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(
            parse_u128(b"4bf92f3577b34da6a3ce929d0e0e4736"),
            Some(0x4bf92f3577b34da6a3ce929d0e0e4736)
        );
        assert_eq!(parse_u128(b"4bf92f3577b34da6a3ce929d0e0e473g"), None);
        assert_eq!(
            parse_u128_or_u64(b"a3ce929d0e0e4736"),
            Some(0xa3ce929d0e0e4736)
        );
        assert_eq!(parse_u8(b'f', b'f'), Some(0xff));
        assert_eq!(parse_u8(b'0', b'G'), None);
    }

    #[test]
    fn every_byte_in_every_position_matches_the_reference() {
        let base = *b"0123456789abcdef";
        for pos in 0..16 {
            for b in 0..=255u8 {
                let mut digits = base;
                digits[pos] = b;
                assert_eq!(
                    parse_u64(&digits).map(u128::from),
                    reference(&digits),
                    "byte {b:#x} at {pos}"
                );
            }
        }
        for b in 0..=255u8 {
            let expected = matches!(b, b'0'..=b'9' | b'a'..=b'f');
            assert_eq!(parse_u8(b'0', b).is_some(), expected, "byte {b:#x}");
        }
    }

    #[test]
    fn all_digit_values() {
        assert_eq!(parse_u64(b"ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_u64(b"0000000000000000"), Some(0));
        assert_eq!(parse_u64(b"fedcba9876543210"), Some(0xfedc_ba98_7654_3210));
    }

    #[test]
    fn encodes() {
        let mut out = [0u8; 16];
        encode(&0x00f0_67aa_0ba9_02b7u64.to_be_bytes(), &mut out);
        assert_eq!(&out, b"00f067aa0ba902b7");
    }
}
