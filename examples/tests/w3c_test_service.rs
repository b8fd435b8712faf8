//! Drives the `w3c-test-service` binary the way the W3C trace-context suite does: a harness server
//! on 127.0.0.1 receives the service's callbacks, and the propagated headers are checked against
//! the suite's expectations.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

type Seen = Arc<Mutex<Vec<http::HeaderMap>>>;

struct Service(std::process::Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start() -> (Service, u16, SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let harness = Router::new().route(
        "/callback",
        post(move |headers: http::HeaderMap| {
            record.lock().unwrap().push(headers);
            async { "" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let harness_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, harness).await.unwrap() });

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_w3c-test-service"))
        .env("PORT", port.to_string())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let service = Service(child);
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (service, port, harness_addr, seen);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("w3c-test-service did not start");
}

/// Sends the suite's request: each header pair, and `calls` callbacks to the harness.
async fn test(
    port: u16,
    harness: SocketAddr,
    seen: &Seen,
    headers: &[(&str, &str)],
    calls: usize,
) -> Vec<http::HeaderMap> {
    seen.lock().unwrap().clear();
    let cases: Vec<String> = (0..calls)
        .map(|i| format!(r#"{{"url": "http://{harness}/callback", "arguments": [{i}]}}"#))
        .collect();
    let mut req = http::Request::post(format!("http://127.0.0.1:{port}/test"))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = Full::new(axum::body::Bytes::from(format!("[{}]", cases.join(","))));
    let client = Client::builder(TokioExecutor::new()).build_http();
    let res = client.request(req.body(body).unwrap()).await.unwrap();
    assert_eq!(res.status(), 200);
    res.into_body().collect().await.unwrap();
    seen.lock().unwrap().clone()
}

fn traceparent(h: &http::HeaderMap) -> (String, String, String, String) {
    let all: Vec<_> = h.get_all("traceparent").iter().collect();
    assert_eq!(all.len(), 1, "exactly one traceparent");
    let parts: Vec<String> = all[0]
        .to_str()
        .unwrap()
        .split('-')
        .map(str::to_owned)
        .collect();
    assert_eq!(parts.len(), 4);
    (
        parts[0].clone(),
        parts[1].clone(),
        parts[2].clone(),
        parts[3].clone(),
    )
}

const TRACE_ID: &str = "12345678901234567890123456789012";

#[tokio::test]
async fn the_w3c_protocol_end_to_end() {
    let (_service, port, harness, seen) = start().await;

    // A valid traceparent: same trace, new parent id, version 00; tracestate kept.
    let got = test(
        port,
        harness,
        &seen,
        &[
            (
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-01",
            ),
            ("tracestate", "foo=1,bar=2"),
        ],
        1,
    )
    .await;
    let (version, trace_id, parent_id, _) = traceparent(&got[0]);
    assert_eq!((version.as_str(), trace_id.as_str()), ("00", TRACE_ID));
    assert_ne!(parent_id, "1234567890123456");
    assert_eq!(got[0]["tracestate"], "foo=1,bar=2");

    // Three calls: one trace, three distinct parent ids.
    let got = test(
        port,
        harness,
        &seen,
        &[(
            "traceparent",
            "00-12345678901234567890123456789012-1234567890123456-01",
        )],
        3,
    )
    .await;
    let parents: std::collections::HashSet<_> = got.iter().map(|h| traceparent(h).2).collect();
    assert_eq!(parents.len(), 3);
    assert!(got.iter().all(|h| traceparent(h).1 == TRACE_ID));

    // Invalid or duplicated traceparents restart the trace.
    for headers in [
        vec![(
            "traceparent",
            "00-00000000000000000000000000000000-1234567890123456-01",
        )],
        vec![(
            "traceparent",
            "ff-12345678901234567890123456789012-1234567890123456-01",
        )],
        vec![(
            "traceparent",
            "00-12345678901234567890123456789012-1234567890123456-01-extra",
        )],
        vec![
            (
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-01",
            ),
            (
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123457-01",
            ),
        ],
    ] {
        let got = test(port, harness, &seen, &headers, 1).await;
        assert_ne!(traceparent(&got[0]).1, TRACE_ID, "{headers:?}");
    }

    // A later version is read; the output is version 00.
    let got = test(
        port,
        harness,
        &seen,
        &[(
            "traceparent",
            "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
        )],
        1,
    )
    .await;
    assert_eq!(traceparent(&got[0]).0, "00");
    assert_eq!(traceparent(&got[0]).1, TRACE_ID);

    // The Level 2 random flag goes out again.
    let got = test(
        port,
        harness,
        &seen,
        &[(
            "traceparent",
            "00-12345678901234567890123456789012-1234567890123456-03",
        )],
        1,
    )
    .await;
    let flags = u8::from_str_radix(&traceparent(&got[0]).3, 16).unwrap();
    assert_eq!(flags & 0x02, 0x02);

    // 33 tracestate members: the tracestate is discarded, the trace kept.
    let members: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    let got = test(
        port,
        harness,
        &seen,
        &[
            (
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-01",
            ),
            ("tracestate", &members.join(",")),
        ],
        1,
    )
    .await;
    assert_eq!(traceparent(&got[0]).1, TRACE_ID);
    assert!(got[0].get("tracestate").is_none());
}
