//! OpenTelemetry for a Rust service in one call: traces, metrics and logs configured from the
//! standard `OTEL_*` environment variables, our propagators installed, a guard that flushes on
//! shutdown, and log lines that carry the current trace and span ids.
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//!
//! // OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER, OTEL_PROPAGATORS, ...
//! let telemetry = otel_init::init();
//!
//! // Log lines (JSON here) with trace_id/span_id/trace_flags, `tracing` spans exported as
//! // OpenTelemetry spans, and `tracing` events exported as OTLP logs when OTEL_LOGS_EXPORTER says so.
//! tracing_subscriber::registry()
//!     .with(otel_init::logs::json_layer())
//!     .with(telemetry.tracing_layer())
//!     .with(telemetry.logs_layer())
//!     .init();
//!
//! tracing::info_span!("work").in_scope(|| tracing::info!("this line carries the span's ids"));
//!
//! // Flushes and shuts down every signal, bounded by the shutdown timeout (5 s by default);
//! // dropping the guard does the same.
//! if let Err(error) = telemetry.shutdown() {
//!     eprintln!("{error}");
//! }
//! ```
//!
//! Start-up never blocks on the collector and never panics: exporters connect lazily, and every
//! value that cannot be used is reported once, as a [`ConfigWarning`] naming the variable, the
//! value and what is used instead. Settings made in code ([`builder`]) win over the
//! environment, which wins over the spec's defaults. The crate README lists every variable and
//! which part of it `opentelemetry_sdk`/`opentelemetry-otlp` handle and which this crate adds.

mod config;
mod env;
pub mod logs;
#[cfg(feature = "prometheus")]
mod prometheus;
mod resource;
mod signal;
mod telemetry;

pub use config::{
    BatchSettings, DEFAULT_OTLP_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT, Exporter,
    OTEL_METRIC_EXPORT_INTERVAL, OTEL_METRICS_EXEMPLAR_FILTER, OTEL_SDK_DISABLED,
    OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, OtlpSettings, Protocol, Settings, Signal,
    TelemetryBuilder,
};
pub use env::ConfigWarning;
pub use otel_propagation as propagation;
pub use resource::{OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME};
pub use signal::shutdown_signal;
pub use telemetry::{ShutdownError, Telemetry};

/// Configures traces, metrics, logs and propagation from the environment and installs them
/// globally; see the [crate docs](crate). Same as `builder().build()`.
pub fn init() -> Telemetry {
    TelemetryBuilder::new().build()
}

/// A [`TelemetryBuilder`] for settings made in code.
pub fn builder() -> TelemetryBuilder {
    TelemetryBuilder::new()
}
