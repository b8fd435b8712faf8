//! A real OTLP receiver on 127.0.0.1: gRPC (opentelemetry-proto's generated tonic services) and
//! HTTP/protobuf (axum), both collecting what they receive. It runs on a runtime of its own, so a
//! test may be plain `#[test]` or async, and the application under test never shares its threads.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::sync::oneshot;

/// Everything received, by signal.
#[derive(Default)]
pub struct Collected {
    pub traces: Mutex<Vec<ExportTraceServiceRequest>>,
    pub metrics: Mutex<Vec<ExportMetricsServiceRequest>>,
    pub logs: Mutex<Vec<ExportLogsServiceRequest>>,
}

#[derive(Clone)]
struct Sink(Arc<Collected>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.traces.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.metrics.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.0.logs.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

/// The receiver: one gRPC and one HTTP listener.
pub struct Receiver {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub collected: Arc<Collected>,
    stops: Vec<oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Receiver {
    /// Starts on free ports.
    pub fn start() -> Receiver {
        Receiver::start_at(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
            Arc::default(),
        )
    }

    /// Starts on the given addresses (to come back up where a stopped one was).
    pub fn start_at(grpc: SocketAddr, http: SocketAddr, collected: Arc<Collected>) -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // Bound here, served there: this may run inside another runtime, where block_on panics.
        let bind = |address| {
            let listener = std::net::TcpListener::bind(address).unwrap();
            listener.set_nonblocking(true).unwrap();
            listener
        };
        let (grpc_listener, http_listener) = (bind(grpc), bind(http));
        let grpc = grpc_listener.local_addr().unwrap();
        let http = http_listener.local_addr().unwrap();
        let (grpc_listener, http_listener) = {
            let _entered = runtime.enter();
            (
                tokio::net::TcpListener::from_std(grpc_listener).unwrap(),
                tokio::net::TcpListener::from_std(http_listener).unwrap(),
            )
        };
        let sink = Sink(collected.clone());

        let (stop_grpc, grpc_stopped) = oneshot::channel::<()>();
        runtime.spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(sink.clone()))
                .add_service(MetricsServiceServer::new(sink.clone()))
                .add_service(LogsServiceServer::new(sink.clone()))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
                    async {
                        let _ = grpc_stopped.await;
                    },
                ),
        );

        let (stop_http, http_stopped) = oneshot::channel::<()>();
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(http_traces))
            .route("/v1/metrics", axum::routing::post(http_metrics))
            .route("/v1/logs", axum::routing::post(http_logs))
            .with_state(collected.clone());
        runtime.spawn(async move {
            let _ = axum::serve(http_listener, app)
                .with_graceful_shutdown(async {
                    let _ = http_stopped.await;
                })
                .await;
        });

        Receiver {
            grpc,
            http,
            collected,
            stops: vec![stop_grpc, stop_http],
            runtime: Some(runtime),
        }
    }

    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc)
    }

    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http)
    }

    /// Stops listening and drops every connection.
    pub fn stop(mut self) -> (SocketAddr, SocketAddr, Arc<Collected>) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
        (self.grpc, self.http, self.collected.clone())
    }

    /// Every span received so far, with its resource.
    pub fn spans(&self) -> Vec<(Resource, Span)> {
        let mut out = Vec::new();
        for request in self.collected.traces.lock().unwrap().iter() {
            for rs in &request.resource_spans {
                for ss in &rs.scope_spans {
                    for span in &ss.spans {
                        out.push((rs.resource.clone().unwrap_or_default(), span.clone()));
                    }
                }
            }
        }
        out
    }

    pub fn metrics(&self) -> Vec<(Resource, Metric)> {
        let mut out = Vec::new();
        for request in self.collected.metrics.lock().unwrap().iter() {
            for rm in &request.resource_metrics {
                for sm in &rm.scope_metrics {
                    for metric in &sm.metrics {
                        out.push((rm.resource.clone().unwrap_or_default(), metric.clone()));
                    }
                }
            }
        }
        out
    }

    pub fn logs(&self) -> Vec<(Resource, LogRecord)> {
        let mut out = Vec::new();
        for request in self.collected.logs.lock().unwrap().iter() {
            for rl in &request.resource_logs {
                for sl in &rl.scope_logs {
                    for record in &sl.log_records {
                        out.push((rl.resource.clone().unwrap_or_default(), record.clone()));
                    }
                }
            }
        }
        out
    }

    /// Polls until `done` holds or 20 s pass; returns whether it held.
    pub fn wait_until(&self, mut done: impl FnMut(&Receiver) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if done(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        done(self)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

type State = axum::extract::State<Arc<Collected>>;

fn protobuf_response(body: Vec<u8>) -> axum::response::Response {
    axum::response::Response::builder()
        .header("content-type", "application/x-protobuf")
        .body(axum::body::Body::from(body))
        .unwrap()
}

async fn http_traces(state: State, body: axum::body::Bytes) -> axum::response::Response {
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            state.0.traces.lock().unwrap().push(request);
            protobuf_response(ExportTraceServiceResponse::default().encode_to_vec())
        }
        Err(_) => bad_request(),
    }
}

async fn http_metrics(state: State, body: axum::body::Bytes) -> axum::response::Response {
    match ExportMetricsServiceRequest::decode(body) {
        Ok(request) => {
            state.0.metrics.lock().unwrap().push(request);
            protobuf_response(ExportMetricsServiceResponse::default().encode_to_vec())
        }
        Err(_) => bad_request(),
    }
}

async fn http_logs(state: State, body: axum::body::Bytes) -> axum::response::Response {
    match ExportLogsServiceRequest::decode(body) {
        Ok(request) => {
            state.0.logs.lock().unwrap().push(request);
            protobuf_response(ExportLogsServiceResponse::default().encode_to_vec())
        }
        Err(_) => bad_request(),
    }
}

fn bad_request() -> axum::response::Response {
    axum::response::Response::builder()
        .status(400)
        .body(axum::body::Body::empty())
        .unwrap()
}

/// A resource attribute's string value.
pub fn attribute(resource: &Resource, key: &str) -> Option<String> {
    resource
        .attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
        .map(|v| match v {
            Value::StringValue(s) => s.clone(),
            Value::IntValue(i) => i.to_string(),
            Value::BoolValue(b) => b.to_string(),
            Value::DoubleValue(d) => d.to_string(),
            other => format!("{other:?}"),
        })
}

/// Lowercase hex of an id's bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}
