//! OpenTelemetry for tonic: a server layer and a client channel wrapper.
//!
//! The layers are being built (issue 4). gRPC metadata is an `http::HeaderMap`, so the shared
//! carriers already propagate through it:
//!
//! ```
//! use otel_grpc::propagation::{HeaderInjector, Propagators};
//! use opentelemetry::propagation::TextMapPropagator;
//!
//! let mut metadata = http::HeaderMap::new();
//! Propagators::default().inject_context(&opentelemetry::Context::new(), &mut HeaderInjector(&mut metadata));
//! assert!(metadata.is_empty(), "no span, nothing to propagate");
//! ```

pub use otel_propagation as propagation;
