//! Metric labels a caller cannot inflate: made-up methods, paths, hosts and user agents on a real
//! server over 127.0.0.1, and the known-methods list replaced by option and by environment.

mod common;

use std::collections::{BTreeSet, HashMap};

use axum::Router;
use axum::routing::get;
use common::{Layers, Telemetry, attr, hyper_client, serve, span};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

fn app() -> Router {
    Router::new().route("/users/{id}", get(|| async { "user" }))
}

fn keys(points: &[(HashMap<String, String>, f64)]) -> BTreeSet<Vec<(String, String)>> {
    points
        .iter()
        .map(|(attrs, _)| {
            let mut kv: Vec<_> = attrs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            kv.sort();
            kv
        })
        .collect()
}

#[tokio::test]
async fn ten_thousand_made_up_requests_make_a_bounded_number_of_series() {
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server().traces(false))).await;
    let client = hyper_client();
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let client = client.clone();
            tokio::spawn(async move {
                for n in 0..1250 {
                    let i = task * 1250 + n;
                    // Served route or made-up path; known method or made-up one.
                    let path = if i % 2 == 0 {
                        format!("/users/{i}")
                    } else {
                        format!("/made/up/{i}")
                    };
                    let method = if i % 4 < 2 {
                        "GET".to_owned()
                    } else {
                        format!("M{i}")
                    };
                    let req = http::Request::builder()
                        .method(method.as_str())
                        .uri(format!("http://{addr}{path}"))
                        .header("host", format!("h{i}.example"))
                        .header("user-agent", format!("agent/{i}"))
                        .body(Full::new(Bytes::new()))
                        .unwrap();
                    let res = client.request(req).await.unwrap();
                    res.into_body().collect().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }

    let (_, durations) = t.points("http.server.request.duration");
    assert_eq!(
        durations.iter().map(|(_, count)| count).sum::<f64>(),
        10_000.0
    );
    let series = keys(&durations);
    // GET or _OTHER, the one route or none, and the status each combination gives.
    assert!(series.len() <= 4, "{series:#?}");
    for attrs in &series {
        for (key, value) in attrs {
            match key.as_str() {
                "http.request.method" => assert!(value == "GET" || value == "_OTHER"),
                "http.route" => assert_eq!(value, "/users/{id}"),
                "url.scheme" => assert_eq!(value, "http"),
                "network.protocol.version" => assert_eq!(value, "1.1"),
                "http.response.status_code" => {
                    assert!(["200", "404", "405"].contains(&value.as_str()))
                }
                other => panic!("unexpected metric attribute {other}={value}"),
            }
        }
    }
    let (_, active) = t.points("http.server.active_requests");
    assert!(keys(&active).len() <= 2, "{active:?}");
    let (_, sizes) = t.points("http.server.response.body.size");
    assert!(keys(&sizes).len() <= 4, "{sizes:?}");
}

#[tokio::test]
async fn known_methods_replaced_by_option() {
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server().known_methods(["GET", "PURGE"]))).await;
    common::send("PURGE", format!("http://{addr}/users/1"), &[]).await;
    common::send("POST", format!("http://{addr}/users/2"), &[]).await;
    let spans = t.wait_for_spans(2).await;
    let purge = span(&spans, "PURGE /users/{id}");
    assert_eq!(attr(purge, "http.request.method").as_deref(), Some("PURGE"));
    assert_eq!(attr(purge, "http.request.method_original"), None);
    let post = span(&spans, "HTTP /users/{id}");
    assert_eq!(attr(post, "http.request.method").as_deref(), Some("_OTHER"));
    assert_eq!(
        attr(post, "http.request.method_original").as_deref(),
        Some("POST")
    );
    let (_, durations) = t.points("http.server.request.duration");
    let methods: BTreeSet<_> = durations
        .iter()
        .map(|(a, _)| a["http.request.method"].clone())
        .collect();
    assert_eq!(methods, BTreeSet::from(["PURGE".into(), "_OTHER".into()]));
    let (_, active) = t.points("http.server.active_requests");
    let methods: BTreeSet<_> = active
        .iter()
        .map(|(a, _)| a["http.request.method"].clone())
        .collect();
    assert_eq!(methods, BTreeSet::from(["PURGE".into(), "_OTHER".into()]));
}

/// `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`: this test runs itself again in a child process with
/// the variable set (the environment of a running test process is not ours to change).
#[tokio::test]
async fn known_methods_replaced_by_the_environment() {
    const CHILD: &str = "OTEL_HTTP_TEST_KNOWN_METHODS_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "known_methods_replaced_by_the_environment",
                "--exact",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,PURGE")
            .status()
            .unwrap();
        assert!(status.success());
        return;
    }
    let t = Telemetry::new();
    let addr = serve(app().layer(t.server())).await;
    common::send("PURGE", format!("http://{addr}/users/1"), &[]).await;
    common::send("POST", format!("http://{addr}/users/2"), &[]).await;
    let spans = t.wait_for_spans(2).await;
    assert_eq!(
        attr(span(&spans, "PURGE /users/{id}"), "http.request.method").as_deref(),
        Some("PURGE")
    );
    assert_eq!(
        attr(
            span(&spans, "HTTP /users/{id}"),
            "http.request.method_original"
        )
        .as_deref(),
        Some("POST")
    );
}
