//! The builder (what code sets) and its resolution against the environment into [`Settings`].
//!
//! Precedence, for every setting: a value set in code, then the environment variable, then the
//! spec's default — the order `opentelemetry_sdk` and `opentelemetry-otlp` use for their own
//! settings, so one rule holds for the whole configuration.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::Sampler;
use otel_propagation::Propagators;

use crate::env::{ConfigWarning, EnvSource, Reader};

/// The three signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metrics.
    Metrics,
    /// Log records.
    Logs,
}

impl Signal {
    /// All three, in a fixed order.
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    /// `traces`, `metrics` or `logs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }

    fn upper(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }

    /// `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER` or `OTEL_LOGS_EXPORTER`.
    pub fn exporter_variable(self) -> &'static str {
        match self {
            Signal::Traces => "OTEL_TRACES_EXPORTER",
            Signal::Metrics => "OTEL_METRICS_EXPORTER",
            Signal::Logs => "OTEL_LOGS_EXPORTER",
        }
    }

    fn index(self) -> usize {
        match self {
            Signal::Traces => 0,
            Signal::Metrics => 1,
            Signal::Logs => 2,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a signal goes: the values of `OTEL_*_EXPORTER` other than `none` (an empty list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Exporter {
    /// OTLP, over the protocol `OTEL_EXPORTER_OTLP_PROTOCOL` chooses.
    Otlp,
    /// Human-readable output on stdout (`opentelemetry-stdout`), for debugging.
    Console,
    /// A Prometheus scrape endpoint (metrics only; feature `prometheus`).
    #[cfg(feature = "prometheus")]
    Prometheus,
}

impl Exporter {
    fn from_name(name: &str, signal: Signal) -> Option<Exporter> {
        match name.to_ascii_lowercase().as_str() {
            "otlp" => Some(Exporter::Otlp),
            "console" | "logging" => Some(Exporter::Console),
            #[cfg(feature = "prometheus")]
            "prometheus" if signal == Signal::Metrics => Some(Exporter::Prometheus),
            _ => {
                let _ = signal;
                None
            }
        }
    }
}

/// The OTLP transport: `OTEL_EXPORTER_OTLP_PROTOCOL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// `grpc`, default port 4317.
    Grpc,
    /// `http/protobuf`, default port 4318; the spec's default.
    #[default]
    HttpProtobuf,
}

impl Protocol {
    fn parse(value: &str) -> Option<Protocol> {
        match value.to_ascii_lowercase().as_str() {
            "grpc" => Some(Protocol::Grpc),
            "http/protobuf" => Some(Protocol::HttpProtobuf),
            _ => None,
        }
    }

    /// The spec's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        }
    }
}

/// OTLP settings for one signal, after resolution.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtlpSettings {
    /// The transport.
    pub protocol: Protocol,
    /// The full URL to send to when code set an endpoint; `None` leaves the endpoint to
    /// `opentelemetry-otlp`, which reads `OTEL_EXPORTER_OTLP_{SIGNAL_}ENDPOINT` itself.
    pub endpoint: Option<String>,
    /// How long one export may take (`OTEL_EXPORTER_OTLP_{SIGNAL_}TIMEOUT`, default 10 s).
    pub timeout: Duration,
    /// Headers set in code; `OTEL_EXPORTER_OTLP_{SIGNAL_}HEADERS` are added by `opentelemetry-otlp`.
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for OtlpSettings {
    /// Header values are left out: they usually hold API keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("OtlpSettings")
            .field("protocol", &self.protocol)
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .field("headers", &headers)
            .finish()
    }
}

/// Batch span processor settings (`OTEL_BSP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchSettings {
    /// `OTEL_BSP_SCHEDULE_DELAY`, default 5000 ms.
    pub schedule_delay: Duration,
    /// `OTEL_BSP_EXPORT_TIMEOUT`, default 30000 ms.
    pub export_timeout: Duration,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`, default 2048; spans beyond it are dropped, not queued.
    pub max_queue_size: usize,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512, at most the queue size.
    pub max_export_batch_size: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            schedule_delay: Duration::from_millis(5000),
            export_timeout: Duration::from_millis(30000),
            max_queue_size: 2048,
            max_export_batch_size: 512,
        }
    }
}

/// The configuration [`TelemetryBuilder::build`] applies: code settings resolved against the
/// environment. [`TelemetryBuilder::resolve`] returns it without installing anything.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Settings {
    /// `OTEL_SDK_DISABLED`: nothing is exported, no provider is installed (propagators still are,
    /// so this service does not break the traces passing through it).
    pub disabled: bool,
    /// The resource every signal carries.
    pub resource: Resource,
    /// Exporters per signal, indexed by [`Settings::exporters`].
    exporters: [Vec<Exporter>; 3],
    /// OTLP settings per signal.
    otlp: [OtlpSettings; 3],
    /// `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, default `parentbased_always_on`.
    pub sampler: Sampler,
    /// `OTEL_PROPAGATORS`, default `tracecontext,baggage`.
    pub propagators: Propagators,
    /// `OTEL_BSP_*`.
    pub batch: BatchSettings,
    /// Batch log record processor settings (`OTEL_BLRP_*`; schedule delay default 1000 ms).
    pub log_batch: BatchSettings,
    /// `OTEL_METRIC_EXPORT_INTERVAL`, default 60000 ms.
    pub metric_export_interval: Duration,
    /// `OTEL_METRIC_EXPORT_TIMEOUT`, default 30000 ms.
    pub metric_export_timeout: Duration,
    /// How long [`Telemetry::shutdown`](crate::Telemetry::shutdown) waits in all.
    pub shutdown_timeout: Duration,
    /// Whether the providers and propagators become the global ones.
    pub install_globals: bool,
    /// Where the Prometheus scrape endpoint listens
    /// (`OTEL_EXPORTER_PROMETHEUS_HOST`/`_PORT`, default `127.0.0.1:9464`).
    #[cfg(feature = "prometheus")]
    pub prometheus_address: std::net::SocketAddr,
}

impl Settings {
    /// The exporters of `signal`; empty for `none`.
    pub fn exporters(&self, signal: Signal) -> &[Exporter] {
        &self.exporters[signal.index()]
    }

    /// The OTLP settings of `signal`.
    pub fn otlp(&self, signal: Signal) -> &OtlpSettings {
        &self.otlp[signal.index()]
    }
}

/// Sets up telemetry in code; anything not set here comes from the environment.
///
/// ```
/// use std::time::Duration;
/// use opentelemetry_sdk::trace::Sampler;
///
/// let (settings, warnings) = otel_init::builder()
///     .env_vars([("OTEL_SERVICE_NAME", "checkout"), ("OTEL_BSP_SCHEDULE_DELAY", "soon")])
///     .sampler(Sampler::AlwaysOn)
///     .otlp_timeout(Duration::from_secs(5))
///     .resolve();
/// assert_eq!(settings.otlp(otel_init::Signal::Traces).timeout, Duration::from_secs(5));
/// assert_eq!(warnings[0].variable, "OTEL_BSP_SCHEDULE_DELAY");
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct TelemetryBuilder {
    source: Option<EnvSource>,
    disabled: Option<bool>,
    service_name: Option<String>,
    resource_attributes: Vec<KeyValue>,
    detect_process_and_host: Option<bool>,
    exporters: [Option<Vec<Exporter>>; 3],
    endpoint: Option<String>,
    protocol: Option<Protocol>,
    timeout: Option<Duration>,
    headers: Vec<(String, String)>,
    sampler: Option<Sampler>,
    propagators: Option<Propagators>,
    schedule_delay: Option<Duration>,
    export_timeout: Option<Duration>,
    max_queue_size: Option<usize>,
    max_export_batch_size: Option<usize>,
    metric_export_interval: Option<Duration>,
    shutdown_timeout: Option<Duration>,
    install_globals: Option<bool>,
    #[cfg(feature = "prometheus")]
    prometheus_address: Option<std::net::SocketAddr>,
}

/// `OTEL_SDK_DISABLED`.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `OTEL_TRACES_SAMPLER`.
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// `OTEL_TRACES_SAMPLER_ARG`.
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
/// `OTEL_METRIC_EXPORT_INTERVAL`.
pub const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// `OTEL_METRICS_EXEMPLAR_FILTER`.
pub const OTEL_METRICS_EXEMPLAR_FILTER: &str = "OTEL_METRICS_EXEMPLAR_FILTER";

/// The spec's default OTLP export timeout.
pub const DEFAULT_OTLP_TIMEOUT: Duration = Duration::from_secs(10);
/// The default bound on [`Telemetry::shutdown`](crate::Telemetry::shutdown).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

impl TelemetryBuilder {
    /// A builder that reads the process environment for anything not set in code.
    pub fn new() -> Self {
        TelemetryBuilder::default()
    }

    /// Reads these variables instead of the process environment (anything not listed is unset).
    ///
    /// For tests and for services whose configuration is not in the environment. The OTLP
    /// endpoint, headers, compression and TLS switches are read by `opentelemetry-otlp` from the
    /// process environment regardless; set them in code to override it.
    pub fn env_vars<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let map: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.source = Some(EnvSource::Map(Arc::new(map)));
        self
    }

    /// Turns the SDK off (`true`) or on (`false`) whatever `OTEL_SDK_DISABLED` says.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = Some(disabled);
        self
    }

    /// `service.name`; wins over `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// A resource attribute; wins over the same key in `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn resource_attribute(mut self, attribute: KeyValue) -> Self {
        self.resource_attributes.push(attribute);
        self
    }

    /// Whether to add `process.*`, `host.*` and `os.type` attributes (default: yes).
    pub fn detect_process_and_host(mut self, detect: bool) -> Self {
        self.detect_process_and_host = Some(detect);
        self
    }

    /// The exporters of `signal`, instead of `OTEL_{SIGNAL}_EXPORTER`; an empty list is `none`.
    pub fn exporters(
        mut self,
        signal: Signal,
        exporters: impl IntoIterator<Item = Exporter>,
    ) -> Self {
        self.exporters[signal.index()] = Some(exporters.into_iter().collect());
        self
    }

    /// The OTLP base endpoint for every signal, like `OTEL_EXPORTER_OTLP_ENDPOINT` (for
    /// `http/protobuf` the signal's path, `/v1/traces` and so on, is appended). Wins over every
    /// endpoint variable.
    pub fn otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The OTLP transport for every signal.
    pub fn otlp_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// How long one OTLP export may take, for every signal (spec default 10 s). Start-up never
    /// waits for the collector; this bounds each export and so each flush.
    pub fn otlp_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A header sent with every OTLP export, added to `OTEL_EXPORTER_OTLP_HEADERS`.
    pub fn otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The sampler, instead of `OTEL_TRACES_SAMPLER`/`_ARG`.
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// The propagators, instead of `OTEL_PROPAGATORS`.
    pub fn propagators(mut self, propagators: Propagators) -> Self {
        self.propagators = Some(propagators);
        self
    }

    /// `OTEL_BSP_SCHEDULE_DELAY`: how long spans wait to be batched.
    pub fn batch_schedule_delay(mut self, delay: Duration) -> Self {
        self.schedule_delay = Some(delay);
        self
    }

    /// `OTEL_BSP_EXPORT_TIMEOUT`.
    pub fn batch_export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = Some(timeout);
        self
    }

    /// `OTEL_BSP_MAX_QUEUE_SIZE`: spans beyond it are dropped (and counted by the SDK).
    pub fn batch_max_queue_size(mut self, size: usize) -> Self {
        self.max_queue_size = Some(size);
        self
    }

    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`.
    pub fn batch_max_export_batch_size(mut self, size: usize) -> Self {
        self.max_export_batch_size = Some(size);
        self
    }

    /// `OTEL_METRIC_EXPORT_INTERVAL`.
    pub fn metric_export_interval(mut self, interval: Duration) -> Self {
        self.metric_export_interval = Some(interval);
        self
    }

    /// The bound on [`Telemetry::shutdown`](crate::Telemetry::shutdown) and on the flush when the
    /// guard is dropped (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// Whether to install the providers and propagators as the global ones (default: yes).
    pub fn install_globals(mut self, install: bool) -> Self {
        self.install_globals = Some(install);
        self
    }

    /// Where the Prometheus scrape endpoint listens, instead of
    /// `OTEL_EXPORTER_PROMETHEUS_HOST`/`_PORT`.
    #[cfg(feature = "prometheus")]
    pub fn prometheus_address(mut self, address: std::net::SocketAddr) -> Self {
        self.prometheus_address = Some(address);
        self
    }

    /// Resolves the code settings against the environment, without installing anything: the
    /// settings [`build`](Self::build) would apply and a warning for each value not used.
    pub fn resolve(&self) -> (Settings, Vec<ConfigWarning>) {
        let mut reader = Reader::new(self.source.clone().unwrap_or(EnvSource::Process));
        let settings = self.resolve_with(&mut reader);
        (settings, reader.warnings)
    }

    fn resolve_with(&self, r: &mut Reader) -> Settings {
        let disabled = match self.disabled {
            Some(disabled) => disabled,
            None => r.boolean(OTEL_SDK_DISABLED, false),
        };
        let resource = crate::resource::build(
            r,
            self.service_name.as_deref(),
            &self.resource_attributes,
            self.detect_process_and_host.unwrap_or(true),
        );
        let exporters = Signal::ALL.map(|signal| match &self.exporters[signal.index()] {
            Some(list) => list.clone(),
            None => exporters_from_env(r, signal),
        });
        let otlp = Signal::ALL.map(|signal| self.otlp_settings(r, signal));
        let sampler = match &self.sampler {
            Some(sampler) => sampler.clone(),
            None => sampler_from_env(r),
        };
        let propagators = match &self.propagators {
            Some(propagators) => propagators.clone(),
            None => {
                let value = r
                    .string(otel_propagation::OTEL_PROPAGATORS)
                    .unwrap_or_default();
                let (propagators, warnings) = Propagators::parse(&value);
                for warning in warnings {
                    r.warn(
                        otel_propagation::OTEL_PROPAGATORS,
                        &value,
                        format!("has a problem: {warning}"),
                        format!("{:?}", propagators.kinds()),
                    );
                }
                propagators
            }
        };
        let batch = batch_from_env(
            r,
            "OTEL_BSP",
            BatchSettings::default(),
            [self.schedule_delay, self.export_timeout],
            [self.max_queue_size, self.max_export_batch_size],
        );
        let log_batch = batch_from_env(
            r,
            "OTEL_BLRP",
            BatchSettings {
                schedule_delay: Duration::from_millis(1000),
                ..BatchSettings::default()
            },
            [None, None],
            [None, None],
        );
        let metric_export_interval = self.metric_export_interval.unwrap_or_else(|| {
            let interval = r.millis(OTEL_METRIC_EXPORT_INTERVAL, Duration::from_secs(60));
            if interval.is_zero() {
                r.warn(
                    OTEL_METRIC_EXPORT_INTERVAL,
                    "0",
                    "must be positive",
                    "the default 60000 ms",
                );
                Duration::from_secs(60)
            } else {
                interval
            }
        });
        let metric_export_timeout = r.millis("OTEL_METRIC_EXPORT_TIMEOUT", Duration::from_secs(30));
        if let Some(value) = r.string(OTEL_METRICS_EXEMPLAR_FILTER)
            && !value.eq_ignore_ascii_case("always_off")
        {
            r.warn(
                OTEL_METRICS_EXEMPLAR_FILTER,
                &value,
                "is not supported: opentelemetry_sdk 0.33 records no exemplars",
                "always_off",
            );
        }
        Settings {
            disabled,
            resource,
            exporters,
            otlp,
            sampler,
            propagators,
            batch,
            log_batch,
            metric_export_interval,
            metric_export_timeout,
            shutdown_timeout: self.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
            install_globals: self.install_globals.unwrap_or(true),
            #[cfg(feature = "prometheus")]
            prometheus_address: self
                .prometheus_address
                .unwrap_or_else(|| prometheus_address_from_env(r)),
        }
    }

    fn otlp_settings(&self, r: &mut Reader, signal: Signal) -> OtlpSettings {
        let signal_protocol = format!("OTEL_EXPORTER_OTLP_{}_PROTOCOL", signal.upper());
        let protocol = self.protocol.unwrap_or_else(|| {
            let mut bad = Vec::new();
            let found = [signal_protocol.as_str(), "OTEL_EXPORTER_OTLP_PROTOCOL"]
                .into_iter()
                .find_map(|name| {
                    let value = r.string(name)?;
                    let parsed = Protocol::parse(&value);
                    if parsed.is_none() {
                        bad.push((name, value));
                    }
                    parsed
                })
                .unwrap_or_default();
            for (name, value) in bad {
                r.warn(
                    name,
                    &value,
                    "is not \"grpc\" or \"http/protobuf\"",
                    found.as_str(),
                );
            }
            found
        });
        let signal_timeout = format!("OTEL_EXPORTER_OTLP_{}_TIMEOUT", signal.upper());
        let timeout = self.timeout.unwrap_or_else(|| {
            let generic = r.millis("OTEL_EXPORTER_OTLP_TIMEOUT", DEFAULT_OTLP_TIMEOUT);
            r.millis(&signal_timeout, generic)
        });
        let endpoint = self.endpoint.as_ref().map(|base| match protocol {
            Protocol::Grpc => base.clone(),
            Protocol::HttpProtobuf => {
                format!("{}/v1/{}", base.trim_end_matches('/'), signal.as_str())
            }
        });
        OtlpSettings {
            protocol,
            endpoint,
            timeout,
            headers: self.headers.clone(),
        }
    }

    /// Builds and installs everything; see [`init`](crate::init).
    pub fn build(self) -> crate::Telemetry {
        crate::telemetry::build(self.resolve())
    }
}

/// `{prefix}_SCHEDULE_DELAY`, `_EXPORT_TIMEOUT`, `_MAX_QUEUE_SIZE`, `_MAX_EXPORT_BATCH_SIZE`, each
/// unless set in code (`durations`: delay, timeout; `sizes`: queue, batch).
fn batch_from_env(
    r: &mut Reader,
    prefix: &str,
    defaults: BatchSettings,
    durations: [Option<Duration>; 2],
    sizes: [Option<usize>; 2],
) -> BatchSettings {
    let queue_name = format!("{prefix}_MAX_QUEUE_SIZE");
    let batch_name = format!("{prefix}_MAX_EXPORT_BATCH_SIZE");
    let max_queue_size =
        sizes[0].unwrap_or_else(|| r.positive(&queue_name, defaults.max_queue_size));
    let mut max_export_batch_size =
        sizes[1].unwrap_or_else(|| r.positive(&batch_name, defaults.max_export_batch_size));
    if max_export_batch_size > max_queue_size {
        // The spec: the batch size must be less than or equal to the queue size.
        r.warn(
            &batch_name,
            &max_export_batch_size.to_string(),
            format!("is larger than the queue size {max_queue_size}"),
            format!("{max_queue_size}"),
        );
        max_export_batch_size = max_queue_size;
    }
    let delay_name = format!("{prefix}_SCHEDULE_DELAY");
    let mut schedule_delay =
        durations[0].unwrap_or_else(|| r.millis(&delay_name, defaults.schedule_delay));
    if schedule_delay.is_zero() {
        // The SDK's batch thread would wait zero time in a loop: a core spent doing nothing.
        r.warn(
            &delay_name,
            "0",
            "would make the batch processor spin",
            format!("{}", defaults.schedule_delay.as_millis()),
        );
        schedule_delay = defaults.schedule_delay;
    }
    BatchSettings {
        schedule_delay,
        export_timeout: durations[1].unwrap_or_else(|| {
            r.millis(&format!("{prefix}_EXPORT_TIMEOUT"), defaults.export_timeout)
        }),
        max_queue_size,
        max_export_batch_size,
    }
}

fn exporters_from_env(r: &mut Reader, signal: Signal) -> Vec<Exporter> {
    let name = signal.exporter_variable();
    let default = vec![Exporter::Otlp];
    let Some(value) = r.string(name) else {
        return default;
    };
    let names: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.iter().any(|n| n.eq_ignore_ascii_case("none")) {
        if names.len() > 1 {
            r.warn(name, &value, "lists \"none\" with other exporters", "none");
        }
        return Vec::new();
    }
    let mut exporters = Vec::new();
    let mut unknown = Vec::new();
    for n in &names {
        match Exporter::from_name(n, signal) {
            Some(exporter) if !exporters.contains(&exporter) => exporters.push(exporter),
            Some(_) => {}
            None => unknown.push(*n),
        }
    }
    if !unknown.is_empty() {
        let supported = if cfg!(feature = "prometheus") && signal == Signal::Metrics {
            "otlp, console, prometheus, none"
        } else {
            "otlp, console, none"
        };
        if exporters.is_empty() {
            r.warn(
                name,
                &value,
                format!("names no supported exporter ({supported})"),
                "the default otlp",
            );
            return default;
        }
        r.warn(
            name,
            &value,
            format!("names unsupported exporters {unknown:?} ({supported})"),
            format!("only {exporters:?}"),
        );
    }
    exporters
}

/// `OTEL_TRACES_SAMPLER`/`_ARG`, every value the spec lists; the remote samplers (`jaeger_remote`,
/// `parentbased_jaeger_remote`, `xray`) are not in the SDK and fall back to the default with a
/// warning. A ratio outside 0..=1 or not a number is warned about; the spec's default ratio is 1.0.
fn sampler_from_env(r: &mut Reader) -> Sampler {
    let default = || Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
    let Some(value) = r.string(OTEL_TRACES_SAMPLER) else {
        return default();
    };
    let mut ratio = || -> f64 {
        let Some(arg) = r.string(OTEL_TRACES_SAMPLER_ARG) else {
            return 1.0;
        };
        match arg.parse::<f64>() {
            Ok(ratio) if (0.0..=1.0).contains(&ratio) => ratio,
            _ => {
                r.warn(
                    OTEL_TRACES_SAMPLER_ARG,
                    &arg,
                    "is not a probability between 0 and 1",
                    "the default 1.0",
                );
                1.0
            }
        }
    };
    match value.to_ascii_lowercase().as_str() {
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(ratio()),
        "parentbased_always_on" => default(),
        "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        "parentbased_traceidratio" => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio())))
        }
        "jaeger_remote" | "parentbased_jaeger_remote" | "xray" => {
            r.warn(
                OTEL_TRACES_SAMPLER,
                &value,
                "is not implemented by opentelemetry_sdk",
                "the default parentbased_always_on",
            );
            default()
        }
        _ => {
            r.warn(
                OTEL_TRACES_SAMPLER,
                &value,
                "is not a known sampler",
                "the default parentbased_always_on",
            );
            default()
        }
    }
}

#[cfg(feature = "prometheus")]
fn prometheus_address_from_env(r: &mut Reader) -> std::net::SocketAddr {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
    let host = r.string("OTEL_EXPORTER_PROMETHEUS_HOST");
    let port = match r.string("OTEL_EXPORTER_PROMETHEUS_PORT") {
        None => 9464,
        Some(value) => match value.parse::<u16>() {
            Ok(port) => port,
            Err(_) => {
                r.warn(
                    "OTEL_EXPORTER_PROMETHEUS_PORT",
                    &value,
                    "is not a port number",
                    "9464",
                );
                9464
            }
        },
    };
    // The spec's default host is `localhost`: loopback, so metrics are not exposed on every
    // interface unless asked for (`OTEL_EXPORTER_PROMETHEUS_HOST=0.0.0.0` in a container).
    let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    match host {
        None => any,
        Some(host) => match (host.as_str(), port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
        {
            Some(address) => address,
            None => {
                r.warn(
                    "OTEL_EXPORTER_PROMETHEUS_HOST",
                    &host,
                    "does not resolve to an address",
                    "127.0.0.1",
                );
                any
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_schedule_delay_is_refused_with_a_warning() {
        let (settings, warnings) = TelemetryBuilder::new()
            .env_vars([
                ("OTEL_BSP_SCHEDULE_DELAY", "0"),
                ("OTEL_BLRP_SCHEDULE_DELAY", "0"),
            ])
            .resolve();
        assert_eq!(settings.batch.schedule_delay, Duration::from_millis(5000));
        assert_eq!(
            settings.log_batch.schedule_delay,
            Duration::from_millis(1000)
        );
        let named: Vec<&str> = warnings.iter().map(|w| w.variable.as_str()).collect();
        assert!(named.contains(&"OTEL_BSP_SCHEDULE_DELAY"), "{named:?}");
        assert!(named.contains(&"OTEL_BLRP_SCHEDULE_DELAY"), "{named:?}");
    }

    #[cfg(feature = "prometheus")]
    #[test]
    fn the_prometheus_endpoint_listens_on_loopback_by_default() {
        let (settings, _) = TelemetryBuilder::new()
            .env_vars([("OTEL_SERVICE_NAME", "svc")])
            .resolve();
        assert_eq!(settings.prometheus_address.to_string(), "127.0.0.1:9464");
    }

    #[test]
    fn otlp_header_values_never_print() {
        let (settings, _) = TelemetryBuilder::new()
            .env_vars([("OTEL_SERVICE_NAME", "svc")])
            .otlp_header("api-key", "s3cr3t")
            .resolve();
        let printed = format!("{:?}", settings.otlp(Signal::Traces));
        assert!(printed.contains("api-key"), "{printed}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
        assert!(!format!("{settings:?}").contains("s3cr3t"));
    }
}
