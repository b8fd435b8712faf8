//! Building the providers from [`Settings`], the [`Telemetry`] guard, and its bounded shutdown.

use std::collections::HashMap;
use std::fmt;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use opentelemetry::global;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use otel_propagation::Propagators;

use crate::config::{Exporter, OtlpSettings, Protocol, Settings, Signal};
use crate::env::ConfigWarning;

/// The installed telemetry: keeps the providers, and flushes and shuts them down when dropped or
/// on [`shutdown`](Telemetry::shutdown), within the shutdown timeout.
///
/// Keep it alive for as long as the program runs (`let _telemetry = …` in `main`, not `let _ = …`).
#[must_use = "dropping the guard shuts telemetry down"]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    logger_provider: Option<SdkLoggerProvider>,
    settings: Settings,
    warnings: Vec<ConfigWarning>,
    /// The runtime gRPC exports run on when `init` was not called on a multi-threaded tokio
    /// runtime (tonic's channel needs one, and a current-thread runtime would deadlock a flush
    /// called from its own thread).
    runtime: Option<tokio::runtime::Runtime>,
    #[cfg(feature = "prometheus")]
    prometheus: Option<crate::prometheus::Server>,
    shut_down: bool,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("settings", &self.settings)
            .field("warnings", &self.warnings)
            .field("traces", &self.tracer_provider.is_some())
            .field("metrics", &self.meter_provider.is_some())
            .field("logs", &self.logger_provider.is_some())
            .field("private_runtime", &self.runtime.is_some())
            .finish()
    }
}

/// Some signal did not shut down cleanly: which, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShutdownError {
    /// Each signal that failed, with the reason.
    pub failures: Vec<(Signal, String)>,
}

impl fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("telemetry shutdown incomplete:")?;
        for (signal, reason) in &self.failures {
            write!(f, " {signal}: {reason};")?;
        }
        Ok(())
    }
}

impl std::error::Error for ShutdownError {}

/// Reports a problem where it will be seen: through `tracing` when a subscriber is installed,
/// else on stderr (telemetry is usually set up before the log subscriber).
pub(crate) fn report(message: &str) {
    let has_subscriber = tracing::dispatcher::get_default(|dispatch| {
        !dispatch.is::<tracing::subscriber::NoSubscriber>()
    });
    if has_subscriber {
        tracing::warn!(target: "otel_init", "{message}");
    } else {
        eprintln!("otel-init: warning: {message}");
    }
}

pub(crate) fn build((settings, mut warnings): (Settings, Vec<ConfigWarning>)) -> Telemetry {
    if settings.install_globals {
        settings.propagators.clone().install_global();
    }
    let mut telemetry = Telemetry {
        tracer_provider: None,
        meter_provider: None,
        logger_provider: None,
        settings,
        warnings: Vec::new(),
        runtime: None,
        #[cfg(feature = "prometheus")]
        prometheus: None,
        shut_down: false,
    };
    if !telemetry.settings.disabled {
        build_providers(&mut telemetry, &mut warnings);
    }
    for warning in &warnings {
        report(&warning.to_string());
    }
    telemetry.warnings = warnings;
    telemetry
}

fn build_providers(t: &mut Telemetry, warnings: &mut Vec<ConfigWarning>) {
    let s = &t.settings;
    let needs_grpc = Signal::ALL.iter().any(|&signal| {
        s.exporters(signal).contains(&Exporter::Otlp) && s.otlp(signal).protocol == Protocol::Grpc
    });
    let on_multi_thread_runtime = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if needs_grpc && !on_multi_thread_runtime {
        match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otel-init-export")
            .enable_all()
            .build()
        {
            Ok(runtime) => t.runtime = Some(runtime),
            Err(error) => warnings.push(ConfigWarning::new(
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "grpc",
                format!("needs a tokio runtime and one could not be started ({error})"),
                "no OTLP gRPC export",
            )),
        }
    }
    let _entered = t.runtime.as_ref().map(|runtime| runtime.enter());
    // Shared when two signals or more export over HTTP with the same timeout; else each
    // exporter builds its own (no client is built when none is needed).
    let http_timeouts: Vec<Duration> = Signal::ALL
        .iter()
        .filter(|&&signal| {
            s.exporters(signal).contains(&Exporter::Otlp)
                && s.otlp(signal).protocol == Protocol::HttpProtobuf
        })
        .map(|&signal| effective_timeout(s, signal))
        .collect();
    let http_client = http_timeouts
        .iter()
        .find(|t| http_timeouts.iter().filter(|u| u == t).count() > 1)
        .and_then(|&timeout| SharedHttpClient::build(timeout));

    // Traces.
    let mut traces = SdkTracerProvider::builder()
        .with_resource(s.resource.clone())
        .with_sampler(s.sampler.clone());
    for exporter in s.exporters(Signal::Traces) {
        match exporter {
            Exporter::Otlp => match span_exporter(
                &OtlpSettings {
                    timeout: effective_timeout(s, Signal::Traces),
                    ..s.otlp(Signal::Traces).clone()
                },
                http_client.as_ref(),
            ) {
                Ok(exporter) => {
                    let batch = BatchConfigBuilder::default()
                        .with_scheduled_delay(s.batch.schedule_delay)
                        .with_max_queue_size(s.batch.max_queue_size)
                        .with_max_export_batch_size(s.batch.max_export_batch_size)
                        .build();
                    traces = traces.with_span_processor(
                        BatchSpanProcessor::builder(exporter)
                            .with_batch_config(batch)
                            .build(),
                    );
                }
                Err(error) => warnings.push(exporter_failed(Signal::Traces, &error)),
            },
            Exporter::Console => {
                traces = traces.with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
            }
            #[cfg(feature = "prometheus")]
            Exporter::Prometheus => {}
        }
    }
    let traces = traces.build();

    // Metrics: the provider exists only when a reader takes them (a provider without one makes
    // the SDK log an error for every observable instrument created on it).
    let mut metrics = SdkMeterProvider::builder().with_resource(s.resource.clone());
    let mut readers = 0;
    for exporter in s.exporters(Signal::Metrics) {
        match exporter {
            Exporter::Otlp => match metric_exporter(
                &OtlpSettings {
                    timeout: effective_timeout(s, Signal::Metrics),
                    ..s.otlp(Signal::Metrics).clone()
                },
                http_client.as_ref(),
            ) {
                Ok(exporter) => {
                    readers += 1;
                    metrics = metrics.with_reader(
                        PeriodicReader::builder(exporter)
                            .with_interval(s.metric_export_interval)
                            .build(),
                    )
                }
                Err(error) => warnings.push(exporter_failed(Signal::Metrics, &error)),
            },
            Exporter::Console => {
                readers += 1;
                metrics = metrics.with_reader(
                    PeriodicReader::builder(opentelemetry_stdout::MetricExporter::default())
                        .with_interval(s.metric_export_interval)
                        .build(),
                )
            }
            #[cfg(feature = "prometheus")]
            Exporter::Prometheus => match crate::prometheus::start(s.prometheus_address) {
                Ok((reader, server)) => {
                    readers += 1;
                    metrics = metrics.with_reader(reader);
                    t.prometheus = Some(server);
                }
                Err(problem) => warnings.push(ConfigWarning::new(
                    "OTEL_METRICS_EXPORTER",
                    "prometheus",
                    problem,
                    "no Prometheus endpoint",
                )),
            },
        }
    }
    let metrics = (readers > 0).then(|| metrics.build());

    // Logs: the provider exists only when something exports them.
    let logs = if s.exporters(Signal::Logs).is_empty() {
        None
    } else {
        let mut logs = SdkLoggerProvider::builder().with_resource(s.resource.clone());
        for exporter in s.exporters(Signal::Logs) {
            match exporter {
                Exporter::Otlp => match log_exporter(
                    &OtlpSettings {
                        timeout: effective_timeout(s, Signal::Logs),
                        ..s.otlp(Signal::Logs).clone()
                    },
                    http_client.as_ref(),
                ) {
                    Ok(exporter) => {
                        let batch = opentelemetry_sdk::logs::BatchConfigBuilder::default()
                            .with_scheduled_delay(s.log_batch.schedule_delay)
                            .with_max_queue_size(s.log_batch.max_queue_size)
                            .with_max_export_batch_size(s.log_batch.max_export_batch_size)
                            .build();
                        logs = logs.with_log_processor(
                            opentelemetry_sdk::logs::BatchLogProcessor::builder(exporter)
                                .with_batch_config(batch)
                                .build(),
                        )
                    }
                    Err(error) => warnings.push(exporter_failed(Signal::Logs, &error)),
                },
                Exporter::Console => {
                    logs = logs.with_simple_exporter(opentelemetry_stdout::LogExporter::default())
                }
                #[cfg(feature = "prometheus")]
                Exporter::Prometheus => {}
            }
        }
        Some(logs.build())
    };

    if s.install_globals {
        global::set_tracer_provider(traces.clone());
        if let Some(metrics) = &metrics {
            global::set_meter_provider(metrics.clone());
        }
    }
    t.tracer_provider = Some(traces);
    t.meter_provider = metrics;
    t.logger_provider = logs;
}

/// The OTLP timeout of `signal`, bounded by its processor's export timeout: the SDK's batch
/// processors and periodic reader run on threads with no export timeout of their own, so
/// `OTEL_BSP_EXPORT_TIMEOUT`, `OTEL_METRIC_EXPORT_TIMEOUT` and `OTEL_BLRP_EXPORT_TIMEOUT` bound
/// the exporter's.
fn effective_timeout(s: &Settings, signal: Signal) -> Duration {
    let processor = match signal {
        Signal::Traces => s.batch.export_timeout,
        Signal::Metrics => s.metric_export_timeout,
        Signal::Logs => s.log_batch.export_timeout,
    };
    s.otlp(signal).timeout.min(processor)
}

fn exporter_failed(signal: Signal, error: &dyn fmt::Display) -> ConfigWarning {
    ConfigWarning::new(
        signal.exporter_variable(),
        "otlp",
        format!("could not be set up ({error})"),
        format!("no OTLP export of {signal}"),
    )
}

/// One OTLP exporter builder chain for each signal's exporter type.
macro_rules! otlp_exporter {
    ($name:ident, $exporter:ty) => {
        fn $name(
            o: &OtlpSettings,
            http_client: Option<&SharedHttpClient>,
        ) -> Result<$exporter, opentelemetry_otlp::ExporterBuildError> {
            match o.protocol {
                Protocol::Grpc => {
                    let mut builder = <$exporter>::builder().with_tonic().with_timeout(o.timeout);
                    if let Some(endpoint) = &o.endpoint {
                        builder = builder.with_endpoint(endpoint.clone());
                    }
                    if !o.headers.is_empty() {
                        builder = builder.with_metadata(metadata(&o.headers)?);
                    }
                    builder.build()
                }
                Protocol::HttpProtobuf => {
                    let mut builder = <$exporter>::builder()
                        .with_http()
                        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                        .with_timeout(o.timeout);
                    if let Some(endpoint) = &o.endpoint {
                        builder = builder.with_endpoint(endpoint.clone());
                    }
                    if let Some(client) = http_client.filter(|c| c.timeout == o.timeout) {
                        builder = builder.with_shared_http_client(client.client.clone());
                    }
                    if !o.headers.is_empty() {
                        builder = builder
                            .with_headers(o.headers.iter().cloned().collect::<HashMap<_, _>>());
                    }
                    builder.build()
                }
            }
        }
    };
}

otlp_exporter!(span_exporter, opentelemetry_otlp::SpanExporter);
otlp_exporter!(metric_exporter, opentelemetry_otlp::MetricExporter);
otlp_exporter!(log_exporter, opentelemetry_otlp::LogExporter);

/// One blocking reqwest client for every OTLP/HTTP exporter with this timeout (the client's
/// timeout bounds each request): `opentelemetry-otlp` would build one per signal, each with a
/// thread and a runtime of its own, which is most of `init`'s cost.
struct SharedHttpClient {
    timeout: Duration,
    client: std::sync::Arc<dyn opentelemetry_http::HttpClient>,
}

impl SharedHttpClient {
    /// Built on a thread of its own, as `opentelemetry-otlp` does: reqwest's blocking client must
    /// not be built inside an async context.
    fn build(timeout: Duration) -> Option<SharedHttpClient> {
        let client = std::thread::Builder::new()
            .name("otel-init-http-client".into())
            .spawn(move || {
                reqwest::blocking::Client::builder()
                    .timeout(timeout)
                    .build()
            })
            .ok()?
            .join()
            .ok()?
            .ok()?;
        Some(SharedHttpClient {
            timeout,
            client: std::sync::Arc::new(client),
        })
    }
}

fn metadata(
    headers: &[(String, String)],
) -> Result<tonic::metadata::MetadataMap, opentelemetry_otlp::ExporterBuildError> {
    let mut map = tonic::metadata::MetadataMap::new();
    for (name, value) in headers {
        let bad = |what: &str| {
            opentelemetry_otlp::ExporterBuildError::InvalidConfiguration(format!(
                "header {name:?}: invalid {what}"
            ))
        };
        let key = tonic::metadata::MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| bad("name"))?;
        let value = value.parse().map_err(|_| bad("value"))?;
        map.insert(key, value);
    }
    Ok(map)
}

impl Telemetry {
    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The configuration values that were not used, each already reported once.
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }

    /// The tracer provider (`None` when the SDK is disabled).
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.tracer_provider.as_ref()
    }

    /// The meter provider (`None` when the SDK is disabled).
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.meter_provider.as_ref()
    }

    /// The logger provider (`None` when the SDK is disabled or `OTEL_LOGS_EXPORTER=none`).
    pub fn logger_provider(&self) -> Option<&SdkLoggerProvider> {
        self.logger_provider.as_ref()
    }

    /// Where the Prometheus scrape endpoint listens, when it runs.
    #[cfg(feature = "prometheus")]
    pub fn prometheus_address(&self) -> Option<std::net::SocketAddr> {
        self.prometheus.as_ref().map(|server| server.address)
    }

    /// The propagators in force (installed globally unless turned off).
    pub fn propagators(&self) -> &Propagators {
        &self.settings.propagators
    }

    /// Exports what is buffered now, without shutting down; each signal is bounded by the
    /// shutdown timeout.
    pub fn flush(&self) -> Result<(), ShutdownError> {
        let tracer = self.tracer_provider.clone();
        let meter = self.meter_provider.clone();
        let logger = self.logger_provider.clone();
        run_bounded(
            self.settings.shutdown_timeout,
            [
                tracer.map(|p| (Signal::Traces, Box::new(move || p.force_flush()) as Job)),
                meter.map(|p| (Signal::Metrics, Box::new(move || p.force_flush()) as Job)),
                logger.map(|p| (Signal::Logs, Box::new(move || p.force_flush()) as Job)),
            ],
        )
    }

    /// Flushes and shuts down every signal, returning within the shutdown timeout whatever the
    /// collector does. Failures are returned, not panicked on.
    pub fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> Result<(), ShutdownError> {
        if self.shut_down {
            return Ok(());
        }
        self.shut_down = true;
        let timeout = self.settings.shutdown_timeout;
        let tracer = self.tracer_provider.take();
        let meter = self.meter_provider.take();
        let logger = self.logger_provider.take();
        let result = run_bounded(
            timeout,
            [
                tracer.map(|p| {
                    (
                        Signal::Traces,
                        Box::new(move || p.shutdown_with_timeout(timeout)) as Job,
                    )
                }),
                meter.map(|p| {
                    (
                        Signal::Metrics,
                        Box::new(move || p.shutdown_with_timeout(timeout)) as Job,
                    )
                }),
                logger.map(|p| {
                    (
                        Signal::Logs,
                        Box::new(move || p.shutdown_with_timeout(timeout)) as Job,
                    )
                }),
            ],
        );
        #[cfg(feature = "prometheus")]
        if let Some(server) = self.prometheus.take() {
            server.stop();
        }
        if let Some(runtime) = self.runtime.take() {
            // Never blocks, so it is safe inside an async context too.
            runtime.shutdown_background();
        }
        result
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown_inner() {
            report(&error.to_string());
        }
    }
}

type Job = Box<dyn FnOnce() -> opentelemetry_sdk::error::OTelSdkResult + Send>;

/// Runs each job on its own thread and waits for all of them until `timeout` has passed in all.
/// A job still running then is reported and left to finish on its own (its exporter's own
/// timeout ends it).
fn run_bounded(timeout: Duration, jobs: [Option<(Signal, Job)>; 3]) -> Result<(), ShutdownError> {
    let deadline = Instant::now() + timeout;
    let (sender, receiver) = mpsc::channel();
    let mut pending = Vec::new();
    let mut failures = Vec::new();
    for (signal, job) in jobs.into_iter().flatten() {
        let sender = sender.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("otel-init-{signal}"))
            .spawn(move || {
                let result = job();
                let _ = sender.send((signal, result));
            });
        match spawned {
            Ok(_) => pending.push(signal),
            Err(error) => failures.push((signal, format!("could not start a thread: {error}"))),
        }
    }
    drop(sender);
    while !pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok((signal, result)) => {
                pending.retain(|&s| s != signal);
                if let Err(error) = result {
                    failures.push((signal, error.to_string()));
                }
            }
            Err(_) => {
                for signal in pending.drain(..) {
                    failures.push((signal, format!("did not finish within {timeout:?}")));
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        failures.sort_by_key(|(signal, _)| Signal::ALL.iter().position(|s| s == signal));
        Err(ShutdownError { failures })
    }
}

impl Telemetry {
    /// A `tracing-opentelemetry` layer exporting `tracing` spans through this tracer provider
    /// (`None` when the SDK is disabled). Its spans become the current OpenTelemetry context when
    /// entered, so our layers' spans, `tracing` spans and log lines share one trace.
    pub fn tracing_layer<S>(
        &self,
    ) -> Option<tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        use opentelemetry::trace::TracerProvider as _;
        let tracer = self.tracer_provider.as_ref()?.tracer("otel-init");
        Some(tracing_opentelemetry::layer().with_tracer(tracer))
    }

    /// An `opentelemetry-appender-tracing` layer exporting `tracing` events as OpenTelemetry log
    /// records, each with the trace and span id of the span current when it was written (`None`
    /// when logs are not exported).
    pub fn logs_layer(
        &self,
    ) -> Option<
        opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge<
            SdkLoggerProvider,
            opentelemetry_sdk::logs::SdkLogger,
        >,
    > {
        let provider = self.logger_provider.as_ref()?;
        Some(opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(provider))
    }
}
