//! An axum service instrumented with one line, configured from the environment.
//!
//! `OTEL_PROPAGATORS` chooses the propagators; spans print to stdout when they end (a real
//! deployment exports them with OTLP). Handler spans, whether started with the OpenTelemetry API
//! or with `tracing`, nest under the request's span.
//!
//! ```text
//! cargo run -p examples --bin axum-service &
//! curl -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' localhost:3000/users/42
//! ```

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use otel_http::OtelLayer;
use tracing_subscriber::layer::SubscriberExt;

async fn user(Path(id): Path<u32>) -> String {
    // A `tracing` span: with tracing-opentelemetry it becomes a child of the server span.
    let span = tracing::info_span!("load user", user.id = id);
    let _entered = span.enter();
    format!("user {id}")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    otel_propagation::install_global_from_env();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("axum-service"))),
    )?;

    // The one line: `.layer(OtelLayer::server())`.
    let app = Router::new()
        .route("/users/{id}", get(user))
        .route("/health", get(|| async { "ok" }))
        .layer(OtelLayer::server().filter(otel_http::filters::not_health_check));

    // Print each finished span once a second.
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            for span in exporter.get_finished_spans().unwrap_or_default() {
                println!(
                    "{} {:?} trace={} span={} parent={}",
                    span.name,
                    span.span_kind,
                    span.span_context.trace_id(),
                    span.span_context.span_id(),
                    span.parent_span_id
                );
            }
            exporter.reset();
        }
    });

    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
