//! OpenTelemetry for gRPC services and clients built on tonic (or any tower gRPC stack).
//!
//! ```
//! use otel_grpc::GrpcOtelLayer;
//! use tower::ServiceBuilder;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // Server: one layer on tonic's builder, then `.add_service(FooServer::new(svc))`.
//! let server = tonic::transport::Server::builder().layer(GrpcOtelLayer::server());
//!
//! // Client: the channel wrapped once, then `FooClient::new(channel)`.
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
//! let channel = ServiceBuilder::new()
//!     .layer(GrpcOtelLayer::client().server_address("127.0.0.1", Some(50051)))
//!     .service(channel);
//! # let _ = (server, channel);
//! # }
//! ```
//!
//! Spans are named `package.Service/Method`, carry the RPC semantic conventions
//! (`rpc.system.name = grpc`, fully qualified `rpc.method`, `rpc.response.status_code` as the
//! canonical name, `error.type`, `server.address`/`port`), and end when the call's response stream
//! ends: the status is read from the response headers (trailers-only), from the trailers (OK unary
//! calls, every streaming call), from the HTTP status, or recorded as CANCELLED when the call is
//! dropped. Server spans are errors for UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
//! UNAVAILABLE and DATA_LOSS; client spans for any status but OK. Metrics:
//! `rpc.server.call.duration` and `rpc.client.call.duration` (s). `OTEL_SEMCONV_STABILITY_OPT_IN`
//! with `rpc/dup` also emits the older names (`rpc.system`, `rpc.service`, integer
//! `rpc.grpc.status_code`), `rpc/old` only those.
//!
//! The layers are `otel_http::OtelLayer`s of the gRPC kinds, so every option of that type
//! (providers, propagators, filter, span names, hooks, public endpoint) applies.

mod exchange;
pub mod filters;
mod semconv;
pub mod status;

use std::sync::Arc;

use opentelemetry::InstrumentationScope;
use otel_http::{Kind, Options, OtelLayer, Started};

#[doc(hidden)]
pub use exchange::{RpcExchange, RpcState};
pub use otel_http;
pub use otel_propagation as propagation;

/// The gRPC server kind of [`OtelLayer`].
#[derive(Clone, Copy, Debug)]
pub enum GrpcServer {}

/// The gRPC client kind of [`OtelLayer`].
#[derive(Clone, Copy, Debug)]
pub enum GrpcClient {}

fn scope() -> InstrumentationScope {
    otel_core::scope(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
}

impl Kind for GrpcServer {
    type Exchange = RpcExchange;
    type State = RpcState;

    fn scope() -> InstrumentationScope {
        scope()
    }

    fn start<B>(
        options: &Arc<Options>,
        state: &Arc<RpcState>,
        req: &mut http::Request<B>,
    ) -> Started<RpcExchange> {
        RpcExchange::server(options, state, req).started()
    }
}

impl Kind for GrpcClient {
    type Exchange = RpcExchange;
    type State = RpcState;

    fn scope() -> InstrumentationScope {
        scope()
    }

    fn start<B>(
        options: &Arc<Options>,
        state: &Arc<RpcState>,
        req: &mut http::Request<B>,
    ) -> Started<RpcExchange> {
        RpcExchange::client(options, state, req).started()
    }
}

/// Where the gRPC layers start.
#[derive(Clone, Copy, Debug)]
pub struct GrpcOtelLayer;

impl GrpcOtelLayer {
    /// A layer for gRPC servers: SERVER spans, `rpc.server.call.duration`.
    pub fn server() -> OtelLayer<GrpcServer> {
        OtelLayer::new()
    }

    /// A layer for gRPC channels: CLIENT spans, context injected into the metadata,
    /// `rpc.client.call.duration`.
    pub fn client() -> OtelLayer<GrpcClient> {
        OtelLayer::new()
    }
}
