//! The client layer as a `reqwest-middleware` middleware (feature `reqwest`).

use std::sync::Arc;

use opentelemetry::StringValue;
use opentelemetry::context::FutureExt;
use reqwest_middleware::{Middleware, Next};

use crate::body::ResponseBody;
use crate::config::Options;
use crate::exchange::{Exchange, Finishing, Outcome};
use crate::head::RequestHead;
use crate::http_exchange::{HttpExchange, HttpState};
use crate::kind::Client;
use crate::layer::OtelLayer;

/// The [`OtelLayer::client`] instrumentation for reqwest: a CLIENT span per request, its context
/// injected, ended when the caller finishes reading the response body.
///
/// ```no_run
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(otel_http::OtelLayer::client().reqwest_middleware())
///     .build();
/// # let _ = client;
/// ```
#[derive(Clone)]
pub struct ReqwestMiddleware {
    options: Arc<Options>,
    state: Arc<HttpState>,
}

impl std::fmt::Debug for ReqwestMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReqwestMiddleware").finish_non_exhaustive()
    }
}

impl OtelLayer<Client> {
    /// This client layer's options, as a `reqwest-middleware` middleware.
    pub fn reqwest_middleware(self) -> ReqwestMiddleware {
        ReqwestMiddleware {
            options: self.options,
            state: self.state,
        }
    }
}

/// The request's head as an `http::Request`, for the exchange to read and inject into.
fn head_of(req: &mut reqwest::Request) -> Option<http::Request<()>> {
    let mut head = http::Request::builder()
        .method(req.method().clone())
        .uri(req.url().as_str())
        .version(req.version())
        .body(())
        .ok()?;
    *head.headers_mut() = std::mem::take(req.headers_mut());
    Some(head)
}

/// reqwest's error kinds that say more than the I/O error beneath: its timeout, and a connect
/// error with no I/O kind to read.
fn reqwest_error_type(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        return "timeout";
    }
    match otel_core::error_type_with(error, crate::error::classify) {
        other if other == otel_core::OTHER && error.is_connect() => "connect_error",
        found => found,
    }
}

#[async_trait::async_trait]
impl Middleware for ReqwestMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let Some(mut head) = head_of(&mut req) else {
            return next.run(req, extensions).await;
        };
        if !self.options.instruments_request(&RequestHead::of(&head)) {
            *req.headers_mut() = std::mem::take(head.headers_mut());
            return next.run(req, extensions).await;
        }
        // Finished once: on an error, at the body's end, or (the call dropped) as dropped.
        let mut exchange =
            Finishing::new(HttpExchange::client(&self.options, &self.state, &mut head));
        *req.headers_mut() = std::mem::take(head.headers_mut());
        let cx = exchange.context().clone();
        let response = match next.run(req, extensions).with_context(cx).await {
            Ok(response) => response,
            Err(error) => {
                let error_type = match &error {
                    reqwest_middleware::Error::Reqwest(error) => reqwest_error_type(error),
                    reqwest_middleware::Error::Middleware(error) => {
                        otel_core::error_type_with(error.as_ref(), crate::error::classify)
                    }
                };
                exchange.finish(Outcome::Failed(StringValue::from(error_type)));
                return Err(error);
            }
        };
        let url = response.url().clone();
        let response: http::Response<reqwest::Body> = response.into();
        let (mut parts, body) = response.into_parts();
        exchange.on_response(parts.status, parts.version, &mut parts.headers);
        let body = reqwest::Body::wrap(ResponseBody::guarded(body, Some(exchange)));
        // Rebuilt so the response keeps its URL.
        use reqwest::ResponseBuilderExt;
        let mut rebuilt = http::Response::builder()
            .status(parts.status)
            .version(parts.version)
            .url(url)
            .body(body)
            .map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
        *rebuilt.headers_mut() = parts.headers;
        rebuilt.extensions_mut().extend(parts.extensions);
        Ok(reqwest::Response::from(rebuilt))
    }
}
