//! The end-to-end demo: one request, one trace, across HTTP and gRPC.
//!
//! A client calls an axum gateway over HTTP; the gateway's handler calls a tonic `Echo` service
//! over gRPC; the service looks something up in its handler. Every hop is instrumented with this
//! suite's layers (`OtelLayer::client`/`server`, `GrpcOtelLayer::client`/`server`), propagation is
//! what `OTEL_PROPAGATORS` says, and the spans are printed as the tree they form. Everything runs
//! on 127.0.0.1 in this process.
//!
//! ```text
//! cargo run -p examples --bin demo
//! OTEL_PROPAGATORS=b3multi cargo run -p examples --bin demo
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use integration_tests::echo::EchoRequest;
use integration_tests::echo::echo_client::EchoClient;
use integration_tests::echo::echo_server::EchoServer;
use integration_tests::echo_service::EchoService;
use opentelemetry::Context;
use opentelemetry::trace::{SpanId, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use otel_grpc::GrpcOtelLayer;
use otel_http::OtelLayer;
use tower::{ServiceBuilder, ServiceExt};

type EchoChannel =
    EchoClient<otel_http::OtelService<tonic::transport::Channel, otel_grpc::GrpcClient>>;

/// The gateway's handler: one gRPC call to the echo service.
async fn hello(Path(name): Path<String>, State(echo): State<EchoChannel>) -> String {
    let mut echo = echo.clone();
    match echo
        .unary(EchoRequest {
            message: format!("hello, {name}"),
            behaviour: String::new(),
        })
        .await
    {
        Ok(reply) => reply.into_inner().message,
        Err(status) => format!("echo failed: {status}"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let propagators = otel_propagation::install_global_from_env();
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let names: Vec<&str> = propagators.kinds().iter().map(|k| k.name()).collect();
    println!("OTEL_PROPAGATORS -> [{}]\n", names.join(", "));

    // The gRPC service, one line of instrumentation.
    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let grpc_addr = grpc_listener.local_addr()?;
    let grpc = tonic::transport::Server::builder()
        .layer(GrpcOtelLayer::server())
        .add_service(EchoServer::new(EchoService));
    tokio::spawn(
        grpc.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(
            grpc_listener,
        )),
    );

    // The HTTP gateway, with an instrumented gRPC channel to the service.
    let channel = tonic::transport::Channel::from_shared(format!("http://{grpc_addr}"))?
        .connect()
        .await?;
    let echo = EchoClient::new(
        ServiceBuilder::new()
            .layer(GrpcOtelLayer::client())
            .service(channel),
    );
    let gateway = Router::new()
        .route("/hello/{name}", get(hello))
        .with_state(echo)
        .layer(OtelLayer::server());
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let http_addr: SocketAddr = http_listener.local_addr()?;
    tokio::spawn(async move { axum::serve(http_listener, gateway).await });

    // The caller: a root span, and an instrumented HTTP client.
    let client = ServiceBuilder::new()
        .layer(OtelLayer::client())
        .service(Client::builder(TokioExecutor::new()).build_http::<Full<axum::body::Bytes>>());
    let root = provider.tracer("demo").start("submit");
    let cx = Context::new().with_span(root);
    let request =
        http::Request::get(format!("http://{http_addr}/hello/world")).body(Full::default())?;
    let response = {
        let _guard = cx.clone().attach();
        client.oneshot(request).await?
    };
    let body = response.into_body().collect().await?.to_bytes();
    println!("response: {}\n", String::from_utf8_lossy(&body));
    cx.span().end();

    // Every span ends with its response body; give the last ones a moment.
    let mut spans = Vec::new();
    for _ in 0..100 {
        spans = exporter.get_finished_spans()?;
        if spans.len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    print_tree(&spans);

    let trace_ids: std::collections::HashSet<_> =
        spans.iter().map(|s| s.span_context.trace_id()).collect();
    if propagators
        .kinds()
        .iter()
        .all(|k| *k == otel_propagation::PropagatorKind::Baggage)
    {
        println!(
            "\nno trace propagator configured: each hop starts its own trace ({} traces)",
            trace_ids.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if spans.len() == 5 && trace_ids.len() == 1 {
        println!("\none trace across HTTP -> gRPC: {} spans", spans.len());
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "\nexpected 5 spans in one trace, got {} spans in {} traces",
            spans.len(),
            trace_ids.len()
        );
        Ok(ExitCode::FAILURE)
    }
}

/// Prints spans as the tree their parent ids make.
fn print_tree(spans: &[SpanData]) {
    let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
    for span in spans {
        children.entry(span.parent_span_id).or_default().push(span);
    }
    fn walk(span: &SpanData, depth: usize, children: &HashMap<SpanId, Vec<&SpanData>>) {
        let duration = span
            .end_time
            .duration_since(span.start_time)
            .unwrap_or_default();
        println!(
            "{}{:<8} {:<24} trace {} span {} {:>7.2} ms",
            "  ".repeat(depth),
            format!("{:?}", span.span_kind),
            span.name,
            span.span_context.trace_id(),
            span.span_context.span_id(),
            duration.as_secs_f64() * 1e3
        );
        for child in children
            .get(&span.span_context.span_id())
            .into_iter()
            .flatten()
        {
            walk(child, depth + 1, children);
        }
    }
    let ids: std::collections::HashSet<SpanId> =
        spans.iter().map(|s| s.span_context.span_id()).collect();
    for root in spans.iter().filter(|s| !ids.contains(&s.parent_span_id)) {
        walk(root, 0, &children);
    }
}
