//! One request in flight, from its start to the end of its response body: the span, the metric
//! attributes and the clock. Servers and clients share it; only what differs is matched on `Side`.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use http::{HeaderMap, Request, StatusCode, Version};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue, Value};

use crate::config::{Options, ResponsePropagation};
use crate::exchange::{Exchange, Outcome, Started};
use crate::head::{RequestHead, ResponseHead};
use crate::metrics::{Active, ActiveTable, Instruments, MetricAttributes};
use crate::semconv::{self, Side, key};
use crate::strings;

/// An HTTP request in flight: the [`Exchange`] the HTTP layers use. Opaque.
///
/// Kept small (what only metrics need is boxed): the response future and body carry it, and
/// they are moved several times on their way through a router.
pub struct HttpExchange {
    options: Arc<Options>,
    /// The request's context: the span when traced, else what was propagated to us.
    pub(crate) cx: Context,
    metrics: Option<Box<RequestMetrics>>,
    response_body_size: u64,
    status: Option<u16>,
    /// The response's protocol version (clients: the server's choice).
    response_version: Option<Version>,
    side: Side,
    traced: bool,
}

/// What an HTTP layer keeps beside its options: its metric instruments, made on first use (so
/// the global meter provider may be set after the layer is built).
#[derive(Default)]
pub struct HttpState {
    instruments: OnceLock<Instruments>,
}

impl HttpState {
    fn instruments(&self, options: &Options, side: Side) -> &Instruments {
        self.instruments.get_or_init(|| {
            Instruments::new(
                &options.meter(),
                side,
                options.global_meter_provider(),
                options.known_methods.names(),
            )
        })
    }
}

/// What only metrics need, boxed and made only when they are on: the exchange stays small (the
/// response future and body move it around).
struct RequestMetrics {
    state: Arc<HttpState>,
    attributes: MetricAttributes,
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    parse_length(headers.get(http::header::CONTENT_LENGTH)?)
}

fn parse_length(value: &http::HeaderValue) -> Option<u64> {
    value.to_str().ok()?.parse().ok()
}

/// The request headers a server reads for its attributes and metrics (the first value of each).
#[derive(Clone, Copy, Default)]
struct ServerHeaders<'a> {
    host: Option<&'a http::HeaderValue>,
    user_agent: Option<&'a http::HeaderValue>,
    content_length: Option<&'a http::HeaderValue>,
}

impl<'a> ServerHeaders<'a> {
    /// Most requests carry a few headers: one pass comparing their (standard) names costs less
    /// than three lookups that each hash a name. Many headers: the lookups.
    fn of(headers: &'a HeaderMap) -> Self {
        use http::header::{CONTENT_LENGTH, HOST, USER_AGENT};
        if headers.keys_len() > 12 {
            return ServerHeaders {
                host: headers.get(HOST),
                user_agent: headers.get(USER_AGENT),
                content_length: headers.get(CONTENT_LENGTH),
            };
        }
        let mut found = ServerHeaders::default();
        for (name, value) in headers {
            let slot = if *name == HOST {
                &mut found.host
            } else if *name == USER_AGENT {
                &mut found.user_agent
            } else if *name == CONTENT_LENGTH {
                &mut found.content_length
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        found
    }
}

/// The route template axum matched, when the layer sits on a `Router`.
fn route<B>(req: &Request<B>) -> Option<&str> {
    #[cfg(feature = "axum")]
    if let Some(matched) = req.extensions().get::<axum::extract::MatchedPath>() {
        return Some(matched.as_str());
    }
    let _ = req;
    None
}

/// The first `Forwarded: for=` / `X-Forwarded-For` address, and `X-Forwarded-Host` / `Forwarded:
/// host=`, for servers that trust their proxies.
fn forwarded(headers: &HeaderMap) -> (Option<&str>, Option<&str>, Option<&str>) {
    let (mut client, mut host, mut proto) = (None, None, None);
    if let Some(forwarded) = headers
        .get(http::header::FORWARDED)
        .and_then(|v| v.to_str().ok())
    {
        let first = forwarded.split(',').next().unwrap_or_default();
        for pair in first.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                let v = v.trim().trim_matches('"');
                if k.trim().eq_ignore_ascii_case("for") {
                    client = forwarded_node(v);
                } else if k.trim().eq_ignore_ascii_case("host") {
                    host = Some(v).filter(|v| !v.is_empty());
                } else if k.trim().eq_ignore_ascii_case("proto") {
                    proto = Some(v);
                }
            }
        }
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    client = client.or_else(|| {
        header("x-forwarded-for")
            .and_then(|v| v.split(',').next())
            .and_then(|v| forwarded_node(v.trim()))
    });
    host = host.or_else(|| header("x-forwarded-host"));
    proto = proto.or_else(|| header("x-forwarded-proto"));
    (client, host, proto)
}

/// The address of a `Forwarded: for=` node (RFC 7239, section 6) or an `X-Forwarded-For` entry,
/// without its port: `192.0.2.43:4711` and `[2001:db8::1]:4711` give the IP, a bare IPv6 address
/// stays whole, an obfuscated identifier (`_hidden`) is kept; `unknown` and anything else (a
/// hostile header) give nothing.
fn forwarded_node(node: &str) -> Option<&str> {
    let address = if let Some(rest) = node.strip_prefix('[') {
        let (v6, _) = rest.split_once(']')?;
        v6.parse::<std::net::Ipv6Addr>().ok()?;
        return Some(v6);
    } else if node.parse::<std::net::IpAddr>().is_ok() {
        node
    } else {
        match node.split_once(':') {
            Some((v4, _)) if v4.parse::<std::net::Ipv4Addr>().is_ok() => v4,
            _ => node,
        }
    };
    if address.parse::<std::net::IpAddr>().is_ok() {
        return Some(address);
    }
    let obfuscated = address.len() > 1
        && address.len() <= 64
        && address.starts_with('_')
        && address
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    obfuscated.then_some(address)
}

fn scheme_of(proto: &str) -> &'static str {
    if proto.eq_ignore_ascii_case("https") {
        "https"
    } else {
        "http"
    }
}

impl HttpExchange {
    /// Starts a server request: extracts the caller's context, starts the SERVER span.
    pub(crate) fn server<B>(
        options: &Arc<Options>,
        state: &Arc<HttpState>,
        req: &Request<B>,
    ) -> Started<HttpExchange> {
        let head = RequestHead::of(req);
        let (parent, link) = options.incoming_context(&head);
        let method_index = options.known_methods.index(req.method());
        let (method, method_original) = options.known_methods.method_at(method_index, req.method());
        let route = route(req);
        let found = std::cell::OnceCell::new();
        let found = || *found.get_or_init(|| ServerHeaders::of(req.headers()));
        let (fwd_client, fwd_host, fwd_proto) = if options.trust_forwarded {
            forwarded(req.headers())
        } else {
            (None, None, None)
        };
        // Trusted proxies first, then the request itself (HTTP/2 `:scheme`, absolute-form
        // targets), then what the layer was told of its connections.
        let scheme = match (fwd_proto, req.uri().scheme_str()) {
            (Some(proto), _) | (None, Some(proto)) => scheme_of(proto),
            (None, None) if options.https => "https",
            (None, None) => "http",
        };
        // The name and route value, interned and shared with earlier requests; looked up only
        // when the span is recorded or metrics are on.
        let named = std::cell::OnceCell::new();
        let named = || {
            named.get_or_init(|| {
                route
                    .filter(|_| options.span_name.is_none())
                    .map(|route| strings::named(semconv::span_name_method(method), route))
            })
        };
        let route_value = || match named() {
            Some((_, value)) => Some(value.clone()),
            None => route.map(strings::shared_value),
        };
        let protocol = semconv::protocol_version(req.version());

        let metrics = options.metrics.then(|| {
            let mut request = Vec::with_capacity(6);
            request.push(KeyValue::new(key::METHOD, method));
            request.push(KeyValue::new(key::URL_SCHEME, scheme));
            if let Some(route) = route_value() {
                request.push(KeyValue::new(key::ROUTE, route));
            }
            if let Some(protocol) = protocol {
                request.push(KeyValue::new(key::PROTOCOL_VERSION, protocol));
            }
            let attributes = MetricAttributes {
                request,
                active_len: 2,
                active_cell: ActiveTable::cell(method_index, scheme),
                started: Instant::now(),
                request_body_size: found().content_length.and_then(parse_length),
            };
            Box::new(RequestMetrics {
                state: state.clone(),
                attributes,
            })
        });

        if !options.traces {
            return Started::Exchange(HttpExchange::new(options, Side::Server, parent, metrics));
        }
        // Everything goes to the sampler at once (the conventions' sampling-relevant attributes
        // and `http.route`, which they want at creation time, among them): one list moved into
        // the span, and nothing built for a parent that was not sampled.
        let attributes = || {
            let mut attributes = Vec::with_capacity(16);
            attributes.push(KeyValue::new(key::METHOD, method));
            if let Some(original) = method_original {
                attributes.push(KeyValue::new(key::METHOD_ORIGINAL, original.to_owned()));
            }
            attributes.push(KeyValue::new(key::URL_SCHEME, scheme));
            attributes.push(KeyValue::new(key::URL_PATH, req.uri().path().to_owned()));
            if let Some(query) = req.uri().query() {
                let query = semconv::redact_query(query, &options.redacted_query_params);
                attributes.push(KeyValue::new(key::URL_QUERY, query.into_owned()));
            }
            if let Some(route) = route_value() {
                attributes.push(KeyValue::new(key::ROUTE, route));
            }
            let host = match fwd_host {
                Some(host) => Some(semconv::split_host_port(host)),
                None => semconv::server_address_with(req.uri(), || found().host),
            };
            if let Some((host, port)) = host {
                // The caller's `Host`: not cached.
                attributes.push(KeyValue::new(key::SERVER_ADDRESS, host.to_owned()));
                if let Some(port) = port {
                    attributes.push(KeyValue::new(key::SERVER_PORT, i64::from(port)));
                }
            }
            push_peer(req, fwd_client, options.opt_in_attributes, &mut attributes);
            if let Some(agent) = found().user_agent.and_then(|v| v.to_str().ok()) {
                // The caller's choice: not cached (see `strings`).
                attributes.push(KeyValue::new(key::USER_AGENT, agent.to_owned()));
            }
            if let Some(protocol) = protocol {
                attributes.push(KeyValue::new(key::PROTOCOL_VERSION, protocol));
            }
            push_request_tail(
                options,
                req.headers(),
                &metrics,
                || found().content_length.and_then(parse_length),
                &mut attributes,
            );
            attributes
        };
        let name = || match named() {
            Some((name, _)) => name.clone(),
            None => span_name(options, &head, method, route),
        };
        let (span, traced) = otel_core::start_span(
            options.tracer(),
            SpanKind::Server,
            &parent,
            link.map_or_else(Vec::new, |link| vec![link]),
            name,
            attributes,
        );
        let cx = parent.with_span(span);
        // Nothing to record (the span does not record, metrics are off, nothing to write into the
        // response): no exchange at all, only the context to make current.
        if !records(traced, metrics.is_some(), Side::Server, options) {
            return Started::Context(cx);
        }
        let mut inflight = HttpExchange::new(options, Side::Server, cx, metrics);
        inflight.traced = traced;
        if traced && let Some(hook) = &options.request_hook {
            hook(&inflight.cx.span(), &head);
        }
        Started::Exchange(inflight)
    }

    /// Starts a client request: the CLIENT span, and its context injected into the request.
    pub(crate) fn client<B>(
        options: &Arc<Options>,
        state: &Arc<HttpState>,
        req: &mut Request<B>,
    ) -> HttpExchange {
        let head = RequestHead::of(req);
        // A context the caller put in the request (one carried across a spawned task), else
        // the current one.
        let parent = req
            .extensions()
            .get::<Context>()
            .cloned()
            .unwrap_or_else(Context::current);
        let (method, method_original) = options.known_methods.method(req.method());
        let address =
            options
                .client_server_address(req.uri(), req.headers())
                .map(|(host, port)| {
                    (
                        strings::shared_value(host),
                        port.or_else(|| default_port(req.uri().scheme_str())),
                    )
                });

        let metrics = options.metrics.then(|| {
            let mut request = Vec::with_capacity(6);
            request.push(KeyValue::new(key::METHOD, method));
            if let Some((host, port)) = &address {
                request.push(KeyValue::new(key::SERVER_ADDRESS, host.clone()));
                if let Some(port) = port {
                    request.push(KeyValue::new(key::SERVER_PORT, i64::from(*port)));
                }
            }
            let attributes = MetricAttributes {
                active_len: request.len(),
                request,
                active_cell: (0, 0),
                started: Instant::now(),
                request_body_size: content_length(req.headers()),
            };
            Box::new(RequestMetrics {
                state: state.clone(),
                attributes,
            })
        });
        // The context goes in once known: the parent itself, or the span started under it.
        let mut inflight = HttpExchange::new(options, Side::Client, Context::new(), metrics);

        if options.traces {
            let name = || -> Cow<'static, str> {
                match &options.span_name {
                    Some(formatter) => formatter(&head, None).into(),
                    None if method == otel_core::OTHER => "HTTP".into(),
                    None => method.into(),
                }
            };
            let attributes = || {
                let mut attributes = Vec::with_capacity(8);
                attributes.push(KeyValue::new(key::METHOD, method));
                if let Some(original) = method_original {
                    attributes.push(KeyValue::new(key::METHOD_ORIGINAL, original.to_owned()));
                }
                attributes.push(KeyValue::new(
                    key::URL_FULL,
                    semconv::url_full(req.uri(), req.headers(), &options.redacted_query_params),
                ));
                if let Some((host, port)) = &address {
                    attributes.push(KeyValue::new(key::SERVER_ADDRESS, host.clone()));
                    if let Some(port) = port {
                        attributes.push(KeyValue::new(key::SERVER_PORT, i64::from(*port)));
                    }
                }
                push_request_tail(
                    options,
                    req.headers(),
                    &inflight.metrics,
                    || content_length(req.headers()),
                    &mut attributes,
                );
                attributes
            };
            let (span, traced) = otel_core::start_span(
                options.tracer(),
                SpanKind::Client,
                &parent,
                Vec::new(),
                name,
                attributes,
            );
            inflight.cx = parent.with_span(span);
            inflight.traced = traced;
            if traced && let Some(hook) = &options.request_hook {
                hook(&inflight.cx.span(), &head);
            }
        } else {
            inflight.cx = parent;
        }
        options.inject(&inflight.cx, req.headers_mut());
        inflight
    }

    /// This exchange, or only its context when it has nothing to record (see [`Started`]).
    pub(crate) fn started(self) -> Started<HttpExchange> {
        if records(
            self.traced,
            self.metrics.is_some(),
            self.side,
            &self.options,
        ) {
            Started::Exchange(self)
        } else {
            Started::Context(self.cx)
        }
    }

    fn new(
        options: &Arc<Options>,
        side: Side,
        cx: Context,
        metrics: Option<Box<RequestMetrics>>,
    ) -> HttpExchange {
        if let Some(metrics) = &metrics {
            let attributes = &metrics.attributes;
            match &metrics.state.instruments(options, side).active {
                Active::Counter(counter) => {
                    counter.add(1, &attributes.request[..attributes.active_len]);
                }
                Active::Observed(table) => table.add(attributes.active_cell, 1),
            }
        }
        HttpExchange {
            options: options.clone(),
            cx,
            metrics,
            response_body_size: 0,
            status: None,
            response_version: None,
            side,
            traced: false,
        }
    }

    /// The response head arrived: status, error rule, captured headers, the response hook, and
    /// (servers) the span context written into the response.
    fn on_response_head(&mut self, status: StatusCode, version: Version, headers: &mut HeaderMap) {
        let code = status.as_u16();
        self.status = Some(code);
        if self.side == Side::Client
            && let (Some(metrics), Some(protocol)) =
                (&mut self.metrics, semconv::protocol_version(version))
        {
            metrics
                .attributes
                .request
                .push(KeyValue::new(key::PROTOCOL_VERSION, protocol));
        }
        if let Some(header) = self
            .options
            .response_propagation
            .filter(|_| self.side == Side::Server)
        {
            // What our propagator sends for this context: the random flag stays when the trace
            // arrived with it, whatever flags the SDK gave the span.
            if let Some(value) = otel_propagation::trace_context::traceparent(&self.cx) {
                let name = match header {
                    ResponsePropagation::TraceResponse => {
                        http::HeaderName::from_static("traceresponse")
                    }
                    ResponsePropagation::TraceParent => {
                        http::HeaderName::from_static("traceparent")
                    }
                };
                if let Ok(value) = http::HeaderValue::try_from(value) {
                    headers.insert(name, value);
                }
            }
        }
        if !self.traced {
            return;
        }
        let span = self.cx.span();
        // Set with the end-of-request attributes in `finish`.
        if self.side == Side::Client {
            self.response_version = Some(version);
        }
        if !self.options.response_headers.is_empty() {
            let mut captured = Vec::new();
            semconv::captured_headers(
                "http.response.header",
                &self.options.response_headers,
                headers,
                &mut captured,
            );
            span.set_attributes(captured);
        }
        if let Some(hook) = &self.options.response_hook {
            hook(
                &span,
                &ResponseHead {
                    status,
                    version,
                    headers,
                },
            );
        }
    }

    /// Ends the span and records the metrics.
    fn end(mut self, outcome: Outcome) {
        let dropped = matches!(outcome, Outcome::Dropped);
        // A failure's type, else the status code's when the status is an error (not kept in
        // the exchange: the response future and body move it around, smaller is cheaper).
        let error_type = match outcome {
            Outcome::Failed(error_type) => Some(error_type),
            _ => self
                .status
                .and_then(|code| semconv::status_error(code, self.side == Side::Client)),
        };
        if self.traced {
            let span = self.cx.span();
            if dropped {
                span.add_event("http.response.dropped", Vec::new());
            }
            // One call per attribute there is (usually the status code alone): cheaper than a
            // chain of optional iterators, and no list allocated per request.
            if let Some(code) = self.status {
                span.set_attribute(KeyValue::new(key::STATUS_CODE, i64::from(code)));
                if self.options.opt_in_attributes {
                    span.set_attribute(KeyValue::new(
                        key::RESPONSE_BODY_SIZE,
                        self.response_body_size as i64,
                    ));
                }
            }
            if let Some(protocol) = self.response_version.and_then(semconv::protocol_version) {
                span.set_attribute(KeyValue::new(key::PROTOCOL_VERSION, protocol));
            }
            if let Some(error_type) = &error_type {
                span.set_status(Status::error(""));
                span.set_attribute(KeyValue::new(
                    key::ERROR_TYPE,
                    Value::String(error_type.clone()),
                ));
            }
            span.end();
        }
        if let Some(mut metrics) = self.metrics.take() {
            let instruments = metrics.state.instruments(&self.options, self.side);
            // Worked on in its box: nothing moved out of it.
            let metrics = &mut metrics.attributes;
            match &instruments.active {
                Active::Counter(counter) => {
                    counter.add(-1, &metrics.request[..metrics.active_len]);
                }
                Active::Observed(table) => table.add(metrics.active_cell, -1),
            }
            if let Some(code) = self.status {
                metrics
                    .request
                    .push(KeyValue::new(key::STATUS_CODE, i64::from(code)));
            }
            if let Some(error_type) = error_type {
                metrics
                    .request
                    .push(KeyValue::new(key::ERROR_TYPE, Value::String(error_type)));
            }
            let attributes = &metrics.request[..];
            instruments
                .duration
                .record(metrics.started.elapsed().as_secs_f64(), attributes);
            if let Some(size) = metrics.request_body_size {
                instruments.request_body_size.record(size, attributes);
            }
            if self.status.is_some() {
                instruments
                    .response_body_size
                    .record(self.response_body_size, attributes);
            }
        }
    }
}

impl Exchange for HttpExchange {
    fn context(&self) -> &Context {
        &self.cx
    }

    fn on_response(&mut self, status: StatusCode, version: Version, headers: &mut HeaderMap) {
        self.on_response_head(status, version, headers);
    }

    fn on_data(&mut self, len: usize) {
        self.response_body_size += len as u64;
    }

    fn finish(self, outcome: Outcome) {
        self.end(outcome);
    }
}

/// The attributes both sides end a request's list with: its body size (Opt-In; as the metrics
/// read it, else from `content_length`) and captured headers.
fn push_request_tail(
    options: &Options,
    headers: &HeaderMap,
    metrics: &Option<Box<RequestMetrics>>,
    content_length: impl FnOnce() -> Option<u64>,
    attributes: &mut Vec<KeyValue>,
) {
    if options.opt_in_attributes {
        let body_size = match metrics {
            Some(metrics) => metrics.attributes.request_body_size,
            None => content_length(),
        };
        if let Some(size) = body_size {
            attributes.push(KeyValue::new(key::REQUEST_BODY_SIZE, size as i64));
        }
    }
    semconv::captured_headers(
        "http.request.header",
        &options.request_headers,
        headers,
        attributes,
    );
}

/// Whether an exchange has anything to record: a span that records, metrics, or (servers) a
/// context to write into the response. Else only its context is kept (see [`Started`]).
fn records(traced: bool, metrics: bool, side: Side, options: &Options) -> bool {
    traced || metrics || (side == Side::Server && options.response_propagation.is_some())
}

fn default_port(scheme: Option<&str>) -> Option<u16> {
    match scheme {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    }
}

/// `client.address` (forwarded, when trusted, else the peer; with `client.port` when Opt-In
/// attributes are on) and `network.peer.*` from axum's `ConnectInfo`.
fn push_peer<B>(
    req: &Request<B>,
    forwarded_client: Option<&str>,
    client_port: bool,
    attributes: &mut Vec<KeyValue>,
) {
    #[cfg(feature = "axum")]
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0);
    #[cfg(not(feature = "axum"))]
    let peer: Option<std::net::SocketAddr> = {
        let _ = req;
        None
    };
    // Formatted once, shared by `client.address` and `network.peer.address`.
    let peer_ip = peer.map(|peer| strings::shared_ip(peer.ip()));
    match (forwarded_client, peer, &peer_ip) {
        (Some(client), _, _) => {
            attributes.push(KeyValue::new(key::CLIENT_ADDRESS, client.to_owned()))
        }
        (None, Some(peer), Some(ip)) => {
            attributes.push(KeyValue::new(key::CLIENT_ADDRESS, ip.clone()));
            if client_port {
                attributes.push(KeyValue::new(key::CLIENT_PORT, i64::from(peer.port())));
            }
        }
        _ => {}
    }
    if let (Some(peer), Some(ip)) = (peer, peer_ip) {
        attributes.push(KeyValue::new(key::PEER_ADDRESS, ip));
        attributes.push(KeyValue::new(key::PEER_PORT, i64::from(peer.port())));
    }
}

/// `{method} {route}`, `{method}`, `HTTP` for `_OTHER`, or the user's formatter.
fn span_name(
    options: &Options,
    head: &RequestHead<'_>,
    method: &'static str,
    route: Option<&str>,
) -> Cow<'static, str> {
    if let Some(formatter) = &options.span_name {
        return formatter(head, route).into();
    }
    let method = semconv::span_name_method(method);
    match route {
        Some(route) => strings::named(method, route).0,
        None => method.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_nodes_without_ports() {
        for (node, expected) in [
            ("192.0.2.43", Some("192.0.2.43")),
            ("192.0.2.43:4711", Some("192.0.2.43")),
            ("[2001:db8::1]:4711", Some("2001:db8::1")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("_hidden", Some("_hidden")),
            ("_a.b-c_1:80", None),
            ("unknown", None),
            ("", None),
            ("[", None),
            ("[not-an-ip]:1", None),
            ("<script>", None),
            ("1.2.3.4.5", None),
            ("example.com:80", None),
        ] {
            assert_eq!(forwarded_node(node), expected, "{node:?}");
        }
    }

    #[test]
    fn forwarded_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::FORWARDED,
            r#"For="[2001:db8:cafe::17]:4711";proto=https;host=api.example.com, for=10.0.0.1"#
                .parse()
                .unwrap(),
        );
        assert_eq!(
            forwarded(&headers),
            (
                Some("2001:db8:cafe::17"),
                Some("api.example.com"),
                Some("https")
            )
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            " 203.0.113.7:1234 , 10.0.0.1".parse().unwrap(),
        );
        assert_eq!(forwarded(&headers).0, Some("203.0.113.7"));
        headers.insert(http::header::FORWARDED, "for=garbage;by=x".parse().unwrap());
        // A hostile `for=` gives nothing of its own; `X-Forwarded-For` still speaks.
        assert_eq!(forwarded(&headers).0, Some("203.0.113.7"));
    }

    proptest::proptest! {
        /// Any header text: no panic, and any address found is part of the input.
        #[test]
        fn forwarded_of_anything(value in ".{0,80}|(for=[\\[\\]0-9a-f:._\"]{0,30};?){0,3}") {
            let mut headers = HeaderMap::new();
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(http::header::FORWARDED, value.clone());
                headers.insert("x-forwarded-for", value);
                if let Some(client) = forwarded(&headers).0 {
                    proptest::prop_assert!(client.parse::<std::net::IpAddr>().is_ok() || client.starts_with('_'));
                }
            }
        }
    }
}
