//! [`ResponseBody`]: the response body, watched to its end so the span and the duration cover
//! streaming responses whole.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::exchange::{Exchange, Finishing, Outcome};
use crate::http_exchange::HttpExchange;

pin_project! {
    /// A response body that ends its request's span, and records its duration and size, when it
    /// reaches its end, fails, or is dropped before its end.
    pub struct ResponseBody<B, X: Exchange = HttpExchange> {
        #[pin]
        inner: B,
        inflight: Option<Finishing<X>>,
    }
}

impl<B: Body, X: Exchange> ResponseBody<B, X> {
    /// Wraps `inner`; `exchange` (if any) hears of its data, trailers and end.
    pub fn new(inner: B, inflight: Option<X>) -> Self {
        Self::guarded(inner, inflight.map(Finishing::new))
    }

    pub(crate) fn guarded(inner: B, mut inflight: Option<Finishing<X>>) -> Self {
        // A body that is over before it starts may never be polled (hyper checks first).
        if inner.is_end_stream()
            && let Some(inflight) = inflight.take()
        {
            inflight.finish(Outcome::Complete);
        }
        ResponseBody { inner, inflight }
    }

    /// A body of a request that was not instrumented.
    pub fn untouched(inner: B) -> Self {
        ResponseBody {
            inner,
            inflight: None,
        }
    }
}

impl<B, X> Body for ResponseBody<B, X>
where
    B: Body,
    B::Error: 'static,
    X: Exchange,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let polled = this.inner.as_mut().poll_frame(cx);
        let Some(inflight) = this.inflight.as_mut() else {
            return polled;
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    inflight.on_data(bytes::Buf::remaining(data));
                } else if let Some(trailers) = frame.trailers_ref() {
                    inflight.on_trailers(trailers);
                }
            }
            Poll::Ready(Some(Err(error))) => {
                let error_type = inflight.on_error(error);
                if let Some(inflight) = this.inflight.take() {
                    inflight.finish(Outcome::Failed(error_type));
                }
                return polled;
            }
            Poll::Ready(None) => {
                if let Some(inflight) = this.inflight.take() {
                    inflight.finish(Outcome::Complete);
                }
                return polled;
            }
            Poll::Pending => return polled,
        }
        // Bodies of exact length may not be polled again after their last frame.
        if this.inner.is_end_stream()
            && let Some(inflight) = this.inflight.take()
        {
            inflight.finish(Outcome::Complete);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
