//! [`OtelLayer`]: the one options set shared by the server and the client layer.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use http::{HeaderMap, HeaderName, Method, Uri, Version};
use opentelemetry::global::{BoxedTracer, ObjectSafeTracerProvider};
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::trace::{Link, SpanRef, TraceContextExt};
use opentelemetry::{Context, InstrumentationScope};
use otel_core::{Propagation, Providers};
use otel_propagation::Propagators;

use crate::exchange::Exchange;
use crate::inflight::HttpExchange;
use crate::metrics::Instruments;
use crate::semconv::{DEFAULT_REDACTED_QUERY_PARAMS, KnownMethods};
use crate::service::OtelService;

/// Marks an [`OtelLayer`] for servers: it extracts the caller's context and starts SERVER spans.
#[derive(Clone, Copy, Debug)]
pub enum Server {}

/// Marks an [`OtelLayer`] for clients: it starts CLIENT spans and injects their context.
#[derive(Clone, Copy, Debug)]
pub enum Client {}

/// Which side a layer instruments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

/// The kind parameter of [`OtelLayer`]: how an exchange starts, and under which instrumentation
/// scope it records. [`Server`] and [`Client`] are HTTP's; `otel-grpc` adds its own.
pub trait Kind: Send + Sync + 'static {
    /// One request in flight of this kind.
    type Exchange: Exchange;

    /// The instrumentation scope of this kind's spans and metrics.
    fn scope() -> InstrumentationScope;

    /// Starts the exchange for `req` (which it may change: inject headers, add extensions).
    fn start<B>(options: &Arc<Options>, req: &mut http::Request<B>) -> Self::Exchange;
}

impl Kind for Server {
    type Exchange = HttpExchange;

    fn scope() -> InstrumentationScope {
        scope()
    }

    fn start<B>(options: &Arc<Options>, req: &mut http::Request<B>) -> HttpExchange {
        let exchange = HttpExchange::server(options, req);
        // Handlers that are not polled under the context can still find it.
        req.extensions_mut().insert(exchange.context().clone());
        exchange
    }
}

impl Kind for Client {
    type Exchange = HttpExchange;

    fn scope() -> InstrumentationScope {
        scope()
    }

    fn start<B>(options: &Arc<Options>, req: &mut http::Request<B>) -> HttpExchange {
        HttpExchange::client(options, req)
    }
}

impl<S, K: Kind> tower_layer::Layer<S> for OtelLayer<K> {
    type Service = OtelService<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        OtelService::new(inner, self.options.clone())
    }
}

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
/// crates built on [`OtelLayer`] read it through the methods below.
pub struct Options {
    /// The tracer and meter: the ones handed in, else the global ones, resolved on first use.
    providers: Providers,
    kind_state: OnceLock<Box<dyn Any + Send + Sync>>,
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
}

impl Clone for Options {
    /// A copy to change: the resolved tracer and instruments are not carried over.
    fn clone(&self) -> Self {
        Options {
            providers: self.providers.clone(),
            kind_state: OnceLock::new(),
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
        }
    }
}

fn scope() -> InstrumentationScope {
    otel_core::scope(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
}

impl Options {
    fn new(scope: InstrumentationScope) -> Self {
        Options {
            providers: Providers::new(scope),
            kind_state: OnceLock::new(),
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

    /// State the layer's kind creates once, on first use (its metric instruments, say): `init`
    /// runs once per layer; later calls return what it made. `None` if a different type was
    /// asked for before.
    pub fn kind_state<T: Any + Send + Sync>(&self, init: impl FnOnce(&Options) -> T) -> Option<&T> {
        self.kind_state
            .get_or_init(|| Box::new(init(self)))
            .downcast_ref()
    }

    pub(crate) fn instruments(&self, side: Side) -> Option<&Instruments> {
        // HTTP layers keep nothing else there.
        self.kind_state(|o| Instruments::new(o, side))
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

    /// Whether spans are recorded.
    pub fn traces_enabled(&self) -> bool {
        self.traces
    }

    /// Whether metrics are recorded.
    pub fn metrics_enabled(&self) -> bool {
        self.metrics
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
    /// configured with [`OtelLayer::server_address`].
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

/// A tower layer that instruments HTTP services with OpenTelemetry traces and metrics.
///
/// [`OtelLayer::server`] goes on a server (an axum `Router`, a hyper service);
/// [`OtelLayer::client`] goes around an HTTP client service. Both share every option below.
///
/// ```
/// use axum::{routing::get, Router};
/// use otel_http::OtelLayer;
///
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "hello" }))
///     .layer(OtelLayer::server());
/// ```
pub struct OtelLayer<K> {
    pub(crate) options: Arc<Options>,
    kind: PhantomData<fn() -> K>,
}

impl<K> Clone for OtelLayer<K> {
    fn clone(&self) -> Self {
        OtelLayer {
            options: self.options.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> fmt::Debug for OtelLayer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelLayer")
            .field("traces", &self.options.traces)
            .field("metrics", &self.options.metrics)
            .finish_non_exhaustive()
    }
}

impl OtelLayer<Server> {
    /// A layer for HTTP servers: SERVER spans, `http.server.*` metrics.
    pub fn server() -> Self {
        Self::new()
    }
}

impl OtelLayer<Client> {
    /// A layer for HTTP clients: CLIENT spans, context injected, `http.client.*` metrics.
    ///
    /// A CLIENT span's parent is the [`Context`] in the request's extensions when there is one,
    /// else [`Context::current`]. A task started with `tokio::spawn` does not inherit the current
    /// context: run it with `opentelemetry::context::FutureExt::with_current_context`, or put the
    /// context in the request (`req.extensions_mut().insert(cx)`), and its calls stay in the trace.
    pub fn client() -> Self {
        Self::new()
    }
}

impl<K: Kind> Default for OtelLayer<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Kind> OtelLayer<K> {
    /// A layer of kind `K` with the default options.
    pub fn new() -> Self {
        OtelLayer {
            options: Arc::new(Options::new(K::scope())),
            kind: PhantomData,
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Options)) -> Self {
        change(Arc::make_mut(&mut self.options));
        self
    }

    /// Takes spans from this provider instead of the global one.
    pub fn tracer_provider<P>(self, provider: P) -> Self
    where
        P: ObjectSafeTracerProvider + Send + Sync + 'static,
    {
        self.with(|o| o.providers.set_tracer_provider(provider))
    }

    /// Records metrics with this provider instead of the global one.
    ///
    /// On the global provider, a server's `http.server.active_requests` is counted in atomics
    /// and reported at collection (cheaper per request); on a provider given here, with an
    /// up-down counter.
    pub fn meter_provider<P>(self, provider: P) -> Self
    where
        P: MeterProvider + Send + Sync + 'static,
    {
        self.with(|o| o.providers.set_meter_provider(provider))
    }

    /// Reads and writes headers with these propagators, straight over the `HeaderMap`, instead
    /// of the global text map propagator. `Propagators::from_env()` is what `OTEL_PROPAGATORS` says.
    pub fn propagators(self, propagators: Propagators) -> Self {
        self.with(|o| o.propagation = Propagation::Propagators(propagators))
    }

    /// Switches spans on or off (on by default). Context is propagated either way.
    pub fn traces(self, enabled: bool) -> Self {
        self.with(|o| o.traces = enabled)
    }

    /// Switches metrics on or off (on by default).
    pub fn metrics(self, enabled: bool) -> Self {
        self.with(|o| o.metrics = enabled)
    }

    /// Instruments only the requests for which `filter` returns `true`; see [`crate::filters`].
    pub fn filter(self, filter: impl Fn(&RequestHead<'_>) -> bool + Send + Sync + 'static) -> Self {
        self.with(|o| o.filter = Some(Arc::new(filter)))
    }

    /// Names spans with `formatter(request, route)` instead of `{method} {route}` / `{method}`.
    pub fn span_name(
        self,
        formatter: impl Fn(&RequestHead<'_>, Option<&str>) -> String + Send + Sync + 'static,
    ) -> Self {
        self.with(|o| o.span_name = Some(Arc::new(formatter)))
    }

    /// Calls `hook` with each recorded span as its request starts, to add attributes.
    pub fn on_request(
        self,
        hook: impl Fn(&SpanRef<'_>, &RequestHead<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.with(|o| o.request_hook = Some(Arc::new(hook)))
    }

    /// Calls `hook` with each recorded span when its response head arrives.
    pub fn on_response(
        self,
        hook: impl Fn(&SpanRef<'_>, &ResponseHead<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.with(|o| o.response_hook = Some(Arc::new(hook)))
    }

    /// Treats every incoming context as untrusted (servers): the span starts a new trace and
    /// links to the caller's span instead of becoming its child.
    pub fn public_endpoint(self, public: bool) -> Self {
        self.with(|o| {
            o.public_endpoint = public.then(|| Arc::new(|_: &RequestHead<'_>| true) as Filter)
        })
    }

    /// [`OtelLayer::public_endpoint`] decided per request.
    pub fn public_endpoint_fn(
        self,
        public: impl Fn(&RequestHead<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.with(|o| o.public_endpoint = Some(Arc::new(public)))
    }

    /// Writes the server span's context into each response (servers).
    pub fn propagate_to_response(self, header: ResponsePropagation) -> Self {
        self.with(|o| o.response_propagation = Some(header))
    }

    /// Replaces the query parameters whose values are redacted in `url.query` / `url.full`
    /// (default: [`crate::semconv::DEFAULT_REDACTED_QUERY_PARAMS`]).
    pub fn redact_query_params<I, S>(self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Cow<'static, str>>,
    {
        let names = names.into_iter().map(Into::into).collect();
        self.with(|o| o.redacted_query_params = names)
    }

    /// Records these request headers as `http.request.header.<name>` (opt-in: they may carry
    /// personal data).
    pub fn capture_request_headers(self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        let names = names.into_iter().collect();
        self.with(|o| o.request_headers = names)
    }

    /// Records these response headers as `http.response.header.<name>`.
    pub fn capture_response_headers(self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        let names = names.into_iter().collect();
        self.with(|o| o.response_headers = names)
    }

    /// The server a client layer talks to, for `server.address` / `server.port` when requests do
    /// not name it: tonic's generated clients send path-only URIs, and the channel adds its origin
    /// below this layer (`FooClient::with_origin(channel, uri)` is the other way to name it).
    pub fn server_address(self, host: impl Into<String>, port: Option<u16>) -> Self {
        let address = (host.into(), port);
        self.with(|o| o.server_address = Some(address))
    }

    /// Replaces the methods `http.request.method` records as they are (default: the RFC 9110
    /// methods, `PATCH` and `QUERY`, or what `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` lists);
    /// any other is `_OTHER` in spans, metrics and active-request counts, with the method in
    /// `http.request.method_original` on spans. Case-sensitive.
    pub fn known_methods<S: AsRef<str>>(self, methods: impl IntoIterator<Item = S>) -> Self {
        let known = KnownMethods::new(methods);
        self.with(|o| o.known_methods = known)
    }

    /// Tells a server layer that its connections are TLS: `url.scheme` is `https` unless the
    /// request says otherwise (an HTTP/2 `:scheme`, an absolute-form target, or, when trusted,
    /// `Forwarded: proto=` / `X-Forwarded-Proto`). HTTP/1.1 requests do not carry their scheme,
    /// so a server behind a TLS acceptor says so here.
    pub fn https(self, https: bool) -> Self {
        self.with(|o| o.https = https)
    }

    /// Reads `server.address` and `client.address` from `Forwarded` / `X-Forwarded-*` (servers).
    /// Off by default: only a proxy you run may set them.
    pub fn trust_forwarded_headers(self, trust: bool) -> Self {
        self.with(|o| o.trust_forwarded = trust)
    }
}
