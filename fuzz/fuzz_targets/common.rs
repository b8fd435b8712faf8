//! Shared by the fuzz targets: turning fuzz input into header maps.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Splits `data` at newlines into header values for `name`; values `http` rejects are skipped,
/// as a server would never hand them over.
pub fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, data) in pairs {
        for value in data.split(|&b| b == b'\n') {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                map.append(HeaderName::from_static(name), value);
            }
        }
    }
    map
}
