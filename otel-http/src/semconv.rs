//! The HTTP semantic conventions, in one place: attribute keys (the semconv crate's constants),
//! method normalisation, protocol versions, host parsing, URL redaction and error types.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, PoisonError};

use http::{HeaderMap, Method, Uri, Version};
use opentelemetry::{Key, KeyValue, StringValue, Value};
use opentelemetry_semantic_conventions::attribute as attr;

/// Which side of an exchange a layer instruments: the rules that differ (status codes that are
/// errors, metric names) follow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

/// Keys, built once as `&'static str` keys (no allocation per request).
pub(crate) mod key {
    use super::{Key, attr};
    pub(crate) const METHOD: Key = Key::from_static_str(attr::HTTP_REQUEST_METHOD);
    pub(crate) const METHOD_ORIGINAL: Key =
        Key::from_static_str(attr::HTTP_REQUEST_METHOD_ORIGINAL);
    pub(crate) const URL_SCHEME: Key = Key::from_static_str(attr::URL_SCHEME);
    pub(crate) const URL_PATH: Key = Key::from_static_str(attr::URL_PATH);
    pub(crate) const URL_QUERY: Key = Key::from_static_str(attr::URL_QUERY);
    pub(crate) const URL_FULL: Key = Key::from_static_str(attr::URL_FULL);
    pub(crate) const ROUTE: Key = Key::from_static_str(attr::HTTP_ROUTE);
    pub(crate) const SERVER_ADDRESS: Key = Key::from_static_str(attr::SERVER_ADDRESS);
    pub(crate) const SERVER_PORT: Key = Key::from_static_str(attr::SERVER_PORT);
    pub(crate) const CLIENT_ADDRESS: Key = Key::from_static_str(attr::CLIENT_ADDRESS);
    pub(crate) const CLIENT_PORT: Key = Key::from_static_str(attr::CLIENT_PORT);
    pub(crate) const PEER_ADDRESS: Key = Key::from_static_str(attr::NETWORK_PEER_ADDRESS);
    pub(crate) const PEER_PORT: Key = Key::from_static_str(attr::NETWORK_PEER_PORT);
    pub(crate) const PROTOCOL_VERSION: Key = Key::from_static_str(attr::NETWORK_PROTOCOL_VERSION);
    pub(crate) const USER_AGENT: Key = Key::from_static_str(attr::USER_AGENT_ORIGINAL);
    pub(crate) const STATUS_CODE: Key = Key::from_static_str(attr::HTTP_RESPONSE_STATUS_CODE);
    pub(crate) const ERROR_TYPE: Key = Key::from_static_str(attr::ERROR_TYPE);
    pub(crate) const REQUEST_BODY_SIZE: Key = Key::from_static_str(attr::HTTP_REQUEST_BODY_SIZE);
    pub(crate) const RESPONSE_BODY_SIZE: Key = Key::from_static_str(attr::HTTP_RESPONSE_BODY_SIZE);
}

/// The default known methods (RFC 9110, PATCH, QUERY) and `_OTHER`, indexed by
/// [`KnownMethods::index`].
const METHODS: [&str; 11] = [
    "GET",
    "POST",
    "PUT",
    "DELETE",
    "HEAD",
    "OPTIONS",
    "PATCH",
    "CONNECT",
    "TRACE",
    "QUERY",
    otel_core::OTHER,
];

/// The environment variable that replaces the known methods (comma-separated, case-sensitive).
pub const KNOWN_METHODS_ENV: &str = "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS";

/// The `http.request.method` values a layer knows; any other method is `_OTHER` (its original
/// then goes in `http.request.method_original` on spans), in spans, metrics and active-request
/// counts alike, so that a caller cannot mint new attribute values.
#[derive(Clone, Debug)]
pub(crate) struct KnownMethods {
    /// The known names then `_OTHER`; `None` for the default list (matched without a scan).
    custom: Option<Arc<[&'static str]>>,
}

impl KnownMethods {
    /// The default list, or the one `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` gives.
    pub(crate) fn from_env() -> Self {
        match std::env::var(KNOWN_METHODS_ENV) {
            Ok(list) => Self::new(list.split(',')),
            Err(_) => KnownMethods { custom: None },
        }
    }

    /// Exactly these methods (case-sensitive; names that are no valid method token are skipped).
    pub(crate) fn new<S: AsRef<str>>(methods: impl IntoIterator<Item = S>) -> Self {
        let mut names: Vec<&'static str> = Vec::new();
        for method in methods {
            let method = method.as_ref().trim();
            if method.is_empty()
                || method == otel_core::OTHER
                || Method::from_bytes(method.as_bytes()).is_err()
            {
                continue;
            }
            let name = leak_once(method);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names.push(otel_core::OTHER);
        KnownMethods {
            custom: Some(names.into()),
        }
    }

    /// The values, `_OTHER` last.
    pub(crate) fn names(&self) -> &[&'static str] {
        match &self.custom {
            Some(names) => names,
            None => &METHODS,
        }
    }

    /// The index of `method`'s value in [`KnownMethods::names`] (the last for `_OTHER`).
    pub(crate) fn index(&self, method: &Method) -> usize {
        if let Some(names) = &self.custom {
            let other = names.len() - 1;
            return names[..other]
                .iter()
                .position(|name| *name == method.as_str())
                .unwrap_or(other);
        }
        match *method {
            Method::GET => 0,
            Method::POST => 1,
            Method::PUT => 2,
            Method::DELETE => 3,
            Method::HEAD => 4,
            Method::OPTIONS => 5,
            Method::PATCH => 6,
            Method::CONNECT => 7,
            Method::TRACE => 8,
            _ if method.as_str() == "QUERY" => 9,
            _ => 10,
        }
    }

    /// `http.request.method` at `index`, and the original method when that is `_OTHER`.
    pub(crate) fn method_at<'m>(
        &self,
        index: usize,
        method: &'m Method,
    ) -> (&'static str, Option<&'m str>) {
        let names = self.names();
        match names.get(index) {
            Some(&name) if index + 1 < names.len() => (name, None),
            _ => (otel_core::OTHER, Some(method.as_str())),
        }
    }

    /// [`KnownMethods::method_at`] of `method`'s index.
    pub(crate) fn method<'m>(&self, method: &'m Method) -> (&'static str, Option<&'m str>) {
        self.method_at(self.index(method), method)
    }
}

/// A configured method name as `&'static str`, leaked once per distinct name in the process
/// (names come from configuration, never from requests).
fn leak_once(name: &str) -> &'static str {
    static LEAKED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut leaked = LEAKED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = leaked.iter().find(|l| **l == name) {
        return found;
    }
    let name: &'static str = Box::leak(Box::from(name));
    leaked.push(name);
    name
}

/// `network.protocol.version`.
pub(crate) fn protocol_version(version: Version) -> Option<&'static str> {
    Some(match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// Splits `host[:port]` (IPv6 literals in brackets); the port is `None` when absent or invalid.
/// `memchr` rather than a byte loop: this runs for every request, and it looks at eight bytes a
/// time.
pub fn split_host_port(authority: &str) -> (&str, Option<u16>) {
    let authority = authority.trim_ascii();
    let bytes = authority.as_bytes();
    if bytes.first() == Some(&b'[') {
        // [v6]:port
        return match find_byte(b']', bytes) {
            Some(end) => (
                &authority[1..end],
                bytes[end + 1..].strip_prefix(b":").and_then(parse_port),
            ),
            None => (authority, None),
        };
    }
    // The first ':' splits; a second one makes it a bare IPv6 address.
    match find_byte(b':', bytes) {
        Some(i) if find_byte(b':', &bytes[i + 1..]).is_none() => {
            (&authority[..i], parse_port(&bytes[i + 1..]))
        }
        _ => (authority, None),
    }
}

/// The index of the first `byte` (not NUL) in `bytes`, eight bytes at a time.
fn find_byte(byte: u8, bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * u64::from(byte);
    let first_in = |word: u64| {
        let word = word ^ pattern;
        // The lowest flagged byte is the first zero byte of `word`: the first match.
        let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
        (zeros != 0).then(|| zeros.trailing_zeros() as usize / 8)
    };
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        if let Some(i) = first_in(u64::from_le_bytes(chunk.try_into().unwrap_or_default())) {
            return Some(offset + i);
        }
        offset += 8;
    }
    // The rest, padded with NULs (which never match).
    let mut tail = [0; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    first_in(u64::from_le_bytes(tail)).map(|i| offset + i)
}

/// A port: one to five digits, at most 65535.
fn parse_port(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    let mut port: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        port = port * 10 + u32::from(d - b'0');
    }
    u16::try_from(port).ok()
}

/// The method as span names show it: `HTTP` for `_OTHER`.
pub(crate) fn span_name_method(method: &'static str) -> &'static str {
    if method == otel_core::OTHER {
        "HTTP"
    } else {
        method
    }
}

/// The request's `server.address` / `server.port`: the URI's authority (HTTP/2 `:authority`,
/// absolute-form requests), else the `Host` header.
pub fn server_address<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<(&'a str, Option<u16>)> {
    server_address_with(uri, || headers.get(http::header::HOST))
}

/// [`server_address`] with the request's `Host` header found by `host` (looked at only when the
/// URI has no authority).
pub(crate) fn server_address_with<'a>(
    uri: &'a Uri,
    host: impl FnOnce() -> Option<&'a http::HeaderValue>,
) -> Option<(&'a str, Option<u16>)> {
    if let Some(authority) = uri.authority() {
        // Without the user information (`user@`), which is not part of the address.
        let text = authority.as_str();
        let host_port = text
            .as_bytes()
            .iter()
            .rposition(|&b| b == b'@')
            .map_or(text, |at| &text[at + 1..]);
        return Some(split_host_port(host_port));
    }
    Some(split_host_port(host()?.to_str().ok()?))
}

/// The query parameters whose values are replaced by `REDACTED`, as the semantic conventions
/// recommend: signatures and credentials that grant access to whoever reads the telemetry.
pub const DEFAULT_REDACTED_QUERY_PARAMS: &[&str] = &[
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
];

/// `query` with the values of `sensitive` parameters replaced by `REDACTED`; borrowed when there is
/// nothing to replace.
pub(crate) fn redact_query<'a>(query: &'a str, sensitive: &[Cow<'static, str>]) -> Cow<'a, str> {
    let needs = query.split('&').any(|pair| {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        sensitive.iter().any(|s| s == name)
    });
    if !needs {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if sensitive.iter().any(|s| s == name) => {
                out.push_str(name);
                out.push_str("=REDACTED");
            }
            _ => out.push_str(pair),
        }
    }
    Cow::Owned(out)
}

/// `url.full` for a client request: scheme, host and port, path, and the query redacted; user
/// info (credentials) is never included, as `http::Uri` drops it from the authority we rebuild.
pub(crate) fn url_full(uri: &Uri, headers: &HeaderMap, sensitive: &[Cow<'static, str>]) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let (host, port) = match uri.authority() {
        Some(a) => (a.host(), a.port_u16()),
        None => server_address(uri, headers).unwrap_or(("", None)),
    };
    let mut url = String::with_capacity(scheme.len() + host.len() + uri.path().len() + 16);
    url.push_str(scheme);
    url.push_str("://");
    if host.contains(':') && !host.starts_with('[') {
        // An IPv6 literal, from the `Host` header's split: bracketed again.
        url.push('[');
        url.push_str(host);
        url.push(']');
    } else {
        url.push_str(host);
    }
    if let Some(port) = port {
        url.push(':');
        url.push_str(&port.to_string());
    }
    url.push_str(uri.path());
    if let Some(query) = uri.query() {
        url.push('?');
        url.push_str(&redact_query(query, sensitive));
    }
    url
}

/// `error.type` for a status code, by the side's rule: servers fail on 5xx, clients on 4xx too.
pub(crate) fn status_error(status: u16, client: bool) -> Option<StringValue> {
    let failed = status >= 500 || (client && status >= 400);
    failed.then(|| status_code_text(status))
}

/// The decimal text of a status code, without formatting at run time for the common ones.
pub(crate) fn status_code_text(status: u16) -> StringValue {
    StringValue::from(match status {
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        409 => "409",
        413 => "413",
        422 => "422",
        429 => "429",
        499 => "499",
        500 => "500",
        501 => "501",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => return StringValue::from(status.to_string()),
    })
}

/// `http.request.header.<name>` / `http.response.header.<name>`: every value, as a string array.
pub(crate) fn captured_headers(
    prefix: &'static str,
    names: &[http::HeaderName],
    headers: &HeaderMap,
    out: &mut Vec<KeyValue>,
) {
    for name in names {
        let values: Vec<StringValue> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| StringValue::from(v.to_owned()))
            .collect();
        if !values.is_empty() {
            out.push(KeyValue::new(
                format!("{prefix}.{}", name.as_str()),
                Value::Array(values.into()),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        let known = KnownMethods { custom: None };
        let method = |m: &str| {
            let m = Method::from_bytes(m.as_bytes()).unwrap();
            let (value, original) = known.method(&m);
            (value, original.map(str::to_owned))
        };
        assert_eq!(method("GET"), ("GET", None));
        assert_eq!(method("QUERY"), ("QUERY", None));
        assert_eq!(method("FOO"), ("_OTHER", Some("FOO".into())));
        assert_eq!(method("get"), ("_OTHER", Some("get".into())));
    }

    #[test]
    fn known_methods_replaced() {
        let known = KnownMethods::new(["GET", " PURGE ", "", "bad method", "_OTHER", "PURGE"]);
        assert_eq!(known.names(), ["GET", "PURGE", "_OTHER"]);
        let method = |m: &str| {
            let m = Method::from_bytes(m.as_bytes()).unwrap();
            let (value, original) = known.method(&m);
            (value, original.map(str::to_owned))
        };
        assert_eq!(method("PURGE"), ("PURGE", None));
        assert_eq!(method("GET"), ("GET", None));
        assert_eq!(method("POST"), ("_OTHER", Some("POST".into())));
        assert_eq!(known.index(&Method::POST), 2);
        let none = KnownMethods::new(Vec::<String>::new());
        assert_eq!(none.method(&Method::GET), ("_OTHER", Some("GET")));
    }

    proptest::proptest! {
        #[test]
        fn find_byte_is_position(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), byte in 1u8..) {
            proptest::prop_assert_eq!(find_byte(byte, &bytes), bytes.iter().position(|&b| b == byte));
        }
    }

    #[test]
    fn hosts() {
        assert_eq!(
            split_host_port("example.com:8080"),
            ("example.com", Some(8080))
        );
        assert_eq!(split_host_port("example.com"), ("example.com", None));
        assert_eq!(split_host_port("[::1]:443"), ("::1", Some(443)));
        assert_eq!(split_host_port("[::1]"), ("::1", None));
        assert_eq!(split_host_port("host:notaport"), ("host", None));
        assert_eq!(split_host_port("host:+80"), ("host", None));
        assert_eq!(split_host_port("host:65536"), ("host", None));
        assert_eq!(split_host_port("host:"), ("host", None));
        assert_eq!(split_host_port("::1"), ("::1", None));
        assert_eq!(split_host_port("[::1]x"), ("::1", None));
        assert_eq!(split_host_port(" h:1 "), ("h", Some(1)));
        // Colons on either side of the eight-byte steps.
        assert_eq!(split_host_port("1234567:8"), ("1234567", Some(8)));
        assert_eq!(split_host_port("12345678:9"), ("12345678", Some(9)));
        assert_eq!(
            split_host_port("api.example.com:443"),
            ("api.example.com", Some(443))
        );
        assert_eq!(
            split_host_port("api.example.com:44:3"),
            ("api.example.com:44:3", None)
        );
        assert_eq!(
            split_host_port("[2001:db8::12345]:7"),
            ("2001:db8::12345", Some(7))
        );
        let uri: Uri = "http://user:pw@example.com:8080/x".parse().unwrap();
        assert_eq!(
            server_address(&uri, &HeaderMap::new()),
            Some(("example.com", Some(8080)))
        );
        let uri: Uri = "http://[2001:db8::1]:9/".parse().unwrap();
        assert_eq!(
            server_address(&uri, &HeaderMap::new()),
            Some(("2001:db8::1", Some(9)))
        );
    }

    #[test]
    fn query_redaction() {
        let sensitive: Vec<Cow<'static, str>> = DEFAULT_REDACTED_QUERY_PARAMS
            .iter()
            .map(|s| Cow::Borrowed(*s))
            .collect();
        assert!(matches!(
            redact_query("q=1&page=2", &sensitive),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            redact_query("q=1&sig=abc&X-Amz-Signature=def&sig", &sensitive),
            "q=1&sig=REDACTED&X-Amz-Signature=REDACTED&sig"
        );
    }

    #[test]
    fn full_urls_drop_credentials() {
        let sensitive = vec![Cow::Borrowed("sig")];
        let uri: Uri = "https://user:pass@api.example.com:8443/v1/items?sig=s&q=1"
            .parse()
            .unwrap();
        assert_eq!(
            url_full(&uri, &HeaderMap::new(), &sensitive),
            "https://api.example.com:8443/v1/items?sig=REDACTED&q=1"
        );
        let uri: Uri = "http://[2001:db8::1]:8080/x".parse().unwrap();
        assert_eq!(
            url_full(&uri, &HeaderMap::new(), &sensitive),
            "http://[2001:db8::1]:8080/x"
        );
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, "[::1]:9".parse().unwrap());
        let uri: Uri = "/y".parse().unwrap();
        assert_eq!(url_full(&uri, &headers, &sensitive), "http://[::1]:9/y");
    }

    #[test]
    fn status_rules() {
        assert!(status_error(404, false).is_none());
        assert_eq!(status_error(404, true).unwrap().as_str(), "404");
        assert_eq!(status_error(503, false).unwrap().as_str(), "503");
        assert!(status_error(200, true).is_none());
        assert_eq!(status_error(599, true).unwrap().as_str(), "599");
    }

    proptest::proptest! {
        /// Any `Host` or authority text: no panic, and the host is a piece of the input.
        #[test]
        fn host_port_of_anything(text in ".{0,64}|[0-9a-z.:\\[\\]]{0,24}") {
            let (host, port) = split_host_port(&text);
            proptest::prop_assert!(text.contains(host));
            if let Some(port) = port {
                proptest::prop_assert!(text.trim_ascii().ends_with(&port.to_string()));
            }
        }

        /// Any query: no panic; only values are replaced, never the names.
        #[test]
        fn redaction_of_anything(query in "([a-zA-Z%=&]{0,8}(sig|Signature)?=?[a-z0-9%]{0,8}&?){0,6}") {
            let sensitive: Vec<Cow<'static, str>> =
                DEFAULT_REDACTED_QUERY_PARAMS.iter().map(|p| Cow::Borrowed(*p)).collect();
            let redacted = redact_query(&query, &sensitive);
            proptest::prop_assert_eq!(redacted.split('&').count(), query.split('&').count());
        }
    }
}
