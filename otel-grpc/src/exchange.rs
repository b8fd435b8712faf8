//! [`RpcExchange`]: one gRPC call in flight, from its start to the end of its response stream,
//! where the status arrives in the trailers.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use http::{HeaderMap, Request, StatusCode, Version};
use opentelemetry::metrics::Histogram;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, Key, KeyValue, StringValue};
use opentelemetry_semantic_conventions::{attribute as attr, metric as names};
use otel_http::{Exchange, Options, Outcome, RequestHead, ResponseHead, Started, strings};

use crate::semconv::Mode;
use crate::status::Code;

mod key {
    use super::{Key, attr};
    pub(super) const SYSTEM_NAME: Key = Key::from_static_str(attr::RPC_SYSTEM_NAME);
    pub(super) const METHOD: Key = Key::from_static_str(attr::RPC_METHOD);
    pub(super) const METHOD_ORIGINAL: Key = Key::from_static_str(attr::RPC_METHOD_ORIGINAL);
    pub(super) const STATUS_CODE: Key = Key::from_static_str(attr::RPC_RESPONSE_STATUS_CODE);
    pub(super) const ERROR_TYPE: Key = Key::from_static_str(attr::ERROR_TYPE);
    pub(super) const SERVER_ADDRESS: Key = Key::from_static_str(attr::SERVER_ADDRESS);
    pub(super) const SERVER_PORT: Key = Key::from_static_str(attr::SERVER_PORT);
    // Read from tonic's `TcpConnectInfo` (feature `tonic`).
    #[cfg_attr(not(feature = "tonic"), allow(dead_code))]
    pub(super) const PEER_ADDRESS: Key = Key::from_static_str(attr::NETWORK_PEER_ADDRESS);
    #[cfg_attr(not(feature = "tonic"), allow(dead_code))]
    pub(super) const PEER_PORT: Key = Key::from_static_str(attr::NETWORK_PEER_PORT);
    // The names many dashboards and Node's gRPC instrumentation still use.
    pub(super) const OLD_SYSTEM: Key = Key::from_static_str("rpc.system");
    pub(super) const OLD_SERVICE: Key = Key::from_static_str("rpc.service");
    pub(super) const OLD_GRPC_STATUS_CODE: Key = Key::from_static_str("rpc.grpc.status_code");
}

/// The duration buckets the RPC semantic conventions advise, in seconds.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The call-duration histogram of one side, created once per layer.
struct Instruments {
    duration: Histogram<f64>,
}

/// What a gRPC layer keeps beside its options: its histogram, made on first use.
#[derive(Default)]
pub struct RpcState {
    instruments: OnceLock<Instruments>,
    mode: OnceLock<Mode>,
}

impl RpcState {
    /// The attribute names to emit: the layer's `semconv_stability_opt_in`, else the
    /// environment's `OTEL_SEMCONV_STABILITY_OPT_IN`.
    fn mode(&self, options: &Options) -> Mode {
        *self
            .mode
            .get_or_init(|| match options.semconv_stability_opt_in() {
                Some(opt_in) => crate::semconv::parse(opt_in),
                None => crate::semconv::mode(),
            })
    }
}

/// `/package.Service/Method`, split.
struct RpcMethod<'a> {
    /// `package.Service/Method`, or `None` when the path is not a gRPC method.
    full: Option<&'a str>,
    service: &'a str,
}

impl<'a> RpcMethod<'a> {
    fn parse(path: &'a str) -> Self {
        // `/service/method`: both parts non-empty, no further `/`. One pass over the bytes:
        // this runs for every call.
        let bytes = path.as_bytes();
        let mut slash = None;
        if bytes.first() == Some(&b'/') {
            for (i, &b) in bytes.iter().enumerate().skip(1) {
                if b == b'/' {
                    if slash.is_some() {
                        slash = None;
                        break;
                    }
                    slash = Some(i);
                }
            }
        }
        match slash {
            Some(i) if i > 1 && i + 1 < bytes.len() => RpcMethod {
                full: Some(&path[1..]),
                service: &path[1..i],
            },
            _ => RpcMethod {
                full: None,
                service: "",
            },
        }
    }
}

/// One gRPC call in flight: the [`Exchange`] of the gRPC layers.
pub struct RpcExchange {
    options: Arc<Options>,
    state: Arc<RpcState>,
    client: bool,
    cx: Context,
    traced: bool,
    /// When the call started (spans keep their own times) and the metric attributes known at
    /// the start; `None` when metrics are off. Boxed: the exchange stays small, and the
    /// response future and body move it around.
    metric: Option<Box<(Instant, Vec<KeyValue>)>>,
    /// `package.Service/Method` and the service's length in it; `None` for a path that is no
    /// gRPC method. Servers record it at the end, once the status says whether it is served.
    method: Option<(StringValue, usize)>,
    code: Option<Code>,
    /// Whether `method`'s span name is still to be interned: once a call to it succeeds (a peer
    /// must not use up the interned names with made-up ones).
    to_intern: bool,
    /// Whether the span got its `rpc.method` at the start: a client's, or a server's for a
    /// method that an earlier call proved served (interned). Else a server's waits for the status.
    method_at_start: bool,
}

impl RpcExchange {
    fn start<B>(
        options: &Arc<Options>,
        state: &Arc<RpcState>,
        req: &mut Request<B>,
        client: bool,
    ) -> RpcExchange {
        let mode = state.mode(options);
        let head = RequestHead::of(req);
        let (parent, link) = if client {
            // A context the caller put in the request, else the current one (as HTTP clients).
            let parent = req.extensions().get::<Context>().cloned();
            (parent.unwrap_or_else(Context::current), None)
        } else {
            options.incoming_context(&head)
        };
        let method = RpcMethod::parse(req.uri().path());
        let address = if client {
            options.client_server_address(req.uri(), req.headers())
        } else {
            otel_http::semconv::server_address(req.uri(), req.headers())
        };
        let address = address.map(|(host, port)| {
            let default_port = match req.uri().scheme_str() {
                Some("https") => Some(443),
                Some("http") => Some(80),
                _ => None,
            };
            (host, port.or(default_port))
        });
        // A client's target is the application's: its string is shared, for its metrics and
        // span. A server's `:authority` is the caller's: copied once, onto its span only.
        let shared_host = address
            .filter(|_| client)
            .map(|(host, _)| strings::shared_value(host));
        let host_value = |host: &str| match &shared_host {
            Some(shared) => shared.clone(),
            None => StringValue::from(host.to_owned()),
        };
        // The span name and `rpc.method` are one string, shared; interned when the method
        // proves real (see `to_intern`).
        let named = method.full.map(|full| strings::lookup_named("", full));
        let method_value = named
            .as_ref()
            .map(|(_, value)| (value.clone(), method.service.len()));

        let metric_attributes = options.metrics_enabled().then(|| {
            let mut attributes = Vec::with_capacity(6);
            push_system(mode, &mut attributes);
            // A server's method is known to be served only at the end, and the caller's
            // `:authority` stays off its metrics: neither may grow a series per made-up value.
            if client {
                push_method(
                    mode,
                    method_value.as_ref(),
                    req.uri().path(),
                    false,
                    &mut attributes,
                );
                push_address(
                    address.map(|(h, port)| (host_value(h), port)),
                    &mut attributes,
                );
            }
            attributes
        });
        let mut exchange = RpcExchange {
            options: options.clone(),
            state: state.clone(),
            client,
            // The parent itself, or the span started under it, goes in below.
            cx: Context::new(),
            traced: false,
            metric: metric_attributes.map(|attributes| Box::new((Instant::now(), attributes))),
            method: method_value.clone(),
            code: None,
            to_intern: matches!(named, Some((Cow::Owned(_), _))),
            method_at_start: client || matches!(named, Some((Cow::Borrowed(_), _))),
        };
        let method_at_start = exchange.method_at_start;
        if options.traces_enabled() {
            let name = || -> Cow<'static, str> {
                match options.custom_span_name(&head, None) {
                    Some(name) => name.into(),
                    None => match &named {
                        Some((name, _)) => name.clone(),
                        None => Cow::Borrowed("grpc"),
                    },
                }
            };
            let attributes = || {
                let mut attributes = Vec::with_capacity(10);
                push_system(mode, &mut attributes);
                // `rpc.method` is one the conventions want the sampler to see: given at the
                // start when it is known to be served (bounded), else at the end.
                if method_at_start || method_value.is_none() {
                    push_method(
                        mode,
                        method_value.as_ref(),
                        req.uri().path(),
                        true,
                        &mut attributes,
                    );
                } else if mode.old {
                    // A server's `rpc.method` waits for the status (see `finish`).
                    attributes.push(KeyValue::new(key::OLD_SERVICE, method.service.to_owned()));
                }
                push_address(
                    address.map(|(h, port)| (host_value(h), port)),
                    &mut attributes,
                );
                if !client {
                    push_peer(req, &mut attributes);
                }
                attributes
            };
            let kind = if client {
                SpanKind::Client
            } else {
                SpanKind::Server
            };
            let (span, traced) = otel_core::start_span(
                options.tracer(),
                kind,
                &parent,
                link.map_or_else(Vec::new, |link| vec![link]),
                name,
                attributes,
            );
            exchange.cx = parent.with_span(span);
            exchange.traced = traced;
            if traced {
                options.request_hook(&exchange.cx.span(), &head);
            }
        }
        if !options.traces_enabled() {
            exchange.cx = parent;
        }
        if client {
            options.inject(&exchange.cx, req.headers_mut());
        } else if options.context_in_extensions() {
            req.extensions_mut().insert(exchange.cx.clone());
        }
        exchange
    }

    /// This exchange, or only its context when it has nothing to record (a span that does not
    /// record, metrics off).
    pub(crate) fn started(self) -> Started<RpcExchange> {
        if self.traced || self.metric.is_some() {
            Started::Exchange(self)
        } else {
            Started::Context(self.cx)
        }
    }

    pub(crate) fn server<B>(
        options: &Arc<Options>,
        state: &Arc<RpcState>,
        req: &mut Request<B>,
    ) -> RpcExchange {
        Self::start(options, state, req, false)
    }

    pub(crate) fn client<B>(
        options: &Arc<Options>,
        state: &Arc<RpcState>,
        req: &mut Request<B>,
    ) -> RpcExchange {
        Self::start(options, state, req, true)
    }

    fn instruments(&self) -> &Instruments {
        let client = self.client;
        let o = &self.options;
        self.state.instruments.get_or_init(|| {
            let name = if client {
                names::RPC_CLIENT_CALL_DURATION
            } else {
                names::RPC_SERVER_CALL_DURATION
            };
            Instruments {
                duration: o
                    .meter()
                    .f64_histogram(name)
                    .with_unit("s")
                    .with_description("Duration of RPC calls.")
                    .with_boundaries(DURATION_BUCKETS.to_vec())
                    .build(),
            }
        })
    }
}

/// `rpc.system.name` (stable) and `rpc.system` (old).
fn push_system(mode: Mode, attributes: &mut Vec<KeyValue>) {
    if mode.new {
        attributes.push(KeyValue::new(key::SYSTEM_NAME, "grpc"));
    }
    if mode.old {
        attributes.push(KeyValue::new(key::OLD_SYSTEM, "grpc"));
    }
}

/// `rpc.method` (stable: fully qualified; old alone: the short name, with `rpc.service`), or
/// `_OTHER` for a method that is not one (with `rpc.method_original` on spans only).
fn push_method(
    mode: Mode,
    method: Option<&(StringValue, usize)>,
    path: &str,
    span: bool,
    attributes: &mut Vec<KeyValue>,
) {
    match method {
        Some((full, service_len)) => {
            if mode.old {
                let service = &full.as_str()[..*service_len];
                attributes.push(KeyValue::new(key::OLD_SERVICE, service.to_owned()));
            }
            attributes.push(method_attribute(mode, full, *service_len));
        }
        None => {
            attributes.push(KeyValue::new(key::METHOD, otel_core::OTHER));
            if span {
                attributes.push(KeyValue::new(key::METHOD_ORIGINAL, path.to_owned()));
            }
        }
    }
}

/// `rpc.method` of a method: fully qualified (stable names), else the short name (old names
/// alone, beside `rpc.service`).
fn method_attribute(mode: Mode, full: &StringValue, service_len: usize) -> KeyValue {
    if mode.new {
        KeyValue::new(key::METHOD, full.clone())
    } else {
        KeyValue::new(key::METHOD, full.as_str()[service_len + 1..].to_owned())
    }
}

/// `rpc.response.status_code` (stable) and `rpc.grpc.status_code` (old), each to `add`.
fn status_attributes(mode: Mode, code: Code, mut add: impl FnMut(KeyValue)) {
    if mode.new {
        add(KeyValue::new(key::STATUS_CODE, code.name()));
    }
    if mode.old {
        add(KeyValue::new(key::OLD_GRPC_STATUS_CODE, i64::from(code.0)));
    }
}

/// `server.address` / `server.port`.
fn push_address(address: Option<(StringValue, Option<u16>)>, attributes: &mut Vec<KeyValue>) {
    if let Some((host, port)) = address {
        attributes.push(KeyValue::new(key::SERVER_ADDRESS, host));
        if let Some(port) = port {
            attributes.push(KeyValue::new(key::SERVER_PORT, i64::from(port)));
        }
    }
}

/// `network.peer.address` / `port`, where tonic's transport says who connected.
fn push_peer<B>(req: &Request<B>, attributes: &mut Vec<KeyValue>) {
    #[cfg(feature = "tonic")]
    if let Some(peer) = req
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr())
    {
        attributes.push(KeyValue::new(
            key::PEER_ADDRESS,
            strings::shared_ip(peer.ip()),
        ));
        attributes.push(KeyValue::new(key::PEER_PORT, i64::from(peer.port())));
    }
    let _ = (req, attributes);
}

impl Exchange for RpcExchange {
    fn context(&self) -> &Context {
        &self.cx
    }

    fn on_response(&mut self, status: StatusCode, version: Version, headers: &mut HeaderMap) {
        // A trailers-only response carries its status in the headers; a failed HTTP exchange
        // implies one; otherwise it comes in the trailers.
        self.code = Code::from_headers(headers).or_else(|| Code::from_http(status));
        if self.traced {
            self.options.response_hook(
                &self.cx.span(),
                &ResponseHead::new(status, version, headers),
            );
        }
    }

    fn on_error(&mut self, error: &dyn std::any::Any) -> StringValue {
        // No status arrived (none from the headers either): a client records the one its
        // library makes of the failure.
        #[cfg(feature = "tonic")]
        if self.client && self.code.is_none() {
            self.code = Some(Code::from_client_error(error));
        }
        StringValue::from(crate::status::error_type(error))
    }

    fn on_trailers(&mut self, trailers: &HeaderMap) {
        if let Some(code) = Code::from_headers(trailers) {
            self.code = Some(code);
        }
    }

    fn finish(mut self, outcome: Outcome) {
        let outcome_ok = matches!(outcome, Outcome::Complete);
        let (code, failure) = match outcome {
            // A stream that ends without a status is a broken one.
            Outcome::Complete => (Some(self.code.unwrap_or(Code::UNKNOWN)), None),
            Outcome::Failed(error_type) => (self.code, Some(error_type)),
            // The caller gave up (or the peer went away) before the status arrived.
            Outcome::Dropped => (Some(self.code.unwrap_or(Code::CANCELLED)), None),
        };
        let mode = self.state.mode(&self.options);
        let is_error = |code: Code| {
            if self.client {
                code.is_client_error()
            } else {
                code.is_server_error()
            }
        };
        let error_type: Option<StringValue> = failure.or_else(|| {
            code.filter(|&c| is_error(c))
                .map(|c| StringValue::from(c.name()))
        });
        // Only a call that completed with OK proves the method: a reset stream, a failure, or
        // a status from a layer in front of the router (UNAUTHENTICATED, UNIMPLEMENTED) does not.
        if self.to_intern
            && outcome_ok
            && code == Some(Code::OK)
            && let Some((method, _)) = &self.method
        {
            strings::intern_named("", method.as_str());
        }
        // A server learns only now whether the method is served: UNIMPLEMENTED (from the
        // router, for a service or method it does not have) makes it `_OTHER`.
        let served = self
            .method
            .as_ref()
            .filter(|_| code != Some(Code::UNIMPLEMENTED));
        let metric = self.metric.take();
        if self.traced {
            let span = self.cx.span();
            // One call per attribute there is: no list, no chain of optional iterators.
            if let Some(code) = code {
                status_attributes(mode, code, |attribute| span.set_attribute(attribute));
            }
            if let Some(error_type) = &error_type {
                span.set_status(Status::error(""));
                span.set_attribute(KeyValue::new(key::ERROR_TYPE, error_type.clone()));
            }
            if !self.method_at_start
                && let Some((full, service_len)) = &self.method
            {
                match served {
                    Some(_) => span.set_attribute(method_attribute(mode, full, *service_len)),
                    None => {
                        // Not a method this server serves: no name from the caller's path,
                        // which goes on the span only.
                        span.update_name(Cow::Borrowed("grpc"));
                        span.set_attribute(KeyValue::new(key::METHOD, otel_core::OTHER));
                        span.set_attribute(KeyValue::new(
                            key::METHOD_ORIGINAL,
                            format!("/{}", full.as_str()),
                        ));
                    }
                }
            }
            span.end();
        }
        if let Some(metric) = metric {
            let (started, mut metric_attributes) = *metric;
            if !self.client
                && mode.old
                && let Some((full, service_len)) = served
            {
                // Old names: `rpc.service` of a served method.
                let service = &full.as_str()[..*service_len];
                metric_attributes.push(KeyValue::new(key::OLD_SERVICE, service.to_owned()));
            }
            if !self.client {
                // A server's `rpc.method` (or `_OTHER`): known to be served only now.
                metric_attributes.push(match served {
                    Some((full, service_len)) => method_attribute(mode, full, *service_len),
                    None => KeyValue::new(key::METHOD, otel_core::OTHER),
                });
            }
            if let Some(code) = code {
                status_attributes(mode, code, |attribute| metric_attributes.push(attribute));
            }
            if let Some(error_type) = error_type {
                metric_attributes.push(KeyValue::new(key::ERROR_TYPE, error_type));
            }
            self.instruments()
                .duration
                .record(started.elapsed().as_secs_f64(), &metric_attributes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RpcMethod;

    #[test]
    fn method_paths() {
        let m = RpcMethod::parse("/pkg.Svc/Method");
        assert_eq!((m.full, m.service), (Some("pkg.Svc/Method"), "pkg.Svc"));
        for odd in ["", "/", "//", "/a/", "//b", "/a/b/c", "a/b", "/ab"] {
            assert_eq!(RpcMethod::parse(odd).full, None, "{odd:?}");
        }
    }

    proptest::proptest! {
        /// Any path: no panic; a method is `/service/method`, both non-empty, no other `/`.
        #[test]
        fn method_of_any_path(path in ".{0,40}|(/[a-z./]{0,10}){0,3}") {
            let m = RpcMethod::parse(&path);
            let expected = path
                .strip_prefix('/')
                .and_then(|p| p.split_once('/'))
                .filter(|(s, m)| !s.is_empty() && !m.is_empty() && !m.contains('/'));
            match (m.full, expected) {
                (Some(full), Some((service, method))) => {
                    proptest::prop_assert_eq!(full, &path[1..]);
                    proptest::prop_assert_eq!((m.service, &full[m.service.len() + 1..]), (service, method));
                }
                (None, None) => {}
                (got, want) => proptest::prop_assert!(false, "{got:?} vs {want:?}"),
            }
        }
    }
}
