//! Every variable parsed, bad values included, through `resolve` over explicit variable maps (the
//! same parser the process environment goes through), so nothing races on the process env.

use std::time::Duration;

use opentelemetry::{Key, KeyValue};
use opentelemetry_sdk::trace::Sampler;
use otel_init::propagation::{PropagatorKind, Propagators};
use otel_init::{ConfigWarning, Exporter, Protocol, Settings, Signal};

fn resolve(vars: &[(&str, &str)]) -> (Settings, Vec<ConfigWarning>) {
    otel_init::builder()
        .env_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .resolve()
}

fn only_warning(vars: &[(&str, &str)]) -> (Settings, ConfigWarning) {
    let (settings, warnings) = resolve(vars);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    (settings, warnings.into_iter().next().unwrap())
}

fn sampler(vars: &[(&str, &str)]) -> String {
    format!("{:?}", resolve(vars).0.sampler)
}

fn resource(settings: &Settings, key: &'static str) -> Option<String> {
    settings
        .resource
        .get(&Key::from_static_str(key))
        .map(|v| v.to_string())
}

#[test]
fn defaults_follow_the_spec() {
    let (settings, warnings) = resolve(&[]);
    assert!(warnings.is_empty());
    assert!(!settings.disabled);
    for signal in Signal::ALL {
        assert_eq!(settings.exporters(signal), [Exporter::Otlp]);
        let otlp = settings.otlp(signal);
        assert_eq!(otlp.protocol, Protocol::HttpProtobuf);
        assert_eq!(otlp.timeout, Duration::from_secs(10));
        assert_eq!(otlp.endpoint, None, "left to opentelemetry-otlp");
    }
    assert_eq!(settings.sampler_debug(), "ParentBased(AlwaysOn)");
    assert_eq!(settings.propagators, Propagators::default());
    assert_eq!(settings.batch, otel_init::BatchSettings::default());
    assert_eq!(settings.metric_export_interval, Duration::from_secs(60));
    assert_eq!(settings.shutdown_timeout, Duration::from_secs(5));
    assert!(
        resource(&settings, "service.name")
            .unwrap()
            .starts_with("unknown_service:")
    );
    assert_eq!(
        resource(&settings, "telemetry.sdk.language").as_deref(),
        Some("rust")
    );
    assert_eq!(
        resource(&settings, "telemetry.sdk.name").as_deref(),
        Some("opentelemetry")
    );
    assert!(resource(&settings, "process.pid").is_some());
    assert!(resource(&settings, "process.executable.name").is_some());
    assert!(resource(&settings, "host.arch").is_some());
    assert!(resource(&settings, "os.type").is_some());
    assert!(
        resource(&settings, "process.command_args").is_none(),
        "may hold secrets"
    );
}

trait SamplerDebug {
    fn sampler_debug(&self) -> String;
}

impl SamplerDebug for Settings {
    fn sampler_debug(&self) -> String {
        format!("{:?}", self.sampler)
    }
}

#[test]
fn sdk_disabled() {
    assert!(resolve(&[("OTEL_SDK_DISABLED", "true")]).0.disabled);
    assert!(resolve(&[("OTEL_SDK_DISABLED", " TRUE ")]).0.disabled);
    assert!(!resolve(&[("OTEL_SDK_DISABLED", "false")]).0.disabled);
    assert!(!resolve(&[("OTEL_SDK_DISABLED", "")]).0.disabled);
    let (settings, warning) = only_warning(&[("OTEL_SDK_DISABLED", "yes")]);
    assert!(!settings.disabled);
    assert_eq!(
        warning.to_string(),
        "OTEL_SDK_DISABLED=\"yes\" is not \"true\" or \"false\"; using false"
    );
}

#[test]
fn service_name_and_resource_attributes() {
    let (settings, warnings) = resolve(&[
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attrs,team=a%2Cb, region = eu ",
        ),
        ("OTEL_SERVICE_NAME", "from-name"),
    ]);
    assert!(warnings.is_empty());
    assert_eq!(
        resource(&settings, "service.name").as_deref(),
        Some("from-name")
    );
    assert_eq!(resource(&settings, "team").as_deref(), Some("a,b"));
    assert_eq!(resource(&settings, "region").as_deref(), Some("eu"));

    let (settings, _) = resolve(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs")]);
    assert_eq!(
        resource(&settings, "service.name").as_deref(),
        Some("from-attrs")
    );

    // Any error discards the whole value.
    let (settings, warning) = only_warning(&[("OTEL_RESOURCE_ATTRIBUTES", "team=a,broken")]);
    assert_eq!(resource(&settings, "team"), None);
    assert_eq!(warning.variable, "OTEL_RESOURCE_ATTRIBUTES");
    assert_eq!(warning.value, "team=a,broken");
    assert!(warning.problem.contains("without '='"), "{warning}");
}

#[test]
fn code_wins_over_the_environment() {
    let (settings, warnings) = otel_init::builder()
        .env_vars([
            ("OTEL_SERVICE_NAME", "env-name"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=env"),
            ("OTEL_TRACES_SAMPLER", "always_off"),
            ("OTEL_TRACES_EXPORTER", "console"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
            ("OTEL_BSP_SCHEDULE_DELAY", "1"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1"),
            ("OTEL_PROPAGATORS", "b3"),
            ("OTEL_SDK_DISABLED", "true"),
        ])
        .service_name("code-name")
        .resource_attribute(KeyValue::new("team", "code"))
        .sampler(Sampler::AlwaysOn)
        .exporters(Signal::Traces, [Exporter::Otlp])
        .otlp_protocol(Protocol::HttpProtobuf)
        .otlp_endpoint("http://collector:4318/")
        .otlp_timeout(Duration::from_secs(3))
        .batch_schedule_delay(Duration::from_millis(200))
        .metric_export_interval(Duration::from_secs(5))
        .propagators(Propagators::none())
        .disabled(false)
        .resolve();
    assert!(warnings.is_empty());
    assert!(!settings.disabled);
    assert_eq!(
        resource(&settings, "service.name").as_deref(),
        Some("code-name")
    );
    assert_eq!(resource(&settings, "team").as_deref(), Some("code"));
    assert_eq!(settings.sampler_debug(), "AlwaysOn");
    assert_eq!(settings.exporters(Signal::Traces), [Exporter::Otlp]);
    let traces = settings.otlp(Signal::Traces);
    assert_eq!(traces.protocol, Protocol::HttpProtobuf);
    assert_eq!(traces.timeout, Duration::from_secs(3));
    assert_eq!(
        traces.endpoint.as_deref(),
        Some("http://collector:4318/v1/traces")
    );
    assert_eq!(
        settings.otlp(Signal::Logs).endpoint.as_deref(),
        Some("http://collector:4318/v1/logs")
    );
    assert_eq!(settings.batch.schedule_delay, Duration::from_millis(200));
    assert_eq!(settings.metric_export_interval, Duration::from_secs(5));
    assert!(settings.propagators.is_none());
}

#[test]
fn grpc_endpoint_from_code_is_used_as_given() {
    let (settings, _) = otel_init::builder()
        .env_vars([("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])
        .otlp_endpoint("http://collector:4317")
        .resolve();
    assert_eq!(
        settings.otlp(Signal::Metrics).endpoint.as_deref(),
        Some("http://collector:4317")
    );
}

#[test]
fn exporters() {
    let (settings, warnings) = resolve(&[
        ("OTEL_TRACES_EXPORTER", "otlp,console"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "Console"),
    ]);
    assert!(warnings.is_empty());
    assert_eq!(
        settings.exporters(Signal::Traces),
        [Exporter::Otlp, Exporter::Console]
    );
    assert!(settings.exporters(Signal::Metrics).is_empty());
    assert_eq!(settings.exporters(Signal::Logs), [Exporter::Console]);

    let (settings, warning) = only_warning(&[("OTEL_TRACES_EXPORTER", "zipkin")]);
    assert_eq!(settings.exporters(Signal::Traces), [Exporter::Otlp]);
    assert_eq!(warning.variable, "OTEL_TRACES_EXPORTER");
    assert_eq!(warning.value, "zipkin");
    assert_eq!(warning.used_instead, "the default otlp");

    let (settings, warning) = only_warning(&[("OTEL_LOGS_EXPORTER", "console,jaeger")]);
    assert_eq!(settings.exporters(Signal::Logs), [Exporter::Console]);
    assert!(warning.problem.contains("jaeger"), "{warning}");

    let (settings, warning) = only_warning(&[("OTEL_METRICS_EXPORTER", "none,otlp")]);
    assert!(settings.exporters(Signal::Metrics).is_empty());
    assert_eq!(warning.used_instead, "none");
}

#[test]
fn protocol_generic_and_per_signal() {
    let (settings, warnings) = resolve(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf"),
    ]);
    assert!(warnings.is_empty());
    assert_eq!(settings.otlp(Signal::Traces).protocol, Protocol::Grpc);
    assert_eq!(settings.otlp(Signal::Metrics).protocol, Protocol::Grpc);
    assert_eq!(settings.otlp(Signal::Logs).protocol, Protocol::HttpProtobuf);

    // One warning for a variable every signal reads.
    let (settings, warning) = only_warning(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]);
    assert_eq!(
        settings.otlp(Signal::Traces).protocol,
        Protocol::HttpProtobuf
    );
    assert_eq!(
        warning.to_string(),
        "OTEL_EXPORTER_OTLP_PROTOCOL=\"http/json\" is not \"grpc\" or \"http/protobuf\"; using http/protobuf"
    );

    // A bad per-signal value falls back to the generic one.
    let (settings, warning) = only_warning(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "udp"),
    ]);
    assert_eq!(settings.otlp(Signal::Traces).protocol, Protocol::Grpc);
    assert_eq!(warning.used_instead, "grpc");
}

#[test]
fn timeouts_generic_and_per_signal() {
    let (settings, warnings) = resolve(&[
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "2500"),
    ]);
    assert!(warnings.is_empty());
    assert_eq!(
        settings.otlp(Signal::Traces).timeout,
        Duration::from_secs(5)
    );
    assert_eq!(
        settings.otlp(Signal::Metrics).timeout,
        Duration::from_millis(2500)
    );

    let (settings, warning) = only_warning(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")]);
    assert_eq!(settings.otlp(Signal::Logs).timeout, Duration::from_secs(10));
    assert_eq!(
        warning.to_string(),
        "OTEL_EXPORTER_OTLP_TIMEOUT=\"10s\" is not a whole number of milliseconds; using the default 10000 ms"
    );
}

#[test]
fn samplers_every_spec_value() {
    assert_eq!(sampler(&[("OTEL_TRACES_SAMPLER", "always_on")]), "AlwaysOn");
    assert_eq!(
        sampler(&[("OTEL_TRACES_SAMPLER", "always_off")]),
        "AlwaysOff"
    );
    assert_eq!(
        sampler(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25")
        ]),
        "TraceIdRatioBased(0.25)"
    );
    assert_eq!(
        sampler(&[("OTEL_TRACES_SAMPLER", "traceidratio")]),
        "TraceIdRatioBased(1.0)",
        "the spec's default ratio"
    );
    assert_eq!(
        sampler(&[("OTEL_TRACES_SAMPLER", "parentbased_always_on")]),
        "ParentBased(AlwaysOn)"
    );
    assert_eq!(
        sampler(&[("OTEL_TRACES_SAMPLER", "parentbased_always_off")]),
        "ParentBased(AlwaysOff)"
    );
    assert_eq!(
        sampler(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1")
        ]),
        "ParentBased(TraceIdRatioBased(0.1))"
    );
    for remote in ["jaeger_remote", "parentbased_jaeger_remote", "xray"] {
        let (settings, warning) = only_warning(&[("OTEL_TRACES_SAMPLER", remote)]);
        assert_eq!(settings.sampler_debug(), "ParentBased(AlwaysOn)");
        assert!(warning.problem.contains("not implemented"), "{warning}");
    }
    let (settings, warning) = only_warning(&[("OTEL_TRACES_SAMPLER", "sometimes")]);
    assert_eq!(settings.sampler_debug(), "ParentBased(AlwaysOn)");
    assert_eq!(warning.used_instead, "the default parentbased_always_on");

    for bad in ["1.5", "-0.1", "half", "NaN"] {
        let (settings, warning) = only_warning(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", bad),
        ]);
        assert_eq!(
            settings.sampler_debug(),
            "ParentBased(TraceIdRatioBased(1.0))"
        );
        assert_eq!(warning.variable, "OTEL_TRACES_SAMPLER_ARG");
        assert_eq!(warning.value, bad);
        assert_eq!(warning.used_instead, "the default 1.0");
    }
    // The argument of a sampler that takes none is ignored.
    assert!(
        resolve(&[
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_TRACES_SAMPLER_ARG", "x")
        ])
        .1
        .is_empty()
    );
}

#[test]
fn propagators_b3_included() {
    let (settings, warnings) = resolve(&[("OTEL_PROPAGATORS", "tracecontext,baggage,b3,b3multi")]);
    assert!(warnings.is_empty());
    assert_eq!(
        settings.propagators.kinds(),
        [
            PropagatorKind::TraceContext,
            PropagatorKind::Baggage,
            PropagatorKind::B3,
            PropagatorKind::B3Multi
        ]
    );
    assert!(
        resolve(&[("OTEL_PROPAGATORS", "none")])
            .0
            .propagators
            .is_none()
    );
    let (settings, warning) = only_warning(&[("OTEL_PROPAGATORS", "b3,jaeger")]);
    assert_eq!(settings.propagators.kinds(), [PropagatorKind::B3]);
    assert_eq!(warning.variable, "OTEL_PROPAGATORS");
    assert!(warning.problem.contains("jaeger"), "{warning}");
}

#[test]
fn batch_span_processor() {
    let (settings, warnings) = resolve(&[
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "2000"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"),
    ]);
    assert!(warnings.is_empty());
    assert_eq!(settings.batch.schedule_delay, Duration::from_millis(100));
    assert_eq!(settings.batch.export_timeout, Duration::from_secs(2));
    assert_eq!(settings.batch.max_queue_size, 100);
    assert_eq!(settings.batch.max_export_batch_size, 10);

    let (settings, warnings) = resolve(&[
        ("OTEL_BSP_SCHEDULE_DELAY", "-1"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "1.5"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "lots"),
    ]);
    assert_eq!(settings.batch, otel_init::BatchSettings::default());
    let variables: Vec<&str> = warnings.iter().map(|w| w.variable.as_str()).collect();
    assert_eq!(
        variables,
        [
            "OTEL_BSP_MAX_QUEUE_SIZE",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            "OTEL_BSP_SCHEDULE_DELAY",
            "OTEL_BSP_EXPORT_TIMEOUT"
        ]
    );
    assert_eq!(warnings[0].used_instead, "the default 2048");
    assert_eq!(warnings[2].used_instead, "the default 5000 ms");

    let (settings, warning) = only_warning(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"),
    ]);
    assert_eq!(settings.batch.max_export_batch_size, 100);
    assert_eq!(warning.used_instead, "100");
}

#[test]
fn metric_export_interval_and_exemplar_filter() {
    let (settings, warnings) = resolve(&[
        ("OTEL_METRIC_EXPORT_INTERVAL", "15000"),
        ("OTEL_METRICS_EXEMPLAR_FILTER", "always_off"),
    ]);
    assert!(warnings.is_empty());
    assert_eq!(settings.metric_export_interval, Duration::from_secs(15));
    for bad in ["0", "soon"] {
        let (settings, warning) = only_warning(&[("OTEL_METRIC_EXPORT_INTERVAL", bad)]);
        assert_eq!(settings.metric_export_interval, Duration::from_secs(60));
        assert_eq!(warning.used_instead, "the default 60000 ms");
    }
    let (_, warning) = only_warning(&[("OTEL_METRICS_EXEMPLAR_FILTER", "trace_based")]);
    assert_eq!(warning.used_instead, "always_off");
}

#[test]
fn every_warning_names_variable_value_and_what_is_used() {
    let (_, warnings) = resolve(&[
        ("OTEL_SDK_DISABLED", "nope"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "fast"),
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ("OTEL_BSP_SCHEDULE_DELAY", "later"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "often"),
        ("OTEL_PROPAGATORS", "ottrace"),
        ("OTEL_RESOURCE_ATTRIBUTES", "=x"),
    ]);
    // Nine: the sampler itself is fine, its argument is not.
    assert_eq!(warnings.len(), 9, "{warnings:#?}");
    for warning in &warnings {
        let line = warning.to_string();
        assert!(
            line.starts_with(&format!("{}=", warning.variable)),
            "{line}"
        );
        assert!(line.contains(&format!("{:?}", warning.value)), "{line}");
        assert!(line.contains("; using "), "{line}");
    }
}

#[test]
fn batch_log_record_processor_and_metric_export_timeout() {
    let (settings, warnings) = resolve(&[]);
    assert!(warnings.is_empty());
    assert_eq!(
        settings.log_batch.schedule_delay,
        Duration::from_millis(1000)
    );
    assert_eq!(settings.metric_export_timeout, Duration::from_secs(30));

    let (settings, warnings) = resolve(&[
        ("OTEL_BLRP_SCHEDULE_DELAY", "250"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "10"),
        ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "20"),
        ("OTEL_BLRP_EXPORT_TIMEOUT", "x"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "5000"),
    ]);
    assert_eq!(
        settings.log_batch.schedule_delay,
        Duration::from_millis(250)
    );
    assert_eq!(settings.log_batch.max_queue_size, 10);
    assert_eq!(settings.log_batch.max_export_batch_size, 10);
    assert_eq!(settings.log_batch.export_timeout, Duration::from_secs(30));
    assert_eq!(settings.metric_export_timeout, Duration::from_secs(5));
    let variables: Vec<&str> = warnings.iter().map(|w| w.variable.as_str()).collect();
    assert_eq!(
        variables,
        [
            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
            "OTEL_BLRP_EXPORT_TIMEOUT"
        ]
    );
}
