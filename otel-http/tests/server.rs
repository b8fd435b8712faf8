//! The server layer on a real axum server, driven by a real hyper client over 127.0.0.1.

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use common::{Layers, Telemetry, attr, send, serve, span};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use otel_http::ResponsePropagation;
use otel_propagation::Propagators;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn app() -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route("/fail", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route("/health", get(|| async { "ok" }))
        .route("/echo", post(|body: String| async move { body }))
}

#[tokio::test]
async fn server_span_is_the_callers_child_with_the_http_attributes() {
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server())).await;
    let (status, _, body) = send(
        "GET",
        format!("http://{addr}/users/42?q=rust&sig=secret"),
        &[
            ("traceparent", TRACEPARENT),
            ("user-agent", "test-agent/1.0"),
        ],
    )
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "user"));

    let spans = t.wait_for_spans(1).await;
    let s = span(&spans, "GET /users/{id}");
    assert_eq!(s.span_kind, SpanKind::Server);
    assert_eq!(s.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(s.parent_span_id.to_string(), PARENT_ID);
    assert!(s.parent_span_is_remote);
    assert_eq!(s.status, Status::Unset);
    let expect = [
        ("http.request.method", "GET"),
        ("url.scheme", "http"),
        ("url.path", "/users/42"),
        ("url.query", "q=rust&sig=REDACTED"),
        ("http.route", "/users/{id}"),
        ("server.address", "127.0.0.1"),
        ("server.port", &addr.port().to_string()),
        ("client.address", "127.0.0.1"),
        ("network.peer.address", "127.0.0.1"),
        ("network.protocol.version", "1.1"),
        ("user_agent.original", "test-agent/1.0"),
        ("http.response.status_code", "200"),
    ];
    for (key, value) in expect {
        assert_eq!(attr(s, key).as_deref(), Some(value), "{key}");
    }
    // Opt-In in the conventions: off unless asked for (`stream_ends_the_span_at_the_body_end`).
    for key in [
        "client.port",
        "http.request.body.size",
        "http.response.body.size",
    ] {
        assert_eq!(attr(s, key), None, "{key}");
    }
    assert_eq!(attr(s, "error.type"), None);
}

#[tokio::test]
async fn status_rules_for_servers() {
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server())).await;
    send("GET", format!("http://{addr}/fail"), &[]).await;
    send("GET", format!("http://{addr}/missing"), &[]).await;
    let spans = t.wait_for_spans(2).await;
    let fail = span(&spans, "GET /fail");
    assert_eq!(attr(fail, "error.type").as_deref(), Some("503"));
    assert!(matches!(fail.status, Status::Error { .. }));
    let missing = span(&spans, "GET /missing");
    assert_eq!(
        attr(missing, "http.response.status_code").as_deref(),
        Some("404")
    );
    assert_eq!(
        attr(missing, "error.type"),
        None,
        "4xx is not a server error"
    );
    assert_eq!(missing.status, Status::Unset);
}

#[tokio::test]
async fn unmatched_paths_and_unknown_methods() {
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server())).await;
    send("FOO", format!("http://{addr}/users/1"), &[]).await;
    let spans = t.wait_for_spans(1).await;
    let s = &spans[0];
    assert_eq!(s.name, "HTTP /users/{id}");
    assert_eq!(attr(s, "http.request.method").as_deref(), Some("_OTHER"));
    assert_eq!(
        attr(s, "http.request.method_original").as_deref(),
        Some("FOO")
    );
}

#[tokio::test]
async fn a_new_trace_without_incoming_context() {
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server())).await;
    send(
        "GET",
        format!("http://{addr}/users/1"),
        &[("traceparent", "garbage")],
    )
    .await;
    let spans = t.wait_for_spans(1).await;
    assert!(spans[0].span_context.is_valid());
    assert_eq!(
        spans[0].parent_span_id,
        opentelemetry::trace::SpanId::INVALID
    );
}

#[tokio::test]
async fn the_context_is_in_the_extensions_only_when_asked() {
    let t = Telemetry::new();
    let handler = |req: Request| async move {
        // Current while the handler runs, whatever the option says.
        assert!(Context::current().span().span_context().is_valid());
        if req.extensions().get::<Context>().is_some() {
            "in extensions"
        } else {
            "current only"
        }
    };
    let default = serve(Router::new().route("/", get(handler)).layer(t.server())).await;
    let asked = serve(
        Router::new()
            .route("/", get(handler))
            .layer(t.server().context_in_extensions(true)),
    )
    .await;
    let (_, _, body) = send("GET", format!("http://{default}/"), &[]).await;
    assert_eq!(body, "current only");
    let (_, _, body) = send("GET", format!("http://{asked}/"), &[]).await;
    assert_eq!(body, "in extensions");
}

#[tokio::test]
async fn handlers_run_under_the_server_span() {
    let t = Telemetry::new();
    let tracer_provider = t.tracer_provider.clone();
    let handler = move |req: Request| {
        let tracer_provider = tracer_provider.clone();
        async move {
            use opentelemetry::trace::{Tracer, TracerProvider};
            let current = Context::current().span().span_context().clone();
            let from_extensions = req
                .extensions()
                .get::<Context>()
                .unwrap()
                .span()
                .span_context()
                .clone();
            assert_eq!(current, from_extensions);
            tracer_provider
                .tracer("handler")
                .in_span("handler work", |_| {});
            "done"
        }
    };
    let addr = serve(
        Router::new()
            .route("/work", get(handler))
            .layer(t.server().context_in_extensions(true)),
    )
    .await;
    send(
        "GET",
        format!("http://{addr}/work"),
        &[("traceparent", TRACEPARENT)],
    )
    .await;
    let spans = t.wait_for_spans(2).await;
    let server = span(&spans, "GET /work");
    let work = span(&spans, "handler work");
    assert_eq!(work.parent_span_id, server.span_context.span_id());
    assert_eq!(work.span_context.trace_id().to_string(), TRACE_ID);
}

#[tokio::test]
async fn tracing_spans_nest_under_the_server_span() {
    use opentelemetry::trace::TracerProvider;
    use tracing_subscriber::layer::SubscriberExt;
    let t = Telemetry::new();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(t.tracer_provider.tracer("tracing")));
    let _guard = tracing::subscriber::set_default(subscriber);
    let handler = || async {
        let span = tracing::info_span!("tracing work");
        let _entered = span.enter();
        "done"
    };
    let addr = serve(
        Router::new()
            .route("/work", get(handler))
            .layer(t.server().context_in_extensions(true)),
    )
    .await;
    send(
        "GET",
        format!("http://{addr}/work"),
        &[("traceparent", TRACEPARENT)],
    )
    .await;
    let spans = t.wait_for_spans(2).await;
    let server = span(&spans, "GET /work");
    let work = span(&spans, "tracing work");
    assert_eq!(work.span_context.trace_id(), server.span_context.trace_id());
    assert_eq!(work.parent_span_id, server.span_context.span_id());
}

#[tokio::test]
async fn streaming_bodies_are_timed_to_their_end() {
    let t = Telemetry::new();
    let handler = || async {
        let chunks = async_stream_chunks();
        Body::from_stream(chunks)
    };
    let addr = serve(
        Router::new()
            .route("/stream", get(handler))
            .layer(t.server().opt_in_attributes(true)),
    )
    .await;
    let started = std::time::Instant::now();
    let (_, _, body) = send("GET", format!("http://{addr}/stream"), &[]).await;
    assert_eq!(body, "abc");
    assert!(started.elapsed() >= Duration::from_millis(200));
    let spans = t.wait_for_spans(1).await;
    let s = &spans[0];
    let duration = s.end_time.duration_since(s.start_time).unwrap();
    assert!(
        duration >= Duration::from_millis(200),
        "span ended at the body's end: {duration:?}"
    );
    assert_eq!(attr(s, "http.response.body.size").as_deref(), Some("3"));
    assert!(
        attr(s, "client.port").is_some(),
        "an Opt-In attribute asked for"
    );
}

/// Three one-byte chunks, 100 ms apart.
fn async_stream_chunks() -> impl futures_core::Stream<Item = Result<&'static str, std::io::Error>> {
    let mut remaining = vec!["c", "b", "a"];
    let mut delay: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    std::iter::from_fn(|| None::<()>);
    futures_util_poll_fn(move |cx| {
        if remaining.len() < 3 {
            let sleep = delay
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_millis(100))));
            if sleep.as_mut().poll(cx).is_pending() {
                return std::task::Poll::Pending;
            }
            delay = None;
        }
        std::task::Poll::Ready(remaining.pop().map(Ok))
    })
}

use std::future::Future as _;

/// A stream from a poll function (no extra crates needed).
fn futures_util_poll_fn<T, F>(f: F) -> PollFn<F>
where
    F: FnMut(&mut std::task::Context<'_>) -> std::task::Poll<Option<T>>,
{
    PollFn(f)
}

struct PollFn<F>(F);

impl<T, F> futures_core::Stream for PollFn<F>
where
    F: FnMut(&mut std::task::Context<'_>) -> std::task::Poll<Option<T>> + Unpin,
{
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        (self.0)(cx)
    }
}

#[tokio::test]
async fn a_client_that_goes_away_is_recorded() {
    let t = Telemetry::new();
    let handler = || async {
        let endless = futures_util_poll_fn(|_cx| {
            std::task::Poll::<Option<Result<&'static str, std::io::Error>>>::Pending
        });
        Body::from_stream(endless)
    };
    let addr = serve(Router::new().route("/hang", get(handler)).layer(t.server())).await;
    let client = common::hyper_client();
    let req = http::Request::get(format!("http://{addr}/hang"))
        .body(http_body_util::Full::new(hyper::body::Bytes::new()))
        .unwrap();
    let res = client.request(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    drop(res);
    drop(client);
    let spans = t.wait_for_spans(1).await;
    let s = &spans[0];
    assert!(
        s.events.iter().any(|e| e.name == "http.response.dropped"),
        "{:?}",
        s.events
    );
}

#[tokio::test]
async fn filtered_requests_are_not_traced() {
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server().filter(otel_http::filters::not_health_check))).await;
    send("GET", format!("http://{addr}/health"), &[]).await;
    send("GET", format!("http://{addr}/users/1"), &[]).await;
    let spans = t.wait_for_spans(1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let spans: Vec<_> = t
        .spans
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .chain(spans)
        .collect();
    assert!(spans.iter().all(|s| s.name != "GET /health"));
}

#[tokio::test]
async fn hooks_add_attributes() {
    let t = Telemetry::new();
    let layer = t
        .server()
        .on_request(|span, req| {
            span.set_attribute(KeyValue::new(
                "app.tenant",
                req.headers["x-tenant"].to_str().unwrap().to_owned(),
            ))
        })
        .on_response(|span, res| {
            span.set_attribute(KeyValue::new(
                "app.cache",
                res.headers.contains_key("x-cache"),
            ))
        })
        .capture_request_headers([http::HeaderName::from_static("x-tenant")]);
    let addr = serve(app().layer(layer)).await;
    send(
        "GET",
        format!("http://{addr}/users/1"),
        &[("x-tenant", "acme")],
    )
    .await;
    let spans = t.wait_for_spans(1).await;
    assert_eq!(attr(&spans[0], "app.tenant").as_deref(), Some("acme"));
    assert_eq!(attr(&spans[0], "app.cache").as_deref(), Some("false"));
    assert_eq!(
        attr(&spans[0], "http.request.header.x-tenant").as_deref(),
        Some("[\"acme\"]")
    );
}

#[tokio::test]
async fn public_endpoints_start_a_new_trace_with_a_link() {
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server().public_endpoint(true))).await;
    send(
        "GET",
        format!("http://{addr}/users/1"),
        &[("traceparent", TRACEPARENT)],
    )
    .await;
    let spans = t.wait_for_spans(1).await;
    let s = &spans[0];
    assert_ne!(s.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(s.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    let link = s.links.iter().next().expect("a link to the caller");
    assert_eq!(link.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(link.span_context.span_id().to_string(), PARENT_ID);
}

#[tokio::test]
async fn the_span_context_goes_back_in_the_response() {
    let t = Telemetry::new();
    let addr = serve(
        app().layer(
            t.server()
                .propagate_to_response(ResponsePropagation::TraceResponse),
        ),
    )
    .await;
    let (_, headers, _) = send(
        "GET",
        format!("http://{addr}/users/1"),
        &[("traceparent", TRACEPARENT)],
    )
    .await;
    let spans = t.wait_for_spans(1).await;
    let expected = format!("00-{TRACE_ID}-{}-01", spans[0].span_context.span_id());
    assert_eq!(headers["traceresponse"], expected.as_str());
}

#[tokio::test]
async fn every_propagator_carries_the_context_in() {
    let cases: [(&str, Vec<(&str, String)>); 4] = [
        (
            "tracecontext",
            vec![("traceparent", TRACEPARENT.to_owned())],
        ),
        ("b3", vec![("b3", format!("{TRACE_ID}-{PARENT_ID}-1"))]),
        (
            "b3multi",
            vec![
                ("x-b3-traceid", TRACE_ID.to_owned()),
                ("x-b3-spanid", PARENT_ID.to_owned()),
                ("x-b3-sampled", "1".to_owned()),
            ],
        ),
        (
            "tracecontext,baggage",
            vec![
                ("traceparent", TRACEPARENT.to_owned()),
                ("baggage", "tenant=acme".to_owned()),
            ],
        ),
    ];
    for (setting, headers) in cases {
        let t = Telemetry::new();
        let (propagators, _) = Propagators::parse(setting);
        let handler = || async {
            use opentelemetry::baggage::BaggageExt;
            Context::map_current(|cx| {
                cx.baggage()
                    .get("tenant")
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            })
        };
        let addr = serve(
            Router::new()
                .route("/b", get(handler))
                .layer(t.server().propagators(propagators)),
        )
        .await;
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (_, _, body) = send("GET", format!("http://{addr}/b"), &headers).await;
        let spans = t.wait_for_spans(1).await;
        assert_eq!(
            spans[0].span_context.trace_id().to_string(),
            TRACE_ID,
            "{setting}"
        );
        assert_eq!(spans[0].parent_span_id.to_string(), PARENT_ID, "{setting}");
        if setting.contains("baggage") {
            assert_eq!(body, "acme", "baggage reaches the handler");
        }
    }
}

#[tokio::test]
async fn metrics_carry_the_semconv_attributes() {
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server())).await;
    send("GET", format!("http://{addr}/users/1"), &[]).await;
    send("GET", format!("http://{addr}/users/2"), &[]).await;
    send("GET", format!("http://{addr}/fail"), &[]).await;
    send(
        "POST",
        format!("http://{addr}/echo"),
        &[("content-length", "0")],
    )
    .await;
    t.wait_for_spans(4).await;

    let (unit, points) = t.points("http.server.request.duration");
    assert_eq!(unit, "s");
    let users = points
        .iter()
        .find(|(a, _)| a.get("http.route").map(String::as_str) == Some("/users/{id}"))
        .unwrap();
    assert_eq!(users.1, 2.0, "one series per route, never per raw path");
    for (key, value) in [
        ("http.request.method", "GET"),
        ("url.scheme", "http"),
        ("http.response.status_code", "200"),
        ("network.protocol.version", "1.1"),
    ] {
        assert_eq!(users.0.get(key).map(String::as_str), Some(value), "{key}");
    }
    assert!(!users.0.contains_key("url.path"));
    let fail = points
        .iter()
        .find(|(a, _)| a.get("http.route").map(String::as_str) == Some("/fail"))
        .unwrap();
    assert_eq!(fail.0.get("error.type").map(String::as_str), Some("503"));

    let (unit, active) = t.points("http.server.active_requests");
    assert_eq!(unit, "{request}");
    assert!(
        active.iter().all(|(a, v)| *v == 0.0 && a.len() == 2),
        "{active:?}"
    );
    let (unit, sizes) = t.points("http.server.response.body.size");
    assert_eq!(unit, "By");
    assert!(!sizes.is_empty());
    let (_, request_sizes) = t.points("http.server.request.body.size");
    assert_eq!(request_sizes.len(), 1, "only the POST said its length");
}

/// Requests in flight: two routers under one layer report their sum, and a finished request
/// counts no more (a provider given to the layer: the synchronous counter; the global provider's
/// path is tested in `global_meter_provider.rs`).
#[tokio::test]
async fn active_requests_count_what_is_in_flight_across_layers() {
    let t = Telemetry::new();
    let mut held = common::Held::new();
    let layer = t.server();
    let first = serve(held.router().layer(layer.clone())).await;
    let second = serve(held.router().layer(layer)).await;
    let requests = held.hold(&[first, second]).await;
    assert_eq!(common::active_get_http(&t), 2.0);
    held.release(requests).await;
    // The span (and the count) ends with the body, just after the client has read it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(common::active_get_http(&t), 0.0);
}

#[tokio::test]
async fn traces_and_metrics_switch_off_independently() {
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server().traces(false))).await;
    send(
        "GET",
        format!("http://{addr}/users/1"),
        &[("traceparent", TRACEPARENT)],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(t.spans.get_finished_spans().unwrap().is_empty());
    let (_, points) = t.points("http.server.request.duration");
    assert_eq!(points.len(), 1);
}

#[tokio::test]
async fn errors_from_the_inner_service_are_recorded() {
    use tower::ServiceExt;
    let t = Telemetry::new();
    let failing = tower::service_fn(|_req: http::Request<Body>| async {
        Err::<http::Response<Body>, std::io::Error>(std::io::Error::from(
            std::io::ErrorKind::BrokenPipe,
        ))
    });
    let service = tower::Layer::layer(&t.server(), failing);
    let err = service
        .oneshot(http::Request::get("/x").body(Body::empty()).unwrap())
        .await;
    assert!(err.is_err());
    let spans = t.wait_for_spans(1).await;
    assert_eq!(
        attr(&spans[0], "error.type").as_deref(),
        Some("broken_pipe")
    );
    assert!(matches!(spans[0].status, Status::Error { .. }));
    let _ = IntoResponse::into_response("unused");
}

#[tokio::test]
async fn a_sampler_that_ignores_the_parent_still_gets_the_full_span() {
    use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = otel_http::OtelLayer::server()
        .tracer_provider(provider.clone())
        .metrics(false);
    let addr = serve(app().layer(layer)).await;
    // The parent was not sampled: a parent-based sampler would drop this span; AlwaysOn keeps it.
    let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    send(
        "GET",
        format!("http://{addr}/users/42"),
        &[("traceparent", unsampled)],
    )
    .await;
    let mut spans = Vec::new();
    for _ in 0..200 {
        spans = exporter.get_finished_spans().unwrap();
        if !spans.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = span(&spans, "GET /users/{id}");
    assert_eq!(attr(s, "http.route").as_deref(), Some("/users/{id}"));
    assert_eq!(attr(s, "url.path").as_deref(), Some("/users/42"));
    assert_eq!(attr(s, "http.response.status_code").as_deref(), Some("200"));
}

/// `trust_forwarded_headers`: `Forwarded` and `X-Forwarded-For` from a proxy we run give the
/// client (without its port), the host and the scheme; hostile values give nothing of their own;
/// without trust, neither header is read.
#[tokio::test]
async fn forwarded_headers_when_trusted() {
    let t = Telemetry::new();
    let trusted = serve(app().layer(t.server().trust_forwarded_headers(true))).await;
    let untrusted = serve(app().layer(t.server())).await;
    // Headers sent; client.address, url.scheme and server.address expected.
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>, &'a str, &'a str);
    let cases: [Case<'_>; 6] = [
        (
            &[(
                "forwarded",
                r#"for="192.0.2.43:4711";proto=https;host=api.example.com"#,
            )],
            Some("192.0.2.43"),
            "https",
            "api.example.com",
        ),
        (
            &[("forwarded", r#"for="[2001:db8::1]:4711", for=10.0.0.1"#)],
            Some("2001:db8::1"),
            "http",
            "127.0.0.1",
        ),
        (
            &[
                ("x-forwarded-for", "203.0.113.7, 10.0.0.1"),
                ("x-forwarded-proto", "https"),
            ],
            Some("203.0.113.7"),
            "https",
            "127.0.0.1",
        ),
        // Hostile: not an address, an unclosed bracket, a script; the peer is used instead.
        (
            &[("forwarded", "for=<script>alert(1)</script>")],
            None,
            "http",
            "127.0.0.1",
        ),
        (
            &[("forwarded", "for=\"[2001:db8::1\"")],
            None,
            "http",
            "127.0.0.1",
        ),
        (
            &[("x-forwarded-for", "; DROP TABLE users")],
            None,
            "http",
            "127.0.0.1",
        ),
    ];
    for (headers, client, scheme, host) in cases {
        t.spans.reset();
        send("GET", format!("http://{trusted}/users/1"), headers).await;
        let spans = t.wait_for_spans(1).await;
        let s = &spans[0];
        let expected_client = client.unwrap_or("127.0.0.1");
        assert_eq!(
            attr(s, "client.address").as_deref(),
            Some(expected_client),
            "{headers:?}"
        );
        assert_eq!(
            attr(s, "url.scheme").as_deref(),
            Some(scheme),
            "{headers:?}"
        );
        assert_eq!(
            attr(s, "server.address").as_deref(),
            Some(host),
            "{headers:?}"
        );
        // The peer is still the connection's.
        assert_eq!(
            attr(s, "network.peer.address").as_deref(),
            Some("127.0.0.1")
        );
        if client.is_some() {
            assert_eq!(attr(s, "client.port"), None, "{headers:?}");
        }

        t.spans.reset();
        send("GET", format!("http://{untrusted}/users/1"), headers).await;
        let spans = t.wait_for_spans(1).await;
        assert_eq!(
            attr(&spans[0], "client.address").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(attr(&spans[0], "url.scheme").as_deref(), Some("http"));
    }
}

#[tokio::test]
async fn https_servers_say_so() {
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server().https(true))).await;
    send("GET", format!("http://{addr}/users/1"), &[]).await;
    let spans = t.wait_for_spans(1).await;
    assert_eq!(attr(&spans[0], "url.scheme").as_deref(), Some("https"));
    let (_, points) = t.points("http.server.request.duration");
    assert_eq!(points[0].0["url.scheme"], "https");
}

#[tokio::test]
async fn captured_headers_are_string_arrays_on_the_span() {
    let t = Telemetry::new();
    let handler = || async { ([(http::header::CACHE_CONTROL, "no-store")], "ok") };
    let layer = t
        .server()
        .capture_request_headers([http::HeaderName::from_static("x-request-id")])
        .capture_response_headers([http::header::CACHE_CONTROL]);
    let addr = serve(Router::new().route("/", get(handler)).layer(layer)).await;
    send("GET", format!("http://{addr}/"), &[("x-request-id", "r-1")]).await;
    let spans = t.wait_for_spans(1).await;
    let s = &spans[0];
    let array = |key: &str| {
        s.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(
        array("http.request.header.x-request-id"),
        Some(opentelemetry::Value::Array(opentelemetry::Array::String(
            vec!["r-1".into()]
        )))
    );
    assert_eq!(
        array("http.response.header.cache-control"),
        Some(opentelemetry::Value::Array(opentelemetry::Array::String(
            vec!["no-store".into()]
        )))
    );
}

#[tokio::test]
async fn request_headers_are_read_alike_from_few_or_many() {
    // A few headers are found in one pass, many by name: the attributes are the same.
    let extra: Vec<(String, String)> = (0..20)
        .map(|i| (format!("x-extra-{i}"), i.to_string()))
        .collect();
    for many in [false, true] {
        let t = Telemetry::new();
        let addr = serve(app().layer(t.server().opt_in_attributes(true))).await;
        let mut headers = vec![("user-agent", "agent/2"), ("content-length", "5")];
        if many {
            headers.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let url = format!("http://{addr}/echo");
        let mut req = http::Request::builder().method("POST").uri(url);
        for (k, v) in &headers {
            req = req.header(*k, *v);
        }
        let res = common::hyper_client()
            .request(
                req.body(http_body_util::Full::new(bytes::Bytes::from("hello")))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let spans = t.wait_for_spans(1).await;
        let s = &spans[0];
        assert_eq!(
            attr(s, "server.address").as_deref(),
            Some("127.0.0.1"),
            "{many}"
        );
        assert_eq!(
            attr(s, "server.port"),
            Some(addr.port().to_string()),
            "{many}"
        );
        assert_eq!(
            attr(s, "user_agent.original").as_deref(),
            Some("agent/2"),
            "{many}"
        );
        assert_eq!(
            attr(s, "http.request.body.size").as_deref(),
            Some("5"),
            "{many}"
        );
    }
}
