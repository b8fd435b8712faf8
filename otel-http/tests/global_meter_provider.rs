//! Server layers on the global meter provider count their requests in flight in atomics and
//! report them with one observable counter per provider. Its own test binary: it sets the
//! global provider.

mod common;

use std::time::Duration;

use common::{Held, Telemetry, active_get_http, send, serve};
use otel_http::OtelLayer;

#[tokio::test]
async fn layers_built_separately_report_their_sum() {
    let t = Telemetry::new();
    opentelemetry::global::set_meter_provider(t.meter_provider.clone());
    let mut held = Held::new();
    // Layers built one per server, as an accept loop might: each has its own table, the
    // provider one callback.
    let mut addrs = Vec::new();
    for _ in 0..12 {
        let layer = OtelLayer::server().tracer_provider(t.tracer_provider.clone());
        let addr = serve(held.router().layer(layer)).await;
        assert_eq!(
            send("GET", format!("http://{addr}/fast"), &[]).await.2,
            "fast"
        );
        addrs.push(addr);
    }
    let requests = held.hold(&[addrs[0], addrs[7]]).await;
    assert_eq!(active_get_http(&t), 2.0);
    held.release(requests).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(active_get_http(&t), 0.0);
    let (_, durations) = t.points("http.server.request.duration");
    let count: f64 = durations.iter().map(|(_, n)| n).sum();
    assert_eq!(count, 14.0, "12 fast and 2 slow requests: {durations:?}");
}
