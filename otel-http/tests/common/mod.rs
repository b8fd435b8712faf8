//! Shared by the HTTP integration tests: the telemetry fixture (from `integration-tests`), a real
//! axum server on 127.0.0.1, and a real hyper client.
#![allow(dead_code)]

use std::net::SocketAddr;

use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
#[allow(unused_imports)]
pub use integration_tests::telemetry::{Telemetry, attr, span};
use otel_http::{Client as ClientKind, OtelLayer, Server};
use otel_propagation::Propagators;

/// The HTTP layers, wired to a [`Telemetry`].
pub trait Layers {
    fn server(&self) -> OtelLayer<Server>;
    fn client(&self) -> OtelLayer<ClientKind>;
}

impl Layers for Telemetry {
    fn server(&self) -> OtelLayer<Server> {
        OtelLayer::server()
            .tracer_provider(self.tracer_provider.clone())
            .meter_provider(self.meter_provider.clone())
            .propagators(Propagators::default())
    }

    fn client(&self) -> OtelLayer<ClientKind> {
        OtelLayer::client()
            .tracer_provider(self.tracer_provider.clone())
            .meter_provider(self.meter_provider.clone())
            .propagators(Propagators::default())
    }
}

/// Serves `app` on 127.0.0.1 with `ConnectInfo`, in the background.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

pub type HyperClient = Client<HttpConnector, Full<Bytes>>;

pub fn hyper_client() -> HyperClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends one request with the plain hyper client and reads the whole response.
pub async fn send(
    method: &str,
    url: String,
    headers: &[(&str, &str)],
) -> (http::StatusCode, http::HeaderMap, String) {
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = hyper_client()
        .request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}
