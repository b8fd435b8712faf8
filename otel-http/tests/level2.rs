//! W3C Trace Context Level 2 and W3C Baggage on the wire, through a real hop: a caller → an axum
//! server with our server layer, whose handler calls → through our client layer → a second axum
//! server on 127.0.0.1 that answers with the propagation headers it received.
//!
//! The random flag (`-02`, `-03`) must reach the second server with the trace id, whatever the SDK
//! builds for the spans in between; Level 2 `tracestate` members that upstream's `TraceState`
//! cannot hold must arrive unchanged and in order, with the span's own changes applied; a baggage
//! value holding `+` must arrive encoded, so no receiver reads it as a space.

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Extension, State};
use axum::routing::get;
use common::{Telemetry, serve};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample,
};
use otel_http::OtelLayer;
use otel_propagation::Propagators;
use tower::{Service, ServiceBuilder, ServiceExt};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

/// Keys W3C Level 2 allows and `opentelemetry::trace::TraceState` rejects.
fn level_2_keys() -> [String; 3] {
    [
        "foo@@bar".to_owned(),
        format!("t@{}", "v".repeat(15)),
        format!("{}@{}", "t".repeat(241), "v".repeat(14)),
    ]
}

/// The second server: answers with every propagation header it received, one `name: value` line
/// each (repeated headers joined with `,`).
fn echo() -> Router {
    Router::new().route(
        "/echo",
        get(|headers: http::HeaderMap| async move {
            ["traceparent", "tracestate", "baggage"]
                .iter()
                .map(|name| {
                    let values: Vec<&str> = headers
                        .get_all(*name)
                        .iter()
                        .map(|v| v.to_str().unwrap_or("<not utf-8>"))
                        .collect();
                    format!("{name}: {}\n", values.join(","))
                })
                .collect::<String>()
        }),
    )
}

#[derive(Clone)]
struct Hop {
    provider: SdkTracerProvider,
    downstream: SocketAddr,
}

/// The first server's handler: calls the second server through our client layer, in the server
/// span's context, and answers with what the second server answered.
async fn hop(State(hop): State<Hop>, Extension(cx): Extension<Context>) -> String {
    let mut client = ServiceBuilder::new()
        .layer(
            OtelLayer::client()
                .tracer_provider(hop.provider.clone())
                .propagators(Propagators::default()),
        )
        .service(common::hyper_client());
    let mut request = http::Request::get(format!("http://{}/echo", hop.downstream))
        .body(Full::new(Bytes::new()))
        .unwrap();
    request.extensions_mut().insert(cx.clone());
    let ready = client.ready().await.unwrap();
    let response = {
        // The client span starts in `call`: its parent is the server span's context.
        let _guard = cx.attach();
        ready.call(request)
    }
    .await
    .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

/// Starts the second server, then the first one (our server layer around `hop`), both traced
/// by `provider`; returns the first one's address.
async fn two_hops(provider: &SdkTracerProvider) -> SocketAddr {
    let downstream = serve(echo()).await;
    let app = Router::new()
        .route("/hop", get(hop))
        .with_state(Hop {
            provider: provider.clone(),
            downstream,
        })
        .layer(
            OtelLayer::server()
                .tracer_provider(provider.clone())
                .propagators(Propagators::default())
                .context_in_extensions(true),
        );
    serve(app).await
}

/// What the second server received, by header name.
struct Received(String);

impl Received {
    fn get(&self, name: &str) -> &str {
        self.0
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
            .unwrap_or_else(|| panic!("no {name} line in {:?}", self.0))
    }

    /// The `traceparent` fields: trace id, parent id, flags.
    fn traceparent(&self) -> (String, String, String) {
        let value = self.get("traceparent");
        let fields: Vec<&str> = value.split('-').collect();
        assert_eq!(fields.len(), 4, "{value}");
        assert_eq!(fields[0], "00", "{value}");
        (
            fields[1].to_owned(),
            fields[2].to_owned(),
            fields[3].to_owned(),
        )
    }
}

async fn call_first_server(addr: SocketAddr, headers: &[(&str, &str)]) -> Received {
    let (status, _, body) = common::send("GET", format!("http://{addr}/hop"), headers).await;
    assert_eq!(status, 200, "{body}");
    Received(body)
}

async fn random_flag_through_a_hop(flags: &str) {
    let t = Telemetry::new();
    let addr = two_hops(&t.tracer_provider).await;
    let [at_at, long_system, longest] = level_2_keys();
    let tracestate =
        format!("{at_at}=1, rojo=00f067aa0ba902b7,{long_system}=2,congo=t61rcWkgMzE,{longest}=3");
    let received = call_first_server(
        addr,
        &[
            (
                "traceparent",
                &format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-{flags}"),
            ),
            ("tracestate", &tracestate),
            ("baggage", "sum=1%2B1,userId=alice"),
        ],
    )
    .await;

    let (trace_id, parent_id, sent_flags) = received.traceparent();
    assert_eq!(trace_id, TRACE_ID);
    assert_ne!(
        parent_id, CALLER_SPAN_ID,
        "the client span is the new parent"
    );
    assert_eq!(sent_flags, flags, "the random flag is kept for the trace");
    assert_eq!(
        received.get("tracestate"),
        format!("{at_at}=1,rojo=00f067aa0ba902b7,{long_system}=2,congo=t61rcWkgMzE,{longest}=3"),
        "every member, Level 2 keys included, in the order received"
    );
    assert_eq!(received.get("baggage"), "sum=1%2B1,userId=alice");
}

#[tokio::test]
async fn random_flag_unsampled_survives_a_server_to_client_hop() {
    // -02: not sampled, so the stock SDK builds the server and client spans with flags 00.
    random_flag_through_a_hop("02").await;
}

#[tokio::test]
async fn random_flag_sampled_survives_a_server_to_client_hop() {
    random_flag_through_a_hop("03").await;
}

#[tokio::test]
async fn the_sampled_hop_is_one_trace() {
    let t = Telemetry::new();
    let addr = two_hops(&t.tracer_provider).await;
    let received = call_first_server(
        addr,
        &[("traceparent", &format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-03"))],
    )
    .await;
    let spans = t.wait_for_spans(2).await;
    let server = common::span(&spans, "GET /hop");
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    assert_eq!(server.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(server.parent_span_id.to_string(), CALLER_SPAN_ID);
    assert_eq!(client.parent_span_id, server.span_context.span_id());
    let (_, parent_id, flags) = received.traceparent();
    assert_eq!(parent_id, client.span_context.span_id().to_string());
    assert_eq!(flags, "03");
}

#[tokio::test]
async fn a_root_trace_our_client_starts_has_no_random_flag() {
    // The OpenTelemetry API does not say whether the SDK's id generator is random, and the stock
    // SDK sets only the sampled flag on a root span: the client sends what the span context says.
    let t = Telemetry::new();
    let downstream = serve(echo()).await;
    let client = ServiceBuilder::new()
        .layer(
            OtelLayer::client()
                .tracer_provider(t.tracer_provider.clone())
                .propagators(Propagators::default()),
        )
        .service(common::hyper_client());
    let response = client
        .oneshot(
            http::Request::get(format!("http://{downstream}/echo"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let received = Received(String::from_utf8_lossy(&body).into_owned());

    let spans = t.wait_for_spans(1).await;
    let root = &spans[0];
    assert_eq!(root.span_kind, SpanKind::Client);
    let (trace_id, parent_id, flags) = received.traceparent();
    assert_eq!(trace_id, root.span_context.trace_id().to_string());
    assert_eq!(parent_id, root.span_context.span_id().to_string());
    assert_eq!(
        flags, "01",
        "sampled, and no claim that the trace id is random"
    );
    assert_eq!(received.get("tracestate"), "");
}

/// A sampler that samples everything and changes the tracestate as a vendor's sampler would:
/// inserts `ours`, updates `rojo`, deletes `congo`.
#[derive(Clone, Debug)]
struct EditingSampler;

impl ShouldSample for EditingSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let parent = parent_context
            .map(|cx| cx.span().span_context().trace_state().clone())
            .unwrap_or(TraceState::NONE);
        let trace_state = parent
            .delete("congo")
            .and_then(|ts| ts.insert("rojo", "updated"))
            .and_then(|ts| ts.insert("ours", "1"))
            .unwrap();
        SamplingResult {
            decision: SamplingDecision::RecordAndSample,
            attributes: Vec::new(),
            trace_state,
        }
    }
}

fn editing_provider() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(EditingSampler)
        .with_simple_exporter(InMemorySpanExporter::default())
        .build()
}

#[tokio::test]
async fn the_span_s_own_tracestate_changes_apply_to_the_level_2_list() {
    let provider = editing_provider();
    let addr = two_hops(&provider).await;
    let [at_at, long_system, longest] = level_2_keys();
    let received = call_first_server(
        addr,
        &[
            ("traceparent", &format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-02")),
            (
                "tracestate",
                &format!("{at_at}=1,rojo=r,{long_system}=2,congo=c,{longest}=3,last=z"),
            ),
        ],
    )
    .await;
    // The server span's sampler and then the client span's sampler each insert `ours` and
    // `rojo` (moved to the front, the most recent first) and delete `congo`; every Level 2
    // member stays where it was.
    assert_eq!(
        received.get("tracestate"),
        format!("ours=1,rojo=updated,{at_at}=1,{long_system}=2,{longest}=3,last=z")
    );
    let (trace_id, _, flags) = received.traceparent();
    assert_eq!(trace_id, TRACE_ID);
    assert_eq!(flags, "03", "sampled here, and still random");
}

#[tokio::test]
async fn a_full_tracestate_drops_its_right_most_members() {
    let provider = editing_provider();
    let addr = two_hops(&provider).await;
    let [at_at, ..] = level_2_keys();
    // 32 members: the most the spec allows. `ours` and `rojo` are new, so the two right-most
    // members go.
    let mut members = vec![format!("{at_at}=1")];
    members.extend((1..32).map(|i| format!("k{i}=v")));
    let received = call_first_server(
        addr,
        &[
            ("traceparent", &format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01")),
            ("tracestate", &members.join(",")),
        ],
    )
    .await;
    let mut expected = vec!["ours=1".to_owned(), "rojo=updated".to_owned()];
    expected.extend(members[..30].iter().cloned());
    assert_eq!(received.get("tracestate"), expected.join(","));
    assert_eq!(received.get("tracestate").split(',').count(), 32);
}

#[tokio::test]
async fn baggage_plus_is_sent_encoded_and_order_is_kept() {
    let t = Telemetry::new();
    let addr = two_hops(&t.tracer_provider).await;
    // What a Node client sends for "1+1", and a literal `+` that is legal unencoded.
    let received = call_first_server(
        addr,
        &[
            ("traceparent", &format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01")),
            ("baggage", "z=last,sum=1%2B1,plain=a+b,a=first"),
        ],
    )
    .await;
    assert_eq!(
        received.get("baggage"),
        "z=last,sum=1%2B1,plain=a%2Bb,a=first",
        "no `+` leaves unencoded, and the members keep the order received"
    );
}

#[tokio::test]
async fn the_response_header_keeps_the_random_flag() {
    // `traceresponse` names the server span; for a trace that arrived with -02 it says so too,
    // although the stock SDK built the unsampled server span with flags 00.
    let t = Telemetry::new();
    let app = Router::new().route("/", get(|| async { "ok" })).layer(
        OtelLayer::server()
            .tracer_provider(t.tracer_provider.clone())
            .propagators(Propagators::default())
            .propagate_to_response(otel_http::ResponsePropagation::TraceResponse),
    );
    let addr = serve(app).await;
    for flags in ["02", "03"] {
        let (status, headers, _) = common::send(
            "GET",
            format!("http://{addr}/"),
            &[(
                "traceparent",
                &format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-{flags}"),
            )],
        )
        .await;
        assert_eq!(status, 200);
        let value = headers["traceresponse"].to_str().unwrap();
        assert!(value.starts_with(&format!("00-{TRACE_ID}-")), "{value}");
        assert!(value.ends_with(&format!("-{flags}")), "{value}");
    }
}
