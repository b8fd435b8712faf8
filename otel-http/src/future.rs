//! [`ResponseFuture`]: the inner service's future, polled with the request's context current.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use crate::body::ResponseBody;
use crate::exchange::{Exchange, Finishing, Outcome};
use crate::http_exchange::HttpExchange;

pin_project! {
    /// The response future of the server and client services.
    pub struct ResponseFuture<F, X: Exchange = HttpExchange> {
        #[pin]
        inner: F,
        inflight: Option<Finishing<X>>,
    }
}

impl<F, X: Exchange> ResponseFuture<F, X> {
    /// Wraps the inner service's future; `exchange` (if any) is current while it is polled and
    /// hears of the response.
    pub fn new(inner: F, inflight: Option<X>) -> Self {
        ResponseFuture {
            inner,
            inflight: inflight.map(Finishing::new),
        }
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
        let Some(inflight) = this.inflight.as_mut() else {
            return this
                .inner
                .poll(cx)
                .map_ok(|res| res.map(ResponseBody::untouched));
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
                let body = ResponseBody::guarded(body, this.inflight.take());
                Poll::Ready(Ok(Response::from_parts(parts, body)))
            }
            Poll::Ready(Err(error)) => {
                let error_type = inflight.on_error(&error);
                if let Some(inflight) = this.inflight.take() {
                    inflight.finish(Outcome::Failed(error_type));
                }
                Poll::Ready(Err(error))
            }
        }
    }
}
