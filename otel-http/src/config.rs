//! [`Options`]: the resolved configuration every request of a layer shares (providers,
//! propagation, filter, names, hooks, switches), and what instrumentation built on the layers
//! reads of it.

use std::borrow::Cow;
use std::sync::Arc;

use http::{HeaderMap, HeaderName};
use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::trace::{Link, SpanRef, TraceContextExt};
use opentelemetry::{Context, InstrumentationScope};
use otel_core::{Propagation, Providers};

use crate::head::{
    Filter, RequestHead, RequestHook, ResponseHead, ResponseHook, SpanNameFormatter,
};
use crate::semconv::{DEFAULT_REDACTED_QUERY_PARAMS, KnownMethods};

/// Which header a server writes its span context into, on the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponsePropagation {
    /// `traceresponse: 00-{trace-id}-{span-id}-{flags}` (W3C Trace Context Level 3 draft).
    TraceResponse,
    /// `traceparent`, as some browser tooling reads it.
    TraceParent,
}

/// Everything a layer is configured with, shared by every clone of its service. Instrumentation
/// crates built on [`OtelLayer`](crate::OtelLayer) read it through the methods below.
pub struct Options {
    /// The tracer and meter: the ones handed in, else the global ones, resolved on first use.
    pub(crate) providers: Providers,
    pub(crate) traces: bool,
    pub(crate) metrics: bool,
    pub(crate) propagation: Propagation,
    pub(crate) filter: Option<Filter>,
    pub(crate) span_name: Option<SpanNameFormatter>,
    pub(crate) request_hook: Option<RequestHook>,
    pub(crate) response_hook: Option<ResponseHook>,
    pub(crate) public_endpoint: Option<Filter>,
    pub(crate) response_propagation: Option<ResponsePropagation>,
    pub(crate) redacted_query_params: Vec<Cow<'static, str>>,
    pub(crate) request_headers: Vec<HeaderName>,
    pub(crate) response_headers: Vec<HeaderName>,
    pub(crate) trust_forwarded: bool,
    pub(crate) server_address: Option<(String, Option<u16>)>,
    pub(crate) known_methods: KnownMethods,
    pub(crate) https: bool,
    /// Record the conventions' Opt-In attributes as well (`client.port`, body sizes).
    pub(crate) opt_in_attributes: bool,
    /// Servers: put the request's `Context` in its extensions too.
    pub(crate) context_in_extensions: bool,
    pub(crate) semconv_stability_opt_in: Option<String>,
}

impl Clone for Options {
    /// A copy to change (the layer's builder methods copy on write).
    fn clone(&self) -> Self {
        Options {
            providers: self.providers.clone(),
            traces: self.traces,
            metrics: self.metrics,
            propagation: self.propagation.clone(),
            filter: self.filter.clone(),
            span_name: self.span_name.clone(),
            request_hook: self.request_hook.clone(),
            response_hook: self.response_hook.clone(),
            public_endpoint: self.public_endpoint.clone(),
            response_propagation: self.response_propagation,
            redacted_query_params: self.redacted_query_params.clone(),
            request_headers: self.request_headers.clone(),
            response_headers: self.response_headers.clone(),
            trust_forwarded: self.trust_forwarded,
            server_address: self.server_address.clone(),
            known_methods: self.known_methods.clone(),
            https: self.https,
            opt_in_attributes: self.opt_in_attributes,
            context_in_extensions: self.context_in_extensions,
            semconv_stability_opt_in: self.semconv_stability_opt_in.clone(),
        }
    }
}

pub(crate) fn scope() -> InstrumentationScope {
    otel_core::scope(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
}

impl Options {
    pub(crate) fn new(scope: InstrumentationScope) -> Self {
        Options {
            providers: Providers::new(scope),
            traces: true,
            metrics: true,
            propagation: Propagation::Global,
            filter: None,
            span_name: None,
            request_hook: None,
            response_hook: None,
            public_endpoint: None,
            response_propagation: None,
            redacted_query_params: DEFAULT_REDACTED_QUERY_PARAMS
                .iter()
                .map(|p| Cow::Borrowed(*p))
                .collect(),
            request_headers: Vec::new(),
            response_headers: Vec::new(),
            trust_forwarded: false,
            server_address: None,
            known_methods: KnownMethods::from_env(),
            https: false,
            opt_in_attributes: false,
            context_in_extensions: false,
            semconv_stability_opt_in: None,
        }
    }

    /// The tracer: from the configured provider, else the global one, under the kind's scope.
    pub fn tracer(&self) -> &BoxedTracer {
        self.providers.tracer()
    }

    /// A meter from the configured provider, else the global one, under the kind's scope. Create
    /// instruments once and keep them.
    pub fn meter(&self) -> Meter {
        self.providers.meter()
    }

    /// The global meter provider, when [`Options::meter`] takes its meters from it.
    pub(crate) fn global_meter_provider(&self) -> Option<Arc<dyn MeterProvider + Send + Sync>> {
        self.providers
            .uses_global_meter_provider()
            .then(opentelemetry::global::meter_provider)
    }

    /// The parent of a server span: the caller's context extracted from `headers` on top of the
    /// current one, or, for a public endpoint, the current context and a link to the caller's span.
    pub fn incoming_context(&self, head: &RequestHead<'_>) -> (Context, Option<Link>) {
        let current = Context::current();
        let incoming = self.extract(&current, head.headers);
        if !self.is_public_endpoint(head) {
            return (incoming, None);
        }
        // Untrusted: a new trace that links to the caller's span.
        let remote = incoming.span().span_context().clone();
        (
            current,
            remote.is_valid().then(|| Link::with_context(remote)),
        )
    }

    /// The layer's `OTEL_SEMCONV_STABILITY_OPT_IN` value, when set on the layer (it then
    /// replaces the environment's).
    pub fn semconv_stability_opt_in(&self) -> Option<&str> {
        self.semconv_stability_opt_in.as_deref()
    }

    /// Whether spans are recorded.
    pub fn traces_enabled(&self) -> bool {
        self.traces
    }

    /// Whether metrics are recorded.
    pub fn metrics_enabled(&self) -> bool {
        self.metrics
    }

    /// Whether a server puts the request's `Context` in the request's extensions.
    pub fn context_in_extensions(&self) -> bool {
        self.context_in_extensions
    }

    /// Whether the filter lets this request be instrumented (and anything is recorded at all).
    pub fn instruments_request(&self, head: &RequestHead<'_>) -> bool {
        (self.traces || self.metrics) && self.filter.as_ref().is_none_or(|f| f(head))
    }

    /// Extracts the caller's context from `headers`, on top of `parent`.
    pub fn extract(&self, parent: &Context, headers: &HeaderMap) -> Context {
        self.propagation.extract_headers(parent, headers)
    }

    /// Injects `cx` into `headers`.
    pub fn inject(&self, cx: &Context, headers: &mut HeaderMap) {
        self.propagation.inject_headers(cx, headers)
    }

    /// Whether the caller's context is untrusted for this request (public-endpoint mode).
    pub fn is_public_endpoint(&self, head: &RequestHead<'_>) -> bool {
        self.public_endpoint.as_ref().is_some_and(|f| f(head))
    }

    /// The user's span name for this request, when a formatter is set.
    pub fn custom_span_name(&self, head: &RequestHead<'_>, route: Option<&str>) -> Option<String> {
        self.span_name.as_ref().map(|f| f(head, route))
    }

    /// Runs the request hook, if any.
    pub fn request_hook(&self, span: &SpanRef<'_>, head: &RequestHead<'_>) {
        if let Some(hook) = &self.request_hook {
            hook(span, head);
        }
    }

    /// Runs the response hook, if any.
    pub fn response_hook(&self, span: &SpanRef<'_>, head: &ResponseHead<'_>) {
        if let Some(hook) = &self.response_hook {
            hook(span, head);
        }
    }

    /// The server a client talks to, from its request (URI authority, else `Host`), else as
    /// configured with [`OtelLayer::server_address`](crate::OtelLayer::server_address).
    pub fn client_server_address<'a>(
        &'a self,
        uri: &'a http::Uri,
        headers: &'a HeaderMap,
    ) -> Option<(&'a str, Option<u16>)> {
        crate::semconv::server_address(uri, headers).or_else(|| {
            self.server_address
                .as_ref()
                .map(|(host, port)| (host.as_str(), *port))
        })
    }

    /// The request headers to record as attributes.
    pub fn captured_request_headers(&self) -> &[HeaderName] {
        &self.request_headers
    }

    /// The response headers to record as attributes.
    pub fn captured_response_headers(&self) -> &[HeaderName] {
        &self.response_headers
    }
}
