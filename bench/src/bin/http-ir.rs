//! Drives requests in-process through an axum router, for callgrind: `http-ir <variant> <n>`.
//!
//! `GET /users/42` with a `traceparent` goes through `router.clone().oneshot(req)` on a
//! current-thread runtime and its body is read to the end (our span ends there; the peers' end at
//! the head). SDK providers export to exporters that discard. Every 128 requests the driver
//! sleeps 1 ms so the batch span processor's thread can drain (callgrind serialises threads).
//! `scripts/callgrind-http.sh` runs two request counts per variant and divides the difference.

use std::process::ExitCode;
use std::time::Duration;

use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use otel_bench::http::{VARIANTS, install_providers_for, router, traceparent};
use tower::ServiceExt;

fn main() -> ExitCode {
    otel_bench::driver_main(&VARIANTS, |variant, n| {
        let (tracer_provider, meter_provider) = install_providers_for(variant);
        let Some(router) = router(variant, &tracer_provider) else {
            return false;
        };
        let traceparent = traceparent(variant);
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
        true
    })
}
