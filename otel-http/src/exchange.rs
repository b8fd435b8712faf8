//! [`Exchange`]: one request in flight, as the shared response future and body see it.
//!
//! `otel-http` implements it for HTTP requests; other instrumentation built on these layers
//! (`otel-grpc`) implements it with its own conventions and reuses [`crate::ResponseFuture`] and
//! [`crate::ResponseBody`], which end the exchange at the end of the response body.

use http::{HeaderMap, StatusCode, Version};
use opentelemetry::{Context, StringValue};

/// How an exchange ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The response body reached its end.
    Complete,
    /// The service, the transport or the body failed; the value is the `error.type`.
    Failed(StringValue),
    /// The response or its body was dropped before its end: the peer went away, or the caller
    /// stopped reading.
    Dropped,
}

/// One request in flight, from its start to the end of its response body.
///
/// Implementations end their span and record their metrics in [`Exchange::finish`], once, and
/// call it with [`Outcome::Dropped`] from `Drop` when nothing else did.
pub trait Exchange {
    /// The request's context, made current while the inner service's future is polled.
    fn context(&self) -> &Context;

    /// The response head arrived. `headers` may be added to (a server writing its context back).
    fn on_response(&mut self, status: StatusCode, version: Version, headers: &mut HeaderMap);

    /// A data frame of `len` bytes of the response body went by.
    fn on_data(&mut self, len: usize) {
        let _ = len;
    }

    /// The response's trailers arrived (where gRPC puts its status).
    fn on_trailers(&mut self, trailers: &HeaderMap) {
        let _ = trailers;
    }

    /// The inner service's future or the response body failed with `error`: its `error.type`,
    /// which [`Exchange::finish`] then hears in [`Outcome::Failed`]. The default reads it from
    /// the error value ([`crate::error::error_type`]); an exchange may read more from it (a gRPC
    /// client records the status code its library reports for it).
    fn on_error(&mut self, error: &dyn std::any::Any) -> StringValue {
        StringValue::from(crate::error::error_type(error))
    }

    /// The exchange ended.
    fn finish(&mut self, outcome: Outcome);
}
