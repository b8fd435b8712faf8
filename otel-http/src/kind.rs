//! [`Kind`]: what differs between the layers' kinds (HTTP or gRPC, server or client): how an
//! exchange starts, and the scope it records under. [`Server`] and [`Client`] are HTTP's.

use std::sync::Arc;

use opentelemetry::InstrumentationScope;

use crate::config::{Options, scope};
use crate::exchange::{Exchange, Started};
use crate::http_exchange::{HttpExchange, HttpState};

/// Marks an [`OtelLayer`](crate::OtelLayer) for servers: it extracts the caller's context and
/// starts SERVER spans.
#[derive(Clone, Copy, Debug)]
pub enum Server {}

/// Marks an [`OtelLayer`](crate::OtelLayer) for clients: it starts CLIENT spans and injects
/// their context.
#[derive(Clone, Copy, Debug)]
pub enum Client {}

/// The kind parameter of [`OtelLayer`](crate::OtelLayer): how an exchange starts, and under
/// which instrumentation scope it records. [`Server`] and [`Client`] are HTTP's; `otel-grpc` adds its own.
pub trait Kind: Send + Sync + 'static {
    /// One request in flight of this kind.
    type Exchange: Exchange;

    /// What the kind keeps per layer beside its options (its metric instruments, made on first
    /// use), shared by every request of the layer.
    type State: Default + Send + Sync + 'static;

    /// The instrumentation scope of this kind's spans and metrics.
    fn scope() -> InstrumentationScope;

    /// Starts the exchange for `req` (which it may change: inject headers, add extensions).
    fn start<B>(
        options: &Arc<Options>,
        state: &Arc<Self::State>,
        req: &mut http::Request<B>,
    ) -> Started<Self::Exchange>;
}

impl Kind for Server {
    type Exchange = HttpExchange;
    type State = HttpState;

    fn scope() -> InstrumentationScope {
        scope()
    }

    fn start<B>(
        options: &Arc<Options>,
        state: &Arc<HttpState>,
        req: &mut http::Request<B>,
    ) -> Started<HttpExchange> {
        let started = HttpExchange::server(options, state, req);
        if options.context_in_extensions {
            // For handlers that are not polled under the context.
            req.extensions_mut().insert(started.context().clone());
        }
        started
    }
}

impl Kind for Client {
    type Exchange = HttpExchange;
    type State = HttpState;

    fn scope() -> InstrumentationScope {
        scope()
    }

    fn start<B>(
        options: &Arc<Options>,
        state: &Arc<HttpState>,
        req: &mut http::Request<B>,
    ) -> Started<HttpExchange> {
        HttpExchange::client(options, state, req).started()
    }
}
