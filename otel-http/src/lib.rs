//! OpenTelemetry for HTTP services built on tower: one layer for servers, one for clients.
//!
//! ```
//! use axum::{routing::get, Router};
//! use otel_http::OtelLayer;
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "hello" }))
//!     .layer(OtelLayer::server());
//! # let _ = app;
//! ```
//!
//! The server layer extracts the caller's context with the configured propagator (default: the
//! global one), starts a SERVER span named `{method} {route}` as its child, makes it current while
//! the handler runs (so `Context::current()`, spans started there, and `tracing` spans through
//! `tracing-opentelemetry` nest under it; `.context_in_extensions(true)` puts its `Context` in the
//! request's extensions as well), and ends it when
//! the response body ends, fails or is dropped. Attributes follow the stable HTTP semantic
//! conventions; metrics are `http.server.request.duration`, `http.server.active_requests` and the
//! body sizes.
//!
//! The client layer goes around any tower HTTP client service (hyper-util's `Client`, for one):
//!
//! ```no_run
//! use tower::ServiceBuilder;
//! use otel_http::OtelLayer;
//!
//! # fn wrap<S>(client: S) {
//! let client = ServiceBuilder::new().layer(OtelLayer::client()).service(client);
//! # let _ = client;
//! # }
//! ```
//!
//! Both share every option of [`OtelLayer`]: providers, propagators, filter, span names, hooks,
//! public-endpoint mode, traces and metrics switches.

// From the layer down: layer → kind → service → future → body → http_exchange → config,
// semconv, metrics, head. No module imports one above it.
mod body;
mod config;
#[doc(hidden)]
pub mod error;
mod exchange;
pub mod filters;
mod future;
mod head;
mod http_exchange;
mod kind;
mod layer;
mod metrics;
#[cfg(feature = "reqwest")]
mod reqwest_client;
pub mod semconv;
mod service;
#[doc(hidden)]
pub mod strings;

pub use body::ResponseBody;
// For instrumentation built on these layers (`otel-grpc`), not for applications.
#[doc(hidden)]
pub use config::Options;
pub use config::ResponsePropagation;
#[doc(hidden)]
pub use exchange::{Exchange, Finishing, Outcome, Started};
pub use future::ResponseFuture;
pub use head::{Filter, RequestHead, RequestHook, ResponseHead, ResponseHook, SpanNameFormatter};
#[doc(hidden)]
pub use http_exchange::{HttpExchange, HttpState};
#[doc(hidden)]
pub use kind::Kind;
pub use kind::{Client, Server};
pub use layer::OtelLayer;
pub use otel_propagation as propagation;
#[cfg(feature = "reqwest")]
pub use reqwest_client::ReqwestMiddleware;
pub use service::{ClientService, OtelService, ServerService};
