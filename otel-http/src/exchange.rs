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
/// Implementations end their span and record their metrics in [`Exchange::finish`], which takes
/// the exchange by value: it runs once. The response future and body hold the exchange in a
/// [`Finishing`], which finishes it with [`Outcome::Dropped`] if they are dropped first.
pub trait Exchange: Sized {
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

    /// The exchange ended: its span ends, its metrics are recorded.
    fn finish(self, outcome: Outcome);
}

/// What starting a request gave: an exchange that records, or, when there is nothing to record
/// (a span whose parent or sampler dropped it, metrics off), only the context to make current;
/// then no exchange is made and the response body is not watched.
pub enum Started<X> {
    /// An exchange that hears of the response and finishes.
    Exchange(X),
    /// Only the request's context.
    Context(Context),
}

impl<X: Exchange> Started<X> {
    /// The request's context.
    pub fn context(&self) -> &Context {
        match self {
            Started::Exchange(exchange) => exchange.context(),
            Started::Context(cx) => cx,
        }
    }
}

/// An exchange that finishes exactly once: by [`Finishing::finish`], which consumes it, or, if
/// it is dropped first (the response future or body went away), with [`Outcome::Dropped`].
pub struct Finishing<X: Exchange>(Option<X>);

impl<X: Exchange> Finishing<X> {
    /// Guards `exchange`.
    pub fn new(exchange: X) -> Self {
        Finishing(Some(exchange))
    }

    /// Finishes the exchange with `outcome`.
    pub fn finish(mut self, outcome: Outcome) {
        if let Some(exchange) = self.0.take() {
            exchange.finish(outcome);
        }
    }
}

impl<X: Exchange> std::ops::Deref for Finishing<X> {
    type Target = X;

    fn deref(&self) -> &X {
        // Some until `finish` or `drop`, which both consume the guard.
        match &self.0 {
            Some(exchange) => exchange,
            None => unreachable!("a finished exchange is not reachable"),
        }
    }
}

impl<X: Exchange> std::ops::DerefMut for Finishing<X> {
    fn deref_mut(&mut self) -> &mut X {
        match &mut self.0 {
            Some(exchange) => exchange,
            None => unreachable!("a finished exchange is not reachable"),
        }
    }
}

impl<X: Exchange> Drop for Finishing<X> {
    fn drop(&mut self) {
        if let Some(exchange) = self.0.take() {
            exchange.finish(Outcome::Dropped);
        }
    }
}
