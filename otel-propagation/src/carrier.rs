//! What the propagators read from and write to, in one internal shape.
//!
//! Each propagator's logic is written once, over [`Source`] and [`Sink`]. The `TextMapPropagator`
//! impls run it over any `dyn Extractor` / `dyn Injector`; [`crate::Propagators::extract_headers`]
//! runs it straight over an `http::HeaderMap`, where it needs no `Vec` of values, no UTF-8 check
//! (the parsers accept only ASCII) and no parsing of header names.

use opentelemetry::propagation::{Extractor, Injector};

use crate::{b3, baggage, trace_context};

/// A header one of our propagators reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    TraceParent,
    TraceState,
    Baggage,
    B3,
    B3TraceId,
    B3SpanId,
    B3ParentSpanId,
    B3Sampled,
    B3Flags,
}

impl Field {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Field::TraceParent => trace_context::TRACEPARENT,
            Field::TraceState => trace_context::TRACESTATE,
            Field::Baggage => baggage::BAGGAGE,
            Field::B3 => b3::B3,
            Field::B3TraceId => b3::X_B3_TRACE_ID,
            Field::B3SpanId => b3::X_B3_SPAN_ID,
            Field::B3ParentSpanId => b3::X_B3_PARENT_SPAN_ID,
            Field::B3Sampled => b3::X_B3_SAMPLED,
            Field::B3Flags => b3::X_B3_FLAGS,
        }
    }

    #[cfg(feature = "http")]
    pub(crate) fn from_str(key: &str) -> Option<Field> {
        Some(match key {
            trace_context::TRACEPARENT => Field::TraceParent,
            trace_context::TRACESTATE => Field::TraceState,
            baggage::BAGGAGE => Field::Baggage,
            b3::B3 => Field::B3,
            b3::X_B3_TRACE_ID => Field::B3TraceId,
            b3::X_B3_SPAN_ID => Field::B3SpanId,
            b3::X_B3_PARENT_SPAN_ID => Field::B3ParentSpanId,
            b3::X_B3_SAMPLED => Field::B3Sampled,
            b3::X_B3_FLAGS => Field::B3Flags,
            _ => return None,
        })
    }

    /// The header name, built at compile time: a lookup hashes it as it is, where a `&str` key
    /// is parsed and lowercased on every call.
    #[cfg(feature = "http")]
    pub(crate) fn header_name(self) -> &'static http::HeaderName {
        use http::HeaderName;
        static TRACEPARENT: HeaderName = HeaderName::from_static(trace_context::TRACEPARENT);
        static TRACESTATE: HeaderName = HeaderName::from_static(trace_context::TRACESTATE);
        static BAGGAGE: HeaderName = HeaderName::from_static(baggage::BAGGAGE);
        static B3: HeaderName = HeaderName::from_static(b3::B3);
        static B3_TRACE_ID: HeaderName = HeaderName::from_static(b3::X_B3_TRACE_ID);
        static B3_SPAN_ID: HeaderName = HeaderName::from_static(b3::X_B3_SPAN_ID);
        static B3_PARENT_SPAN_ID: HeaderName = HeaderName::from_static(b3::X_B3_PARENT_SPAN_ID);
        static B3_SAMPLED: HeaderName = HeaderName::from_static(b3::X_B3_SAMPLED);
        static B3_FLAGS: HeaderName = HeaderName::from_static(b3::X_B3_FLAGS);
        match self {
            Field::TraceParent => &TRACEPARENT,
            Field::TraceState => &TRACESTATE,
            Field::Baggage => &BAGGAGE,
            Field::B3 => &B3,
            Field::B3TraceId => &B3_TRACE_ID,
            Field::B3SpanId => &B3_SPAN_ID,
            Field::B3ParentSpanId => &B3_PARENT_SPAN_ID,
            Field::B3Sampled => &B3_SAMPLED,
            Field::B3Flags => &B3_FLAGS,
        }
    }
}

/// A header that must come once came more than once.
#[derive(Debug)]
pub(crate) struct Repeated;

/// Where propagators read headers from. Values are bytes: every parser checks its own grammar,
/// which admits only ASCII.
pub(crate) trait Source {
    /// The first value of `field`.
    fn first(&self, field: Field) -> Option<&[u8]>;
    /// The value of a header that must not repeat.
    fn only(&self, field: Field) -> Result<Option<&[u8]>, Repeated>;
    /// Every value of `field`, in order.
    fn all(&self, field: Field) -> impl Iterator<Item = &[u8]>;
}

/// Where propagators write headers to.
pub(crate) trait Sink {
    /// Sets `field`, replacing what was there. `value` is ASCII.
    fn set(&mut self, field: Field, value: String);

    /// [`Sink::set`] from a buffer our encoder filled: a `HeaderMap` copies it into its value
    /// directly, where a `String` would be checked for UTF-8 first.
    fn set_ascii(&mut self, field: Field, value: &[u8]) {
        // Our encoders write only ASCII, so this never sets the empty default.
        self.set(field, String::from_utf8(value.to_vec()).unwrap_or_default());
    }
}

/// Implements `TextMapPropagator` for a type with inherent `extract_from`, `inject_into` and
/// `field_names`: the trait is the same thin adapter onto the generic core for every propagator.
macro_rules! impl_text_map_propagator {
    ($propagator:ty) => {
        impl opentelemetry::propagation::TextMapPropagator for $propagator {
            fn inject_context(
                &self,
                cx: &opentelemetry::Context,
                injector: &mut dyn opentelemetry::propagation::Injector,
            ) {
                self.inject_into(cx, &mut $crate::carrier::InjectorSink(injector));
            }

            fn extract_with_context(
                &self,
                cx: &opentelemetry::Context,
                extractor: &dyn opentelemetry::propagation::Extractor,
            ) -> opentelemetry::Context {
                self.extract_from(cx, &$crate::carrier::ExtractorSource(extractor))
            }

            fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
                opentelemetry::propagation::text_map_propagator::FieldIter::new(self.field_names())
            }
        }
    };
}
pub(crate) use impl_text_map_propagator;

/// Any OpenTelemetry [`Extractor`].
pub(crate) struct ExtractorSource<'a>(pub(crate) &'a dyn Extractor);

impl Source for ExtractorSource<'_> {
    fn first(&self, field: Field) -> Option<&[u8]> {
        self.0.get(field.as_str()).map(str::as_bytes)
    }

    fn only(&self, field: Field) -> Result<Option<&[u8]>, Repeated> {
        match self.0.get_all(field.as_str()).as_deref() {
            None | Some([]) => Ok(None),
            Some([only]) => Ok(Some(only.as_bytes())),
            Some(_) => Err(Repeated),
        }
    }

    fn all(&self, field: Field) -> impl Iterator<Item = &[u8]> {
        self.0
            .get_all(field.as_str())
            .into_iter()
            .flatten()
            .map(str::as_bytes)
    }
}

/// Any OpenTelemetry [`Injector`].
pub(crate) struct InjectorSink<'a>(pub(crate) &'a mut dyn Injector);

impl Sink for InjectorSink<'_> {
    fn set(&mut self, field: Field, value: String) {
        self.0.set(field.as_str(), value);
    }
}

#[cfg(feature = "http")]
mod header_map {
    use http::{HeaderMap, HeaderValue};

    use super::{Field, Repeated, Sink, Source};

    impl Source for HeaderMap {
        fn first(&self, field: Field) -> Option<&[u8]> {
            self.get(field.header_name()).map(HeaderValue::as_bytes)
        }

        fn only(&self, field: Field) -> Result<Option<&[u8]>, Repeated> {
            let mut values = self.get_all(field.header_name()).iter();
            match (values.next(), values.next()) {
                (first, None) => Ok(first.map(HeaderValue::as_bytes)),
                (Some(_), Some(_)) | (None, Some(_)) => Err(Repeated),
            }
        }

        fn all(&self, field: Field) -> impl Iterator<Item = &[u8]> {
            self.get_all(field.header_name())
                .iter()
                .map(HeaderValue::as_bytes)
        }
    }

    impl Sink for HeaderMap {
        fn set(&mut self, field: Field, value: String) {
            // Our values are ASCII without control characters, so this always succeeds.
            if let Ok(value) = HeaderValue::try_from(value) {
                self.insert(field.header_name().clone(), value);
            }
        }

        fn set_ascii(&mut self, field: Field, value: &[u8]) {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                self.insert(field.header_name().clone(), value);
            }
        }
    }
}
