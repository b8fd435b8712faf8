//! Values a caller controls, bounded before they reach a metric attribute.

/// The value the semantic conventions use for anything outside a known set.
pub const OTHER: &str = "_OTHER";

/// `value` as the `'static` member of `known` it equals, else [`OTHER`]: a metric attribute built
/// from it can take no more distinct values than `known` has, whatever a caller sends.
///
/// ```
/// const KNOWN: &[&str] = &["GET", "SET"];
/// assert_eq!(otel_core::bounded("GET", KNOWN), "GET");
/// assert_eq!(otel_core::bounded("made-up", KNOWN), otel_core::OTHER);
/// ```
pub fn bounded(value: &str, known: &[&'static str]) -> &'static str {
    known
        .iter()
        .find(|k| **k == value)
        .copied()
        .unwrap_or(OTHER)
}
