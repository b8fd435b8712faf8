//! The server side: [`ServerService`], what `OtelLayer<Server>` wraps a service in.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::future::ResponseFuture;
use crate::inflight::HttpExchange;
use crate::options::{Options, RequestHead};

/// Instruments an HTTP server: extracts the caller's context, starts a SERVER span as its child,
/// makes it current while the inner service runs (and puts it in the request's extensions), and
/// ends it when the response body ends. Built by [`OtelLayer::server`](crate::OtelLayer::server).
#[derive(Clone)]
pub struct ServerService<S> {
    inner: S,
    options: Arc<Options>,
}

impl<S> ServerService<S> {
    pub(crate) fn new(inner: S, options: Arc<Options>) -> Self {
        ServerService { inner, options }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for ServerService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ServerService<S>
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
        let inflight = HttpExchange::server(&self.options, &req);
        req.extensions_mut().insert(inflight.cx.clone());
        let future = {
            let _guard = inflight.cx.clone().attach();
            self.inner.call(req)
        };
        ResponseFuture::new(future, Some(inflight))
    }
}
