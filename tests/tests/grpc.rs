//! The gRPC layers on a real tonic server and client over 127.0.0.1.

use std::net::SocketAddr;
use std::time::Duration;

use integration_tests::echo::echo_client::EchoClient;
use integration_tests::echo::echo_server::EchoServer;
use integration_tests::echo::{EchoReply, EchoRequest};
use integration_tests::echo_service::EchoService;
use integration_tests::telemetry::{Telemetry, attr};
use opentelemetry::trace::{SpanKind, Status as SpanStatus};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::trace::SpanData;
use otel_grpc::GrpcOtelLayer;
use otel_propagation::Propagators;
use tokio_stream::StreamExt;
use tonic::{Code, Request};
use tower::ServiceBuilder;

type TracedChannel = otel_http::OtelService<tonic::transport::Channel, otel_grpc::GrpcClient>;

/// A served `Echo` behind `layer`, on a free loopback port.
async fn serve_with(layer: otel_http::OtelLayer<otel_grpc::GrpcServer>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = tonic::transport::Server::builder()
        .layer(layer)
        .add_service(EchoServer::new(EchoService));
    tokio::spawn(async move {
        router
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    addr
}

/// A channel to `addr`, connected, behind `layer`.
async fn channel_with(
    addr: SocketAddr,
    layer: otel_http::OtelLayer<otel_grpc::GrpcClient>,
) -> TracedChannel {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    ServiceBuilder::new().layer(layer).service(channel)
}

/// The gRPC side of the fixture: a served `Echo` and clients, wired to a [`Telemetry`].
trait Grpc {
    async fn serve(&self) -> SocketAddr;
    async fn client(&self, addr: SocketAddr, propagators: &str) -> EchoClient<TracedChannel>;
}

impl Grpc for Telemetry {
    async fn serve(&self) -> SocketAddr {
        serve_with(
            GrpcOtelLayer::server()
                .tracer_provider(self.tracer_provider.clone())
                .meter_provider(self.meter_provider.clone())
                .propagators(Propagators::parse("tracecontext,baggage,b3").0),
        )
        .await
    }

    async fn client(&self, addr: SocketAddr, propagators: &str) -> EchoClient<TracedChannel> {
        let layer = GrpcOtelLayer::client()
            .tracer_provider(self.tracer_provider.clone())
            .meter_provider(self.meter_provider.clone())
            .propagators(Propagators::parse(propagators).0);
        EchoClient::new(channel_with(addr, layer).await)
    }
}

fn by_kind(spans: &[SpanData], kind: SpanKind) -> &SpanData {
    spans
        .iter()
        .find(|s| s.span_kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} span in {spans:#?}"))
}

fn request(behaviour: &str) -> EchoRequest {
    EchoRequest {
        message: "hi".into(),
        behaviour: behaviour.into(),
    }
}

#[tokio::test]
async fn unary_calls_are_one_trace_with_the_rpc_conventions() {
    let t = Telemetry::new();
    let addr = t.serve().await;
    let mut client = t.client(addr, "tracecontext").await;
    let reply = client.unary(request("ok")).await.unwrap().into_inner();

    let spans = t.wait_for_spans(2).await;
    let (client_span, server_span) = (
        by_kind(&spans, SpanKind::Client),
        by_kind(&spans, SpanKind::Server),
    );
    assert_eq!(client_span.name, "test.echo.Echo/Unary");
    assert_eq!(server_span.name, "test.echo.Echo/Unary");
    // The call succeeded: its method's name is interned for this thread's next calls.
    assert!(matches!(
        otel_http::strings::lookup_named("", "test.echo.Echo/Unary").0,
        std::borrow::Cow::Borrowed("test.echo.Echo/Unary")
    ));
    assert_eq!(
        server_span.parent_span_id,
        client_span.span_context.span_id()
    );
    assert_eq!(
        server_span.span_context.trace_id(),
        client_span.span_context.trace_id()
    );
    assert_eq!(
        reply.trace_id,
        server_span.span_context.trace_id().to_string(),
        "the handler ran under the span"
    );
    for span in [client_span, server_span] {
        assert_eq!(attr(span, "rpc.system.name").as_deref(), Some("grpc"));
        assert_eq!(
            attr(span, "rpc.method").as_deref(),
            Some("test.echo.Echo/Unary")
        );
        assert_eq!(
            attr(span, "rpc.response.status_code").as_deref(),
            Some("OK"),
            "OK arrives in the trailers"
        );
        assert_eq!(attr(span, "error.type"), None);
        assert_eq!(span.status, SpanStatus::Unset);
    }
    assert_eq!(
        attr(server_span, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr(server_span, "server.port"),
        Some(addr.port().to_string())
    );
}

#[tokio::test]
async fn trailers_only_errors_follow_each_sides_rule() {
    let t = Telemetry::new();
    let addr = t.serve().await;
    let mut client = t.client(addr, "tracecontext").await;
    // NOT_FOUND: the client's problem, not the server's.
    let err = client.unary(request("fail:5")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let spans = t.wait_for_spans(2).await;
    let (c, s) = (
        by_kind(&spans, SpanKind::Client),
        by_kind(&spans, SpanKind::Server),
    );
    assert_eq!(
        attr(c, "rpc.response.status_code").as_deref(),
        Some("NOT_FOUND")
    );
    assert_eq!(attr(c, "error.type").as_deref(), Some("NOT_FOUND"));
    assert!(matches!(c.status, SpanStatus::Error { .. }));
    assert_eq!(
        attr(s, "rpc.response.status_code").as_deref(),
        Some("NOT_FOUND")
    );
    assert_eq!(attr(s, "error.type"), None);
    assert_eq!(s.status, SpanStatus::Unset);

    t.spans.reset();
    let err = client.unary(request("fail:13")).await.unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    let spans = t.wait_for_spans(2).await;
    let s = by_kind(&spans, SpanKind::Server);
    assert_eq!(attr(s, "error.type").as_deref(), Some("INTERNAL"));
    assert!(matches!(s.status, SpanStatus::Error { .. }));
}

#[tokio::test]
async fn server_streams_end_with_the_stream() {
    let t = Telemetry::new();
    let addr = t.serve().await;
    let mut client = t.client(addr, "tracecontext").await;
    let mut stream = client
        .server_stream(request("ok"))
        .await
        .unwrap()
        .into_inner();
    let mut n = 0;
    while let Some(reply) = stream.next().await {
        reply.unwrap();
        n += 1;
    }
    assert_eq!(n, 3);
    let spans = t.wait_for_spans(2).await;
    for span in &spans {
        assert_eq!(
            attr(span, "rpc.response.status_code").as_deref(),
            Some("OK")
        );
        let duration = span.end_time.duration_since(span.start_time).unwrap();
        assert!(
            duration >= Duration::from_millis(50),
            "{:?} lasted the stream: {duration:?}",
            span.span_kind
        );
    }
}

#[tokio::test]
async fn an_error_sent_mid_stream_is_read_from_the_trailers() {
    let t = Telemetry::new();
    let addr = t.serve().await;
    let mut client = t.client(addr, "tracecontext").await;
    let mut stream = client
        .server_stream(request("midstream"))
        .await
        .unwrap()
        .into_inner();
    assert!(stream.next().await.unwrap().is_ok());
    assert_eq!(
        stream.next().await.unwrap().unwrap_err().code(),
        Code::Internal
    );
    drop(stream);
    let spans = t.wait_for_spans(2).await;
    for span in &spans {
        assert_eq!(
            attr(span, "rpc.response.status_code").as_deref(),
            Some("INTERNAL"),
            "{:?}",
            span.span_kind
        );
        assert_eq!(attr(span, "error.type").as_deref(), Some("INTERNAL"));
    }
}

#[tokio::test]
async fn client_and_bidi_streams() {
    let t = Telemetry::new();
    let addr = t.serve().await;
    let mut client = t.client(addr, "tracecontext").await;
    let reply = client
        .client_stream(tokio_stream::iter(vec![request("ok"), request("ok")]))
        .await
        .unwrap();
    assert_eq!(reply.into_inner().message, "2");
    let mut replies = client
        .bidi(tokio_stream::iter(vec![request("ok"); 3]))
        .await
        .unwrap()
        .into_inner();
    let mut n = 0;
    while let Some(reply) = replies.next().await {
        reply.unwrap();
        n += 1;
    }
    assert_eq!(n, 3);
    let spans = t.wait_for_spans(4).await;
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "test.echo.Echo/ClientStream")
            .count(),
        2,
        "{names:?}"
    );
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "test.echo.Echo/Bidi")
            .count(),
        2,
        "{names:?}"
    );
    assert!(
        spans
            .iter()
            .all(|s| attr(s, "rpc.response.status_code").as_deref() == Some("OK"))
    );
}

#[tokio::test]
async fn deadlines_and_unimplemented_methods() {
    let t = Telemetry::new();
    let addr = t.serve().await;
    let mut client = t.client(addr, "tracecontext").await;
    let mut req = Request::new(request("sleep:1000"));
    req.set_timeout(Duration::from_millis(50));
    let err = client.unary(req).await.unwrap_err();
    assert!(
        matches!(err.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{err:?}"
    );
    let spans = t.wait_for_spans(2).await;
    // The client's transport gave up: no gRPC status arrived; the span records the code tonic
    // reported to the caller, and is an error.
    let c = by_kind(&spans, SpanKind::Client);
    // tonic's own client timeout, or the server's DEADLINE_EXCEEDED if it came first.
    let expected = match err.code() {
        Code::Cancelled => "timeout",
        _ => "DEADLINE_EXCEEDED",
    };
    assert_eq!(attr(c, "error.type").as_deref(), Some(expected));
    assert!(matches!(c.status, SpanStatus::Error { .. }));
    assert_eq!(
        attr(c, "rpc.response.status_code").as_deref(),
        Some(code_name(err.code()))
    );
    // The server saw its caller go away mid-call.
    let s = by_kind(&spans, SpanKind::Server);
    let code = attr(s, "rpc.response.status_code");
    assert!(
        matches!(code.as_deref(), Some("CANCELLED" | "DEADLINE_EXCEEDED")),
        "{code:?}"
    );

    // A method the server does not have: tonic answers UNIMPLEMENTED, trailers-only.
    t.spans.reset();
    let channel = channel_with(
        addr,
        GrpcOtelLayer::client()
            .tracer_provider(t.tracer_provider.clone())
            .metrics(false),
    )
    .await;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<EchoRequest, EchoReply>::default();
    let path = http::uri::PathAndQuery::from_static("/test.echo.Missing/Call");
    let err = grpc
        .unary(Request::new(request("ok")), path, codec)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    let spans = t.wait_for_spans(2).await;
    let server = by_kind(&spans, SpanKind::Server);
    assert_eq!(
        attr(server, "rpc.response.status_code").as_deref(),
        Some("UNIMPLEMENTED")
    );
    assert_eq!(attr(server, "error.type").as_deref(), Some("UNIMPLEMENTED"));
    // Not a method this server serves: `_OTHER`, the path on the span only, no name from it.
    assert_eq!(attr(server, "rpc.method").as_deref(), Some("_OTHER"));
    assert_eq!(
        attr(server, "rpc.method_original").as_deref(),
        Some("/test.echo.Missing/Call")
    );
    assert_eq!(server.name, "grpc");
    // A made-up method is never interned (a peer must not fill the interned names).
    assert!(matches!(
        otel_http::strings::lookup_named("", "test.echo.Missing/Call").0,
        std::borrow::Cow::Owned(_)
    ));
    assert_eq!(
        attr(
            by_kind(&spans, SpanKind::Client),
            "rpc.response.status_code"
        )
        .as_deref(),
        Some("UNIMPLEMENTED")
    );
}

/// The canonical name of a tonic code, as `rpc.response.status_code` carries it.
fn code_name(code: Code) -> &'static str {
    otel_grpc::status::Code(code as u8).name()
}

/// A server that is not there: the channel fails to connect, tonic reports UNAVAILABLE, and the
/// client span says so.
#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let t = Telemetry::new();
    // A port that was free a moment ago: nothing listens there now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy();
    let channel = ServiceBuilder::new()
        .layer(
            GrpcOtelLayer::client()
                .tracer_provider(t.tracer_provider.clone())
                .meter_provider(t.meter_provider.clone()),
        )
        .service(channel);
    let err = EchoClient::new(channel)
        .unary(Request::new(request("ok")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let spans = t.wait_for_spans(1).await;
    let c = by_kind(&spans, SpanKind::Client);
    assert_eq!(
        attr(c, "rpc.response.status_code").as_deref(),
        Some("UNAVAILABLE")
    );
    // tonic's connect error, read by the I/O error beneath it.
    assert_eq!(attr(c, "error.type").as_deref(), Some("connection_refused"));
    assert!(matches!(c.status, SpanStatus::Error { .. }));
    let (_, points) = t.points("rpc.client.call.duration");
    assert_eq!(points.len(), 1);
    assert_eq!(
        points[0]
            .0
            .get("rpc.response.status_code")
            .map(String::as_str),
        Some("UNAVAILABLE")
    );
}

#[tokio::test]
async fn a_cancelled_call_is_recorded_as_cancelled() {
    let t = Telemetry::new();
    let addr = t.serve().await;
    let mut client = t.client(addr, "tracecontext").await;
    let mut stream = client
        .server_stream(request("hang"))
        .await
        .unwrap()
        .into_inner();
    assert!(stream.next().await.unwrap().is_ok());
    drop(stream);
    let spans = t.wait_for_spans(2).await;
    for span in &spans {
        assert_eq!(
            attr(span, "rpc.response.status_code").as_deref(),
            Some("CANCELLED"),
            "{:?}",
            span.span_kind
        );
    }
}

#[tokio::test]
async fn every_propagator_carries_the_context_through_metadata() {
    for propagators in ["tracecontext", "b3", "b3multi", "tracecontext,baggage"] {
        let t = Telemetry::new();
        let addr = t.serve().await;
        let mut client = t.client(addr, propagators).await;
        client.unary(request("ok")).await.unwrap();
        let spans = t.wait_for_spans(2).await;
        let (c, s) = (
            by_kind(&spans, SpanKind::Client),
            by_kind(&spans, SpanKind::Server),
        );
        assert_eq!(s.parent_span_id, c.span_context.span_id(), "{propagators}");
    }
}

#[tokio::test]
async fn call_durations_are_recorded_with_the_rpc_attributes() {
    let t = Telemetry::new();
    let addr = t.serve().await;
    let mut client = t.client(addr, "tracecontext").await;
    client.unary(request("ok")).await.unwrap();
    let _ = client.unary(request("fail:14")).await;
    t.wait_for_spans(4).await;
    t.meter_provider.force_flush().unwrap();
    let exported = t.metrics.get_finished_metrics().unwrap();
    let mut seen = Vec::new();
    for scope in exported.last().unwrap().scope_metrics() {
        for metric in scope.metrics() {
            if let AggregatedMetrics::F64(MetricData::Histogram(h)) = metric.data() {
                for point in h.data_points() {
                    let attrs: Vec<(String, String)> = point
                        .attributes()
                        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                        .collect();
                    seen.push((metric.name().to_owned(), metric.unit().to_owned(), attrs));
                }
            }
        }
    }
    let find = |name: &str, status: &str| {
        seen.iter()
            .find(|(n, _, a)| {
                n == name
                    && a.iter()
                        .any(|(k, v)| k == "rpc.response.status_code" && v == status)
            })
            .unwrap_or_else(|| panic!("no {name} {status} in {seen:#?}"))
    };
    let ok = find("rpc.server.call.duration", "OK");
    assert_eq!(ok.1, "s");
    assert!(ok.2.contains(&("rpc.method".into(), "test.echo.Echo/Unary".into())));
    assert!(ok.2.contains(&("rpc.system.name".into(), "grpc".into())));
    let unavailable = find("rpc.client.call.duration", "UNAVAILABLE");
    assert!(
        unavailable
            .2
            .contains(&("error.type".into(), "UNAVAILABLE".into()))
    );
}

#[test]
fn the_health_filter() {
    let health = http::Request::post("/grpc.health.v1.Health/Check")
        .body(())
        .unwrap();
    let echo = http::Request::post("/test.echo.Echo/Unary")
        .body(())
        .unwrap();
    assert!(!otel_grpc::filters::not_health_or_reflection(
        &otel_http::RequestHead::of(&health)
    ));
    assert!(otel_grpc::filters::not_health_or_reflection(
        &otel_http::RequestHead::of(&echo)
    ));
}

#[tokio::test]
async fn client_spans_name_the_server() {
    let t = Telemetry::new();
    let addr = t.serve().await;
    let channel = || async {
        tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap()
    };
    let layer = || {
        GrpcOtelLayer::client()
            .tracer_provider(t.tracer_provider.clone())
            .metrics(false)
    };

    // Told by the layer.
    let configured = ServiceBuilder::new()
        .layer(layer().server_address(addr.ip().to_string(), Some(addr.port())))
        .service(channel().await);
    EchoClient::new(configured)
        .unary(request("ok"))
        .await
        .unwrap();
    // Or by tonic: with an origin, requests carry absolute URIs.
    let origin: http::Uri = format!("http://{addr}").parse().unwrap();
    let with_origin = ServiceBuilder::new()
        .layer(layer())
        .service(channel().await);
    EchoClient::with_origin(with_origin, origin)
        .unary(request("ok"))
        .await
        .unwrap();

    let spans = t.wait_for_spans(4).await;
    let clients: Vec<_> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    assert_eq!(clients.len(), 2);
    for c in clients {
        assert_eq!(attr(c, "server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(attr(c, "server.port"), Some(addr.port().to_string()));
    }
}

/// Header or trailer fields of a scripted response.
type Fields = &'static [(&'static str, &'static [u8])];
type Frames = tokio_stream::Iter<
    std::vec::IntoIter<Result<http_body::Frame<bytes::Bytes>, std::convert::Infallible>>,
>;
type ScriptedResponse = http::Response<http_body_util::StreamBody<Frames>>;
type ScriptedFuture = std::future::Ready<Result<ScriptedResponse, std::convert::Infallible>>;

/// A "server" that answers with exactly the frames given: what no real tonic server would send.
fn scripted(
    status: u16,
    headers: Fields,
    trailers: Option<Fields>,
) -> impl tower::Service<
    http::Request<tonic::body::Body>,
    Response = ScriptedResponse,
    Error = std::convert::Infallible,
    Future = ScriptedFuture,
> + Clone {
    tower::service_fn(move |_req: http::Request<tonic::body::Body>| {
        let mut frames = vec![Ok(http_body::Frame::data(bytes::Bytes::from_static(
            b"\0\0\0\0\0",
        )))];
        if let Some(trailers) = trailers {
            let mut map = http::HeaderMap::new();
            for (k, v) in trailers {
                map.append(*k, http::HeaderValue::from_bytes(v).unwrap());
            }
            frames.push(Ok(http_body::Frame::trailers(map)));
        }
        let mut response = http::Response::builder().status(status);
        for (k, v) in headers {
            response = response.header(*k, http::HeaderValue::from_bytes(v).unwrap());
        }
        std::future::ready(Ok(response
            .body(http_body_util::StreamBody::new(tokio_stream::iter(frames)))
            .unwrap()))
    })
}

#[tokio::test]
async fn garbage_and_missing_statuses_give_well_formed_spans() {
    use http_body_util::BodyExt;
    let cases: [(u16, Fields, Option<Fields>, &str); 6] = [
        (200, &[], Some(&[("grpc-status", b"abc")]), "UNKNOWN"),
        (200, &[], Some(&[("grpc-status", b"\xff\xfe")]), "UNKNOWN"),
        (200, &[], Some(&[("grpc-status", b"99")]), "UNKNOWN"),
        (200, &[], None, "UNKNOWN"),
        (
            200,
            &[("grpc-status", b"7"), ("grpc-message", b"\xff not utf-8")],
            None,
            "PERMISSION_DENIED",
        ),
        (503, &[], None, "UNAVAILABLE"),
    ];
    for (status, headers, trailers, expected) in cases {
        let t = Telemetry::new();
        let layer = GrpcOtelLayer::client()
            .tracer_provider(t.tracer_provider.clone())
            .metrics(false);
        let service = ServiceBuilder::new()
            .layer(layer)
            .service(scripted(status, headers, trailers));
        let mut req = http::Request::post("/test.echo.Echo/Unary")
            .body(tonic::body::Body::empty())
            .unwrap();
        req.headers_mut().insert(
            "traceparent",
            http::HeaderValue::from_static("not a traceparent"),
        );
        let response = tower::ServiceExt::oneshot(service, req).await.unwrap();
        response.into_body().collect().await.unwrap();
        let spans = t.wait_for_spans(1).await;
        assert_eq!(
            attr(&spans[0], "rpc.response.status_code").as_deref(),
            Some(expected),
            "{status} {headers:?} {trailers:?}"
        );
        assert_eq!(attr(&spans[0], "error.type").as_deref(), Some(expected));
        assert!(spans[0].span_context.is_valid());
    }
}

#[tokio::test]
async fn malformed_and_oversized_metadata_never_break_a_call() {
    let t = Telemetry::new();
    let addr = t.serve().await;
    let mut client = t.client(addr, "tracecontext").await;
    let mut req = Request::new(request("ok"));
    let metadata = req.metadata_mut();
    metadata.insert("traceparent", "00-zzzz-not-valid".parse().unwrap());
    // Far past what the propagators accept (32 members), within HTTP/2's default header limit.
    metadata.insert("tracestate", "x=y,".repeat(800).parse().unwrap());
    metadata.insert("baggage", "k=v,".repeat(1000).parse().unwrap());
    metadata.insert("b3", "garbage".parse().unwrap());
    client.unary(req).await.unwrap();
    let spans = t.wait_for_spans(2).await;
    let (c, s) = (
        by_kind(&spans, SpanKind::Client),
        by_kind(&spans, SpanKind::Server),
    );
    // The client layer replaced the caller's garbage with its own context; the call went through.
    assert_eq!(s.parent_span_id, c.span_context.span_id());
    assert_eq!(attr(s, "rpc.response.status_code").as_deref(), Some("OK"));
}

/// 10,000 calls to made-up methods under made-up `:authority` values: the server's metric keeps
/// one series for them all (`rpc.method` `_OTHER`, no `server.address`), beside the served one.
#[tokio::test]
async fn made_up_methods_and_authorities_make_a_bounded_number_of_series() {
    let t = Telemetry::new();
    let addr = t.serve().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let channel = channel.clone();
            tokio::spawn(async move {
                for n in 0..1250 {
                    let i = task * 1250 + n;
                    let origin: http::Uri = format!("http://h{i}.example:{}", 1000 + i % 5000)
                        .parse()
                        .unwrap();
                    let mut grpc = tonic::client::Grpc::with_origin(channel.clone(), origin);
                    grpc.ready().await.unwrap();
                    let codec = tonic_prost::ProstCodec::<EchoRequest, EchoReply>::default();
                    let path: http::uri::PathAndQuery =
                        format!("/made.up.Svc{i}/Call{i}").parse().unwrap();
                    let err = grpc
                        .unary(Request::new(request("ok")), path, codec)
                        .await
                        .unwrap_err();
                    assert_eq!(err.code(), Code::Unimplemented);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let mut client = t.client(addr, "tracecontext").await;
    client.unary(request("ok")).await.unwrap();

    let (_, points) = t.points("rpc.server.call.duration");
    assert_eq!(points.iter().map(|(_, n)| n).sum::<f64>(), 10_001.0);
    assert_eq!(points.len(), 2, "{points:#?}");
    let methods: std::collections::BTreeSet<_> = points
        .iter()
        .map(|(a, _)| a["rpc.method"].clone())
        .collect();
    assert_eq!(
        methods,
        ["_OTHER".to_owned(), "test.echo.Echo/Unary".to_owned()].into()
    );
    assert!(
        points
            .iter()
            .all(|(a, _)| !a.contains_key("server.address") && !a.contains_key("server.port")),
        "{points:#?}"
    );
}

/// Every RPC semantic-convention mode, set on the layers (no environment involved): stable names,
/// `rpc/dup` (stable and old), `rpc/old` (old only, with the short `rpc.method`).
#[tokio::test]
async fn every_semconv_mode_set_on_the_layer() {
    for (opt_in, stable, old) in [
        ("", true, false),
        ("http, rpc/dup", true, true),
        ("rpc/old", false, true),
    ] {
        let t = Telemetry::new();
        let addr = serve_with(
            GrpcOtelLayer::server()
                .tracer_provider(t.tracer_provider.clone())
                .meter_provider(t.meter_provider.clone())
                .semconv_stability_opt_in(opt_in),
        )
        .await;
        let channel = channel_with(
            addr,
            GrpcOtelLayer::client()
                .tracer_provider(t.tracer_provider.clone())
                .semconv_stability_opt_in(opt_in),
        )
        .await;
        EchoClient::new(channel).unary(request("ok")).await.unwrap();
        let spans = t.wait_for_spans(2).await;
        for kind in [SpanKind::Client, SpanKind::Server] {
            let s = by_kind(&spans, kind.clone());
            let expect = [
                ("rpc.system.name", stable.then_some("grpc")),
                ("rpc.response.status_code", stable.then_some("OK")),
                ("rpc.system", old.then_some("grpc")),
                ("rpc.service", old.then_some("test.echo.Echo")),
                ("rpc.grpc.status_code", old.then_some("0")),
                (
                    "rpc.method",
                    Some(if stable {
                        "test.echo.Echo/Unary"
                    } else {
                        "Unary"
                    }),
                ),
            ];
            for (key, value) in expect {
                assert_eq!(attr(s, key).as_deref(), value, "{opt_in:?} {kind:?} {key}");
            }
        }
        let (_, points) = t.points("rpc.server.call.duration");
        assert_eq!(points.len(), 1);
        assert_eq!(
            points[0].0.get("rpc.service").map(String::as_str),
            old.then_some("test.echo.Echo"),
            "{opt_in:?}"
        );
        assert_eq!(
            points[0].0.get("rpc.system.name").map(String::as_str),
            stable.then_some("grpc"),
            "{opt_in:?}"
        );
    }
}

/// What a sampler was given for each SERVER span it was asked about: attribute keys and values.
#[derive(Clone, Debug, Default)]
struct SeenBySampler(std::sync::Arc<std::sync::Mutex<Vec<Attributes>>>);

/// Attribute keys and values, as text.
type Attributes = Vec<(String, String)>;

impl opentelemetry_sdk::trace::ShouldSample for SeenBySampler {
    fn should_sample(
        &self,
        parent_context: Option<&opentelemetry::Context>,
        _trace_id: opentelemetry::trace::TraceId,
        _name: &str,
        span_kind: &SpanKind,
        attributes: &[opentelemetry::KeyValue],
        _links: &[opentelemetry::trace::Link],
    ) -> opentelemetry_sdk::trace::SamplingResult {
        use opentelemetry::trace::TraceContextExt;
        if *span_kind == SpanKind::Server {
            let given = attributes
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect();
            self.0.lock().unwrap().push(given);
        }
        opentelemetry_sdk::trace::SamplingResult {
            decision: opentelemetry_sdk::trace::SamplingDecision::RecordAndSample,
            attributes: Vec::new(),
            trace_state: parent_context
                .map(|cx| cx.span().span_context().trace_state().clone())
                .unwrap_or_default(),
        }
    }
}

#[tokio::test]
async fn the_sampler_sees_a_served_method() {
    let seen = SeenBySampler::default();
    let mut t = Telemetry::new();
    t.tracer_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_sampler(seen.clone())
        .with_simple_exporter(t.spans.clone())
        .build();
    let addr = t.serve().await;
    let mut client = t.client(addr, "tracecontext").await;
    client.unary(request("ok")).await.unwrap();
    client.unary(request("ok")).await.unwrap();
    let spans = t.wait_for_spans(4).await;

    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let given = |call: usize, key: &str| {
        seen[call]
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let port = addr.port().to_string();
    for call in 0..2 {
        assert_eq!(given(call, "rpc.system.name").as_deref(), Some("grpc"));
        assert_eq!(given(call, "server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(given(call, "server.port").as_deref(), Some(port.as_str()));
    }
    // The first call's method is the caller's word until the status proves it served; from
    // then on the sampler is given it, as the conventions want. (The proof is kept per thread:
    // this test's runtime is single-threaded, so both calls are served on one.)
    assert_eq!(given(0, "rpc.method"), None, "{:?}", seen[0]);
    assert_eq!(
        given(1, "rpc.method").as_deref(),
        Some("test.echo.Echo/Unary"),
        "{:?}",
        seen[1]
    );
    for span in spans.iter().filter(|s| s.span_kind == SpanKind::Server) {
        let methods: Vec<_> = span
            .attributes
            .iter()
            .filter(|kv| kv.key.as_str() == "rpc.method")
            .map(|kv| kv.value.to_string())
            .collect();
        assert_eq!(
            methods,
            ["test.echo.Echo/Unary"],
            "exactly once on each span"
        );
    }
}
