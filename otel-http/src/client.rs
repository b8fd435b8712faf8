//! The client side: [`ClientService`], what `OtelLayer<Client>` wraps a service in.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::future::ResponseFuture;
use crate::inflight::HttpExchange;
use crate::options::{Options, RequestHead};

/// Instruments an HTTP client: starts a CLIENT span under the current context, injects it into
/// the request headers, and ends it when the response body ends (or the request fails). Built
/// by [`OtelLayer::client`](crate::OtelLayer::client).
#[derive(Clone)]
pub struct ClientService<S> {
    inner: S,
    options: Arc<Options>,
}

impl<S> ClientService<S> {
    pub(crate) fn new(inner: S, options: Arc<Options>) -> Self {
        ClientService { inner, options }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for ClientService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ClientService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if !self.options.instruments_request(&RequestHead::of(&req)) {
            return ResponseFuture::new(self.inner.call(req), None);
        }
        let inflight = HttpExchange::client(&self.options, &mut req);
        let future = {
            let _guard = inflight.cx.clone().attach();
            self.inner.call(req)
        };
        ResponseFuture::new(future, Some(inflight))
    }
}
