//! [`Propagation`]: which propagator reads and writes a carrier.

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use otel_propagation::Propagators;

/// The propagator an instrumentation reads and writes its carrier with.
#[derive(Clone, Debug, Default)]
pub enum Propagation {
    /// `opentelemetry::global`'s text map propagator (the default); when it is still the set
    /// [`Propagators::install_global`] installed, that set is called directly.
    #[default]
    Global,
    /// This set, whatever the global propagator is.
    Propagators(Propagators),
}

impl Propagation {
    /// The global text map propagator.
    pub fn global() -> Self {
        Propagation::Global
    }

    /// Extracts the context `extractor` carries, on top of `parent`.
    pub fn extract(&self, parent: &Context, extractor: &dyn Extractor) -> Context {
        match self {
            Propagation::Propagators(p) => p.extract_with_context(parent, extractor),
            Propagation::Global => Propagators::with_global(|global| match global {
                Ok(ours) => ours.extract_with_context(parent, extractor),
                Err(theirs) => theirs.extract_with_context(parent, extractor),
            }),
        }
    }

    /// Injects `cx` through `injector`.
    pub fn inject(&self, cx: &Context, injector: &mut dyn Injector) {
        match self {
            Propagation::Propagators(p) => p.inject_context(cx, injector),
            Propagation::Global => Propagators::with_global(|global| match global {
                Ok(ours) => ours.inject_context(cx, injector),
                Err(theirs) => theirs.inject_context(cx, injector),
            }),
        }
    }

    /// The header names this propagation writes (to remove stale ones from a carrier before
    /// injecting, say).
    pub fn fields(&self) -> Vec<String> {
        match self {
            Propagation::Propagators(p) => p.fields().map(str::to_owned).collect(),
            Propagation::Global => opentelemetry::global::get_text_map_propagator(|p| {
                p.fields().map(str::to_owned).collect()
            }),
        }
    }

    /// [`Propagation::extract`] straight over an `http::HeaderMap` (no `Extractor` in between
    /// when the propagators are ours).
    #[cfg(feature = "http")]
    pub fn extract_headers(&self, parent: &Context, headers: &http::HeaderMap) -> Context {
        match self {
            Propagation::Propagators(p) => p.extract_headers(parent, headers),
            Propagation::Global => Propagators::with_global(|global| match global {
                Ok(ours) => ours.extract_headers(parent, headers),
                Err(theirs) => {
                    theirs.extract_with_context(parent, &otel_propagation::HeaderExtractor(headers))
                }
            }),
        }
    }

    /// [`Propagation::inject`] straight into an `http::HeaderMap`.
    #[cfg(feature = "http")]
    pub fn inject_headers(&self, cx: &Context, headers: &mut http::HeaderMap) {
        match self {
            Propagation::Propagators(p) => p.inject_headers(cx, headers),
            Propagation::Global => Propagators::with_global(|global| match global {
                Ok(ours) => ours.inject_headers(cx, headers),
                Err(theirs) => {
                    theirs.inject_context(cx, &mut otel_propagation::HeaderInjector(headers))
                }
            }),
        }
    }
}
