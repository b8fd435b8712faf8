//! What the filter, the span-name formatter and the hooks see of a request and its response,
//! and the types of those callbacks.

use std::sync::Arc;

use http::{HeaderMap, Method, Uri, Version};
use opentelemetry::trace::SpanRef;

/// What the filter, the span-name formatter and the hooks see of a request.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RequestHead<'a> {
    /// The method.
    pub method: &'a Method,
    /// The URI as received (servers) or as sent (clients).
    pub uri: &'a Uri,
    /// The protocol version.
    pub version: Version,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The extensions (axum's `MatchedPath` and `ConnectInfo` live here).
    pub extensions: &'a http::Extensions,
}

impl<'a> RequestHead<'a> {
    /// The head of `req`.
    pub fn of<B>(req: &'a http::Request<B>) -> Self {
        RequestHead {
            method: req.method(),
            uri: req.uri(),
            version: req.version(),
            headers: req.headers(),
            extensions: req.extensions(),
        }
    }
}

/// What the response hook sees of a response.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ResponseHead<'a> {
    /// The status.
    pub status: http::StatusCode,
    /// The protocol version.
    pub version: Version,
    /// The headers.
    pub headers: &'a HeaderMap,
}

impl<'a> ResponseHead<'a> {
    /// A response head.
    pub fn new(status: http::StatusCode, version: Version, headers: &'a HeaderMap) -> Self {
        ResponseHead {
            status,
            version,
            headers,
        }
    }
}

/// Decides whether a request is instrumented (`true`) or passed through untouched.
pub type Filter = Arc<dyn Fn(&RequestHead<'_>) -> bool + Send + Sync>;
/// Names a span from the request and, on servers, its route template.
pub type SpanNameFormatter = Arc<dyn Fn(&RequestHead<'_>, Option<&str>) -> String + Send + Sync>;
/// Adds to a span when the request starts.
pub type RequestHook = Arc<dyn Fn(&SpanRef<'_>, &RequestHead<'_>) + Send + Sync>;
/// Adds to a span when the response head arrives.
pub type ResponseHook = Arc<dyn Fn(&SpanRef<'_>, &ResponseHead<'_>) + Send + Sync>;
