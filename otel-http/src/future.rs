//! [`ResponseFuture`]: the inner service's future, polled with the request's context current.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use crate::body::ResponseBody;
use crate::exchange::{Exchange, Finishing, Outcome, Started};
use crate::http_exchange::HttpExchange;

pin_project! {
    /// The response future of the server and client services.
    pub struct ResponseFuture<F, X: Exchange = HttpExchange> {
        #[pin]
        inner: F,
        inflight: Inflight<X>,
    }
}

/// What the response future keeps of the request.
enum Inflight<X: Exchange> {
    /// Not instrumented (filtered out), or already handed to the body.
    None,
    /// An exchange that records nothing: only its context, made current while polling.
    Context(opentelemetry::Context),
    /// An exchange that hears of the response.
    Exchange(Finishing<X>),
}

impl<X: Exchange> Inflight<X> {
    fn take_exchange(&mut self) -> Option<Finishing<X>> {
        match std::mem::replace(self, Inflight::None) {
            Inflight::Exchange(exchange) => Some(exchange),
            other => {
                *self = other;
                None
            }
        }
    }
}

impl<F, X: Exchange> ResponseFuture<F, X> {
    /// Wraps the inner service's future; what `started` holds (if anything) is current while it
    /// is polled, and an exchange hears of the response.
    pub fn new(inner: F, started: Option<Started<X>>) -> Self {
        let inflight = match started {
            None => Inflight::None,
            Some(Started::Context(cx)) => Inflight::Context(cx),
            Some(Started::Exchange(exchange)) => Inflight::Exchange(Finishing::new(exchange)),
        };
        ResponseFuture { inner, inflight }
    }
}

impl<F, B, E, X> Future for ResponseFuture<F, X>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: 'static,
    B: Body,
    X: Exchange,
{
    type Output = Result<Response<ResponseBody<B, X>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inflight = match this.inflight {
            Inflight::Exchange(inflight) => inflight,
            Inflight::Context(context) => {
                let _guard = context.clone().attach();
                return this
                    .inner
                    .poll(cx)
                    .map_ok(|res| res.map(ResponseBody::untouched));
            }
            Inflight::None => {
                return this
                    .inner
                    .poll(cx)
                    .map_ok(|res| res.map(ResponseBody::untouched));
            }
        };
        // Handler code, and spans it starts, run under the request's context.
        let guard = inflight.context().clone().attach();
        let polled = this.inner.poll(cx);
        drop(guard);
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(response)) => {
                let (mut parts, body) = response.into_parts();
                inflight.on_response(parts.status, parts.version, &mut parts.headers);
                let body = ResponseBody::guarded(body, this.inflight.take_exchange());
                Poll::Ready(Ok(Response::from_parts(parts, body)))
            }
            Poll::Ready(Err(error)) => {
                let error_type = inflight.on_error(&error);
                if let Some(inflight) = this.inflight.take_exchange() {
                    inflight.finish(Outcome::Failed(error_type));
                }
                Poll::Ready(Err(error))
            }
        }
    }
}
