//! Drives requests in-process through an axum router, for callgrind: `http-ir <variant> <n>`.
//!
//! `GET /users/42` with a `traceparent` goes through `router.clone().oneshot(req)` on a
//! current-thread runtime and its body is read to the end (our span ends there; the peers' end at
//! the head). SDK providers export to exporters that discard. Every 128 requests the driver
//! sleeps 1 ms so the batch span processor's thread can drain (callgrind serialises threads).
//! `scripts/callgrind-http.sh` runs two request counts per variant and divides the difference.

use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use http_body_util::BodyExt;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tower::ServiceExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

const VARIANTS: [&str; 8] = [
    "plain-axum",
    "ours-traces",
    "ours-traces-unsampled",
    "ours-traces-metrics",
    "ours-traces-direct-propagators",
    "tower-http-trace+tracing-opentelemetry",
    "axum-tracing-opentelemetry",
    "opentelemetry-instrumentation-tower",
];

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Ok(())
    }
}

impl PushMetricExporter for Discard {
    async fn export(&self, _metrics: &ResourceMetrics) -> OTelSdkResult {
        Ok(())
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

fn routes() -> Router {
    Router::new().route("/users/{id}", get(|| async { "user" }))
}

fn router(variant: &str, tracer_provider: &SdkTracerProvider) -> Option<Router> {
    use otel_http::OtelLayer;
    let tracing_subscriber = || {
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("bench")));
        tracing::subscriber::set_global_default(subscriber).ok();
    };
    Some(match variant {
        "plain-axum" => routes(),
        "ours-traces" | "ours-traces-unsampled" => {
            routes().layer(OtelLayer::server().metrics(false))
        }
        "ours-traces-metrics" => routes().layer(OtelLayer::server()),
        "ours-traces-direct-propagators" => routes().layer(
            OtelLayer::server()
                .metrics(false)
                .propagators(otel_propagation::Propagators::default()),
        ),
        "tower-http-trace+tracing-opentelemetry" => {
            tracing_subscriber();
            routes().layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &Request<Body>| {
                    let span = tracing::info_span!("request", method = %req.method(), uri = %req.uri(), version = ?req.version());
                    let parent = opentelemetry::global::get_text_map_propagator(|p| {
                        p.extract(&opentelemetry_http::HeaderExtractor(req.headers()))
                    });
                    let _ = span.set_parent(parent);
                    span
                },
            ))
        }
        "axum-tracing-opentelemetry" => {
            tracing_subscriber();
            routes().layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())
        }
        "opentelemetry-instrumentation-tower" => {
            routes().layer(opentelemetry_instrumentation_tower::http::server::Layer::new())
        }
        _ => return None,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (variant, n) = match args.as_slice() {
        [list] if list == "list" => {
            VARIANTS.iter().for_each(|v| println!("{v}"));
            return ExitCode::SUCCESS;
        }
        [variant, n] => match n.parse::<u64>() {
            Ok(n) => (variant.as_str(), n),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    let tracer_provider = SdkTracerProvider::builder()
        .with_batch_exporter(Discard)
        .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(Discard).build())
        .build();
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    otel_propagation::Propagators::default().install_global();
    let Some(router) = router(variant, &tracer_provider) else {
        return usage();
    };
    let flags = if variant.ends_with("unsampled") {
        "00"
    } else {
        "01"
    };
    let traceparent = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for i in 0..n {
            let req = Request::get("/users/42")
                .header("host", "api.example.com")
                .header("user-agent", "bench/1.0")
                .header("traceparent", traceparent.as_str())
                .body(Body::empty())
                .expect("request");
            let response = router.clone().oneshot(req).await.expect("response");
            let body = response.into_body().collect().await.expect("body");
            std::hint::black_box(body);
            if i % 128 == 127 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    });
    let _ = tracer_provider.shutdown();
    let _ = meter_provider.shutdown();
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!("usage: http-ir <variant> <requests> | list; variants: {VARIANTS:?}");
    ExitCode::FAILURE
}
