//! The reqwest middleware against a real axum server on 127.0.0.1 (feature `reqwest`).
#![cfg(feature = "reqwest")]

mod common;

use axum::Router;
use axum::routing::get;
use common::{Layers, Telemetry, attr, serve, span};
use opentelemetry::Context;
use opentelemetry::context::FutureExt;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider};

fn app() -> Router {
    Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .route("/missing", get(|| async { http::StatusCode::NOT_FOUND }))
}

#[tokio::test]
async fn one_trace_through_reqwest() {
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server())).await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(t.client().opt_in_attributes(true).reqwest_middleware())
        .build();
    let root = t.tracer_provider.tracer("test").start("caller");
    let cx = Context::new().with_span(root);
    let url = format!("http://{addr}/items/7?sig=secret");
    let response = client
        .get(&url)
        .send()
        .with_context(cx.clone())
        .await
        .unwrap();
    assert_eq!(response.url().as_str(), url, "the response keeps its URL");
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    assert!(
        t.spans
            .get_finished_spans()
            .unwrap()
            .iter()
            .all(|s| s.span_kind != SpanKind::Client),
        "the client span lasts until the body is read"
    );
    assert_eq!(response.text().await.unwrap(), "item");
    cx.span().end();

    let spans = t.wait_for_spans(3).await;
    let caller = span(&spans, "caller");
    let client_span = span(&spans, "GET");
    let server = span(&spans, "GET /items/{id}");
    assert_eq!(client_span.span_kind, SpanKind::Client);
    assert_eq!(client_span.parent_span_id, caller.span_context.span_id());
    assert_eq!(server.parent_span_id, client_span.span_context.span_id());
    assert_eq!(
        attr(client_span, "url.full").as_deref(),
        Some(format!("http://127.0.0.1:{}/items/7?sig=REDACTED", addr.port()).as_str())
    );
    assert_eq!(
        attr(client_span, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attr(client_span, "http.response.body.size").as_deref(),
        Some("4")
    );
}

#[tokio::test]
async fn errors_through_reqwest() {
    let t = Telemetry::new();
    let addr = serve(app()).await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(t.client().reqwest_middleware())
        .build();
    let response = client
        .get(format!("http://{addr}/missing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    response.bytes().await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert!(
        client
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .is_err()
    );
    let spans = t.wait_for_spans(2).await;
    let statuses: Vec<Option<String>> = spans.iter().map(|s| attr(s, "error.type")).collect();
    assert!(statuses.contains(&Some("404".into())), "{statuses:?}");
    assert!(
        statuses.contains(&Some("connection_refused".into())),
        "{statuses:?}"
    );
    assert!(
        spans
            .iter()
            .all(|s| matches!(s.status, Status::Error { .. }))
    );
}
