//! [`Propagators`]: an ordered set of our propagators, what `OTEL_PROPAGATORS` configures.

use std::fmt;

use opentelemetry::Context;

use crate::carrier::{Sink, Source};
use crate::{B3Propagator, BaggagePropagator, TraceContextPropagator};

/// One propagator, by its `OTEL_PROPAGATORS` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PropagatorKind {
    /// `tracecontext`: W3C Trace Context ([`TraceContextPropagator`]).
    TraceContext,
    /// `baggage`: W3C Baggage ([`BaggagePropagator`]).
    Baggage,
    /// `b3`: B3, injecting the single header ([`B3Propagator::single`]).
    B3,
    /// `b3multi`: B3, injecting the `X-B3-*` headers ([`B3Propagator::multi`]).
    B3Multi,
}

impl PropagatorKind {
    /// Every kind, in the order the OpenTelemetry spec lists them.
    pub const ALL: [PropagatorKind; 4] = [
        PropagatorKind::TraceContext,
        PropagatorKind::Baggage,
        PropagatorKind::B3,
        PropagatorKind::B3Multi,
    ];

    /// The name `OTEL_PROPAGATORS` uses.
    pub const fn name(self) -> &'static str {
        match self {
            PropagatorKind::TraceContext => "tracecontext",
            PropagatorKind::Baggage => "baggage",
            PropagatorKind::B3 => "b3",
            PropagatorKind::B3Multi => "b3multi",
        }
    }

    /// The kind of an `OTEL_PROPAGATORS` name, ignoring case and surrounding whitespace.
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|kind| kind.name().eq_ignore_ascii_case(name))
    }

    fn field_names(self) -> &'static [String] {
        match self {
            PropagatorKind::TraceContext => TraceContextPropagator::new().field_names(),
            PropagatorKind::Baggage => BaggagePropagator::new().field_names(),
            PropagatorKind::B3 => B3Propagator::single().field_names(),
            PropagatorKind::B3Multi => B3Propagator::multi().field_names(),
        }
    }
}

impl fmt::Display for PropagatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An ordered set of propagators, applied in order, each at most once.
///
/// Extraction runs each in turn on the context the previous one returned, so a later propagator's
/// valid span context replaces an earlier one's; injection writes each one's headers. Dispatch is a
/// `match`, not a `dyn` call, and the fields are computed once.
///
/// ```
/// use otel_propagation::{PropagatorKind, Propagators};
///
/// // What a user writes in code ...
/// let propagators = Propagators::builder().tracecontext().baggage().b3().build();
/// // ... is what `OTEL_PROPAGATORS=tracecontext,baggage,b3` configures.
/// let (from_env, warnings) = Propagators::parse("tracecontext, baggage, B3");
/// assert_eq!(propagators, from_env);
/// assert!(warnings.is_empty());
/// assert_eq!(
///     propagators.kinds(),
///     [PropagatorKind::TraceContext, PropagatorKind::Baggage, PropagatorKind::B3]
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Propagators {
    kinds: Vec<PropagatorKind>,
    pub(crate) fields: Vec<String>,
}

impl Default for Propagators {
    /// `tracecontext,baggage`: the OpenTelemetry default.
    fn default() -> Self {
        Propagators::builder().tracecontext().baggage().build()
    }
}

impl Propagators {
    /// Starts an empty set.
    pub fn builder() -> PropagatorsBuilder {
        PropagatorsBuilder::default()
    }

    /// No propagation at all (`OTEL_PROPAGATORS=none`).
    pub fn none() -> Self {
        Propagators::builder().build()
    }

    /// The propagators, in the order they run.
    pub fn kinds(&self) -> &[PropagatorKind] {
        &self.kinds
    }

    fn field_names(&self) -> &[String] {
        &self.fields
    }

    /// Whether this set propagates nothing.
    pub fn is_none(&self) -> bool {
        self.kinds.is_empty()
    }
}

/// Builds a [`Propagators`] set; each kind is kept once, where it was first added.
#[derive(Clone, Debug, Default)]
pub struct PropagatorsBuilder {
    kinds: Vec<PropagatorKind>,
}

impl PropagatorsBuilder {
    /// Adds a propagator.
    pub fn with(mut self, kind: PropagatorKind) -> Self {
        if !self.kinds.contains(&kind) {
            self.kinds.push(kind);
        }
        self
    }

    /// Adds W3C Trace Context.
    pub fn tracecontext(self) -> Self {
        self.with(PropagatorKind::TraceContext)
    }

    /// Adds W3C Baggage.
    pub fn baggage(self) -> Self {
        self.with(PropagatorKind::Baggage)
    }

    /// Adds B3, injecting the single `b3` header.
    pub fn b3(self) -> Self {
        self.with(PropagatorKind::B3)
    }

    /// Adds B3, injecting the `X-B3-*` headers.
    pub fn b3_multi(self) -> Self {
        self.with(PropagatorKind::B3Multi)
    }

    /// Finishes the set.
    pub fn build(self) -> Propagators {
        let mut fields: Vec<String> = Vec::new();
        for field in self.kinds.iter().flat_map(|kind| kind.field_names()) {
            if !fields.iter().any(|f| f == field) {
                fields.push(field.to_owned());
            }
        }
        Propagators {
            kinds: self.kinds,
            fields,
        }
    }
}

impl Propagators {
    /// Extracts from an `http::HeaderMap` directly: what [`TextMapPropagator::extract_with_context`](opentelemetry::propagation::TextMapPropagator::extract_with_context)
    /// does through [`crate::HeaderExtractor`], without collecting values into a `Vec` or checking
    /// UTF-8 first. The `otel-http` and `otel-grpc` layers use this.
    ///
    /// ```
    /// use opentelemetry::trace::TraceContextExt;
    /// use opentelemetry::Context;
    /// use otel_propagation::Propagators;
    ///
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
    /// let cx = Propagators::default().extract_headers(&Context::new(), &headers);
    /// assert!(cx.span().span_context().is_sampled());
    /// ```
    #[cfg(feature = "http")]
    pub fn extract_headers(&self, cx: &Context, headers: &http::HeaderMap) -> Context {
        self.extract_from(cx, headers)
    }

    /// Injects into an `http::HeaderMap` directly, replacing what is there.
    #[cfg(feature = "http")]
    pub fn inject_headers(&self, cx: &Context, headers: &mut http::HeaderMap) {
        self.inject_into(cx, headers);
    }

    fn extract_from(&self, cx: &Context, source: &impl Source) -> Context {
        let mut kinds = self.kinds.iter();
        let Some(first) = kinds.next() else {
            return cx.clone();
        };
        let mut cx = extract_one(*first, cx, source);
        for kind in kinds {
            cx = extract_one(*kind, &cx, source);
        }
        cx
    }

    fn inject_into(&self, cx: &Context, sink: &mut impl Sink) {
        for kind in &self.kinds {
            match kind {
                PropagatorKind::TraceContext => TraceContextPropagator::new().inject_into(cx, sink),
                PropagatorKind::Baggage => BaggagePropagator::new().inject_into(cx, sink),
                PropagatorKind::B3 => B3Propagator::single().inject_into(cx, sink),
                PropagatorKind::B3Multi => B3Propagator::multi().inject_into(cx, sink),
            }
        }
    }
}

fn extract_one(kind: PropagatorKind, cx: &Context, source: &impl Source) -> Context {
    match kind {
        PropagatorKind::TraceContext => TraceContextPropagator::new().extract_from(cx, source),
        PropagatorKind::Baggage => BaggagePropagator::new().extract_from(cx, source),
        // Both B3 kinds read both encodings.
        PropagatorKind::B3 | PropagatorKind::B3Multi => {
            B3Propagator::single().extract_from(cx, source)
        }
    }
}

crate::carrier::impl_text_map_propagator!(Propagators);
