//! A real OTLP receiver on 127.0.0.1, what a collector would receive, kept in memory: gRPC
//! (opentelemetry-proto's generated tonic `TraceService`, `MetricsService`, `LogsService`) and
//! HTTP/protobuf (axum: `POST /v1/traces`, `/v1/metrics`, `/v1/logs`).
//!
//! It runs on a runtime of its own, so a test may be plain `#[test]` or async, and the
//! application under test never shares its threads. It can stop and come back up on the same
//! ports, for "collector down / back up".

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::response::IntoResponse;
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
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::sync::oneshot;

/// Everything received, by signal: the export requests as they arrived.
#[derive(Debug, Default)]
pub struct Collected {
    /// Trace export requests.
    pub traces: Mutex<Vec<ExportTraceServiceRequest>>,
    /// Metric export requests.
    pub metrics: Mutex<Vec<ExportMetricsServiceRequest>>,
    /// Log export requests.
    pub logs: Mutex<Vec<ExportLogsServiceRequest>>,
    /// The headers (gRPC: metadata) of every export request, in arrival order.
    pub headers: Mutex<Vec<axum::http::HeaderMap>>,
}

/// Locks, also when a panicking test poisoned the lock.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Collected {
    /// Every span received so far, with its resource.
    pub fn spans(&self) -> Vec<(Resource, Span)> {
        let mut out = Vec::new();
        for request in lock(&self.traces).iter() {
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

    /// Every metric received so far, with its resource.
    pub fn metrics(&self) -> Vec<(Resource, Metric)> {
        let mut out = Vec::new();
        for request in lock(&self.metrics).iter() {
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

    /// Every log record received so far, with its resource.
    pub fn logs(&self) -> Vec<(Resource, LogRecord)> {
        let mut out = Vec::new();
        for request in lock(&self.logs).iter() {
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
}

#[derive(Clone)]
struct Sink(Arc<Collected>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        lock(&self.0.headers).push(request.metadata().clone().into_headers());
        lock(&self.0.traces).push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        lock(&self.0.headers).push(request.metadata().clone().into_headers());
        lock(&self.0.metrics).push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        lock(&self.0.headers).push(request.metadata().clone().into_headers());
        lock(&self.0.logs).push(request.into_inner());
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

/// The receiver: one gRPC and one HTTP listener; stopped when dropped.
pub struct Receiver {
    /// OTLP/gRPC, for `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`.
    pub grpc: SocketAddr,
    /// OTLP/HTTP, for `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`.
    pub http: SocketAddr,
    /// What arrived.
    pub collected: Arc<Collected>,
    stops: Vec<oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Receiver {
    /// Starts on free ports; panics when it cannot.
    pub fn start() -> Receiver {
        Receiver::try_start().expect("OTLP receiver starts")
    }

    /// Starts on free ports.
    pub fn try_start() -> std::io::Result<Receiver> {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Receiver::try_start_at(any, any, Arc::default())
    }

    /// Starts on the given addresses (to come back up where a stopped one was), collecting into
    /// `collected`; panics when it cannot.
    pub fn start_at(grpc: SocketAddr, http: SocketAddr, collected: Arc<Collected>) -> Receiver {
        Receiver::try_start_at(grpc, http, collected).expect("OTLP receiver starts")
    }

    /// Starts on the given addresses, collecting into `collected`.
    pub fn try_start_at(
        grpc: SocketAddr,
        http: SocketAddr,
        collected: Arc<Collected>,
    ) -> std::io::Result<Receiver> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        // Bound here, served there: this may run inside another runtime, where block_on panics.
        let bind = |address| {
            let listener = std::net::TcpListener::bind(address)?;
            listener.set_nonblocking(true)?;
            Ok::<_, std::io::Error>(listener)
        };
        let (grpc_listener, http_listener) = (bind(grpc)?, bind(http)?);
        let grpc = grpc_listener.local_addr()?;
        let http = http_listener.local_addr()?;
        let (grpc_listener, http_listener) = {
            let _entered = runtime.enter();
            (
                tokio::net::TcpListener::from_std(grpc_listener)?,
                tokio::net::TcpListener::from_std(http_listener)?,
            )
        };
        let sink = Sink(collected.clone());

        let (stop_grpc, grpc_stopped) = oneshot::channel::<()>();
        runtime.spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(sink.clone()))
                .add_service(MetricsServiceServer::new(sink.clone()))
                .add_service(LogsServiceServer::new(sink))
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

        Ok(Receiver {
            grpc,
            http,
            collected,
            stops: vec![stop_grpc, stop_http],
            runtime: Some(runtime),
        })
    }

    /// The headers of every export request received so far.
    pub fn headers(&self) -> Vec<axum::http::HeaderMap> {
        lock(&self.collected.headers).clone()
    }

    /// `http://` and the gRPC address.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// `http://` and the HTTP address.
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http)
    }

    /// Stops listening and drops every connection; returns the addresses and what was collected,
    /// for [`Receiver::start_at`]. Not from within an async context (it waits for the runtime).
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
        self.collected.spans()
    }

    /// Every metric received so far, with its resource.
    pub fn metrics(&self) -> Vec<(Resource, Metric)> {
        self.collected.metrics()
    }

    /// Every log record received so far, with its resource.
    pub fn logs(&self) -> Vec<(Resource, LogRecord)> {
        self.collected.logs()
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

fn protobuf_response(message: impl Message) -> axum::response::Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/x-protobuf")],
        message.encode_to_vec(),
    )
        .into_response()
}

async fn http_traces(
    state: State,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            lock(&state.0.headers).push(headers);
            lock(&state.0.traces).push(request);
            protobuf_response(ExportTraceServiceResponse::default())
        }
        Err(_) => axum::http::StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn http_metrics(
    state: State,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    match ExportMetricsServiceRequest::decode(body) {
        Ok(request) => {
            lock(&state.0.headers).push(headers);
            lock(&state.0.metrics).push(request);
            protobuf_response(ExportMetricsServiceResponse::default())
        }
        Err(_) => axum::http::StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn http_logs(
    state: State,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    match ExportLogsServiceRequest::decode(body) {
        Ok(request) => {
            lock(&state.0.headers).push(headers);
            lock(&state.0.logs).push(request);
            protobuf_response(ExportLogsServiceResponse::default())
        }
        Err(_) => axum::http::StatusCode::BAD_REQUEST.into_response(),
    }
}

/// A resource attribute's value as text, if there is one under `key`.
pub fn attribute(resource: &Resource, key: &str) -> Option<String> {
    string_attribute(&resource.attributes, key)
}

/// The resource's `service.name`, `unknown_service` when it has none.
pub fn service_name(resource: &Resource) -> String {
    attribute(resource, "service.name").unwrap_or_else(|| "unknown_service".to_owned())
}

/// The value under `key` as text, if there is one.
pub fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref().map(|_| any_value_text(v)))
}

/// An attribute value as text (bytes as hex, arrays as `[a,b]`).
pub fn any_value_text(value: &AnyValue) -> String {
    match &value.value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => hex(b),
        Some(Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(any_value_text).collect();
            format!("[{}]", items.join(","))
        }
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// Lowercase hex of an id's bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A loopback address nothing listens on (bound, then released).
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}
