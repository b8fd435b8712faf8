//! Ready-made filters for the gRPC layers.

use otel_http::RequestHead;

/// Skips the gRPC health service (`grpc.health.v1.Health/*`) and server reflection; instruments
/// everything else.
///
/// ```
/// let layer = otel_grpc::GrpcOtelLayer::server().filter(otel_grpc::filters::not_health_or_reflection);
/// # let _ = layer;
/// ```
pub fn not_health_or_reflection(request: &RequestHead<'_>) -> bool {
    const SKIPPED: [&str; 3] = [
        "/grpc.health.v1.Health/",
        "/grpc.reflection.v1.ServerReflection/",
        "/grpc.reflection.v1alpha.ServerReflection/",
    ];
    let path = request.uri.path();
    !SKIPPED.iter().any(|prefix| path.starts_with(prefix))
}
