//! An OTLP receiver for the demo: what a collector would receive, kept in memory.
//!
//! It serves OTLP over gRPC (`TraceService`, `MetricsService`, `LogsService`) and over HTTP
//! (`POST /v1/traces`, `/v1/metrics`, `/v1/logs`, protobuf bodies) on 127.0.0.1, keeps every span
//! it receives, and counts metric and log exports.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
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
use prost::Message;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::waterfall::Span;

/// What the receiver has received so far; clones share it.
#[derive(Clone, Debug, Default)]
pub struct Received {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    spans: Vec<Span>,
    metric_exports: usize,
    log_records: Vec<LogRecord>,
}

/// A log record as received: its service, body and the span it was written under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// `service.name` of the resource.
    pub service: String,
    /// The body, as text.
    pub body: String,
    /// The trace id, hex, empty when none.
    pub trace_id: String,
    /// The span id, hex, empty when none.
    pub span_id: String,
}

impl Received {
    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.lock().spans.clone()
    }

    /// How many metric export requests arrived.
    pub fn metric_exports(&self) -> usize {
        self.lock().metric_exports
    }

    /// Every log record received so far.
    pub fn logs(&self) -> Vec<LogRecord> {
        self.lock().log_records.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn add_traces(&self, request: ExportTraceServiceRequest) {
        let mut spans = Vec::new();
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| string_attribute(&r.attributes, "service.name"))
                .unwrap_or_else(|| "unknown_service".to_owned());
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    spans.push(Span::from_otlp(&service, span));
                }
            }
        }
        self.lock().spans.extend(spans);
    }

    fn add_metrics(&self, _request: ExportMetricsServiceRequest) {
        self.lock().metric_exports += 1;
    }

    fn add_logs(&self, request: ExportLogsServiceRequest) {
        let mut records = Vec::new();
        for resource_logs in request.resource_logs {
            let service = resource_logs
                .resource
                .as_ref()
                .and_then(|r| string_attribute(&r.attributes, "service.name"))
                .unwrap_or_else(|| "unknown_service".to_owned());
            for scope_logs in resource_logs.scope_logs {
                for record in scope_logs.log_records {
                    records.push(LogRecord {
                        service: service.clone(),
                        body: record.body.as_ref().map(any_value_text).unwrap_or_default(),
                        trace_id: hex(&record.trace_id),
                        span_id: hex(&record.span_id),
                    });
                }
            }
        }
        self.lock().log_records.extend(records);
    }
}

/// The value of a string attribute, if there is one under `key`.
pub(crate) fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .map(any_value_text)
}

/// An attribute value as text.
pub(crate) fn any_value_text(value: &AnyValue) -> String {
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

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A running receiver: its two endpoints and what it received.
#[derive(Debug)]
pub struct Receiver {
    /// OTLP/gRPC, for `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`.
    pub grpc: SocketAddr,
    /// OTLP/HTTP, for `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`.
    pub http: SocketAddr,
    /// What arrived.
    pub received: Received,
}

impl Receiver {
    /// Starts both endpoints on free ports of 127.0.0.1, on the current tokio runtime.
    pub async fn start() -> std::io::Result<Receiver> {
        let received = Received::default();

        let grpc_listener = TcpListener::bind("127.0.0.1:0").await?;
        let grpc = grpc_listener.local_addr()?;
        let services = tonic::service::Routes::new(TraceServiceServer::new(received.clone()))
            .add_service(MetricsServiceServer::new(received.clone()))
            .add_service(LogsServiceServer::new(received.clone()));
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_routes(services)
                .serve_with_incoming(TcpListenerStream::new(grpc_listener)),
        );

        let http_listener = TcpListener::bind("127.0.0.1:0").await?;
        let http = http_listener.local_addr()?;
        let app = axum::Router::new()
            .route("/v1/traces", post(http_traces))
            .route("/v1/metrics", post(http_metrics))
            .route("/v1/logs", post(http_logs))
            .with_state(received.clone());
        tokio::spawn(async move { axum::serve(http_listener, app).await });

        Ok(Receiver {
            grpc,
            http,
            received,
        })
    }
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.add_traces(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.add_metrics(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.add_logs(request.into_inner());
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

fn protobuf_response(message: impl Message) -> axum::response::Response {
    (
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        message.encode_to_vec(),
    )
        .into_response()
}

async fn http_traces(State(received): State<Received>, body: Bytes) -> axum::response::Response {
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            received.add_traces(request);
            protobuf_response(ExportTraceServiceResponse::default())
        }
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn http_metrics(State(received): State<Received>, body: Bytes) -> axum::response::Response {
    match ExportMetricsServiceRequest::decode(body) {
        Ok(request) => {
            received.add_metrics(request);
            protobuf_response(ExportMetricsServiceResponse::default())
        }
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

async fn http_logs(State(received): State<Received>, body: Bytes) -> axum::response::Response {
    match ExportLogsServiceRequest::decode(body) {
        Ok(request) => {
            received.add_logs(request);
            protobuf_response(ExportLogsServiceResponse::default())
        }
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}
