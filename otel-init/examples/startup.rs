//! Start-up cost of `otel_init::init()`: the time `init` takes, and the time from process start
//! to the first HTTP request served, beside the same server without telemetry.
//!
//! `cargo run -p otel-init --example startup -- <baseline|none|console|http|http-unshared|http-traces-only|grpc>`; run it several
//! times (each run is a fresh process, so thread and runtime start-up are counted) and take the
//! median. The collector is absent on purpose: start-up must not wait for it.

use std::time::{Duration, Instant};

use otel_init::{Exporter, Protocol, Signal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    let started = Instant::now();
    let mode = std::env::args().nth(1).unwrap_or_else(|| "http".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let init_started = Instant::now();
        let telemetry = match mode.as_str() {
            "baseline" => None,
            "console" => Some(
                otel_init::builder()
                    .exporters(Signal::Traces, [Exporter::Console])
                    .exporters(Signal::Metrics, [Exporter::Console])
                    .exporters(Signal::Logs, [Exporter::Console])
                    .build(),
            ),
            "http-traces-only" => Some(
                otel_init::builder()
                    .otlp_endpoint(format!("http://{closed}"))
                    .exporters(Signal::Metrics, [])
                    .exporters(Signal::Logs, [])
                    .shutdown_timeout(Duration::from_millis(200))
                    .build(),
            ),
            // Three different timeouts: no shared HTTP client, one per signal as
            // opentelemetry-otlp builds them.
            "http-unshared" => Some(
                otel_init::builder()
                    .env_vars([
                        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10000"),
                        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "10001"),
                        ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "10002"),
                    ])
                    .otlp_endpoint(format!("http://{closed}"))
                    .shutdown_timeout(Duration::from_millis(200))
                    .build(),
            ),
            "none" => Some(
                otel_init::builder()
                    .exporters(Signal::Traces, [])
                    .exporters(Signal::Metrics, [])
                    .exporters(Signal::Logs, [])
                    .build(),
            ),
            protocol => Some(
                otel_init::builder()
                    .otlp_protocol(if protocol == "grpc" {
                        Protocol::Grpc
                    } else {
                        Protocol::HttpProtobuf
                    })
                    .otlp_endpoint(format!("http://{closed}"))
                    .shutdown_timeout(Duration::from_millis(200))
                    .build(),
            ),
        };
        let init_took = init_started.elapsed();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read");
        let first_request = started.elapsed();
        assert!(response.starts_with(b"HTTP/1.1 200"));
        println!(
            "{mode} init_us={} first_request_us={}",
            init_took.as_micros(),
            first_request.as_micros()
        );
        drop(telemetry);
    });
}
