//! The W3C Trace Context test service, built on `otel-http`'s server and client layers.
//!
//! Listens on 127.0.0.1 at `$PORT`. `POST /test` takes a JSON array of `{"url": ..., "arguments":
//! ...}`; for each element, in order and before answering, it `POST`s `arguments` as JSON to `url`
//! through the client layer, each call in its own client span. W3C Trace Context only. See
//! `examples/README.md` for running the W3C suite against it.

use std::net::SocketAddr;

use axum::routing::post;
use axum::{Json, Router};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_sdk::trace::SdkTracerProvider;
use otel_http::OtelLayer;
use otel_propagation::Propagators;
use tower::{Service, ServiceBuilder, ServiceExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5000);
    // Real span ids for every hop; nothing is exported.
    let provider = SdkTracerProvider::builder().build();
    let w3c_only = Propagators::builder().tracecontext().build();

    let client = ServiceBuilder::new()
        .layer(
            OtelLayer::client()
                .tracer_provider(provider.clone())
                .metrics(false)
                .propagators(w3c_only.clone()),
        )
        .service(Client::builder(TokioExecutor::new()).build_http::<Full<axum::body::Bytes>>());

    let app = Router::new()
        .route(
            "/test",
            post(move |Json(cases): Json<Vec<serde_json::Value>>| {
                let client = client.clone();
                async move {
                    for case in cases {
                        let (Some(url), arguments) = (case["url"].as_str(), &case["arguments"])
                        else {
                            continue;
                        };
                        let body = serde_json::to_vec(arguments).unwrap_or_default();
                        let Ok(request) = http::Request::post(url)
                            .header(http::header::CONTENT_TYPE, "application/json")
                            .body(Full::new(body.into()))
                        else {
                            continue;
                        };
                        let mut client = client.clone();
                        if let Ok(ready) = client.ready().await
                            && let Ok(response) = ready.call(request).await
                        {
                            let _ = response.into_body().collect().await;
                        }
                    }
                    "ok"
                }
            }),
        )
        .layer(
            OtelLayer::server()
                .tracer_provider(provider.clone())
                .metrics(false)
                .propagators(w3c_only),
        );

    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    eprintln!(
        "w3c-test-service listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
