//! gRPC server variants for the callgrind driver (`grpc-ir`): plain tonic, ours, and
//! `tonic-tracing-opentelemetry`, each serving a unary `Echo` method.

use std::time::Duration;

use http::Request;
use integration_tests::echo::echo_server::{Echo, EchoServer};
use integration_tests::echo::{EchoReply, EchoRequest};
use opentelemetry_sdk::trace::SdkTracerProvider;
use prost::Message;
use tonic::body::Body;
use tonic::{Response, Status, Streaming};
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceExt};

/// The variants, plain first.
pub const VARIANTS: [&str; 6] = [
    "plain-tonic",
    "floor-api-span",
    "floor-api-span-sampling-attributes",
    "ours-traces",
    "ours-traces-metrics",
    "tonic-tracing-opentelemetry",
];

/// Unary echo; the streaming methods are not measured.
#[derive(Debug, Default)]
pub struct EchoService;

type Stream =
    std::pin::Pin<Box<dyn tokio_stream_like::Stream<Item = Result<EchoReply, Status>> + Send>>;

/// Just enough of a stream trait for the generated server's associated types.
mod tokio_stream_like {
    pub use futures_core::Stream;
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn unary(&self, req: tonic::Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        let req = req.into_inner();
        Ok(Response::new(EchoReply {
            message: req.message,
            trace_id: String::new(),
        }))
    }

    type ServerStreamStream = Stream;

    async fn server_stream(
        &self,
        _: tonic::Request<EchoRequest>,
    ) -> Result<Response<Stream>, Status> {
        Err(Status::unimplemented("not measured"))
    }

    async fn client_stream(
        &self,
        _: tonic::Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoReply>, Status> {
        Err(Status::unimplemented("not measured"))
    }

    type BidiStream = Stream;

    async fn bidi(
        &self,
        _: tonic::Request<Streaming<EchoRequest>>,
    ) -> Result<Response<Stream>, Status> {
        Err(Status::unimplemented("not measured"))
    }
}

/// A service taking raw HTTP requests, as tonic's transport hands them over.
pub type GrpcService =
    BoxCloneSyncService<Request<Body>, http::Response<Body>, std::convert::Infallible>;

/// The server for `variant`, or `None` for an unknown name.
pub fn service(variant: &str, tracer_provider: &SdkTracerProvider) -> Option<GrpcService> {
    let routes = tonic::service::Routes::new(EchoServer::new(EchoService));
    let boxed = |svc: GrpcService| Some(svc);
    match variant {
        "plain-tonic" => boxed(BoxCloneSyncService::new(
            ServiceExt::<Request<Body>>::map_response(routes.prepare(), |r| r),
        )),
        "ours-traces" | "ours-traces-metrics" => {
            let layer = otel_grpc::GrpcOtelLayer::server().metrics(variant.ends_with("metrics"));
            let svc =
                ServiceExt::<Request<Body>>::map_response(layer.layer(routes.prepare()), |r| {
                    r.map(Body::new)
                });
            boxed(BoxCloneSyncService::new(svc))
        }
        "floor-api-span" | "floor-api-span-sampling-attributes" => {
            let layer = if variant == "floor-api-span" {
                crate::floor::FloorLayer::new(false)
            } else {
                crate::floor::FloorLayer::with_rpc_sampling_attributes()
            };
            let svc =
                ServiceExt::<Request<Body>>::map_response(layer.layer(routes.prepare()), |r| r);
            boxed(BoxCloneSyncService::new(svc))
        }
        "tonic-tracing-opentelemetry" => {
            crate::http::install_tracing_subscriber(tracer_provider);
            let layer = tonic_tracing_opentelemetry::middleware::server::OtelGrpcLayer::default();
            let svc =
                ServiceExt::<Request<Body>>::map_response(layer.layer(routes.prepare()), |r| {
                    r.map(Body::new)
                });
            boxed(BoxCloneSyncService::new(svc))
        }
        _ => None,
    }
}

/// One `Echo/Unary` request body as it comes off the wire: a length-prefixed protobuf message.
pub fn request_frame() -> Vec<u8> {
    let message = EchoRequest {
        message: "hello".into(),
        behaviour: String::new(),
    }
    .encode_to_vec();
    let mut frame = Vec::with_capacity(5 + message.len());
    frame.push(0);
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    frame
}

/// One unary `Echo/Unary` request.
pub fn request(traceparent: &str) -> Request<Body> {
    let frame = request_frame();
    Request::post("http://127.0.0.1:50051/test.echo.Echo/Unary")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("traceparent", traceparent)
        .body(Body::new(http_body_util::Full::new(bytes::Bytes::from(
            frame,
        ))))
        .expect("request")
}

/// How long the driver pauses every 128 calls, so the batch span processor can drain.
pub const PAUSE: Duration = Duration::from_millis(1);

/// Calls the service `n` times, reading each response to its trailers.
pub async fn drive(service: GrpcService, n: u64, traceparent: &str) {
    use http_body_util::BodyExt;
    for i in 0..n {
        let response = service
            .clone()
            .oneshot(request(traceparent))
            .await
            .expect("response");
        let body = response.into_body().collect().await.expect("body");
        std::hint::black_box(body);
        if i % 128 == 127 {
            std::thread::sleep(PAUSE);
        }
    }
}
