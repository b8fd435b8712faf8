//! `OTEL_METRICS_EXPORTER=prometheus`: a real scrape over HTTP on 127.0.0.1.
#![cfg(feature = "prometheus")]

use std::io::{Read, Write};
use std::net::TcpStream;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use otel_init::{Exporter, Signal};

fn scrape(address: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn scrape_endpoint_from_the_environment() {
    let telemetry = otel_init::builder()
        .env_vars([
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1"),
            ("OTEL_EXPORTER_PROMETHEUS_PORT", "0"),
            ("OTEL_SERVICE_NAME", "scraped"),
        ])
        .exporters(Signal::Traces, [])
        .exporters(Signal::Logs, [])
        .install_globals(false)
        .build();
    assert!(
        telemetry.warnings().is_empty(),
        "{:?}",
        telemetry.warnings()
    );
    assert_eq!(
        telemetry.settings().exporters(Signal::Metrics),
        [Exporter::Prometheus]
    );
    let address = telemetry.prometheus_address().expect("listening");
    telemetry
        .meter_provider()
        .unwrap()
        .meter("test")
        .u64_counter("orders")
        .build()
        .add(2, &[KeyValue::new("kind", "web")]);
    let response = scrape(address);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("orders_total{"), "{response}");
    assert!(response.contains("kind=\"web\""), "{response}");
    assert!(response.contains("service_name=\"scraped\""), "{response}");
    telemetry.shutdown().expect("shutdown");
    assert!(
        TcpStream::connect(address).is_err(),
        "stopped with the guard"
    );
}

#[test]
fn port_in_use_is_one_warning_not_a_failure() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let telemetry = otel_init::builder()
        .exporters(Signal::Metrics, [Exporter::Prometheus])
        .exporters(Signal::Traces, [])
        .exporters(Signal::Logs, [])
        .prometheus_address(taken.local_addr().unwrap())
        .install_globals(false)
        .build();
    assert_eq!(telemetry.warnings().len(), 1);
    assert_eq!(telemetry.warnings()[0].variable, "OTEL_METRICS_EXPORTER");
    assert!(telemetry.prometheus_address().is_none());
}

#[test]
fn prometheus_is_for_metrics_only() {
    let (settings, warnings) = otel_init::builder()
        .env_vars([("OTEL_TRACES_EXPORTER", "prometheus")])
        .resolve();
    assert_eq!(settings.exporters(Signal::Traces), [Exporter::Otlp]);
    assert_eq!(warnings.len(), 1);
}
