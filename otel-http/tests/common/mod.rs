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

/// Handlers that wait until released: `GET /slow` says when it is entered and answers `done`
/// once released; `GET /fast` answers at once. For counting requests in flight.
pub struct Held {
    release: std::sync::Arc<tokio::sync::Notify>,
    entered: tokio::sync::mpsc::UnboundedSender<()>,
    entered_rx: tokio::sync::mpsc::UnboundedReceiver<()>,
}

impl Held {
    pub fn new() -> Self {
        let (entered, entered_rx) = tokio::sync::mpsc::unbounded_channel();
        Held {
            release: Default::default(),
            entered,
            entered_rx,
        }
    }

    /// A router with the two routes.
    pub fn router(&self) -> Router {
        let (release, entered) = (self.release.clone(), self.entered.clone());
        Router::new()
            .route(
                "/slow",
                axum::routing::get(move || async move {
                    entered.send(()).unwrap();
                    release.notified().await;
                    "done"
                }),
            )
            .route("/fast", axum::routing::get(|| async { "fast" }))
    }

    /// Sends `GET /slow` to each server, and waits until every handler is entered.
    pub async fn hold(
        &mut self,
        addrs: &[SocketAddr],
    ) -> Vec<tokio::task::JoinHandle<(http::StatusCode, http::HeaderMap, String)>> {
        let held: Vec<_> = addrs
            .iter()
            .map(|&addr| {
                tokio::spawn(async move { send("GET", format!("http://{addr}/slow"), &[]).await })
            })
            .collect();
        for _ in addrs {
            self.entered_rx.recv().await.unwrap();
        }
        held
    }

    /// Lets the held requests finish, and checks they did.
    pub async fn release(
        &self,
        held: Vec<tokio::task::JoinHandle<(http::StatusCode, http::HeaderMap, String)>>,
    ) {
        self.release.notify_waiters();
        for request in held {
            assert_eq!(request.await.unwrap().2, "done");
        }
    }
}

/// The `http.server.active_requests` points of a [`Telemetry`], and the one for `GET` over
/// `http` checked to be the only one.
pub fn active_get_http(t: &Telemetry) -> f64 {
    let (unit, active) = t.points("http.server.active_requests");
    assert_eq!(unit, "{request}");
    assert_eq!(
        active.len(),
        1,
        "only the cells used are reported: {active:?}"
    );
    let (attributes, value) = &active[0];
    assert_eq!(
        attributes.get("http.request.method").map(String::as_str),
        Some("GET")
    );
    assert_eq!(
        attributes.get("url.scheme").map(String::as_str),
        Some("http")
    );
    *value
}
