//! [`OtelService`]: the one service every kind of [`crate::OtelLayer`] wraps around its inner
//! service. What differs between kinds (HTTP or gRPC, server or client) is how the exchange
//! starts: [`crate::Kind::start`].

use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::config::Options;
use crate::future::ResponseFuture;
use crate::head::RequestHead;
use crate::kind::Kind;

/// Instruments an inner HTTP service: starts the kind's exchange for each request the filter
/// lets through, keeps its context current while the inner service runs, and ends it with the
/// response body.
pub struct OtelService<S, K: Kind> {
    inner: S,
    options: Arc<Options>,
    state: Arc<K::State>,
    kind: PhantomData<fn() -> K>,
}

/// The server service of [`crate::OtelLayer::server`].
pub type ServerService<S> = OtelService<S, crate::Server>;
/// The client service of [`crate::OtelLayer::client`].
pub type ClientService<S> = OtelService<S, crate::Client>;

impl<S, K: Kind> OtelService<S, K> {
    pub(crate) fn new(inner: S, options: Arc<Options>, state: Arc<K::State>) -> Self {
        OtelService {
            inner,
            options,
            state,
            kind: PhantomData,
        }
    }
}

impl<S: Clone, K: Kind> Clone for OtelService<S, K> {
    fn clone(&self) -> Self {
        OtelService {
            inner: self.inner.clone(),
            options: self.options.clone(),
            state: self.state.clone(),
            kind: PhantomData,
        }
    }
}

impl<S: std::fmt::Debug, K: Kind> std::fmt::Debug for OtelService<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, K, ReqBody, ResBody> Service<Request<ReqBody>> for OtelService<S, K>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: 'static,
    K: Kind,
    ResBody: Body,
{
    type Response = Response<ResponseBody<ResBody, K::Exchange>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, K::Exchange>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if !self.options.instruments_request(&RequestHead::of(&req)) {
            return ResponseFuture::new(self.inner.call(req), None);
        }
        let started = K::start(&self.options, &self.state, &mut req);
        let future = {
            let _guard = started.context().clone().attach();
            self.inner.call(req)
        };
        ResponseFuture::new(future, Some(started))
    }
}
