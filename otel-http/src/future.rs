//! [`ResponseFuture`]: the inner service's future, polled with the request's context current.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use crate::body::ResponseBody;
use crate::inflight::{Inflight, Outcome};
use crate::semconv;

pin_project! {
    /// The response future of the server and client services.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        inflight: Option<Inflight>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, inflight: Option<Inflight>) -> Self {
        ResponseFuture { inner, inflight }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inflight) = this.inflight.as_mut() else {
            return this
                .inner
                .poll(cx)
                .map_ok(|res| res.map(ResponseBody::untouched));
        };
        // Handler code, and spans it starts, run under the request's context.
        let guard = inflight.cx.clone().attach();
        let polled = this.inner.poll(cx);
        drop(guard);
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(response)) => {
                let (mut parts, body) = response.into_parts();
                inflight.on_response(parts.status, parts.version, &mut parts.headers);
                let body = ResponseBody::new(body, this.inflight.take());
                Poll::Ready(Ok(Response::from_parts(parts, body)))
            }
            Poll::Ready(Err(error)) => {
                inflight.finish(Outcome::Failed(semconv::error_type_of::<E>()));
                this.inflight.take();
                Poll::Ready(Err(error))
            }
        }
    }
}
