//! An axum service instrumented with one line, its telemetry configured from the environment.
//!
//! `otel_init::init()` reads the standard variables (`OTEL_SERVICE_NAME`,
//! `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_TRACES_EXPORTER`, `OTEL_PROPAGATORS`, ...); log lines are
//! JSON with the current trace and span ids. Handler spans, whether started with the
//! OpenTelemetry API or with `tracing`, nest under the request's span. SIGTERM or Ctrl-C stops it
//! gracefully, with spans flushed.
//!
//! ```text
//! OTEL_TRACES_EXPORTER=console OTEL_METRICS_EXPORTER=none cargo run -p examples --bin axum-service &
//! curl -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' localhost:3000/users/42
//! ```

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use otel_http::OtelLayer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

async fn user(Path(id): Path<u32>) -> String {
    // A `tracing` span: through the tracing layer it becomes a child of the server span.
    let span = tracing::info_span!("load user", user.id = id);
    let _entered = span.enter();
    tracing::info!("loading user {id}");
    format!("user {id}")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let telemetry = otel_init::init();
    tracing_subscriber::registry()
        .with(otel_init::logs::json_layer())
        .with(telemetry.tracing_layer())
        .try_init()?;

    // The one line: `.layer(OtelLayer::server())`.
    let app = Router::new()
        .route("/users/{id}", get(user))
        .route("/health", get(|| async { "ok" }))
        .layer(OtelLayer::server().filter(otel_http::filters::not_health_check));

    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(otel_init::shutdown_signal())
        .await?;
    telemetry.shutdown()?;
    Ok(())
}
