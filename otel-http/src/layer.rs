//! [`OtelLayer`]: the tower layer and its builder, the options a user sets.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use http::HeaderName;

use opentelemetry::global::ObjectSafeTracerProvider;
use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::SpanRef;
use otel_core::Propagation;
use otel_propagation::Propagators;

use crate::config::{Options, ResponsePropagation};
use crate::head::{Filter, RequestHead, ResponseHead};
use crate::kind::{Client, Kind, Server};
use crate::semconv::KnownMethods;
use crate::service::OtelService;

impl<S, K: Kind> tower_layer::Layer<S> for OtelLayer<K> {
    type Service = OtelService<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        OtelService::new(inner, self.options.clone(), self.state.clone())
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
pub struct OtelLayer<K: Kind> {
    pub(crate) options: Arc<Options>,
    pub(crate) state: Arc<K::State>,
    kind: PhantomData<fn() -> K>,
}

impl<K: Kind> Clone for OtelLayer<K> {
    fn clone(&self) -> Self {
        OtelLayer {
            options: self.options.clone(),
            state: self.state.clone(),
            kind: PhantomData,
        }
    }
}

impl<K: Kind> fmt::Debug for OtelLayer<K> {
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
    /// A CLIENT span's parent is the [`Context`](opentelemetry::Context) in the request's
    /// extensions when there is one, else the current context. A task started with
    /// `tokio::spawn` does not inherit the current context: run it with
    /// `opentelemetry::context::FutureExt::with_current_context`, or put the context in the
    /// request (`req.extensions_mut().insert(cx)`), and its calls stay in the trace.
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
            state: Arc::default(),
            kind: PhantomData,
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Options)) -> Self {
        change(Arc::make_mut(&mut self.options));
        // What the kind made from the old options (instruments on another provider) goes too.
        self.state = Arc::default();
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

    /// Servers: also puts the request's `Context` (its span's, or the caller's when not traced)
    /// in the request's extensions, for an axum handler's `Extension<Context>` or code that
    /// handles the request away from the task that polls the layer's future. Off by default:
    /// the handler already runs with that context current (`Context::current()`), and the
    /// insertion costs an allocation and a map insert per request.
    pub fn context_in_extensions(self, insert: bool) -> Self {
        self.with(|o| o.context_in_extensions = insert)
    }

    /// Also records the attributes the HTTP conventions mark Opt-In: `client.port` (servers),
    /// `http.request.body.size` and `http.response.body.size` on spans. Off by default, as the
    /// conventions say of Opt-In attributes; the body-size metrics do not depend on it.
    pub fn opt_in_attributes(self, record: bool) -> Self {
        self.with(|o| o.opt_in_attributes = record)
    }

    /// Which semantic-convention attribute names to emit, as `OTEL_SEMCONV_STABILITY_OPT_IN`
    /// says it (a comma-separated list), for this layer instead of the environment. The gRPC
    /// layers read `rpc/dup` (stable and old names) and `rpc/old` (old names only); the HTTP
    /// layers emit the stable HTTP conventions whatever it says.
    pub fn semconv_stability_opt_in(self, value: impl Into<String>) -> Self {
        let value = value.into();
        self.with(|o| o.semconv_stability_opt_in = Some(value))
    }

    /// Reads `server.address` and `client.address` from `Forwarded` / `X-Forwarded-*` (servers).
    /// Off by default: only a proxy you run may set them.
    pub fn trust_forwarded_headers(self, trust: bool) -> Self {
        self.with(|o| o.trust_forwarded = trust)
    }
}
