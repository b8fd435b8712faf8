//! The least an OpenTelemetry-API layer can do per request: the floor our layer is measured
//! against. It extracts the caller's context (our direct path), starts a SERVER span with a
//! fixed name and no attributes through the global tracer, keeps its context current while the
//! inner service runs, and ends the span when the response head arrives. No attributes, no
//! metrics, no context in the request extensions, no wait for the body: whatever a complete
//! layer adds is above this line.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::Histogram;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use otel_propagation::Propagators;
use tower::{Layer, Service};

/// The floor layer.
#[derive(Clone)]
pub struct FloorLayer {
    // Behind one `Arc`: axum may call `Layer::layer` per request (a router without state).
    shared: std::sync::Arc<(BoxedTracer, Propagators)>,
    attributes: bool,
    /// The attributes the conventions mark as sampling-relevant, as this request has them, given
    /// to the sampler.
    sampling_attributes: Option<Conventions>,
    /// The SDK's own cost of what our metrics record per request: two histogram records
    /// (duration, response body size) with the same five attributes ours gives them.
    histograms: Option<std::sync::Arc<(Histogram<f64>, Histogram<u64>)>>,
}

impl FloorLayer {
    /// Spans from the global tracer provider; with `attributes`, the three attributes of the
    /// minimal hand-written layer of `perf-notes.md` (method, path, status) are added.
    pub fn new(attributes: bool) -> Self {
        FloorLayer {
            shared: std::sync::Arc::new((
                opentelemetry::global::tracer("floor"),
                Propagators::default(),
            )),
            attributes,
            sampling_attributes: None,
            histograms: None,
        }
    }

    /// The floor with what the HTTP semantic conventions want the sampler to see, built the
    /// plainest way: `http.request.method`, `url.scheme`, `url.path`, `server.address` and
    /// `user_agent.original` (the request's `Host` has no port, and it carries no query and no
    /// peer address).
    /// What the SDK costs to take the sampling-relevant attributes, whatever the layer.
    pub fn with_sampling_attributes() -> Self {
        FloorLayer {
            sampling_attributes: Some(Conventions::Http),
            ..Self::new(false)
        }
    }

    /// The floor with what the RPC semantic conventions want the sampler to see, built the
    /// plainest way: `rpc.system.name`, `rpc.method`, `server.address` and `server.port`.
    pub fn with_rpc_sampling_attributes() -> Self {
        FloorLayer {
            sampling_attributes: Some(Conventions::Rpc),
            ..Self::new(false)
        }
    }

    /// [`FloorLayer::new`] that also records two histograms per request through the global
    /// meter provider, as a layer would with no machinery of its own around them.
    pub fn with_histograms(attributes: bool) -> Self {
        let meter = opentelemetry::global::meter("floor");
        FloorLayer {
            histograms: Some(std::sync::Arc::new((
                meter.f64_histogram("http.server.request.duration").build(),
                meter
                    .u64_histogram("http.server.response.body.size")
                    .build(),
            ))),
            ..Self::new(attributes)
        }
    }
}

impl<S> Layer<S> for FloorLayer {
    type Service = Floor<S>;
    fn layer(&self, inner: S) -> Floor<S> {
        Floor {
            inner,
            layer: self.clone(),
        }
    }
}

/// The floor service.
#[derive(Clone)]
pub struct Floor<S> {
    inner: S,
    layer: FloorLayer,
}

impl<S, B, R> Service<Request<B>> for Floor<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = FloorFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (tracer, propagators) = &*self.layer.shared;
        let parent = propagators.extract_headers(&Context::current(), req.headers());
        let mut builder = tracer
            .span_builder("GET /users/{id}")
            .with_kind(SpanKind::Server);
        if self.layer.attributes {
            builder = builder.with_attributes([
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.path", req.uri().path().to_owned()),
            ]);
        }
        match self.layer.sampling_attributes {
            Some(Conventions::Http) => builder = builder.with_attributes(sampling_attributes(&req)),
            Some(Conventions::Rpc) => {
                builder = builder.with_attributes(rpc_sampling_attributes(&req));
            }
            None => {}
        }
        let span = tracer.build_with_context(builder, &parent);
        let cx = parent.with_span(span);
        let future = {
            let _guard = cx.clone().attach();
            self.inner.call(req)
        };
        FloorFuture {
            future,
            cx,
            attributes: self.layer.attributes,
            // The clock only when it is used: the floor without histograms reads none.
            started: self
                .layer
                .histograms
                .as_ref()
                .map(|_| std::time::Instant::now()),
            histograms: self.layer.histograms.clone(),
        }
    }
}

/// Whose sampling-relevant attributes a floor gives.
#[derive(Clone, Copy)]
enum Conventions {
    Http,
    Rpc,
}

fn rpc_sampling_attributes<B>(req: &Request<B>) -> [KeyValue; 4] {
    let authority = req.uri().authority();
    [
        KeyValue::new("rpc.system.name", "grpc"),
        KeyValue::new(
            "rpc.method",
            req.uri().path().trim_start_matches('/').to_owned(),
        ),
        KeyValue::new(
            "server.address",
            authority.map(|a| a.host()).unwrap_or_default().to_owned(),
        ),
        KeyValue::new(
            "server.port",
            i64::from(authority.and_then(|a| a.port_u16()).unwrap_or(443)),
        ),
    ]
}

fn sampling_attributes<B>(req: &Request<B>) -> [KeyValue; 5] {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|value: &http::HeaderValue| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    [
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("url.scheme", "http"),
        KeyValue::new("url.path", req.uri().path().to_owned()),
        KeyValue::new("server.address", header(http::header::HOST)),
        KeyValue::new("user_agent.original", header(http::header::USER_AGENT)),
    ]
}

pin_project_lite::pin_project! {
    /// The floor future: ends the span with the response head.
    pub struct FloorFuture<F> {
        #[pin]
        future: F,
        cx: Context,
        attributes: bool,
        histograms: Option<std::sync::Arc<(Histogram<f64>, Histogram<u64>)>>,
        started: Option<std::time::Instant>,
    }
}

impl<F, R, E> Future for FloorFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _guard = this.cx.clone().attach();
        let result = std::task::ready!(this.future.poll(task));
        let span = this.cx.span();
        if *this.attributes
            && let Ok(response) = &result
        {
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(response.status().as_u16()),
            ));
        }
        span.end();
        if let (Some(histograms), Some(started), Ok(response)) =
            (this.histograms.as_ref(), this.started, &result)
        {
            let attributes = [
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.scheme", "http"),
                KeyValue::new("http.route", "/users/{id}"),
                KeyValue::new("network.protocol.version", "1.1"),
                KeyValue::new(
                    "http.response.status_code",
                    i64::from(response.status().as_u16()),
                ),
            ];
            histograms
                .0
                .record(started.elapsed().as_secs_f64(), &attributes);
            histograms.1.record(4, &attributes);
        }
        Poll::Ready(result)
    }
}
