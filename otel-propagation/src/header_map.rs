//! Carriers over `http::HeaderMap`, for HTTP requests and responses and gRPC metadata.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};

use crate::carrier::Field;

/// Reads propagation headers from a [`HeaderMap`].
///
/// Unlike `opentelemetry_http::HeaderExtractor`, [`Extractor::get_all`] returns every value of a
/// repeated header, in order, so a propagator can combine them (`tracestate`, `baggage`) or reject
/// them (`traceparent`). A value that is not UTF-8 is returned as `"\u{FFFD}"`, which no propagator
/// accepts: it is present and invalid, as on the direct `HeaderMap` path.
///
/// ```
/// use http::HeaderMap;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use otel_propagation::{HeaderExtractor, TraceContextPropagator};
///
/// let mut headers = HeaderMap::new();
/// headers.append("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// let cx = TraceContextPropagator::new().extract(&HeaderExtractor(&headers));
/// assert!(cx.span().span_context().is_valid());
///
/// headers.append("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// let cx = TraceContextPropagator::new().extract(&HeaderExtractor(&headers));
/// assert!(!cx.span().span_context().is_valid(), "a repeated traceparent is invalid");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

/// Stands in for a value that is not UTF-8.
const NOT_UTF8: &str = "\u{FFFD}";

fn as_str(value: &HeaderValue) -> &str {
    std::str::from_utf8(value.as_bytes()).unwrap_or(NOT_UTF8)
}

impl HeaderExtractor<'_> {
    fn values(&self, key: &str) -> http::header::GetAll<'_, HeaderValue> {
        // A known name is hashed as it is; any other is parsed (and lowercased) first.
        match Field::from_str(key) {
            Some(field) => self.0.get_all(field.header_name()),
            None => self.0.get_all(key),
        }
    }
}

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.values(key).iter().next().map(as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let mut values = self.values(key).iter();
        // Most headers come once: one exact allocation, no iterator adapters.
        let mut all = Vec::with_capacity(1);
        all.push(as_str(values.next()?));
        all.extend(values.map(as_str));
        Some(all)
    }
}

/// Writes propagation headers into a [`HeaderMap`], replacing any value already there.
///
/// The names our propagators use are built without parsing; a name or value that is not a valid
/// HTTP header is skipped.
///
/// ```
/// use http::HeaderMap;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
/// use opentelemetry::Context;
/// use otel_propagation::{HeaderInjector, TraceContextPropagator};
///
/// let span_context = SpanContext::new(
///     TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
///     SpanId::from(0x00f067aa0ba902b7),
///     TraceFlags::SAMPLED,
///     false,
///     TraceState::NONE,
/// );
/// let cx = Context::new().with_remote_span_context(span_context);
/// let mut headers = HeaderMap::new();
/// TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut headers));
/// assert_eq!(headers["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// ```
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let name = match Field::from_str(key) {
            Some(field) => field.header_name().clone(),
            None => match HeaderName::from_bytes(key.as_bytes()) {
                Ok(name) => name,
                Err(_) => return,
            },
        };
        if let Ok(value) = HeaderValue::try_from(value) {
            self.0.insert(name, value);
        }
    }

    fn reserve(&mut self, additional: usize) {
        self.0.reserve(additional);
    }
}
