//! The client layer around a real hyper client, against real axum servers on 127.0.0.1.

mod common;

use axum::Router;
use axum::routing::get;
use common::{Layers, Telemetry, attr, serve, span};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use tower::{Service, ServiceBuilder, ServiceExt};

fn app() -> Router {
    Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .route("/missing", get(|| async { http::StatusCode::NOT_FOUND }))
}

fn request(url: String) -> http::Request<Full<Bytes>> {
    http::Request::get(url)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

#[tokio::test]
async fn one_trace_across_a_real_hop() {
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server())).await;
    let mut client = ServiceBuilder::new()
        .layer(t.client().opt_in_attributes(true))
        .service(common::hyper_client());

    let root = t.tracer_provider.tracer("test").start("caller");
    let cx = Context::new().with_span(root);
    let response = {
        let _guard = cx.clone().attach();
        client
            .ready()
            .await
            .unwrap()
            .call(request(format!("http://{addr}/items/7?sig=s&x=1")))
            .await
            .unwrap()
    };
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"item");
    cx.span().end();

    let spans = t.wait_for_spans(3).await;
    let caller = span(&spans, "caller");
    let client_span = span(&spans, "GET");
    let server = span(&spans, "GET /items/{id}");
    assert_eq!(client_span.span_kind, SpanKind::Client);
    assert_eq!(client_span.parent_span_id, caller.span_context.span_id());
    assert_eq!(server.parent_span_id, client_span.span_context.span_id());
    assert_eq!(
        server.span_context.trace_id(),
        caller.span_context.trace_id()
    );
    assert_eq!(
        attr(client_span, "url.full").as_deref(),
        Some(format!("http://127.0.0.1:{}/items/7?sig=REDACTED&x=1", addr.port()).as_str())
    );
    assert_eq!(
        attr(client_span, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr(client_span, "server.port"),
        Some(addr.port().to_string())
    );
    assert_eq!(
        attr(client_span, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        attr(client_span, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attr(client_span, "network.protocol.version").as_deref(),
        Some("1.1")
    );
    assert_eq!(
        attr(client_span, "http.response.body.size").as_deref(),
        Some("4")
    );
    assert!(
        client_span.end_time >= server.end_time,
        "the client reads the body after the server sent it"
    );
}

#[tokio::test]
async fn four_hundreds_are_client_errors() {
    let t = Telemetry::new();
    let addr = serve(app()).await;
    let client = ServiceBuilder::new()
        .layer(t.client())
        .service(common::hyper_client());
    let response = client
        .oneshot(request(format!("http://{addr}/missing")))
        .await
        .unwrap();
    response.into_body().collect().await.unwrap();
    let spans = t.wait_for_spans(1).await;
    assert_eq!(attr(&spans[0], "error.type").as_deref(), Some("404"));
    assert!(matches!(spans[0].status, Status::Error { .. }));

    let (_, points) = t.points("http.client.request.duration");
    assert_eq!(points.len(), 1);
    let attrs = &points[0].0;
    assert_eq!(attrs.get("error.type").map(String::as_str), Some("404"));
    assert_eq!(
        attrs.get("server.address").map(String::as_str),
        Some("127.0.0.1")
    );
    assert_eq!(
        attrs.get("http.response.status_code").map(String::as_str),
        Some("404")
    );
}

#[tokio::test]
async fn transport_errors_end_the_span() {
    let t = Telemetry::new();
    // Bind and drop a listener so the port refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = ServiceBuilder::new()
        .layer(t.client())
        .service(common::hyper_client());
    assert!(
        client
            .oneshot(request(format!("http://127.0.0.1:{port}/")))
            .await
            .is_err()
    );
    let spans = t.wait_for_spans(1).await;
    // hyper-util's connect error, read by the I/O error beneath it.
    assert_eq!(
        attr(&spans[0], "error.type").as_deref(),
        Some("connection_refused")
    );
    assert!(matches!(spans[0].status, Status::Error { .. }));
    assert_eq!(attr(&spans[0], "http.response.status_code"), None);
}

#[tokio::test]
async fn the_span_lasts_until_the_body_is_read() {
    let t = Telemetry::new();
    let addr = serve(app()).await;
    let client = ServiceBuilder::new()
        .layer(t.client())
        .service(common::hyper_client());
    let response = client
        .oneshot(request(format!("http://{addr}/items/1")))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    assert!(
        t.spans.get_finished_spans().unwrap().is_empty(),
        "still reading"
    );
    response.into_body().collect().await.unwrap();
    assert_eq!(t.wait_for_spans(1).await.len(), 1);
}

#[tokio::test]
async fn a_tower_timeout_is_a_timeout() {
    let t = Telemetry::new();
    // A server that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let (_socket, _) = listener.accept().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    });
    let client = ServiceBuilder::new()
        .layer(t.client())
        .timeout(std::time::Duration::from_millis(100))
        .service(common::hyper_client());
    let Err(error) = client.oneshot(request(format!("http://{addr}/"))).await else {
        panic!("a response from a server that never answers");
    };
    assert!(error.is::<tower::timeout::error::Elapsed>());
    held.abort();
    let spans = t.wait_for_spans(1).await;
    assert_eq!(attr(&spans[0], "error.type").as_deref(), Some("timeout"));
}

/// A context in the request's extensions is the CLIENT span's parent, not the current one: how a
/// call from a spawned task stays in its trace.
#[tokio::test]
async fn the_parent_in_the_request_extensions_wins() {
    let t = Telemetry::new();
    let addr = serve(app()).await;
    let tracer = t.tracer_provider.tracer("test");
    let parent = tracer.start("parent");
    let cx = Context::new().with_span(parent);
    let client = ServiceBuilder::new()
        .layer(t.client())
        .service(common::hyper_client());
    let mut req = request(format!("http://{addr}/items/1"));
    req.extensions_mut().insert(cx.clone());
    // Spawned, and nothing current there.
    tokio::spawn(async move {
        let res = client.oneshot(req).await.unwrap();
        res.into_body().collect().await.unwrap();
    })
    .await
    .unwrap();
    let spans = t.wait_for_spans(1).await;
    let c = span(&spans, "GET");
    assert_eq!(c.parent_span_id, cx.span().span_context().span_id());
    assert_eq!(
        c.span_context.trace_id(),
        cx.span().span_context().trace_id()
    );
}
