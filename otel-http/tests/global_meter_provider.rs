//! Server layers on the global meter provider count their requests in flight in atomics and
//! report them with one observable counter per provider. Its own test binary: it sets the
//! global provider.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{Telemetry, send, serve};
use otel_http::OtelLayer;
use tokio::sync::{Notify, mpsc};

#[tokio::test]
async fn layers_built_separately_report_their_sum() {
    let t = Telemetry::new();
    opentelemetry::global::set_meter_provider(t.meter_provider.clone());
    let release = Arc::new(Notify::new());
    let (entered, mut entered_rx) = mpsc::unbounded_channel::<()>();
    let held = || {
        let (release, entered) = (release.clone(), entered.clone());
        Router::new()
            .route(
                "/slow",
                get(move || async move {
                    entered.send(()).unwrap();
                    release.notified().await;
                    "done"
                }),
            )
            .route("/fast", get(|| async { "fast" }))
    };
    // Layers built one per server, as an accept loop might: each has its own table, the
    // provider one callback.
    let mut addrs = Vec::new();
    for _ in 0..12 {
        let layer = OtelLayer::server().tracer_provider(t.tracer_provider.clone());
        let addr = serve(held().layer(layer)).await;
        assert_eq!(
            send("GET", format!("http://{addr}/fast"), &[]).await.2,
            "fast"
        );
        addrs.push(addr);
    }
    let in_flight = [addrs[0], addrs[7]].map(|addr| {
        tokio::spawn(async move { send("GET", format!("http://{addr}/slow"), &[]).await })
    });
    for _ in 0..2 {
        entered_rx.recv().await.unwrap();
    }
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
    assert_eq!(*value, 2.0, "{active:?}");

    release.notify_waiters();
    for request in in_flight {
        assert_eq!(request.await.unwrap().2, "done");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (_, active) = t.points("http.server.active_requests");
    assert_eq!(active[0].1, 0.0, "{active:?}");
    let (_, durations) = t.points("http.server.request.duration");
    let count: f64 = durations.iter().map(|(_, n)| n).sum();
    assert_eq!(count, 14.0, "12 fast and 2 slow requests: {durations:?}");
}
