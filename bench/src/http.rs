//! HTTP server variants shared by the callgrind driver (`http-ir`) and the load-test server
//! (`http-server`): plain axum, ours in each configuration, and the peers, with SDK providers
//! whose exporters discard.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

/// The variants, plain first.
pub const VARIANTS: [&str; 16] = [
    "plain-axum",
    "floor-api-span",
    "floor-api-span-unsampled",
    "floor-api-span-sampled-out",
    "floor-api-span-3-attributes",
    "floor-api-span-sampling-attributes",
    "floor-api-span-sampling-attributes-sampled-out",
    "floor-api-span-2-histograms",
    "ours-traces",
    "ours-traces-unsampled",
    "ours-traces-sampled-out",
    "ours-traces-metrics",
    "ours-traces-direct-propagators",
    "tower-http-trace+tracing-opentelemetry",
    "axum-tracing-opentelemetry",
    "opentelemetry-instrumentation-tower",
];

/// An exporter that drops everything.
#[derive(Debug)]
pub struct Discard;

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

/// The router for `variant`, or `None` for an unknown name.
pub fn router(variant: &str, tracer_provider: &SdkTracerProvider) -> Option<Router> {
    use otel_http::OtelLayer;
    let tracing_subscriber = || install_tracing_subscriber(tracer_provider);
    Some(match variant {
        "plain-axum" => routes(),
        "floor-api-span" | "floor-api-span-unsampled" | "floor-api-span-sampled-out" => {
            routes().layer(crate::floor::FloorLayer::new(false))
        }
        "floor-api-span-3-attributes" => routes().layer(crate::floor::FloorLayer::new(true)),
        "floor-api-span-sampling-attributes" | "floor-api-span-sampling-attributes-sampled-out" => {
            routes().layer(crate::floor::FloorLayer::with_sampling_attributes())
        }
        "floor-api-span-2-histograms" => {
            routes().layer(crate::floor::FloorLayer::with_histograms(false))
        }
        "ours-traces" | "ours-traces-unsampled" | "ours-traces-sampled-out" => {
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
            // As the crate's README sets it up: the context written back into the response too.
            routes()
                .layer(axum_tracing_opentelemetry::middleware::OtelInResponseLayer)
                .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())
        }
        "opentelemetry-instrumentation-tower" => {
            routes().layer(opentelemetry_instrumentation_tower::http::server::Layer::new())
        }
        _ => return None,
    })
}

/// A global `tracing` subscriber as a user of the tracing-based peers runs one: their spans (target
/// `otel::tracing`, which the OpenTelemetry-tracing crates emit at TRACE) enabled, everything else
/// at INFO as services run: tower-http's `TraceLayer` span is at INFO here (`make_span_with`
/// below) and its DEBUG `on_request`/`on_response` events stay off, and the HTTP/2 stack's TRACE
/// events do not each become span events.
pub fn install_tracing_subscriber(tracer_provider: &SdkTracerProvider) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::Targets;
    let filter = Targets::new()
        .with_default(tracing::Level::INFO)
        .with_target("otel::tracing", tracing::Level::TRACE);
    let subscriber = tracing_subscriber::registry().with(
        tracing_opentelemetry::layer()
            .with_tracer(tracer_provider.tracer("bench"))
            .with_filter(filter),
    );
    tracing::subscriber::set_global_default(subscriber).ok();
}

/// Global SDK providers exporting to [`Discard`], and our propagators installed globally, as an
/// application would set them up. Returns the providers, to shut down at the end.
pub fn install_providers() -> (SdkTracerProvider, SdkMeterProvider) {
    install_providers_for("")
}

/// [`install_providers`] for `variant`: a `-sampled-out` variant gets a sampler that records
/// nothing (the request's sampled parent notwithstanding), as a ratio sampler does for most
/// requests.
pub fn install_providers_for(variant: &str) -> (SdkTracerProvider, SdkMeterProvider) {
    let mut builder = SdkTracerProvider::builder().with_batch_exporter(Discard);
    if variant.ends_with("sampled-out") {
        builder = builder.with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff);
    }
    let tracer_provider = builder.build();
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(Discard).build())
        .build();
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    otel_propagation::Propagators::default().install_global();
    (tracer_provider, meter_provider)
}

/// A sampled or unsampled `traceparent`, as the variant wants.
pub fn traceparent(variant: &str) -> String {
    let flags = if variant.ends_with("unsampled") {
        "00"
    } else {
        "01"
    };
    format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}")
}
