//! What each of the demo's services does first and last: telemetry from the standard environment
//! (through `otel-init`), JSON log lines carrying the current trace and span ids, and a flush on
//! the way out.

use std::future::Future;
use std::process::ExitCode;
use tracing_subscriber::Layer as _;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// A service's whole life: telemetry up, `serve` until it returns (on SIGTERM/SIGINT, say),
/// telemetry flushed and down; the exit code says whether `serve` succeeded.
pub async fn run<F>(name: &str, serve: F) -> ExitCode
where
    F: Future<Output = Result<(), Box<dyn std::error::Error>>>,
{
    let telemetry = start_telemetry();
    let result = serve.await;
    match &result {
        Ok(()) => tracing::info!("{name} stopped"),
        Err(error) => tracing::error!("{name} failed: {error}"),
    }
    stop_telemetry(telemetry);
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Starts telemetry from the `OTEL_*` variables and installs the log subscriber: JSON lines on
/// stdout with `trace_id`/`span_id`, `tracing` spans as OpenTelemetry spans, `tracing` events as
/// OTLP logs when `OTEL_LOGS_EXPORTER` says so.
pub fn start_telemetry() -> otel_init::Telemetry {
    let telemetry = otel_init::init();
    let _ = tracing_subscriber::registry()
        .with(otel_init::logs::json_layer().with_filter(LevelFilter::INFO))
        .with(telemetry.tracing_layer().with_filter(LevelFilter::INFO))
        .with(telemetry.logs_layer().with_filter(LevelFilter::INFO))
        .try_init();
    for warning in telemetry.warnings() {
        tracing::warn!("{warning}");
    }
    telemetry
}

/// Flushes and shuts telemetry down, reporting (not panicking) if the collector could not take it.
pub fn stop_telemetry(telemetry: otel_init::Telemetry) {
    if let Err(error) = telemetry.shutdown() {
        eprintln!("telemetry shutdown: {error}");
    }
}
